import { describe, expect, it } from "vitest";
import { formatKeyPath, formatManifestIssue, ManifestError } from "../../../src/manifest/errors.js";
import { UserError } from "../../../src/user-error.js";

describe("formatManifestIssue", () => {
  it("prints FILE:LINE: KEYPATH: MESSAGE (HINT)", () => {
    expect(
      formatManifestIssue({ file: "bottles/a.md", line: 7, keyPath: "egress.routes[0].tls_pasthrough", message: "unknown key", hint: 'did you mean "tls_passthrough"?' }),
    ).toBe('bottles/a.md:7: egress.routes[0].tls_pasthrough: unknown key (did you mean "tls_passthrough"?)');
  });

  it("leaves out what an issue lacks", () => {
    expect(formatManifestIssue({ file: "agents/b.md", keyPath: "", message: "no frontmatter" })).toBe("agents/b.md: no frontmatter");
  });
});

describe("formatKeyPath", () => {
  it("uses dots for names and brackets for indexes and odd names", () => {
    expect(formatKeyPath(["egress", "routes", 0, "matches", 1, "paths"])).toBe("egress.routes[0].matches[1].paths");
    expect(formatKeyPath(["git-gate", "repos", "acme/widgets", "url"])).toBe('git-gate.repos["acme/widgets"].url');
    expect(formatKeyPath(["git-gate", "repos", "widgets.git"])).toBe('git-gate.repos["widgets.git"]');
  });
});

describe("ManifestError", () => {
  it("is a UserError whose message lists every issue, one per line", () => {
    const error = new ManifestError([
      { file: "a.md", line: 2, keyPath: "supervise", message: "expected a boolean" },
      { file: "a.md", line: 3, keyPath: "colour", message: "unknown key" },
    ]);
    expect(error).toBeInstanceOf(UserError);
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe("a.md:2: supervise: expected a boolean\na.md:3: colour: unknown key");
  });
});
