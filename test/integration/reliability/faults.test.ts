import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statfsSync, statSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BottleRecord, ExecResult, RunRecord, RunResult } from "../../../src/engine/records.js";
import { BUNDLE_DOWN } from "../../../src/engine/engine.js";
import { homePaths } from "../../../src/home.js";
import { readAudit } from "../../../src/supervise/audit.js";
import type { PendingProposal } from "../../../src/supervise/pending.js";
import { waitUntil } from "../../../src/wait-until.js";
import { runCli } from "../../support/cli.js";
import { baseImage, describeWithDocker } from "../../support/docker.js";
import { createTestInternet, type TestInternet } from "../../support/fake-model-container.js";
import {
  askScript,
  call,
  entriesOf,
  homeResources,
  killServer,
  ok,
  parseAnswers,
  type ServerProcess,
  startServerProcess,
  writeReliabilityHome,
} from "../../support/reliability.js";

// Faults against the real engine, with `bot-bottle mcp` as a real process and
// SDK clients as the outer agent: the server SIGKILLed at each phase of a
// start, and while proposals and background runs are pending; the sidecar
// bundle killed in the middle of a request; the home's disk full. Nothing may
// be left behind, lost, hung or half-written. Every wait is on a condition.

const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000) => waitUntil(what, probe, { timeoutMs, intervalMs: 100 });

/** Ten phases of start_bottle, in the order a start reaches them; one run is killed at each. */
const KILL_PHASES = ["ca", "images", "network", "sidecars", "agent", "ready", "provision:ca", "provision:workspace", "provision:skills", "provision:supervise"];

/** Far longer than any of these steps takes: reaching it means something hangs. */
const HANG_GUARD_MS = 120_000;

