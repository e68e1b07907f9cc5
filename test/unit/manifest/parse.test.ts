import { describe, expect, it } from "vitest";
import { ManifestError } from "../../../src/manifest/errors.js";
import { parseAgentFile, parseBottleFile } from "../../../src/manifest/parse.js";
import { manifest } from "./fixture-home.js";

const issuesOf = (parse: () => unknown) => {
  try {
    parse();
  } catch (err) {
    if (err instanceof ManifestError) return err.issues;
    throw err;
  }
  throw new Error("expected a ManifestError");
};

describe("parseBottleFile", () => {
  it("returns the typed frontmatter, the body and the line of each key", () => {
    const bottle = parseBottleFile(manifest("extends: [base, github]", "env:", "  RETRIES: 3", "  CI: true"), "/h/bottles/dev.md", "dev");
    expect(bottle).toMatchObject({ name: "dev", source: "/h/bottles/dev.md", body: "Body." });
    expect(bottle.config).toEqual({ extends: ["base", "github"], env: { RETRIES: "3", CI: "true" } });
    expect(bottle.lines).toMatchObject({ extends: 2, "extends[1]": 2, env: 3, "env.CI": 5 });
  });

  it("lets agent_provider leave template to a parent bottle", () => {
    expect(parseBottleFile(manifest("agent_provider:", "  auth_token: TOKEN"), "b.md", "b").config.agent_provider).toEqual({ auth_token: "TOKEN" });
  });

  it("names the unknown key, its line, and the key it was probably meant to be", () => {
    const text = manifest("egress:", "  routes:", "    - host: api.example.com", "      tls_pasthrough: true");
    expect(issuesOf(() => parseBottleFile(text, "bottles/typo.md", "typo"))).toEqual([
      { file: "bottles/typo.md", line: 5, keyPath: "egress.routes[0].tls_pasthrough", message: "unknown key", hint: 'did you mean "tls_passthrough"?' },
    ]);
  });

  it("lists the allowed keys when no key is close", () => {
    const [issue] = issuesOf(() => parseBottleFile(manifest("egress:", "  proxy: squid"), "b.md", "b"));
    expect(issue).toMatchObject({ line: 3, keyPath: "egress.proxy", hint: "allowed keys: routes, log" });
  });

  it("takes the allowed keys of the key provider the file chose", () => {
    const text = manifest(
      "git-gate:",
      "  repos:",
      "    w:",
      "      url: u",
      "      host_key: k",
      "      key: {provider: gitea, forge_token_env: T, api_url: 'https://g.example.com', path: x}",
    );
    expect(issuesOf(() => parseBottleFile(text, "b.md", "b"))[0]?.hint).toBe("allowed keys: provider, forge_token_env, api_url");
  });

  it("says when an agent key is put in a bottle", () => {
    expect(issuesOf(() => parseBottleFile(manifest("bottle: claude"), "b.md", "b"))[0]?.hint).toContain('"bottle" is an agent key');
  });

  it("reports every problem in a file, in line order", () => {
    const issues = issuesOf(() => parseBottleFile(manifest("supervise: 1", "egress:", "  log: 5", "extend: base"), "b.md", "b"));
    expect(issues.map((i) => `${i.line} ${i.keyPath}`)).toEqual(["2 supervise", "4 egress.log", "5 extend"]);
  });
});

describe("parseAgentFile", () => {
  it("keeps the body as the prompt and accepts the Claude Code subagent fields", () => {
    const agent = parseAgentFile(
      manifest("name: rev", "description: Reviews", "model: sonnet", "color: blue", "bottle: claude", "skills: [review]", "git-gate:", "  user: {email: a@b.c}"),
      "a.md",
      "rev",
      "home",
    );
    expect(agent.prompt).toBe("Body.");
    expect(agent.config).toEqual({
      name: "rev",
      description: "Reviews",
      model: "sonnet",
      color: "blue",
      bottle: "claude",
      skills: ["review"],
      "git-gate": { user: { email: "a@b.c" } },
    });
  });

  it("refuses bottle keys in an agent, saying where they belong", () => {
    const [issue] = issuesOf(() => parseAgentFile(manifest("bottle: claude", "egress:", "  routes: [{host: evil.example.com}]"), "a.md", "a", "home"));
    expect(issue).toMatchObject({ line: 3, keyPath: "egress", message: "unknown key" });
    expect(issue?.hint).toContain("bottles live only in BOT_BOTTLE_HOME/bottles/");
  });
});
