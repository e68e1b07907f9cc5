import { lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { cliPath } from "../../support/cli.js";
import { describeWithDocker, engineTestEnv } from "../../support/docker.js";
import { useTempDir } from "../../support/temp-dir.js";

// A real bottle on the real engine, started through the CLI with its token
// only in the secret store; stopping it and collecting garbage afterwards
// must leave the store exactly as it was (gc removes what belongs to dead
// bottles, and the store belongs to none).

const TOKEN_NAME = "STORE_ONLY_TOKEN";
const TOKEN = "store-only-token-value-for-the-test";

/** Every entry of the store with what identifies it: a change of content, mode or inode shows. */
function snapshot(dir: string): Record<string, string> {
  const entries: Record<string, string> = { ".": `${lstatSync(dir).ino}:${lstatSync(dir).mode}` };
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    entries[name] = `${lstatSync(file).ino}:${lstatSync(file).mode}:${readFileSync(file, "utf8")}`;
  }
  return entries;
}

describeWithDocker("the secret store across a bottle's life", () => {
  const root = useTempDir("bb-store-survives-");
  let home = "";
  let env: Record<string, string> = {};
  let id = "";
  const cli = (args: string[], input?: string) => execa("node", [cliPath, ...args], { env, extendEnv: false, input, reject: false });

  beforeAll(async () => {
    home = path.join(root.path, "home");
    for (const sub of ["bottles", "agents"]) mkdirSync(path.join(home, sub), { recursive: true });
    writeFileSync(path.join(home, "bottles", "stored.md"), `---\nagent_provider:\n  template: claude\n  auth_token: ${TOKEN_NAME}\n---\n`);
    writeFileSync(path.join(home, "agents", "keeper.md"), "---\nbottle: stored\n---\nYou keep nothing.\n");
    env = { ...engineTestEnv(), PATH: process.env.PATH ?? "", HOME: root.path, BOT_BOTTLE_HOME: home, BOT_BOTTLE_LOG: "warn" };
    const set = await cli(["secret", "set", TOKEN_NAME], TOKEN);
    expect(set.exitCode, set.stderr).toBe(0);
    // Another secret no bottle uses: gc must not judge the store's entries by what bottles name.
    expect((await cli(["secret", "set", "UNUSED_TOKEN"], "unused-value")).exitCode).toBe(0);
  });

  afterAll(async () => {
    if (id) await cli(["stop", id]);
  });

  it("starts a bottle whose token is only in the store; stop and gc leave the store as it was", async () => {
    const before = snapshot(path.join(home, "secrets"));
    const started = await cli(["start", "keeper"]);
    expect(started.exitCode, started.stderr).toBe(0);
    id = started.stdout.trim();
    const inspect = await execa("docker", ["inspect", `bot-bottle-${id}-agent`, `bot-bottle-${id}-bundle`]);
    expect(inspect.stdout).not.toContain(TOKEN);

    const stopped = await cli(["stop", id]);
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    expect(stopped.stdout).toMatch(/removed container/);
    expect(snapshot(path.join(home, "secrets"))).toEqual(before);

    const gc = await cli(["gc"]);
    expect(gc.exitCode, gc.stderr).toBe(0);
    expect(gc.stdout).toContain(`removed state ${id}`);
    expect(snapshot(path.join(home, "secrets"))).toEqual(before);
    id = "";
  });
});
