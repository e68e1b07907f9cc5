import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Engine } from "../../../src/engine/engine.js";
import { homeLabel } from "../../../src/engine/prepare.js";
import { WarmPool } from "../../../src/engine/warm-pool.js";
import { repoRoot, runCli } from "../../support/cli.js";
import { describeWithDocker, engineTestEnv } from "../../support/docker.js";

// A warm pool on the real engine: bottles launched ahead of time, claimed by a
// start (label and cwd copy applied then), refilled, and removed on close or,
// once the process keeping them is gone, by gc.

const fixtureHome = path.join(repoRoot, "test", "fixtures", "homes", "engine");
const claudeConfig = path.join(repoRoot, "test", "fixtures", "claude-config");

describeWithDocker("a warm pool (real bottles)", () => {
  const home = mkdtempSync(path.join(os.tmpdir(), "bb-pool-"));
  const work = mkdtempSync(path.join(os.tmpdir(), "bb-pool-cwd-"));
  const env = { ...process.env, ...engineTestEnv(), BOT_BOTTLE_HOME: home, CLAUDE_CONFIG_DIR: claudeConfig, BOT_BOTTLE_LOG: "warn" };
  let engine: Engine;
  let pool: WarmPool;
  let first = "";
  let claimedId = "";

  const containers = async (id: string) =>
    (await execa("docker", ["ps", "-a", "--filter", `label=bot-bottle.id=${id}`, "--filter", `label=bot-bottle.home=${homeLabel(home)}`, "--format", "{{.Names}}"])).stdout
      .split("\n")
      .filter(Boolean);
  const status = (id: string) => engine.state.readMetadata(id)?.status;

  beforeAll(async () => {
    cpSync(fixtureHome, home, { recursive: true });
    writeFileSync(path.join(work, "notes.txt"), "brought in at claim\n");
    engine = new Engine({ home, cwd: home, env });
    pool = new WarmPool(engine, new Map([["probe", 1]]));
    await pool.fill();
    first = pool.waiting("probe")[0] ?? "";
  }, 900_000);

  afterAll(async () => {
    await pool?.close();
    if (claimedId) await engine.stop(claimedId);
    await runCli(["gc"], { ...engineTestEnv(), BOT_BOTTLE_HOME: home });
    rmSync(home, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it("launches the pool's bottles as pooled: listed, running on the engine, closed to exec until claimed", async () => {
    expect(first).toMatch(/^probe-[0-9a-f]{8}$/);
    expect((await engine.list()).find((b) => b.id === first)?.status).toBe("pooled");
    expect(await containers(first)).toHaveLength(2);
    await expect(engine.exec(first, ["true"])).rejects.toThrow(`bottle ${first} is pooled, not running`);
  });

  it("gives a matching start the warm bottle, with the start's label and a copy of its cwd, then refills", async () => {
    const record = await engine.start({ agent: "probe", label: "claimed", cwd: work });
    claimedId = record.id;
    expect(record).toMatchObject({ id: first, status: "running", label: "claimed", cwd: work });
    const seen = await engine.exec(first, ["sh", "-c", "cat notes.txt; stat -c %U notes.txt"]);
    expect(seen.stdout).toBe("brought in at claim\nnode\n");
    await pool.fill("probe");
    const [refill] = pool.waiting("probe");
    expect(refill).toBeDefined();
    expect(refill).not.toBe(first);
    expect(status(refill!)).toBe("pooled");
  });

  it("is claimed by one start only when two race for it", async () => {
    const [waiting] = pool.waiting("probe");
    const other = new Engine({ home, cwd: home, env });
    // The loser finds no warm bottle and launches its own; both end up running, on different bottles.
    const [a, b] = await Promise.all([engine.start({ agent: "probe", label: "a" }), other.start({ agent: "probe", label: "b" })]);
    expect(new Set([a.id, b.id]).size).toBe(2);
    expect([a.id, b.id]).toContain(waiting);
    for (const id of [a.id, b.id]) await engine.stop(id);
  });

  it("removes only its unclaimed bottles on close", async () => {
    await pool.fill("probe");
    const [waiting] = pool.waiting("probe");
    const removed = await pool.close();
    expect(removed).toEqual(expect.arrayContaining([`container bot-bottle-${waiting}-agent`]));
    expect(await containers(waiting!)).toEqual([]);
    expect(status(claimedId)).toBe("running");
    expect(await containers(claimedId)).toHaveLength(2);
  });

  it("leaves a pooled bottle whose keeper died to gc", async () => {
    const keeper = new WarmPool(engine, new Map([["probe", 1]]));
    await keeper.fill();
    const [orphan] = keeper.waiting("probe");
    const dead = spawnSync("true").pid!;
    const metadata = engine.state.readMetadata(orphan!)!;
    engine.state.writeMetadata({ ...metadata, pool: { key: metadata.pool!.key, owner_pid: dead } });
    const { removed } = await engine.gc();
    expect(removed).toEqual(expect.arrayContaining([`container bot-bottle-${orphan}-agent`, `state ${orphan}`]));
    expect(await containers(orphan!)).toEqual([]);
    expect(status(claimedId)).toBe("running");
  });
});
