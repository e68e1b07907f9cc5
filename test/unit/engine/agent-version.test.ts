import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { HostSecrets } from "../../../src/secrets/host-secrets.js";
import { SecretStore } from "../../../src/secrets/store.js";
import { imageTag } from "../../../backends/docker/images.js";
import { AGENT_VERSION_ARG, newIdSuffix, planSummary, prepare } from "../../../src/engine/prepare.js";
import { StateStore } from "../../../src/engine/state.js";
import { CLAUDE_CODE_VERSION, claudeProvider } from "../../../src/providers/claude/provider.js";
import { CODEX_VERSION, codexProvider } from "../../../src/providers/codex/provider.js";
import { fixtureDir, manifest } from "../manifest/fixture-home.js";

// agent_provider.version: which release of the agent a bottle's image
// installs. It reaches the build as the AGENT_VERSION build arg, and it is part
// of the image's cache key, so two versions never share an image.

/** A plan for agent `hello` in a home holding `files`; pure resolution, no container calls. */
async function preparedFor(files: Record<string, string>) {
  const home = await fixtureDir(files);
  // A base image name no engine holds: imageTag keys on the name, never on a local image.
  const env = { BOT_BOTTLE_BASE_IMAGE: "bot-bottle-test/no-such-base:1" };
  return prepare({ agent: "hello" }, { home, cwd: home, env, secrets: new HostSecrets(env, new SecretStore(home)), defaultBackend: "docker", idSuffix: newIdSuffix() });
}

const planFor = async (files: Record<string, string>) => (await preparedFor(files)).plan;

const PLUGIN = 'export const provider = { headless: { argv: (r) => ["my-agent", r.prompt] } };';

