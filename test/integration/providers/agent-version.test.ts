import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runCli } from "../../support/cli.js";
import { describeWithDocker, engineTestEnv } from "../../support/docker.js";
import { useTempDir } from "../../support/temp-dir.js";

// agent_provider.version on a real engine: a bottle pinned to an older Claude
// Code gets an image of its own with that release in it, and a second bottle
// with the same version reuses that image.

const PINNED = "2.1.197";

describeWithDocker("a bottle pinned to another Claude Code release", () => {
  const home = useTempDir("bb-agent-version-home-");
  let env: Record<string, string> = {};
  const started: string[] = [];

  beforeAll(() => {
    env = { ...engineTestEnv(), BOT_BOTTLE_HOME: home.path, BOT_BOTTLE_LOG: "warn" };
    for (const dir of ["bottles", "agents"]) mkdirSync(path.join(home.path, dir), { recursive: true });
    writeFileSync(path.join(home.path, "bottles", "older.md"), `---\nagent_provider:\n  template: claude\n  version: ${PINNED}\n---\n`);
    writeFileSync(path.join(home.path, "agents", "elder.md"), "---\nbottle: older\n---\nYou answer in one line.\n");
  });
  afterAll(async () => {
    for (const id of started) await runCli(["stop", id], env);
  });

  const start = async () => {
    const result = await runCli(["start", "elder"], env);
    expect(result.exitCode, result.stderr).toBe(0);
    started.push(result.stdout.trim());
    const tag = /\[images\] (?:building |image )(bot-bottle\/claude:[0-9a-f]{16})/.exec(result.stderr)?.[1];
    expect(tag, result.stderr).toBeDefined();
    return { id: result.stdout.trim(), tag: tag!, stderr: result.stderr };
  };

  it("--dry-run names the pinned release", async () => {
    const result = await runCli(["start", "elder", "--dry-run"], env);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`\\n {2}provider: {2}claude ${PINNED.replaceAll(".", "\\.")}; image from `));
  });

  it("installs that release, and a second bottle with the same version reuses its image", async () => {
    const first = await start();
    const version = await runCli(["exec", first.id, "--", "claude", "--version"], env);
    expect(version.exitCode, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(`${PINNED} (Claude Code)`);

    const second = await start();
    expect(second.tag).toBe(first.tag);
    expect(second.stderr).toContain(`image ${first.tag} is up to date`);
  });
});
