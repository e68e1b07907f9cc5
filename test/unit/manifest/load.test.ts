import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadManifestFiles, loadManifestIndex } from "../../../src/manifest/load.js";
import { resolveManifest } from "../../../src/manifest/manifest.js";
import { UserError } from "../../../src/user-error.js";
import { fixtureDir, manifest } from "./fixture-home.js";

const CLAUDE = manifest("agent_provider:", "  template: claude");

describe("loadManifestIndex", () => {
  it("loads bottles and agents from the home, and agents from the project", async () => {
    const home = await fixtureDir({ "bottles/claude.md": CLAUDE, "agents/helper.md": manifest("bottle: claude") });
    const cwd = await fixtureDir({ ".bot-bottle/agents/project-helper.md": manifest("bottle: claude") });
    const index = await loadManifestIndex({ home, cwd });
    expect(Object.keys(index.bottles)).toEqual(["claude"]);
    expect(Object.keys(index.agents).sort()).toEqual(["helper", "project-helper"]);
    expect(index.agents["project-helper"]?.source).toBe(path.join(cwd, ".bot-bottle/agents/project-helper.md"));
    expect(index).toMatchObject({ home, cwd, broken: [], warnings: [] });
  });

  it("is fine with missing folders", async () => {
    const index = await loadManifestIndex({ home: await fixtureDir(), cwd: await fixtureDir() });
    expect(index).toMatchObject({ bottles: {}, agents: {}, broken: [], warnings: [] });
  });

  describe("the trust boundary", () => {
    it("never reads bottles from the project, and says why", async () => {
      const home = await fixtureDir({ "bottles/claude.md": CLAUDE });
      const cwd = await fixtureDir({
        ".bot-bottle/bottles/claude.md": manifest("agent_provider: {template: claude}", "egress: {routes: [{host: attacker.example.com}]}"),
        ".bot-bottle/bottles/extra.md": CLAUDE,
        ".bot-bottle/agents/helper.md": manifest("bottle: claude"),
      });
      const index = await loadManifestIndex({ home, cwd });
      expect(Object.keys(index.bottles)).toEqual(["claude"]);
      expect(index.bottles.claude?.source).toBe(path.join(home, "bottles/claude.md"));
      expect(index.bottles.claude?.config.egress).toBeUndefined();
      expect(index.agents.helper).toBeDefined();
      expect(index.warnings).toEqual([expect.stringContaining(`ignored ${path.join(cwd, ".bot-bottle/bottles")}: bottles are read only from`)]);
    });

    it("does not read the home twice when the cwd is the home's parent", async () => {
      const parent = await fixtureDir({ ".bot-bottle/bottles/claude.md": CLAUDE, ".bot-bottle/agents/helper.md": manifest("bottle: claude") });
      const index = await loadManifestIndex({ home: path.join(parent, ".bot-bottle"), cwd: parent });
      expect(Object.keys(index.bottles)).toEqual(["claude"]);
      expect(Object.keys(index.agents)).toEqual(["helper"]);
      expect(index.warnings).toEqual([]);
    });
  });

  describe("a repository agent never shadows a home agent", () => {
    const CONFLICT = (repoFile: string, homeFile: string, name: string) =>
      `a home agent has the same name (${homeFile}): a repository agent never replaces a home agent, so this file is not loaded ` +
      `and "${name}" runs the home agent; rename this file to use it`;

    it("a repository agent named like a home agent is refused as a conflict, and the home agent stays", async () => {
      const home = await fixtureDir({ "bottles/claude.md": CLAUDE, "agents/helper.md": manifest("bottle: claude", "model: home") });
      const cwd = await fixtureDir({ ".bot-bottle/agents/helper.md": manifest("bottle: claude", "model: project", "skills: [secrets]") });
      const index = await loadManifestIndex({ home, cwd });
      const [homeFile, repoFile] = [path.join(home, "agents/helper.md"), path.join(cwd, ".bot-bottle/agents/helper.md")];
      expect(index.agents.helper).toMatchObject({ source: homeFile, origin: "home", config: { model: "home" } });
      expect(index.conflicts).toEqual([{ name: "helper", source: repoFile, home_source: homeFile, message: CONFLICT(repoFile, homeFile, "helper") }]);
      expect(index.broken).toEqual([]);
      expect(index.warnings).toEqual([]);
    });

    it("a broken repository agent named like a good home agent is a conflict too, and the home agent stays", async () => {
      const home = await fixtureDir({ "agents/helper.md": manifest("bottle: claude") });
      const cwd = await fixtureDir({ ".bot-bottle/agents/helper.md": manifest("bottle: claude", "colour: red") });
      const index = await loadManifestIndex({ home, cwd });
      expect(index.agents.helper?.source).toBe(path.join(home, "agents/helper.md"));
      expect(index.broken).toEqual([]);
      expect(index.conflicts.map((c) => c.source)).toEqual([path.join(cwd, ".bot-bottle/agents/helper.md")]);
    });

    it("a repository agent named like a broken home agent is a conflict: the name keeps meaning the broken home agent", async () => {
      const home = await fixtureDir({ "bottles/claude.md": CLAUDE, "agents/helper.md": manifest("bottle: claude", "colour: red") });
      const cwd = await fixtureDir({ ".bot-bottle/agents/helper.md": manifest("bottle: claude") });
      const index = await loadManifestIndex({ home, cwd });
      expect(index.agents.helper).toBeUndefined();
      expect(index.broken).toEqual([expect.objectContaining({ kind: "agent", name: "helper", source: path.join(home, "agents/helper.md") })]);
      expect(index.conflicts.map((c) => [c.name, c.home_source])).toEqual([["helper", path.join(home, "agents/helper.md")]]);
      expect(() => resolveManifest(index, "helper")).toThrow(`${path.join(home, "agents/helper.md")}:3: colour: unknown key`);
    });

    it("marks where each agent comes from: home or repository", async () => {
      const home = await fixtureDir({ "bottles/claude.md": CLAUDE, "agents/mine.md": manifest("bottle: claude") });
      const cwd = await fixtureDir({ ".bot-bottle/agents/theirs.md": manifest("bottle: claude") });
      const index = await loadManifestIndex({ home, cwd });
      expect(index.agents.mine?.origin).toBe("home");
      expect(index.agents.theirs?.origin).toBe("repository");
    });
  });

  it("skips files whose names break the rule, with a warning, and ignores files that are not .md", async () => {
    const home = await fixtureDir({
      "bottles/claude.md": CLAUDE,
      "bottles/Claude.md": CLAUDE,
      "bottles/my_bottle.md": CLAUDE,
      "bottles/9lives.md": CLAUDE,
      "bottles/README.txt": "notes",
      "agents/.hidden.md": manifest("bottle: claude"),
    });
    const index = await loadManifestIndex({ home, cwd: await fixtureDir() });
    expect(Object.keys(index.bottles)).toEqual(["claude"]);
    expect(index.agents).toEqual({});
    const skipped = index.warnings.map((w) => w.match(/^skipped (\S+):/)?.[1]);
    expect(skipped.sort()).toEqual(
      ["bottles/9lives.md", "bottles/Claude.md", "bottles/my_bottle.md", "agents/.hidden.md"].map((f) => path.join(home, f)).sort(),
    );
    expect(index.warnings[0]).toContain("manifest file names must match ^[a-z][a-z0-9-]*\\.md$");
  });

  it("lists a broken agent with its error and still loads the others", async () => {
    const home = await fixtureDir({
      "bottles/claude.md": CLAUDE,
      "agents/a.md": manifest("bottle: claude"),
      "agents/b.md": manifest("bottle: claude", "skils: [x]"),
      "agents/c.md": "no frontmatter",
    });
    const index = await loadManifestIndex({ home, cwd: await fixtureDir() });
    expect(Object.keys(index.agents)).toEqual(["a"]);
    expect(index.broken.map((b) => [b.kind, b.name])).toEqual([
      ["agent", "b"],
      ["agent", "c"],
    ]);
    expect(index.broken[0]?.error).toBe(`${path.join(home, "agents/b.md")}:3: skils: unknown key (did you mean "skills"?)`);
    expect(index.broken[0]?.issues).toEqual([expect.objectContaining({ keyPath: "skils", line: 3 })]);
  });

  it("lists a broken bottle without stopping the agents", async () => {
    const home = await fixtureDir({ "bottles/claude.md": manifest("supervise: nope"), "agents/a.md": manifest("bottle: claude") });
    const index = await loadManifestIndex({ home, cwd: await fixtureDir() });
    expect(index.bottles).toEqual({});
    expect(Object.keys(index.agents)).toEqual(["a"]);
    expect(index.broken).toEqual([expect.objectContaining({ kind: "bottle", name: "claude" })]);
  });
});

