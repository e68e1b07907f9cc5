import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { ManifestError } from "../../../src/manifest/errors.js";
import { bottleLineage, mergeBottleConfigs, resolveBottleConfig, type BottleSource } from "../../../src/manifest/extends.js";
import { BottleFrontmatter, type BottleFile } from "../../../src/manifest/schema.js";
import { UserError } from "../../../src/user-error.js";

type BottleInput = z.input<typeof BottleFrontmatter>;

function bottles(configs: Record<string, BottleInput>): BottleSource {
  const entries = Object.entries(configs).map(([name, config]): [string, BottleFile] => [
    name,
    { name, source: `bottles/${name}.md`, config: BottleFrontmatter.parse(config), body: "", lines: { extends: 2, "extends[0]": 2, "extends[1]": 3 } },
  ]);
  return { bottles: Object.fromEntries(entries), broken: [] };
}

const route = (host: string) => ({ host });

const issuesOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ManifestError) return err.issues;
    throw err;
  }
  throw new Error("expected a ManifestError");
};

describe("mergeBottleConfigs", () => {
  it("merges resources field by field, the child winning", () => {
    expect(mergeBottleConfigs({ resources: { memory: 1, cpus: 1, pids: 100 } }, { resources: { cpus: 3 } })).toEqual({ resources: { memory: 1, cpus: 3, pids: 100 } });
    expect(mergeBottleConfigs({}, { resources: { pids: 100 } })).toEqual({ resources: { pids: 100 } });
  });

  it("merges env key by key, the child winning", () => {
    expect(mergeBottleConfigs({ env: { A: "1", B: "1" } }, { env: { B: "2", C: "2" } })).toEqual({ env: { A: "1", B: "2", C: "2" } });
  });

  it("appends the child's routes after the parent's", () => {
    expect(mergeBottleConfigs({ egress: { routes: [route("a.example.com")] } }, { egress: { routes: [route("b.example.com")] } })).toEqual({
      egress: { routes: [route("a.example.com"), route("b.example.com")] },
    });
  });

  it("takes the last egress.log, keeping the routes", () => {
    expect(mergeBottleConfigs({ egress: { routes: [route("a.example.com")], log: 2 } }, { egress: { log: 0 } })).toEqual({
      egress: { routes: [route("a.example.com")], log: 0 },
    });
    expect(mergeBottleConfigs({ egress: { log: 2 } }, { egress: { routes: [] } })).toEqual({ egress: { routes: [], log: 2 } });
  });

  it("unions git-gate repos by name, the child winning for the same name", () => {
    const key = { provider: "static" as const, path: "k" };
    const merged = mergeBottleConfigs(
      { "git-gate": { repos: { a: { url: "parent-a", host_key: "h", key }, b: { url: "parent-b", host_key: "h", key } } } },
      { "git-gate": { repos: { b: { url: "child-b", host_key: "h", key }, c: { url: "child-c", host_key: "h", key } } } },
    );
    expect(Object.fromEntries(Object.entries(merged["git-gate"]?.repos ?? {}).map(([name, repo]) => [name, repo.url]))).toEqual({
      a: "parent-a",
      b: "child-b",
      c: "child-c",
    });
  });

  it("overlays git-gate.user field by field", () => {
    expect(mergeBottleConfigs({ "git-gate": { user: { name: "Parent", email: "p@x" } } }, { "git-gate": { user: { email: "c@x" } } })).toEqual({
      "git-gate": { user: { name: "Parent", email: "c@x" } },
    });
  });

  it("overlays agent_provider field by field", () => {
    expect(
      mergeBottleConfigs(
        { agent_provider: { template: "claude", auth_token: "TOKEN", settings: { a: 1 } } },
        { agent_provider: { dockerfile: "Dockerfile", settings: { b: 2 } } },
      ),
    ).toEqual({ agent_provider: { template: "claude", auth_token: "TOKEN", dockerfile: "Dockerfile", settings: { b: 2 } } });
  });

  it("takes the last supervise, and keeps the parent's when the child says nothing", () => {
    expect(mergeBottleConfigs({ supervise: true }, { supervise: false })).toEqual({ supervise: false });
    expect(mergeBottleConfigs({ supervise: false }, {})).toEqual({ supervise: false });
  });

  it("adds no keys that neither side has", () => {
    expect(mergeBottleConfigs({}, {})).toEqual({});
  });
});