describe("agent_provider.version", () => {
  it.each([
    ["claude", CLAUDE_CODE_VERSION, "2.1.332"],
    ["codex", CODEX_VERSION, "0.171.0"],
  ])("a %s bottle without one installs the provider's pinned current release", async (template, pinned, current) => {
    expect(pinned).toBe(current);
    const plan = await planFor({ "bottles/b.md": manifest(`agent_provider: {template: ${template}}`), "agents/hello.md": manifest("bottle: b") });
    expect(plan.provider.version).toBe(current);
    expect(plan.images.agent.buildArgs).toEqual({ [AGENT_VERSION_ARG]: current });
    expect(plan.images.bundle.buildArgs).toEqual({});
  });

  it.each([
    ["claude", claudeProvider.dockerfile, CLAUDE_CODE_VERSION],
    ["codex", codexProvider.dockerfile, CODEX_VERSION],
  ])("the %s Dockerfile's own AGENT_VERSION default is the provider's pinned release, and it installs AGENT_VERSION", (_name, dockerfile, pinned) => {
    const text = readFileSync(dockerfile!, "utf8");
    expect(text).toContain(`\nARG AGENT_VERSION=${pinned}\n`);
    expect(text).toMatch(/npm install -g .*@\$\{AGENT_VERSION\}"/);
    expect(text).toContain("\nARG BASE_IMAGE=node:24-bookworm\n");
  });

  it("is taken from the bottle, through extends (the child wins), into the plan and the build args", async () => {
    const files = {
      "bottles/base.md": manifest("agent_provider: {template: claude, version: 2.1.300}"),
      "bottles/pinned.md": manifest("extends: base", "agent_provider: {version: 2.1.197}"),
      "bottles/inherits.md": manifest("extends: base", "env: {A: 1}"),
    };
    const pinned = await planFor({ ...files, "agents/hello.md": manifest("bottle: pinned") });
    expect(pinned.provider.version).toBe("2.1.197");
    expect(pinned.images.agent.buildArgs).toEqual({ [AGENT_VERSION_ARG]: "2.1.197" });
    const inherited = await planFor({ ...files, "agents/hello.md": manifest("bottle: inherits") });
    expect(inherited.provider.version).toBe("2.1.300");
  });

  it("takes a dist-tag", async () => {
    const plan = await planFor({ "bottles/b.md": manifest("agent_provider: {template: codex, version: latest}"), "agents/hello.md": manifest("bottle: b") });
    expect(plan.images.agent.buildArgs).toEqual({ [AGENT_VERSION_ARG]: "latest" });
  });

  it("gives each version its own image tag, and the same version the same tag", async () => {
    const bottle = (version: string) => ({ "bottles/b.md": manifest(`agent_provider: {template: claude, version: ${version}}`), "agents/hello.md": manifest("bottle: b") });
    const tag = async (version: string) => (await imageTag("claude", (await planFor(bottle(version))).images.agent)).tag;
    const [older, current, currentAgain] = [await tag("2.1.197"), await tag("2.1.332"), await tag("2.1.332")];
    expect(older).toMatch(/^bot-bottle\/claude:[0-9a-f]{16}$/);
    expect(older).not.toBe(current);
    expect(currentAgain).toBe(current);
    // Leaving the version out is the pinned default: the same image as naming it.
    const unpinned = await planFor({ "bottles/b.md": manifest("agent_provider: {template: claude}"), "agents/hello.md": manifest("bottle: b") });
    expect((await imageTag("claude", unpinned.images.agent)).tag).toBe(current);
  });

  it("is shown in the --dry-run summary", async () => {
    const prepared = await preparedFor({ "bottles/b.md": manifest("agent_provider: {template: claude, version: 2.1.197}"), "agents/hello.md": manifest("bottle: b") });
    expect(planSummary(prepared)).toMatch(/\n {2}provider: {2}claude 2\.1\.197; image from \S+Dockerfile \(provider\) on bot-bottle-test\/no-such-base:1\n/);
  });

  it("reaches a plugin whose Dockerfile declares ARG AGENT_VERSION; without one, its Dockerfile's default stands", async () => {
    const files = {
      "contrib/mine/provider.mjs": PLUGIN,
      "contrib/mine/Dockerfile": "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG AGENT_VERSION=1.0.0\nRUN npm install -g \"my-agent@${AGENT_VERSION}\"\n",
      "bottles/plain.md": manifest("agent_provider: {template: mine}"),
      "bottles/pinned.md": manifest("agent_provider: {template: mine, version: 2.0.0}"),
    };
    const pinned = await planFor({ ...files, "agents/hello.md": manifest("bottle: pinned") });
    expect(pinned.images.agent.buildArgs).toEqual({ [AGENT_VERSION_ARG]: "2.0.0" });
    expect(pinned.provider.version).toBe("2.0.0");
    const plain = await preparedFor({ ...files, "agents/hello.md": manifest("bottle: plain") });
    expect(plain.plan.images.agent.buildArgs).toEqual({});
    expect(plain.plan.provider.version).toBeNull();
    expect(planSummary(plain)).toContain("  provider:  mine (the release its Dockerfile pins); image from");
  });

  it("is refused, naming the bottle and the Dockerfile, when the image's Dockerfile would ignore it", async () => {
    const home = await fixtureDir({
      "contrib/mine/provider.mjs": PLUGIN,
      "contrib/mine/Dockerfile": "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n# ARG AGENT_VERSION in a comment is not a declaration\nRUN npm install -g my-agent@1.0.0\n",
      "bottles/pinned.md": manifest("agent_provider: {template: mine, version: 2.0.0}"),
      "agents/hello.md": manifest("bottle: pinned"),
    });
    const dockerfile = path.join(home, "contrib", "mine", "Dockerfile");
    await expect(prepare({ agent: "hello" }, { home, cwd: home, env: {}, secrets: new HostSecrets({}, new SecretStore(home)), defaultBackend: "docker", idSuffix: newIdSuffix() })).rejects.toThrow(
      `bottle pinned sets agent_provider.version 2.0.0, but its image's Dockerfile ${dockerfile} declares no \`ARG AGENT_VERSION\`, so the version would be ignored`,
    );
  });

  it("leaves the plan of a bottle started before versions existed readable (no build args, no version)", async () => {
    const plan = await planFor({ "bottles/b.md": manifest("agent_provider: {template: claude}"), "agents/hello.md": manifest("bottle: b") });
    new StateStore(plan.home).writePlan(plan);
    const file = path.join(plan.stateDir, "plan.json");
    const earlier = JSON.parse(readFileSync(file, "utf8")) as Record<string, Record<string, Record<string, unknown>>>;
    delete earlier.images!.agent!.buildArgs;
    delete earlier.images!.bundle!.buildArgs;
    delete earlier.provider!.version;
    const store = new StateStore(plan.home);
    store.writePlan(earlier as never);
    const read = store.readPlan(plan.id)!;
    expect(read.provider).toEqual({ name: "claude", version: null });
    expect(read.images.agent.buildArgs).toEqual({});
  });
});