describeWithDocker("faults (real engine, SIGKILLed servers)", () => {
  describe("the server SIGKILLed at each phase of start_bottle", () => {
    let home = "";
    let env: Record<string, string> = {};
    const servers: ServerProcess[] = [];

    beforeAll(() => {
      home = mkdtempSync(path.join(os.tmpdir(), "bb-faults-phases-"));
      env = writeReliabilityHome(home);
    });

    afterAll(async () => {
      for (const server of servers) await server.client.close().catch(() => undefined);
      if (home) await runCli(["gc"], env);
      if (home) rmSync(home, { recursive: true, force: true });
    });

    it(`a new server plus gc leaves no container, network, volume or state folder after kills at ${KILL_PHASES.length} phases`, async () => {
      // All ten at once, in one home: gc then faces every kind of debris together.
      const runs = await Promise.all(
        KILL_PHASES.map(async (phase) => {
          const server = await startServerProcess(env);
          servers.push(server);
          const seen: string[] = [];
          let killed: Promise<void> | undefined;
          const outcome = await server.client
            .callTool({ name: "start_bottle", arguments: { agent: "worker", label: `killed at ${phase}` } }, undefined, {
              timeout: HANG_GUARD_MS,
              onprogress: (progress) => {
                const reached = (progress.message ?? "").split(": ")[0]!;
                seen.push(reached);
                if (reached === phase && !killed) killed = killServer(server);
              },
            })
            .then(
              (result) => `answered: ${JSON.stringify((result as CallToolResult).content)}`,
              (error: Error) => `failed: ${error.message}`,
            );
          await killed;
          return { phase, seen, outcome, killed: killed !== undefined };
        }),
      );
      for (const run of runs) {
        expect(run.killed, `${run.phase} was never reached (seen: ${run.seen.join(", ")}; ${run.outcome})`).toBe(true);
        // The server died before it could answer.
        expect(run.outcome, run.phase).toMatch(/^failed: .*(closed|Connection)/i);
      }

      // Debris of every phase: state folders, and containers, networks or volumes for the later ones.
      expect(entriesOf(homePaths(home).state)).toHaveLength(KILL_PHASES.length);
      const left = await homeResources(home);
      expect(left.containers.length + left.networks.length + left.volumes.length).toBeGreaterThan(0);

      const fresh = await startServerProcess(env);
      servers.push(fresh);
      const listed = (await ok<{ bottles: BottleRecord[] }>(fresh.client, "list_bottles", {})).bottles;
      expect(listed).toHaveLength(KILL_PHASES.length);
      // A start whose server died is a failed start, whatever it had reached.
      expect(listed.map((b) => b.status)).toEqual(KILL_PHASES.map(() => "failed"));

      const gc = await runCli(["gc"], env);
      expect(gc.exitCode, gc.stderr).toBe(0);
      expect(await homeResources(home)).toEqual({ containers: [], networks: [], volumes: [] });
      expect(entriesOf(homePaths(home).state)).toEqual([]);
      expect(entriesOf(homePaths(home).queue)).toEqual([]);
      expect((await ok<{ bottles: BottleRecord[] }>(fresh.client, "list_bottles", {})).bottles).toEqual([]);
    });
  });

  describe("a running bottle: its server killed with work pending, then its bundle killed mid-request", () => {
    let root = "";
    let home = "";
    let env: Record<string, string> = {};
    let internet: TestInternet | undefined;
    const slow = `bb-faults-slow-${process.pid}`;
    let server: ServerProcess;
    let bottle: BottleRecord;

    beforeAll(async () => {
      root = mkdtempSync(path.join(os.tmpdir(), "bb-faults-bottle-"));
      home = path.join(root, "home");
      // A declared plain-HTTP host, and answers waited on for ten minutes: only the faults end a request here.
      env = writeReliabilityHome(home, "egress:\n  routes:\n    - host: slow.test:80\nsupervise:\n  timeout_s: 600\n");
      internet = await createTestInternet(`bb-faults-net-${process.pid}`);
      env.BOT_BOTTLE_EGRESS_ALLOW_NETWORKS = internet.subnet;
      // An upstream that takes every request and never answers.
      const never = "require('http').createServer((q)=>console.log('saw '+q.url)).listen(80,()=>console.log('listening'))";
      await execa("docker", ["run", "-d", "--name", slow, "--network", internet.name, "--network-alias", "slow.test", baseImage(), "node", "-e", never]);
      await until("the slow upstream to listen", async () => ((await execa("docker", ["logs", slow])).stdout.includes("listening") ? true : undefined));
      server = await startServerProcess(env);
      bottle = await ok<BottleRecord>(server.client, "start_bottle", { agent: "steady" });
      await internet.connect(`bot-bottle-${bottle.id}-bundle`);
    });

    afterAll(async () => {
      if (bottle) await call(server.client, "stop_bottle", { bottle_id: bottle.id }).catch(() => undefined);
      await server?.client.close().catch(() => undefined);
      await execa("docker", ["rm", "-f", slow], { reject: false });
      await internet?.remove();
      if (home) await runCli(["gc"], env);
      if (root) rmSync(root, { recursive: true, force: true });
    });

    const runState = async (runId: string) =>
      (await ok<{ runs: RunRecord[] }>(server.client, "list_runs", { bottle_id: bottle.id })).runs.find((r) => r.run_id === runId)?.state;

    it("SIGKILL with pending proposals and background runs: a new server lists every one of them, and they all finish", async () => {
      const questions = ["first question", "second question", "third question"];
      const asks: string[] = [];
      for (const question of questions) {
        asks.push(String((await ok(server.client, "exec_in_bottle", { bottle_id: bottle.id, command: askScript([question]), background: true })).run_id));
      }
      const waiting = String(
        (
          await ok(server.client, "exec_in_bottle", {
            bottle_id: bottle.id,
            command: "while [ ! -e /tmp/go-on ]; do sleep 0.1; done; echo finished after the restart",
            background: true,
          })
        ).run_id,
      );
      const pending = await until("three pending proposals", async () => {
        const listed = (await ok<{ proposals: PendingProposal[] }>(server.client, "supervise_list", { bottle_id: bottle.id })).proposals;
        return listed.length === questions.length ? listed : undefined;
      });
      expect(pending.map((p) => p.summary).sort()).toEqual([...questions].sort());

      await killServer(server);
      server = await startServerProcess(env);

      const after = (await ok<{ proposals: PendingProposal[] }>(server.client, "supervise_list", { bottle_id: bottle.id })).proposals;
      expect(after.map((p) => p.id).sort()).toEqual(pending.map((p) => p.id).sort());
      const runs = (await ok<{ runs: RunRecord[] }>(server.client, "list_runs", { bottle_id: bottle.id })).runs;
      expect(runs.map((r) => r.run_id).sort()).toEqual([...asks, waiting].sort());
      expect(runs.map((r) => r.state)).toEqual(runs.map(() => "running"));

      // Answered through the new server, the bottled calls that have waited all along get their answers.
      const decisions = new Map(pending.map((p, i) => [p.id, i === 1 ? "reject" : "approve"] as const));
      for (const [id, decision] of decisions) await ok(server.client, "supervise_approve", { request_id: id, decision, notes: `after the crash ${id}` });
      const ended = await ok<{ reason: string; runs: RunRecord[] }>(server.client, "wait_for_runs", { run_ids: asks, timeout_s: 50 });
      expect(ended.reason).toBe("run_ended");
      await until("every asking run to end", async () => ((await Promise.all(asks.map(runState))).every((s) => s === "exited") ? true : undefined));
      for (const runId of asks) {
        const read = await ok<RunResult>(server.client, "get_run", { run_id: runId });
        const [answer] = parseAnswers(read.stdout.text);
        expect(answer?.error, read.stdout.text).toBeNull();
        const id = answer!.result!.request_id!;
        expect(answer!.result).toMatchObject({ status: decisions.get(id) === "approve" ? "approved" : "rejected", notes: `after the crash ${id}` });
      }

      await ok(server.client, "exec_in_bottle", { bottle_id: bottle.id, command: "touch /tmp/go-on" });
      const waited = await ok<{ runs: RunRecord[] }>(server.client, "wait_for_runs", { run_ids: [waiting], timeout_s: 50 });
      expect(waited.runs).toMatchObject([{ run_id: waiting, state: "exited", exit_code: 0 }]);
      expect((await ok<RunResult>(server.client, "get_run", { run_id: waiting })).stdout.text).toBe("finished after the restart\n");

      // Each proposal and each decision recorded once, across both servers.
      const audit = readAudit(home, bottle.id);
      expect(audit.map((r) => `${r.event}:${r.id}`).sort()).toEqual(pending.flatMap((p) => [`decision:${p.id}`, `proposal:${p.id}`]).sort());
    });

    it("the bundle killed in the middle of a request through egress: the request fails, nothing hangs, and stop clears the bottle", async () => {
      const bundle = `bot-bottle-${bottle.id}-bundle`;
      // A supervise call waiting on an answer, at the same moment.
      const asking = String((await ok(server.client, "exec_in_bottle", { bottle_id: bottle.id, command: askScript(["asked as the bundle dies"]), background: true })).run_id);
      await until("the proposal to be pending", async () =>
        (await ok<{ proposals: PendingProposal[] }>(server.client, "supervise_list", { bottle_id: bottle.id })).proposals.length > 0 ? true : undefined,
      );
      // No timeout of its own (curl's or the exec's) could end it first: only the fault can.
      const request = ok<ExecResult>(
        server.client,
        "exec_in_bottle",
        { bottle_id: bottle.id, command: "curl -sS -o /dev/null -w 'status %{http_code}\\n' http://slow.test/slow-request; echo \"curl exit $?\"", timeout_s: 3600 },
        HANG_GUARD_MS,
      );
      await until("the upstream to hold the request", async () => ((await execa("docker", ["logs", slow])).stdout.includes("saw /slow-request") ? true : undefined));
      const listed = async () => (await ok<{ bottles: BottleRecord[] }>(server.client, "list_bottles", {})).bottles.find((b) => b.id === bottle.id);
      expect(await listed()).toMatchObject({ status: "running" });
      expect((await listed())?.problem).toBeUndefined();
      await execa("docker", ["kill", bundle]);

      const result = await request;
      expect(result.stdout).toMatch(/^status 000\ncurl exit (52|56)\n$/);
      expect(result.timed_out).toBe(false);
      await until("the supervise call to end", async () => ((await runState(asking)) === "exited" ? true : undefined), HANG_GUARD_MS);
      const [answer] = parseAnswers((await ok<RunResult>(server.client, "get_run", { run_id: asking })).stdout.text);
      expect(answer).toMatchObject({ summary: "asked as the bundle dies", result: null });
      expect(answer!.error).toBeTruthy();

      // New requests fail at once too, rather than wait on a bundle that is gone.
      const again = await ok<ExecResult>(
        server.client,
        "exec_in_bottle",
        {
          bottle_id: bottle.id,
          command: "curl -sS -o /dev/null http://slow.test/after; echo \"egress $?\"; curl -sS -o /dev/null -X POST http://127.0.0.1:9100/mcp; echo \"supervise $?\"",
          timeout_s: 3600,
        },
        HANG_GUARD_MS,
      );
      expect(again.stdout).toMatch(/^egress (7|52|56)\nsupervise (7|52|56)\n$/);

      // Listed as what it is: an agent that runs, with no bundle.
      // docker kill returns once the signal is sent; the engine records the exit a moment later.
      await until("the bundle to be seen down", async () => ((await listed())?.problem === BUNDLE_DOWN ? true : undefined));
      expect(await listed()).toMatchObject({ status: "running", problem: BUNDLE_DOWN });
      const ls = await runCli(["ls"], env);
      expect(ls.stdout).toContain(`${bottle.id}\trunning`);
      expect(ls.stdout).toContain(`! ${BUNDLE_DOWN}`);

      const stopped = await ok<{ removed: string[] }>(server.client, "stop_bottle", { bottle_id: bottle.id });
      expect(stopped.removed).toContain(`container ${bundle}`);
      expect(await homeResources(home)).toEqual({ containers: [], networks: [], volumes: [] });
    });
  });

  describe("a full disk under the home", () => {
    let mount = "";
    let env: Record<string, string> = {};
    let server: ServerProcess | undefined;

    beforeAll(async () => {
      mount = mkdtempSync(path.join(os.tmpdir(), "bb-faults-disk-"));
      await execa("mount", ["-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", mount]);
      env = writeReliabilityHome(mount);
    });

    afterAll(async () => {
      await server?.client.close().catch(() => undefined);
      if (!mount) return;
      if (existsSync(path.join(mount, "bottles"))) await runCli(["gc"], env);
      // Lazily if something still holds it, so the folder never stays mounted.
      if ((await execa("umount", [mount], { reject: false })).exitCode !== 0) await execa("umount", ["-l", mount], { reject: false });
      rmSync(mount, { recursive: true, force: true });
    });

    const filler = () => path.join(mount, "filler");

    /** Bytes free on the disk. */
    const freeBytes = () => {
      const stats = statfsSync(mount);
      return stats.bavail * stats.bsize;
    };

    /** Fills the disk but for `free` bytes (in whole pages). */
    function fill(free: number): void {
      rmSync(filler(), { force: true });
      const fd = openSync(filler(), "w");
      try {
        const chunk = Buffer.alloc(64 * 1024);
        for (const size of [chunk.length, 4096]) while (freeBytes() - free >= size) writeSync(fd, chunk, 0, size);
      } finally {
        closeSync(fd);
      }
    }

    /** Every file under the state and queue folders: JSON ones parse, and no temporary file is left. */
    function stateFiles(): string[] {
      const files: string[] = [];
      const walk = (dir: string) => {
        for (const entry of entriesOf(dir)) {
          const file = path.join(dir, entry);
          if (statSync(file).isDirectory()) walk(file);
          else files.push(file);
        }
      };
      walk(homePaths(mount).state);
      walk(homePaths(mount).queue);
      return files;
    }

    it("gives a clear error naming where, leaves no corrupt or half-written state, and a start works once there is space", async () => {
      server = await startServerProcess(env);
      // From a full disk up, a page at a time: each start runs out of space at a later write
      // (the plan's files, the record, the CA, the record after launch) until one has room.
      const failedAt = new Set<string>();
      let started: BottleRecord | undefined;
      for (let free = 0; free <= 64 * 1024 && !started; free += 4096) {
        fill(free);
        const result = await call(server.client, "start_bottle", { agent: "steady" });
        const text = (result.content[0] as { text: string }).text;
        if (!result.isError) {
          started = result.structuredContent as unknown as BottleRecord;
          break;
        }
        expect(text, `with ${free} bytes free`).toMatch(new RegExp(`^no space left on the device that holds ${mount}/\\S+ \\(ENOSPC\\)`));
        failedAt.add(path.basename(/holds (\S+)/.exec(text)![1]!));
        for (const file of stateFiles()) {
          expect(file).not.toMatch(/\.tmp$/);
          if (file.endsWith(".json")) expect(() => JSON.parse(readFileSync(file, "utf8")), file).not.toThrow();
        }
        // A failed start leaves nothing on the engine, and at most a record saying it failed.
        const listed = (await ok<{ bottles: BottleRecord[] }>(server.client, "list_bottles", {})).bottles;
        expect(listed.map((b) => b.status)).toEqual(listed.map(() => "failed"));
        expect(entriesOf(homePaths(mount).state)).toEqual(listed.map((b) => b.id).sort());
        expect(await homeResources(mount)).toEqual({ containers: [], networks: [], volumes: [] });
      }
      expect([...failedAt].length, [...failedAt].join(", ")).toBeGreaterThanOrEqual(4);
      expect(started?.status).toBe("running");

      rmSync(filler());
      expect(await ok<ExecResult>(server.client, "exec_in_bottle", { bottle_id: started!.id, command: "echo works" })).toMatchObject({ exit_code: 0, stdout: "works\n" });
      await ok(server.client, "stop_bottle", { bottle_id: started!.id });
      expect(await homeResources(mount)).toEqual({ containers: [], networks: [], volumes: [] });
    });
  });
});
