import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { BottlePlan } from "../../../src/engine/plan-schema.js";
import { waitUntil } from "../../../src/wait-until.js";
import { repoRoot, runCli } from "../../support/cli.js";
import { describeWithDocker, engineTestEnv } from "../../support/docker.js";

// The sidecar bundle of a real bottle, attacked from the inside of the
// bundle itself: a daemon the agent subverts (supervise parses what the
// agent sends) must not get at the secrets egress holds, and Docker's own
// record of the container must not hold them either.

const fixtureHome = path.join(repoRoot, "test", "fixtures", "homes", "bundle");

interface DaemonProcess {
  pid: number;
  name: string;
  uid: number;
  gid: number;
  capEff: string;
}

describeWithDocker("the sidecar bundle's privileges (real bottle)", () => {
  const home = mkdtempSync(path.join(os.tmpdir(), "bb-bundle-home-"));
  const token = `bbtok-${randomBytes(24).toString("hex")}`;
  const canary = `canary-${randomBytes(16).toString("hex")}`;
  const env: Record<string, string> = {
    ...engineTestEnv(),
    BOT_BOTTLE_HOME: home,
    BOT_BOTTLE_LOG: "warn",
    BB_BUNDLE_TEST_TOKEN: token,
    BB_BUNDLE_TEST_CANARY: canary,
  };
  let id = "";
  let plan: BottlePlan;
  const inBundle = (command: string, user = "root") =>
    execa("docker", ["exec", "-u", user, plan.resources.bundle, "sh", "-c", command], { reject: false, encoding: "buffer" });
  const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8");
  const leaks = (bytes: Uint8Array) => [token, canary].filter((secret) => Buffer.from(bytes).includes(secret));

  /** The bundle's daemon processes, read from /proc as root. */
  const daemons = async (): Promise<DaemonProcess[]> => {
    const listing = await inBundle(
      'for p in /proc/[0-9]*; do c=$(tr "\\0" " " < $p/cmdline 2>/dev/null); case "$c" in *"/opt/bot-bottle/"*) ' +
        'echo "${p#/proc/} $(grep -E "^(Uid|Gid|CapEff):" $p/status | tr -s "\\t " " " | tr "\\n" " ") $c";; esac; done',
    );
    return text(listing.stdout)
      .trim()
      .split("\n")
      .map((line) => {
        const [pid, , uid, , , , , gid, , , , , capEff] = line.split(" ");
        const name = /\/opt\/bot-bottle\/([a-z-]+)\.js/.exec(line)?.[1] ?? "?";
        return { pid: Number(pid), name, uid: Number(uid), gid: Number(gid), capEff: capEff ?? "" };
      });
  };

  beforeAll(async () => {
    cpSync(fixtureHome, home, { recursive: true });
    const started = await runCli(["start", "guarded"], env);
    expect(started.exitCode, started.stderr).toBe(0);
    id = started.stdout.trim().split("\n").pop()!;
    plan = BottlePlan.parse(JSON.parse(readFileSync(path.join(home, "state", id, "plan.json"), "utf8")));
  });

  afterAll(async () => {
    if (id) await runCli(["stop", id], env);
    await runCli(["gc"], env);
    rmSync(home, { recursive: true, force: true });
  });

  it("keeps the secrets out of Docker's record of the bundle (docker inspect) and out of every argv and environment in it", async () => {
    const inspect = await execa("docker", ["inspect", plan.resources.bundle], { encoding: "buffer" });
    expect(leaks(inspect.stdout)).toEqual([]);
    const procs = await inBundle("for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do cat $f 2>/dev/null; echo; done");
    expect(procs.stdout.length).toBeGreaterThan(100);
    expect(leaks(procs.stdout)).toEqual([]);
  });

  it("runs each daemon as its own unprivileged user, without capabilities", async () => {
    const found = await daemons();
    const egress = found.find((d) => d.name === "egress");
    const supervise = found.find((d) => d.name === "supervise");
    expect(egress, JSON.stringify(found)).toBeDefined();
    expect(supervise, JSON.stringify(found)).toBeDefined();
    for (const daemon of [egress!, supervise!]) {
      expect(daemon.uid, daemon.name).not.toBe(0);
      expect(daemon.capEff, daemon.name).toBe("0000000000000000");
    }
    expect(egress!.uid).not.toBe(supervise!.uid);
  });

  it("lets supervise's user read neither egress's environment or memory nor its secrets", async () => {
    const found = await daemons();
    const egress = found.find((d) => d.name === "egress")!;
    const supervise = found.find((d) => d.name === "supervise")!;
    const attempt = await inBundle(
      `cat /proc/${egress.pid}/environ; echo environ=$?; ls /proc/${egress.pid}/fd; echo fds=$?; ` +
        "cat /run/bot-bottle-private/egress/*; echo private=$?; ls /run/bot-bottle-private; echo list=$?",
      `${supervise.uid}:${supervise.gid}`,
    );
    const output = text(attempt.stdout);
    expect(output).toMatch(/environ=1/);
    expect(output).toMatch(/fds=2/);
    expect(output).toMatch(/private=1/);
    expect(output).toMatch(/list=[12]/);
    expect(leaks(attempt.stdout)).toEqual([]);
    expect(leaks(attempt.stderr)).toEqual([]);
  });

  it("gives the host user what the daemons write: group-readable files in the bottle's folders, nobody else in", async () => {
    for (const dir of [plan.sidecars.queueDir, plan.sidecars.logDir, path.dirname(plan.sidecars.routesFile)]) {
      expect((statSync(dir).mode & 0o777).toString(8), dir).toBe("770");
    }
    const log = path.join(plan.sidecars.logDir, "egress.jsonl");
    const bundleLogs = async () => String((await execa("docker", ["logs", plan.resources.bundle], { all: true, reject: false })).all);
    // Egress writes its decision log as its own user; the host reads it.
    await waitUntil("egress to be ready", async () => ((await bundleLogs()).includes("egress: ready") ? true : undefined), { timeoutMs: 30_000 });
    await execa("docker", ["exec", "-u", "node", plan.resources.agent, "curl", "-sS", "--max-time", "10", "https://undeclared.bundle.test/"], { reject: false });
    await waitUntil("the refusal in the decision log", async () => (existsSync(log) && readFileSync(log, "utf8").includes("undeclared.bundle.test") ? true : undefined), {
      timeoutMs: 30_000,
    });
    expect(readFileSync(log, "utf8")).toContain('"host":"undeclared.bundle.test"');
  });
});
