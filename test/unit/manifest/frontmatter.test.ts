import { describe, expect, it } from "vitest";
import { ManifestError } from "../../../src/manifest/errors.js";
import { parseFrontmatter } from "../../../src/manifest/frontmatter.js";

const issuesOf = (text: string) => {
  try {
    parseFrontmatter(text, "x.md");
  } catch (err) {
    if (err instanceof ManifestError) return err.issues;
    throw err;
  }
  throw new Error("expected a ManifestError");
};

describe("parseFrontmatter", () => {
  it("splits YAML frontmatter from the body", () => {
    const parsed = parseFrontmatter("---\nbottle: claude\nskills: [a]\n---\n\nYou are helpful.\n", "x.md");
    expect(parsed.data).toEqual({ bottle: "claude", skills: ["a"] });
    expect(parsed.body).toBe("You are helpful.");
  });

  it("accepts CRLF line ends and a byte-order mark", () => {
    const parsed = parseFrontmatter("\uFEFF---\r\nbottle: claude\r\n---\r\nHi\r\n", "x.md");
    expect(parsed.data).toEqual({ bottle: "claude" });
    expect(parsed.body).toBe("Hi");
  });

  it("reads empty frontmatter (or only comments) as no keys", () => {
    expect(parseFrontmatter("---\n---\nbody", "x.md").data).toEqual({});
    expect(parseFrontmatter("---\n# nothing yet\n---\nbody", "x.md").data).toEqual({});
  });

  it("keeps a later --- line in the body", () => {
    expect(parseFrontmatter("---\na: 1\n---\nabove\n---\nbelow", "x.md").body).toBe("above\n---\nbelow");
  });

  it("maps key paths to file lines", () => {
    const parsed = parseFrontmatter(
      ["---", "egress:", "  routes:", "    - host: a.example.com", "    - host: b.example.com", "      tls_passthrough: true", "---"].join("\n"),
      "x.md",
    );
    expect(parsed.lineOf(["egress"])).toBe(2);
    expect(parsed.lineOf(["egress", "routes"])).toBe(3);
    expect(parsed.lineOf(["egress", "routes", 1])).toBe(5);
    expect(parsed.lineOf(["egress", "routes", 1, "tls_passthrough"])).toBe(6);
    // a key that is not there: the deepest part of the path that is
    expect(parsed.lineOf(["egress", "routes", 1, "auth", "scheme"])).toBe(5);
  });

  it("rejects a file without frontmatter", () => {
    expect(issuesOf("# title\n")).toEqual([expect.objectContaining({ file: "x.md", line: 1, message: expect.stringContaining("no frontmatter") })]);
  });

  it("rejects unclosed frontmatter", () => {
    expect(issuesOf("---\na: 1\n")[0]?.message).toContain("not closed");
  });

  it("reports bad YAML at its line in the file", () => {
    expect(issuesOf("---\na: 1\nb: [1,\n---\n")).toEqual([expect.objectContaining({ line: 3, message: expect.stringContaining("invalid YAML") })]);
  });

  it("rejects frontmatter that is not a mapping", () => {
    expect(issuesOf("---\n- a\n- b\n---\n")).toEqual([
      expect.objectContaining({ line: 2, message: "frontmatter must be a mapping of keys (key: value lines)" }),
    ]);
  });
});