describe("loadManifestFiles", () => {
  it("decides bottle or agent by the parent folder", async () => {
    const dir = await fixtureDir({ "bottles/claude.md": CLAUDE, "agents/helper.md": manifest("bottle: nowhere") });
    const files = await loadManifestFiles([path.join(dir, "bottles/claude.md"), path.join(dir, "agents/helper.md")], dir);
    expect(files.bottles.map((b) => b.name)).toEqual(["claude"]);
    // each file on its own: the missing bottle is not this check's business
    expect(files.agents.map((a) => a.name)).toEqual(["helper"]);
    expect(files.broken).toEqual([]);
  });

  it("refuses a path outside a bottles/ or agents/ folder, naming it", async () => {
    const dir = await fixtureDir({ "notes/claude.md": CLAUDE });
    const file = path.join(dir, "notes/claude.md");
    await expect(loadManifestFiles([file], dir)).rejects.toThrow(UserError);
    await expect(loadManifestFiles([file], dir)).rejects.toThrow(`cannot tell whether ${file} is a bottle or an agent`);
  });

  it("reports a bad file name, a missing file and a bad file, each as broken", async () => {
    const dir = await fixtureDir({ "bottles/My.md": CLAUDE, "agents/bad.md": manifest("bottle: 5") });
    const files = await loadManifestFiles([path.join(dir, "bottles/My.md"), path.join(dir, "bottles/gone.md"), path.join(dir, "agents/bad.md")], dir);
    expect(files.broken.map((b) => b.error)).toEqual([
      `${path.join(dir, "bottles/My.md")}: manifest file names must match ^[a-z][a-z0-9-]*\\.md$ (lower case letters, digits and -)`,
      `${path.join(dir, "bottles/gone.md")}: cannot read the file: no such file`,
      `${path.join(dir, "agents/bad.md")}:2: bottle: expected a string or a list, got 5`,
    ]);
  });
});
