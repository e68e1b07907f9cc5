import { existsSync, mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { beforeAll, describe, expect, it } from "vitest";
import { cliPath } from "../../support/cli.js";
import { demoHomeIn, demoStep, expectEveryDemoStep, expectNothingLeft } from "../../support/demo.js";
import { describeWithDocker, engineTestEnv } from "../../support/docker.js";
import { useTempDir } from "../../support/temp-dir.js";

// `bot-bottle demo` against the real engine: every step as it prints it, in a
// home of its own (the user's BOT_BOTTLE_HOME stays untouched), and nothing
// left behind, also when it is interrupted.

/**
 * The demo bottle's id, the moment the demo says it runs: read as its output
 * arrives, not polled, since the demo's remaining steps take about a second
 * and a poll could find the bottle already removed.
 */
function whenBottleRuns(demo: ResultPromise): Promise<string> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    const look = (chunk: Buffer) => {
      stdout += chunk.toString();
      const id = /bottle (demo-[0-9a-f]{8}) is running/.exec(stdout)?.[1];
      if (!id) return;
      demo.stdout!.off("data", look);
      resolve(id);
    };
    demo.stdout!.on("data", look);
    demo.then(
      () => reject(new Error(`the demo ended before its bottle ran:\n${stdout}`)),
      () => reject(new Error(`the demo failed before its bottle ran:\n${stdout}`)),
    );
  });
}

describeWithDocker("bot-bottle demo", () => {
  const root = useTempDir("bb-demo-");
  let env: Record<string, string> = {};
  let userHome = "";
  let home = "";

  beforeAll(() => {
    userHome = path.join(root.path, "user-bot-bottle-home");
    mkdirSync(userHome);
    home = demoHomeIn(path.join(root.path, "cache"));
    // The user's own home is set: the demo must not use it.
    env = { ...engineTestEnv(), XDG_CACHE_HOME: path.join(root.path, "cache"), BOT_BOTTLE_HOME: userHome };
  });

  it("walks through a command, an egress refusal, an allowed host and an approved supervise request, then removes everything", async () => {
    const run = await execa("node", [cliPath, "demo", "--no-internet"], { env, reject: false, timeout: 900_000 });
    expect(run.exitCode, run.stderr).toBe(0);
    expectEveryDemoStep(run.stdout, home);
    await expectNothingLeft(home);
    expect(readdirSync(userHome)).toEqual([]);
  });

  it("on Ctrl-C, stops where it is and removes the bottle and everything it made", async () => {
    const demo = execa("node", [cliPath, "demo", "--no-internet"], { env, reject: false, timeout: 900_000 });
    // Interrupt once the bottle runs: the demo's own removal is what is tested, not the launch's.
    const id = await whenBottleRuns(demo);
    demo.kill("SIGINT");
    const run = await demo;
    expect(run.exitCode, run.stderr).toBe(130);
    expect(run.stderr).toContain("bot-bottle demo: interrupted, removing the bottle and everything it made...");
    expect(run.stderr).toContain("bot-bottle: interrupted; the bottle and everything it made are removed");
    const name = `bot-bottle-${id}`;
    expect(demoStep(run.stdout, 6)).toEqual([
      "[6/6] Removing the bottle and everything it made",
      expect.stringMatching(new RegExp(`^ {6}removed container ${name}-agent, container ${name}-bundle, network ${name}, volume ${name}-sockets, state ${id}, supervise queue ${id}`)),
    ]);
    expect(run.stdout).not.toContain("Done:");
    await expectNothingLeft(home);
  });

  it("after a demo killed outright (nothing can clean up then), the next one removes what it left, then runs", async () => {
    const killed = execa("node", [cliPath, "demo", "--no-internet"], { env, reject: false, timeout: 900_000 });
    const id = await whenBottleRuns(killed);
    killed.kill("SIGKILL");
    await killed;
    const left = await execa("docker", ["ps", "-q", "--filter", `label=bot-bottle.id=${id}`]);
    expect(left.stdout.trim().split("\n"), "the killed demo's containers still run").toHaveLength(2);

    const run = await execa("node", [cliPath, "demo", "--no-internet"], { env, reject: false, timeout: 900_000 });
    expect(run.exitCode, run.stderr).toBe(0);
    const name = `bot-bottle-${id}`;
    expect(run.stdout).toContain(
      `Removed what an earlier, interrupted demo left: container ${name}-agent, container ${name}-bundle, network ${name}, volume ${name}-sockets, state ${id}, supervise queue ${id}`,
    );
    expectEveryDemoStep(run.stdout, home);
    await expectNothingLeft(home);
  });
});

describe("bot-bottle demo without a Docker engine", () => {
  const root = useTempDir("bb-demo-no-engine-");

  it("says how to start one, and writes nothing", async () => {
    const cache = path.join(root.path, "cache");
    const run = await execa("node", [cliPath, "demo", "--no-internet"], { env: { DOCKER_HOST: `unix://${path.join(root.path, "no-engine.sock")}`, XDG_CACHE_HOME: cache }, reject: false });
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/^bot-bottle: the demo needs a Docker engine: no Docker engine answers \(.*\)\. Start one \(Docker Desktop, colima, or `sudo dockerd`/);
    expect(run.stdout).toBe("");
    expect(existsSync(cache)).toBe(false);
  });
});
