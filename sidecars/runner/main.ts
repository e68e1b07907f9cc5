import { spawn } from "node:child_process";
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { RUN_MARKER, RunId, RunRead, type RunSpec, RunSpec as RunSpecSchema, type RunStatus, RunStatus as RunStatusSchema } from "./spec.js";
import { GUEST_PATHS } from "../contract.js";

// The runner: background runs inside the agent container, so a run outlives
// the MCP server (or CLI) that started it. Bind-mounted at
// /opt/bot-bottle/runner.js and driven through `exec` by the engine:
//
//   runner.js start                  (root) spec on stdin; starts a detached monitor, prints the status
//   runner.js monitor RUN_ID         (root, detached) runs the command as the spec's user, records how it ended
//   runner.js status [RUN_ID...]     every (or the named) run's status, JSON
//   runner.js read RUN_ID OUT ERR MAX_OUT MAX_ERR TAIL   status and output from byte offsets, JSON
//   runner.js cancel RUN_ID          (root) kills every process of the run
//   runner.js kill-marked RUN_ID     (the run's user) kills every process carrying the run's marker
//
// Each run has a folder GUEST_PATHS.runs/<id>: spec.json, status.json, stdout, stderr
// (and `cancelled` once a cancel was asked for). The monitor writes them as
// root, readable by all: the agent may read its runs' output but can neither
// forge an exit code nor rewrite what a run printed. The command runs as the
// spec's user with a marker variable every process it starts inherits, so a
// cancel or a timeout finds even processes that left its process group.
// Killing them is done as that user (root may not read another user's
// /proc/<pid>/environ), which is why root here needs SETUID/SETGID.

const STATUS = "status.json";
const KILL_GRACE_MS = 2_000;
const START_WAIT_MS = 10_000;

function fail(message: string): never {
  process.stderr.write(`runner: ${message}\n`);
  process.exit(2);
}

const runDir = (id: string) => path.join(GUEST_PATHS.runs, RunId.parse(id));

/** Written whole and renamed into place: a reader never sees half a status. */
function writeStatus(status: RunStatus): void {
  const file = path.join(runDir(status.run_id), STATUS);
  writeFileSync(`${file}.tmp`, JSON.stringify(status), { mode: 0o644 });
  renameSync(`${file}.tmp`, file);
}

function readStatus(id: string): RunStatus | null {
  const file = path.join(runDir(id), STATUS);
  if (!existsSync(file)) return null;
  return RunStatusSchema.parse(JSON.parse(readFileSync(file, "utf8")));
}

function readSpec(id: string): RunSpec {
  return RunSpecSchema.parse(JSON.parse(readFileSync(path.join(runDir(id), "spec.json"), "utf8")));
}

/** uid, gid and home of a user of this system's /etc/passwd. */
function account(user: string): { uid: number; gid: number; home: string } {
  for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
    const [name, , uid, gid, , home] = line.split(":");
    if (name === user) return { uid: Number(uid), gid: Number(gid), home: home ?? "/" };
  }
  fail(`no user ${JSON.stringify(user)} in /etc/passwd`);
}

function alive(pid: number | null, id: string): boolean {
  if (pid === null) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(id);
  } catch {
    return false;
  }
}

/** The status as it stands: a run whose monitor is gone without saying how it ended is lost. */
function currentStatus(id: string): RunStatus | null {
  const status = readStatus(id);
  if (status === null || status.state !== "running" || alive(status.monitor_pid, id)) return status;
  const lost: RunStatus = { ...status, state: "lost", ended_at: new Date().toISOString() };
  if (process.getuid?.() === 0) writeStatus(lost);
  return lost;
}

