import { describe, expect, it } from "vitest";
import { ManifestError } from "../../../src/manifest/errors.js";
import { loadManifestIndex } from "../../../src/manifest/load.js";
import { resolveManifest } from "../../../src/manifest/manifest.js";
import { DEFAULT_RESOURCES } from "../../../src/manifest/resources.js";
import { Manifest } from "../../../src/manifest/schema.js";
import { UserError } from "../../../src/user-error.js";
import { fixtureDir, manifest } from "./fixture-home.js";

async function index(files: Record<string, string>) {
  return loadManifestIndex({ home: await fixtureDir(files), cwd: await fixtureDir() });
}

const CLAUDE = manifest("agent_provider:", "  template: claude");

describe("resolveManifest", () => {
  it("fills the defaults of the effective bottle", async () => {
    const result = resolveManifest(await index({ "bottles/claude.md": CLAUDE, "agents/hello.md": manifest("bottle: claude") }), "hello");
    expect(Manifest.parse(result)).toEqual(result);
    expect(result.agent.name).toBe("hello");
    expect(result.bottle).toEqual({
      names: ["claude"],
      env: {},
      agent_provider: { template: "claude" },
      egress: { routes: [], log: 2 },
      git_gate: { user: {}, repos: {} },
      backend: null,
      pool: 0,
      supervise: true,
      resources: DEFAULT_RESOURCES,
    });
  });

  it("takes backend from the bottle, through extends (the child winning); none leaves the engine's default", async () => {
    const files = {
      "bottles/base.md": manifest("agent_provider: {template: claude}", "backend: smolmachines"),
      "bottles/child.md": manifest("extends: base", "backend: docker"),
      "bottles/inherits.md": manifest("extends: base"),
      "agents/a.md": manifest("bottle: child"),
      "agents/b.md": manifest("bottle: inherits"),
      "agents/c.md": manifest("bottle: claude"),
      "bottles/claude.md": CLAUDE,
    };
    const home = await index(files);
    expect(resolveManifest(home, "a").bottle.backend).toBe("docker");
    expect(resolveManifest(home, "b").bottle.backend).toBe("smolmachines");
    expect(resolveManifest(home, "c").bottle.backend).toBeNull();
  });

  it("fills each resources field a bottle leaves out with its default, and merges them through extends, the child winning", async () => {
    const result = resolveManifest(
      await index({
        "bottles/base.md": manifest("agent_provider: {template: claude}", "resources: {memory: 2g, pids: 512}"),
        "bottles/child.md": manifest("extends: base", "resources: {memory: 1536m}"),
        "agents/hello.md": manifest("bottle: child"),
      }),
      "hello",
    );
    expect(result.bottle.resources).toEqual({ memory: 1536 * 1024 ** 2, pids: 512, cpus: DEFAULT_RESOURCES.cpus });
  });

  it("merges the agent's list of bottles left to right, and overlays the agent's git-gate.user", async () => {
    const loaded = await index({
      "bottles/claude.md": manifest("agent_provider: {template: claude}", "git-gate:", "  user: {name: Bot, email: bot@x}", "egress: {routes: [{host: a.example.com}]}"),
      "bottles/extra.md": manifest("egress: {routes: [{host: b.example.com}], log: 2}", "supervise: false"),
      "agents/helper.md": manifest("bottle: [claude, extra]", "git-gate:", "  user: {email: helper@x}"),
    });
    const { bottle } = resolveManifest(loaded, "helper");
    expect(bottle.names).toEqual(["claude", "extra"]);
    expect(bottle.egress).toEqual({ routes: [{ host: "a.example.com" }, { host: "b.example.com" }], log: 2 });
    expect(bottle.git_gate.user).toEqual({ name: "Bot", email: "helper@x" });
    expect(bottle.supervise).toBe(false);
  });

  it("uses the bottle names it is given instead of the agent's", async () => {
    const loaded = await index({
      "bottles/claude.md": CLAUDE,
      "bottles/codex.md": manifest("agent_provider: {template: codex}"),
      "agents/helper.md": manifest("bottle: claude"),
      "agents/bare.md": manifest("description: no bottle of its own"),
    });
    expect(resolveManifest(loaded, "helper", ["codex"]).bottle.agent_provider.template).toBe("codex");
    expect(resolveManifest(loaded, "bare", ["claude"]).bottle.names).toEqual(["claude"]);
  });

  it("refuses an agent with no bottle when none is given, saying what to do", async () => {
    const loaded = await index({ "agents/bare.md": manifest("model: opus") });
    expect(() => resolveManifest(loaded, "bare")).toThrow('agent "bare" names no bottle: add "bottle: NAME" to its frontmatter, or pass --bottle NAME');
  });

  it("lists the agents (and the broken ones) when the name is unknown", async () => {
    const loaded = await index({ "agents/helper.md": manifest("bottle: claude"), "agents/broken.md": manifest("bottle: 1") });
    const call = () => resolveManifest(loaded, "helpr");
    expect(call).toThrow(UserError);
    expect(call).toThrow('no agent named "helpr"; the agents are: helper (broken: broken) (did you mean "helper"?)');
  });

  it("does not mistake a name like constructor for an agent", async () => {
    const loaded = await index({ "agents/helper.md": manifest("bottle: claude") });
    expect(() => resolveManifest(loaded, "constructor")).toThrow('no agent named "constructor"; the agents are: helper');
  });

  it("gives a broken agent's own errors", async () => {
    const loaded = await index({ "agents/broken.md": manifest("bottle: 1") });
    expect(() => resolveManifest(loaded, "broken")).toThrow(/agents\/broken\.md:2: bottle: expected a string or a list, got 1$/);
  });

  it("reports an unknown bottle at the agent's bottle key", async () => {
    const loaded = await index({ "bottles/claude.md": CLAUDE, "agents/helper.md": manifest("description: x", "bottle: cluade") });
    expect(() => resolveManifest(loaded, "helper")).toThrow(
      /agents\/helper\.md:3: bottle: no bottle named "cluade"; the bottles are: claude \(did you mean "claude"\?\)$/,
    );
  });

  it("reports an unknown bottle given by the caller as a UserError listing the bottles", async () => {
    const loaded = await index({ "bottles/claude.md": CLAUDE, "agents/helper.md": manifest("bottle: claude") });
    expect(() => resolveManifest(loaded, "helper", ["nope"])).toThrow('no bottle named "nope"; the bottles are: claude');
  });

  it("gives a broken bottle's errors when the agent uses it", async () => {
    const loaded = await index({ "bottles/claude.md": manifest("agent_provider: {template: claude, token: X}"), "agents/helper.md": manifest("bottle: claude") });
    let error: unknown;
    try {
      resolveManifest(loaded, "helper");
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ManifestError);
    expect((error as ManifestError).issues.map((i) => i.keyPath)).toEqual(["bottle", "agent_provider.token"]);
  });

  it("requires a template in the effective bottle, naming the bottles", async () => {
    const loaded = await index({ "bottles/mixin.md": manifest("supervise: false"), "agents/helper.md": manifest("bottle: mixin") });
    expect(() => resolveManifest(loaded, "helper")).toThrow(
      /agents\/helper\.md:2: bottle: no agent_provider\.template in bottle "mixin" or the bottles they extend/,
    );
  });

  it("takes the template from a parent bottle", async () => {
    const loaded = await index({
      "bottles/claude.md": CLAUDE,
      "bottles/tuned.md": manifest("extends: claude", "agent_provider: {auth_token: MY_TOKEN}"),
      "agents/helper.md": manifest("bottle: tuned"),
    });
    expect(resolveManifest(loaded, "helper").bottle.agent_provider).toEqual({ template: "claude", auth_token: "MY_TOKEN" });
  });
});