describe("bottleLineage", () => {
  it("puts every bottle after its ancestors, parents left to right", () => {
    const index = bottles({ base: {}, a: { extends: "base" }, b: {}, child: { extends: ["a", "b"] } });
    expect(bottleLineage(index, ["child"])).toEqual(["base", "a", "b", "child"]);
  });

  it("merges a shared ancestor once (a diamond)", () => {
    const index = bottles({
      base: { egress: { routes: [route("base.example.com")] } },
      left: { extends: "base", egress: { routes: [route("left.example.com")] } },
      right: { extends: "base", egress: { routes: [route("right.example.com")] } },
      child: { extends: ["left", "right"] },
    });
    expect(bottleLineage(index, ["child"])).toEqual(["base", "left", "right", "child"]);
    expect(resolveBottleConfig(index, ["child"]).egress?.routes?.map((r) => r.host)).toEqual([
      "base.example.com",
      "left.example.com",
      "right.example.com",
    ]);
  });

  it("reports a cycle once, naming it, at the file where it closes", () => {
    const index = bottles({ a: { extends: "b" }, b: { extends: ["base", "c"] }, c: { extends: "a" }, base: {} });
    const expected = [{ file: "bottles/c.md", keyPath: "extends", line: 2, message: "cycle: a -> b -> c -> a" }];
    expect(issuesOf(() => bottleLineage(index, ["a"]))).toEqual(expected);
    expect(issuesOf(() => bottleLineage(index, ["b"]))).toEqual(expected);
    expect(issuesOf(() => bottleLineage(index, ["c"]))).toEqual(expected);
  });

  it("reports a bottle that extends itself", () => {
    expect(issuesOf(() => bottleLineage(bottles({ me: { extends: ["me"] } }), ["me"]))).toEqual([
      { file: "bottles/me.md", keyPath: "extends[0]", line: 2, message: "cycle: me -> me" },
    ]);
  });

  it("reports a missing parent at the file that asked for it, listing the bottles", () => {
    const index = bottles({ base: {}, child: { extends: ["base", "bsae"] } });
    expect(issuesOf(() => bottleLineage(index, ["child"]))).toEqual([
      {
        file: "bottles/child.md",
        keyPath: "extends[1]",
        line: 3,
        message: 'no bottle named "bsae"; the bottles are: base, child',
        hint: 'did you mean "base"?',
      },
    ]);
  });

  it("reports a broken parent together with its own errors", () => {
    const index = bottles({ child: { extends: "parent" } });
    const brokenIssue = { file: "bottles/parent.md", keyPath: "supervise", line: 2, message: "expected a boolean" };
    index.broken.push({ kind: "bottle", name: "parent", source: "bottles/parent.md", error: "", issues: [brokenIssue] });
    expect(issuesOf(() => bottleLineage(index, ["child"]))).toEqual([
      { file: "bottles/child.md", keyPath: "extends", line: 2, message: 'bottle "parent" is broken (see its errors)' },
      brokenIssue,
    ]);
  });

  it("reports a name a caller passed (not written in a file) as a plain UserError", () => {
    const call = () => bottleLineage(bottles({ claude: {} }), ["cluade"]);
    expect(call).toThrow(UserError);
    expect(call).toThrow('no bottle named "cluade"; the bottles are: claude (did you mean "claude"?)');
  });
});

describe("resolveBottleConfig", () => {
  it("merges a chain of depth two with every rule, and drops extends", () => {
    const index = bottles({
      base: { env: { A: "base", B: "base" }, egress: { routes: [route("base.example.com")], log: 0 }, "git-gate": { user: { name: "Base", email: "b@x" } }, supervise: false },
      mid: { extends: "base", env: { B: "mid" }, agent_provider: { template: "claude" }, egress: { routes: [route("mid.example.com")] } },
      top: { extends: "mid", agent_provider: { auth_token: "TOKEN" }, egress: { log: 2 }, "git-gate": { user: { email: "t@x" } }, supervise: true },
    });
    expect(resolveBottleConfig(index, ["top"])).toEqual({
      env: { A: "base", B: "mid" },
      agent_provider: { template: "claude", auth_token: "TOKEN" },
      egress: { routes: [route("base.example.com"), route("mid.example.com")], log: 2 },
      "git-gate": { user: { name: "Base", email: "t@x" } },
      supervise: true,
    });
  });

  it("merges a list of names left to right", () => {
    const index = bottles({ one: { env: { X: "one" }, supervise: false }, two: { env: { X: "two" } } });
    expect(resolveBottleConfig(index, ["one", "two"])).toEqual({ env: { X: "two" }, supervise: false });
    expect(resolveBottleConfig(index, ["two", "one"])).toEqual({ env: { X: "one" }, supervise: false });
  });
});