async function start(): Promise<void> {
  const spec = RunSpecSchema.parse(JSON.parse(readFileSync(0, "utf8")));
  const dir = runDir(spec.run_id);
  mkdirSync(GUEST_PATHS.runs, { recursive: true, mode: 0o755 });
  mkdirSync(dir, { mode: 0o755 });
  writeFileSync(path.join(dir, "spec.json"), JSON.stringify(spec), { mode: 0o644 });
  for (const stream of ["stdout", "stderr"]) writeFileSync(path.join(dir, stream), "", { mode: 0o644 });
  const monitor = spawn(process.execPath, [process.argv[1]!, "monitor", spec.run_id], { detached: true, stdio: "ignore" });
  monitor.unref();
  const deadline = Date.now() + START_WAIT_MS;
  for (;;) {
    const status = readStatus(spec.run_id);
    if (status) {
      process.stdout.write(`${JSON.stringify(status)}\n`);
      return;
    }
    if (Date.now() > deadline) fail(`the monitor of ${spec.run_id} did not start within ${START_WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function monitor(id: string): void {
  const spec = readSpec(id);
  const user = account(spec.user);
  const dir = runDir(id);
  const out = openSync(path.join(dir, "stdout"), "a");
  const err = openSync(path.join(dir, "stderr"), "a");
  const started = { run_id: spec.run_id, monitor_pid: process.pid, started_at: new Date().toISOString() };
  const env = { ...process.env, ...spec.env, HOME: user.home, USER: spec.user, [RUN_MARKER]: spec.run_id };
  let timedOut = false;
  const finish = (exitCode: number | null, signal: string | null): void => {
    const state = existsSync(path.join(dir, "cancelled")) ? "cancelled" : timedOut ? "timed_out" : "exited";
    writeStatus({ ...started, state, ended_at: new Date().toISOString(), exit_code: exitCode, signal });
    process.exit(0);
  };
  const child = spawn(spec.argv[0]!, spec.argv.slice(1), { cwd: spec.cwd, env, uid: user.uid, gid: user.gid, stdio: ["ignore", out, err], detached: true });
  child.once("error", (error) => {
    writeFileSync(err, `runner: cannot run ${spec.argv[0]}: ${error.message}\n`);
    finish(127, null);
  });
  child.once("spawn", () => writeStatus({ ...started, state: "running", ended_at: null, exit_code: null, signal: null }));
  child.once("exit", (code, signal) => finish(code, signal));
  setTimeout(() => {
    timedOut = true;
    killAsUser(spec, user);
  }, spec.timeout_ms).unref();
}

function killAsUser(spec: RunSpec, user: { uid: number; gid: number }): Promise<void> {
  return new Promise((resolve) => {
    const killer = spawn(process.execPath, [process.argv[1]!, "kill-marked", spec.run_id], { uid: user.uid, gid: user.gid, stdio: "ignore" });
    killer.once("exit", () => resolve());
    killer.once("error", () => resolve());
  });
}

/** Pids of this user's processes that carry the run's marker. */
function marked(id: string): number[] {
  const wanted = `${RUN_MARKER}=${id}`;
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, "latin1").split("\0").includes(wanted)) pids.push(Number(entry));
    } catch {
      // gone, or another user's
    }
  }
  return pids;
}

async function killMarked(id: string): Promise<void> {
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    for (const pid of marked(id)) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
    const deadline = Date.now() + KILL_GRACE_MS;
    while (marked(id).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    if (marked(id).length === 0) return;
  }
}

async function cancel(id: string): Promise<void> {
  const status = currentStatus(id) ?? fail(`no run ${id} in this bottle`);
  if (status.state === "running") {
    writeFileSync(path.join(runDir(id), "cancelled"), new Date().toISOString(), { mode: 0o644 });
    const spec = readSpec(id);
    await killAsUser(spec, account(spec.user));
    const deadline = Date.now() + START_WAIT_MS;
    while (currentStatus(id)?.state === "running" && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  process.stdout.write(`${JSON.stringify(currentStatus(id))}\n`);
}

function status(ids: string[]): void {
  const wanted = ids.length > 0 ? ids : existsSync(GUEST_PATHS.runs) ? readdirSync(GUEST_PATHS.runs).filter((name) => RunId.safeParse(name).success) : [];
  process.stdout.write(`${JSON.stringify(wanted.map(currentStatus).filter((s) => s !== null))}\n`);
}

/** Up to `max` bytes of a stream from `offset`. */
function part(id: string, stream: "stdout" | "stderr", offset: number, max: number) {
  const fd = openSync(path.join(runDir(id), stream), "r");
  try {
    const size = fstatSync(fd).size;
    const from = Math.min(offset, size);
    const buffer = Buffer.alloc(Math.min(max, size - from));
    const read = readSync(fd, buffer, 0, buffer.length, from);
    return { text: buffer.subarray(0, read).toString("utf8"), offset: from, next_offset: from + read, size };
  } finally {
    closeSync(fd);
  }
}

function read(id: string, outOffset: number, errOffset: number, maxOut: number, maxErr: number, tail: number): void {
  const status = currentStatus(id) ?? fail(`no run ${id} in this bottle`);
  const stdout = part(id, "stdout", outOffset, maxOut);
  const stdoutTail = tail > 0 ? part(id, "stdout", Math.max(0, stdout.size - tail), tail).text : null;
  const answer = RunRead.parse({ status, stdout, stderr: part(id, "stderr", errOffset, maxErr), stdout_tail: stdoutTail });
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}

const count = (text: string | undefined, name: string): number => {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) fail(`${name} must be a whole number, got ${JSON.stringify(text)}`);
  return value;
};

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  switch (command) {
    case "start":
      return start();
    case "monitor":
      return monitor(args[0] ?? fail("monitor needs a run id"));
    case "status":
      return status(args);
    case "read":
      return read(
        args[0] ?? fail("read needs a run id"),
        count(args[1], "stdout offset"),
        count(args[2], "stderr offset"),
        count(args[3], "stdout max bytes"),
        count(args[4], "stderr max bytes"),
        count(args[5], "tail bytes"),
      );
    case "cancel":
      return cancel(args[0] ?? fail("cancel needs a run id"));
    case "kill-marked":
      return killMarked(args[0] ?? fail("kill-marked needs a run id"));
    default:
      fail(`unknown command ${JSON.stringify(command)} (start, monitor, status, read, cancel, kill-marked)`);
  }
}

main().catch((error: Error) => fail(error.message));
