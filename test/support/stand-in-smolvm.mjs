#!/usr/bin/env node
// stand-in-smolvm: a TEST STAND-IN for the `smolvm` CLI. It is NOT smolvm.
//
// Real smolvm (libkrun microVMs) cannot run on our test machines (no /dev/kvm,
// no registry carries it), so the smolmachines backend is tested against this
// executable instead (point BOT_BOTTLE_SMOLVM at it). It does two things:
//
//   1. It checks every argv strictly against the smolvm CLI grammar documented
//      in /work/shared/facts.md ("smolvm CLI contract"): unknown flags, `-n`,
//      `--user`, a missing `--` before an exec command, repeated single-valued
//      flags and malformed values are grammar errors (exit 2, message on
//      stderr), like clap's usage errors in the real CLI.
//   2. It emulates each "machine" with a Docker container (`docker` CLI on
//      PATH, talking to a local engine) so the backend's whole path really runs:
//      create, start, exec (as root, and via runuser), cp, ls/status, stop,
//      delete.
//
// Every invocation appends one JSON line to $STAND_IN_SMOLVM_STATE/calls.jsonl:
//   {"argv": [...], "exit": N, "violation"?: "...", "error"?: "..."}
// `violation` is set for grammar errors (exit 2); `error` for other failures
// (exit 1). Machine metadata lives in $STAND_IN_SMOLVM_STATE/machines.json,
// written atomically (temp file + rename) under a lock folder.
//
// Environment:
//   STAND_IN_SMOLVM_STATE      (required) state folder; exit 1 when unset.
//   STAND_IN_SMOLVM_WARMUP_137 "1": the first exec after each start exits 137
//                              without running anything (libkrun's exec
//                              channel warm-up that real smolvm shows).
//
// Assumptions about real smolvm (unverifiable here, keep in mind when a test
// passes against the stand-in):
//   - `--image` is a `docker save` tarball (a path ending in .tar). Registry
//     references are refused with exit 1: nothing here can pull, and real
//     smolvm keeps its own image store, not Docker's.
//   - The VM's own init keeps the machine alive; the image's ENTRYPOINT/CMD is
//     NOT run at start (the container runs `sleep infinity` under --init).
//   - `machine exec` runs the command as root in the image's root filesystem,
//     with the machine's create-time `-e` variables in its environment, and in
//     the image's WORKDIR unless `-w` is given.
//   - `-v HOST:GUEST` shares a host directory (virtiofs): the host side must be
//     an existing directory.
//   - `--net`, `--allow-cidr`, `--allow-host` and `-p` are valid grammar and
//     are recorded (calls.jsonl, machines.json) but NOT emulated: the container
//     always gets `--network none`. The test suite asserts the backend never
//     passes them.
//   - Output is always streamed (`--stream` is accepted and changes nothing).
//   - `-t` is honoured only when our own stdin is a TTY (docker refuses -t
//     otherwise).
//   - `--cpus` is clamped to the host's CPU count (a VM may have more vCPUs
//     than the host has cores; Docker refuses that).
//   - Exit codes of docker exec are passed through, including Docker's own 126
//     (cannot execute) and 127 (not found); real smolvm may report those as 1.
//   - A container-side marker variable STAND_IN_SMOLVM_EXEC_ID is added to each
//     exec's environment so the stand-in can kill exactly that command's
//     process tree on --timeout or on client disconnect.

// Node globals are imported explicitly so the repository's ESLint config
// (which declares no Node globals for plain .mjs files) accepts this file.
import { Buffer } from "node:buffer";
import { spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { clearTimeout, setImmediate, setTimeout } from "node:timers";

const argv = process.argv.slice(2);
const CONTAINER_PREFIX = "stand-in-smolvm-";
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

class GrammarError extends Error {}
class SmolError extends Error {}

// ---------------------------------------------------------------------------
// State folder, call log, machine metadata
// ---------------------------------------------------------------------------

const stateDir = process.env.STAND_IN_SMOLVM_STATE;
if (!stateDir) {
  process.stderr.write("stand-in-smolvm: STAND_IN_SMOLVM_STATE is not set (this is a test stand-in, not smolvm)\n");
  process.exit(1);
}
fs.mkdirSync(stateDir, { recursive: true });
const callsFile = path.join(stateDir, "calls.jsonl");
const machinesFile = path.join(stateDir, "machines.json");
const lockDir = path.join(stateDir, "machines.lock");

let finished = false;
function finish(code, extra = {}) {
  if (finished) return;
  finished = true;
  const record = { argv, exit: code, ...extra };
  try {
    fs.appendFileSync(callsFile, JSON.stringify(record) + "\n");
  } catch (err) {
    process.stderr.write(`stand-in-smolvm: cannot record the call: ${err.message}\n`);
  }
  releaseLock();
  process.exitCode = code;
  // Let stdout/stderr drain, then leave even if a child still holds a handle.
  setImmediate(() => process.exit(code));
}

function sleepMs(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

let lockHeld = false;
function acquireLock() {
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, "pid"), String(process.pid));
      lockHeld = true;
      return;
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
    }
    // Break a lock whose holder died.
    try {
      const pid = Number(fs.readFileSync(path.join(lockDir, "pid"), "utf8"));
      if (pid > 0) {
        try {
          process.kill(pid, 0);
        } catch (e) {
          if (e.code === "ESRCH") fs.rmSync(lockDir, { recursive: true, force: true });
        }
      }
    } catch {
      // pid file not written yet: wait
    }
    if (Date.now() > deadline) throw new SmolError(`state lock ${lockDir} held too long`);
    sleepMs(50);
  }
}
function releaseLock() {
  if (!lockHeld) return;
  lockHeld = false;
  fs.rmSync(lockDir, { recursive: true, force: true });
}
/** Run fn(state) under the lock; save the state when fn returns true-ish `save`. */
function withState(fn) {
  acquireLock();
  try {
    const state = loadState();
    const result = fn(state);
    saveState(state);
    return result;
  } finally {
    releaseLock();
  }
}
function loadState() {
  try {
    return JSON.parse(fs.readFileSync(machinesFile, "utf8"));
  } catch (err) {
    if (err.code === "ENOENT") return { machines: {} };
    throw new SmolError(`cannot read ${machinesFile}: ${err.message}`);
  }
}
function saveState(state) {
  const tmp = `${machinesFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n");
  fs.renameSync(tmp, machinesFile);
}
function getMachine(name) {
  const m = loadState().machines[name];
  if (!m) throw new SmolError(`machine '${name}' not found`);
  return m;
}

// ---------------------------------------------------------------------------
// Grammar
// ---------------------------------------------------------------------------

// Flags that exist in real smolvm (or in other tools) that the backend must
// never pass: refused with a specific message.
const REFUSED = {
  "-n": "the short form -n is not accepted; use --name",
  "--user": "smolvm has no --user; switch users inside with `runuser -u USER --`",
  "-u": "smolvm has no -u/--user; switch users inside with `runuser -u USER --`",
  "--network": "--network (inter-VM networks) is refused by the stand-in: the backend must never pass it",
  "--net-backend": "--net-backend is refused by the stand-in: the backend must never pass it",
  "--dns": "--dns is refused by the stand-in: the backend must never pass it",
  "--outbound-localhost-only": "--outbound-localhost-only is refused by the stand-in: the backend must never pass it",
  "--expose-socket": "--expose-socket is refused by the stand-in: the backend must never pass it",
  "--ssh-agent": "--ssh-agent is refused by the stand-in: the backend must never pass it",
  "--docker-socket": "--docker-socket is refused by the stand-in: the backend must never pass it",
  "--docker-config": "--docker-config is refused by the stand-in: the backend must never pass it",
  "--privileged": "--privileged is not smolvm grammar",
};

/**
 * spec: { key: { long, short?, value: bool, multi?: bool, required?: bool } }
 * opts.trailing: "command" (exec: everything after `--`), "positional" (cp),
 * or undefined (no positionals).
 */
function parse(sub, args, spec, opts = {}) {
  const byLong = new Map();
  const byShort = new Map();
  for (const [key, s] of Object.entries(spec)) {
    byLong.set(s.long, key);
    if (s.short) byShort.set(s.short, key);
  }
  const out = {};
  for (const [key, s] of Object.entries(spec)) out[key] = s.multi ? [] : s.value ? undefined : false;
  const positionals = [];
  let command;
  const set = (key, value, shown) => {
    const s = spec[key];
    if (s.multi) out[key].push(value);
    else if (s.value ? out[key] !== undefined : out[key] === true) {
      throw new GrammarError(`the argument '${shown}' cannot be used multiple times`);
    } else out[key] = value;
  };
  const takeValue = (i, shown) => {
    const v = args[i + 1];
    if (v === undefined || (v.startsWith("-") && v !== "-")) {
      throw new GrammarError(`a value is required for '${shown}' but none was supplied`);
    }
    return v;
  };

  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      if (opts.trailing !== "command") throw new GrammarError(`unexpected argument '--' for 'machine ${sub}'`);
      command = args.slice(i + 1);
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const flag = eq === -1 ? a : a.slice(0, eq);
      if (REFUSED[flag]) throw new GrammarError(`unexpected argument '${flag}': ${REFUSED[flag]}`);
      const key = byLong.get(flag);
      if (!key) throw new GrammarError(`unexpected argument '${flag}' found for 'machine ${sub}'`);
      if (spec[key].value) {
        let v;
        if (eq !== -1) {
          v = a.slice(eq + 1);
          if (v === "") throw new GrammarError(`a value is required for '${flag}' but none was supplied`);
        } else {
          v = takeValue(i, flag);
          i++;
        }
        set(key, v, flag);
      } else {
        if (eq !== -1) throw new GrammarError(`unexpected value '${a.slice(eq + 1)}' for '${flag}' found; no more were expected`);
        set(key, true, flag);
      }
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      if (REFUSED[a]) throw new GrammarError(`unexpected argument '${a}': ${REFUSED[a]}`);
      const letters = a.slice(1);
      if (letters.length === 1) {
        const key = byShort.get(letters);
        if (!key) throw new GrammarError(`unexpected argument '${a}' found for 'machine ${sub}'`);
        if (spec[key].value) {
          set(key, takeValue(i, a), a);
          i++;
        } else set(key, true, a);
        continue;
      }
      // A cluster of boolean short flags (-it). Attached values (-eK=V) are
      // not accepted by the stand-in: the backend passes separate words.
      for (const ch of letters) {
        if (REFUSED[`-${ch}`]) throw new GrammarError(`unexpected argument '-${ch}': ${REFUSED[`-${ch}`]}`);
        const key = byShort.get(ch);
        if (!key) throw new GrammarError(`unexpected argument '-${ch}' (in '${a}') found for 'machine ${sub}'`);
        if (spec[key].value) throw new GrammarError(`'-${ch}' takes a value; give it as a separate word, not attached in '${a}'`);
        set(key, true, `-${ch}`);
      }
      continue;
    }
    if (opts.trailing === "positional") {
      positionals.push(a);
      continue;
    }
    if (opts.trailing === "command") {
      throw new GrammarError(`unexpected argument '${a}': the command must follow '--' (smolvm machine exec --name N [OPTIONS] -- CMD...)`);
    }
    throw new GrammarError(`unexpected argument '${a}' found for 'machine ${sub}'`);
  }

  for (const [key, s] of Object.entries(spec)) {
    if (s.required && (s.multi ? out[key].length === 0 : out[key] === undefined)) {
      throw new GrammarError(`the following required argument was not provided: ${s.long}`);
    }
  }
  if (opts.trailing === "command") {
    if (command === undefined) throw new GrammarError("missing '--' and COMMAND (smolvm machine exec --name N [OPTIONS] -- CMD...)");
    if (command.length === 0) throw new GrammarError("the following required argument was not provided: <COMMAND>...");
  }
  if (out.name !== undefined && !NAME_RE.test(out.name)) {
    throw new GrammarError(`invalid value '${out.name}' for '--name': use letters, digits, '_', '.', '-' (at most 63)`);
  }
  return { ...out, positionals, command };
}

const NAME = { long: "--name", value: true, required: true };

function checkKeyValue(flag, v) {
  const eq = v.indexOf("=");
  if (eq <= 0) throw new GrammarError(`invalid value '${v}' for '${flag}': expected KEY=VALUE`);
  return [v.slice(0, eq), v.slice(eq + 1)];
}
function checkPositiveInt(flag, v, max) {
  if (!/^[0-9]+$/.test(v) || Number(v) < 1 || Number(v) > max) {
    throw new GrammarError(`invalid value '${v}' for '${flag}': expected an integer from 1 to ${max}`);
  }
  return Number(v);
}
function checkPort(v) {
  const m = /^([0-9]+):([0-9]+)$/.exec(v) ?? /^([0-9]+)$/.exec(v);
  const ok = m && m.slice(1).every((p) => p !== undefined && Number(p) >= 1 && Number(p) <= 65535);
  if (!ok) throw new GrammarError(`invalid value '${v}' for '-p': expected HOST:GUEST ports`);
}
function checkCidr(v) {
  const [ip, prefix, ...rest] = v.split("/");
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  const isV4 = v4 && v4.slice(1).every((o) => Number(o) <= 255);
  const isV6 = !isV4 && ip.includes(":") && /^[0-9a-fA-F:.]+$/.test(ip);
  const max = isV4 ? 32 : 128;
  const prefixOk = prefix === undefined || (/^[0-9]+$/.test(prefix) && Number(prefix) <= max);
  if (rest.length || !(isV4 || isV6) || !prefixOk) {
    throw new GrammarError(`invalid value '${v}' for '--allow-cidr': expected format like 10.0.0.0/8 or 1.1.1.1`);
  }
}
/** humantime-style durations: 30s, 5m, 1h30m, 500ms. A bare number is refused. */
function parseDuration(v) {
  const units = {
    ns: 1e-6, us: 1e-3, ms: 1,
    s: 1000, sec: 1000, secs: 1000, second: 1000, seconds: 1000,
    m: 60_000, min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000,
    h: 3_600_000, hr: 3_600_000, hrs: 3_600_000, hour: 3_600_000, hours: 3_600_000,
    d: 86_400_000, day: 86_400_000, days: 86_400_000,
  };
  const re = /(\d+)\s*([a-z]+)\s*/gy;
  let total = 0;
  let pos = 0;
  const s = v.trim();
  if (!s) throw new GrammarError(`invalid value '${v}' for '--timeout': empty duration`);
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m || !(m[2] in units)) {
      throw new GrammarError(`invalid value '${v}' for '--timeout': expected a duration like 30s, 5m or 1h (a unit is needed)`);
    }
    total += Number(m[1]) * units[m[2]];
    pos = re.lastIndex;
  }
  return total;
}

// ---------------------------------------------------------------------------
// Docker helpers
// ---------------------------------------------------------------------------

function docker(args, { input, allowFail = false } = {}) {
  const r = spawnSync("docker", args, { input, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new SmolError(`cannot run docker: ${r.error.message}`);
  if (r.status !== 0 && !allowFail) {
    throw new SmolError(`docker ${args[0]} failed: ${(r.stderr || r.stdout || "").trim()}`);
  }
  return r;
}
function inspect(container) {
  const r = docker(["inspect", "--type", "container", container], { allowFail: true });
  if (r.status !== 0) return null;
  try {
    return JSON.parse(r.stdout)[0] ?? null;
  } catch {
    return null;
  }
}
function machineState(info) {
  if (!info) return "unreachable";
  const st = info.State ?? {};
  if (st.Paused) return "frozen";
  if (st.Running) return "running";
  switch (st.Status) {
    case "created":
      return "created";
    case "exited":
      return "stopped";
    case "dead":
      return "failed";
    default:
      return "failed";
  }
}
function machineView(m) {
  const info = inspect(m.container);
  const state = machineState(info);
  return {
    name: m.name,
    state,
    pid: state === "running" && info?.State?.Pid ? info.State.Pid : null,
    image: m.image,
    labels: { ...m.labels },
  };
}
function requireRunning(m) {
  const info = inspect(m.container);
  if (machineState(info) !== "running") throw new SmolError(`machine '${m.name}' is not running (start it with: smolvm machine start --name ${m.name})`);
}

// ---------------------------------------------------------------------------
// Subcommands
// ---------------------------------------------------------------------------

async function cmdCreate(args) {
  const o = parse("create", args, {
    name: NAME,
    image: { long: "--image", value: true, required: true },
    net: { long: "--net", value: false },
    allowCidr: { long: "--allow-cidr", value: true, multi: true },
    allowHost: { long: "--allow-host", value: true, multi: true },
    env: { long: "--env", short: "e", value: true, multi: true },
    volume: { long: "--volume", short: "v", value: true, multi: true },
    port: { long: "--port", short: "p", value: true, multi: true },
    cpus: { long: "--cpus", value: true },
    mem: { long: "--mem", value: true },
    label: { long: "--label", value: true, multi: true },
    // --mount-socket HOST_SOCKET:GUEST_PATH mounts a host Unix socket into the
    // guest. Our issue text names this flag and real smolvm's source has it
    // (parse_published_sockets), but facts.md's grammar line does not list it.
    mountSocket: { long: "--mount-socket", value: true, multi: true },
  });
  const env = o.env.map((v) => checkKeyValue("-e", v));
  const labels = {};
  for (const v of o.label) {
    const [k, val] = checkKeyValue("--label", v);
    labels[k] = val;
  }
  const volumes = o.volume.map((v) => {
    const parts = v.split(":");
    const ro = parts.length === 3 && parts[2] === "ro";
    if (!(parts.length === 2 || ro) || !parts[0] || !parts[1].startsWith("/")) {
      throw new GrammarError(`invalid value '${v}' for '-v': expected HOST:GUEST[:ro] with an absolute GUEST path`);
    }
    return { host: path.resolve(parts[0]), guest: parts[1], ro };
  });
  const sockets = o.mountSocket.map((v) => {
    const i = v.indexOf(":");
    if (i <= 0 || i === v.length - 1) throw new GrammarError(`invalid value '${v}' for '--mount-socket': expected HOST_PATH:GUEST_PATH`);
    const guest = v.slice(i + 1);
    if (!guest.startsWith("/")) throw new GrammarError(`invalid value '${v}' for '--mount-socket': guest path must be absolute`);
    return { host: path.resolve(v.slice(0, i)), guest };
  });
  if (new Set(sockets.map((s) => s.guest)).size !== sockets.length) {
    throw new GrammarError("--mount-socket: a guest path is mounted more than once");
  }
  o.port.forEach(checkPort);
  o.allowCidr.forEach(checkCidr);
  for (const h of o.allowHost) if (!h || /[\s/]/.test(h)) throw new GrammarError(`invalid value '${h}' for '--allow-host'`);
  const cpus = o.cpus === undefined ? undefined : checkPositiveInt("--cpus", o.cpus, 255);
  const mem = o.mem === undefined ? undefined : checkPositiveInt("--mem", o.mem, 4_294_967_295);

  // Semantic checks (smolvm errors: exit 1).
  const looksLikePath = /^(\.{0,2}\/)/.test(o.image) || o.image.endsWith(".tar");
  if (!looksLikePath) {
    throw new SmolError(`image '${o.image}' is a registry reference; the stand-in (like this machine) has no registry: pass a docker save tarball (--image ./img.tar)`);
  }
  const tar = path.resolve(o.image);
  if (!fs.existsSync(tar) || !fs.statSync(tar).isFile()) throw new SmolError(`image archive '${o.image}' does not exist or is not a file`);
  for (const v of volumes) {
    if (!fs.existsSync(v.host) || !fs.statSync(v.host).isDirectory()) throw new SmolError(`volume host path '${v.host}' is not an existing directory`);
  }
  for (const s of sockets) {
    if (!fs.existsSync(s.host) || !fs.statSync(s.host).isSocket()) throw new SmolError(`--mount-socket host path '${s.host}' is not a Unix socket`);
  }
  if (o.net || o.allowCidr.length || o.allowHost.length || o.port.length) {
    process.stderr.write("stand-in-smolvm: network flags recorded but not emulated (the machine has no network)\n");
  }

  // Hold the lock for the whole create so two creates of one name cannot race.
  acquireLock();
  const state = loadState();
  if (state.machines[o.name]) throw new SmolError(`machine '${o.name}' already exists`);
  const container = CONTAINER_PREFIX + o.name;

  const load = docker(["load", "-i", tar]);
  const loaded = /Loaded image(?: ID)?: (\S+)/.exec(load.stdout);
  if (!loaded) throw new SmolError(`docker load printed no image: ${load.stdout.trim()}`);
  const imageRef = loaded[1];

  const create = [
    "create", "--name", container,
    "--network", "none",
    "--init",
    "--user", "0:0",
    "--label", "stand-in-smolvm=1",
    "--label", `stand-in-smolvm.state=${path.resolve(stateDir)}`,
    "--label", `stand-in-smolvm.machine=${o.name}`,
  ];
  for (const [k, v] of Object.entries(labels)) create.push("--label", `${k}=${v}`);
  for (const [k, v] of env) create.push("-e", `${k}=${v}`);
  for (const v of volumes) create.push("-v", `${v.host}:${v.guest}${v.ro ? ":ro" : ""}`);
  for (const s of sockets) create.push("--mount", `type=bind,source=${s.host},target=${s.guest}`);
  if (cpus !== undefined) create.push("--cpus", String(Math.min(cpus, os.availableParallelism())));
  if (mem !== undefined) create.push("--memory", `${mem}m`, "--memory-swap", `${mem}m`);
  // The VM's own init keeps it alive; the image's ENTRYPOINT/CMD is not run
  // (an assumption about smolvm: `machine start` boots the VM and its agent,
  // and work happens through `machine exec`).
  create.push("--entrypoint", "sleep", imageRef, "infinity");
  docker(create);

  state.machines[o.name] = {
    name: o.name,
    container,
    image: o.image,
    imageTar: tar,
    imageRef,
    labels,
    env: Object.fromEntries(env),
    volumes,
    mountSockets: sockets,
    ports: o.port,
    net: o.net,
    allowCidr: o.allowCidr,
    allowHost: o.allowHost,
    cpus: cpus ?? null,
    mem: mem ?? null,
    createdAt: new Date().toISOString(),
    starts: 0,
    execsSinceStart: 0,
  };
  saveState(state);
  releaseLock();
  process.stdout.write(`Created machine '${o.name}'\n`);
  return 0;
}

async function cmdStart(args) {
  const o = parse("start", args, { name: NAME });
  const m = getMachine(o.name);
  const wasRunning = machineState(inspect(m.container)) === "running";
  if (!wasRunning) {
    docker(["start", m.container]);
    // "blocks until the guest agent is ready": wait until the container runs
    // and answers an exec.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const st = machineState(inspect(m.container));
      // 126/127: the image has no `true`, but the exec channel answered.
      if (st === "running" && [0, 126, 127].includes(docker(["exec", m.container, "true"], { allowFail: true }).status)) break;
      if (Date.now() > deadline) throw new SmolError(`machine '${o.name}' did not become ready`);
      sleepMs(100);
    }
    withState((s) => {
      const mm = s.machines[o.name];
      if (mm) {
        mm.starts += 1;
        mm.execsSinceStart = 0;
      }
    });
  }
  process.stdout.write(wasRunning ? `Machine '${o.name}' is already running\n` : `Started machine '${o.name}'\n`);
  return 0;
}

function hostPidsWithMarker(container, marker) {
  // docker top lists the container's processes as host PIDs; read their
  // environment from the host's /proc (the stand-in runs beside the engine).
  const r = docker(["top", container, "-eo", "pid"], { allowFail: true });
  if (r.status !== 0) return null;
  const pids = r.stdout.split("\n").slice(1).map((l) => Number(l.trim())).filter((p) => p > 0);
  const all = new Set(pids);
  const marked = [];
  let readable = false;
  for (const pid of pids) {
    try {
      const environ = fs.readFileSync(`/proc/${pid}/environ`, "utf8");
      readable = true;
      if (environ.split("\0").includes(`STAND_IN_SMOLVM_EXEC_ID=${marker}`)) marked.push(pid);
    } catch {
      // gone, or not visible from here
    }
  }
  if (!readable && pids.length) return null;
  // Add descendants (children that cleared their environment).
  const parent = new Map();
  for (const pid of all) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      parent.set(pid, Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone
    }
  }
  const result = new Set(marked);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (!result.has(pid) && result.has(ppid)) {
        result.add(pid);
        grew = true;
      }
    }
  }
  return [...result];
}

function killExec(container, marker) {
  const pids = hostPidsWithMarker(container, marker);
  if (pids) {
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    return;
  }
  // Fallback: look for the marker from inside the guest.
  const script =
    'for p in /proc/[0-9]*; do if tr "\\0" "\\n" < "$p/environ" 2>/dev/null | grep -qx "STAND_IN_SMOLVM_EXEC_ID=$1"; then kill -9 "${p#/proc/}" 2>/dev/null; fi; done';
  docker(["exec", "-u", "0:0", container, "sh", "-c", script, "sh", marker], { allowFail: true });
}

async function cmdExec(args) {
  const o = parse(
    "exec",
    args,
    {
      name: NAME,
      env: { long: "--env", short: "e", value: true, multi: true },
      workdir: { long: "--workdir", short: "w", value: true },
      timeout: { long: "--timeout", value: true },
      interactive: { long: "--interactive", short: "i", value: false },
      tty: { long: "--tty", short: "t", value: false },
      stream: { long: "--stream", value: false },
    },
    { trailing: "command" },
  );
  const env = o.env.map((v) => checkKeyValue("-e", v));
  const timeoutMs = o.timeout === undefined ? undefined : parseDuration(o.timeout);

  const m = getMachine(o.name);
  requireRunning(m);
  if (o.workdir !== undefined && !o.workdir.startsWith("/")) throw new SmolError(`working directory '${o.workdir}' must be absolute`);

  // libkrun exec-channel warm-up: the first exec after each start fails 137.
  const warmup = withState((s) => {
    const mm = s.machines[o.name];
    if (!mm) return false;
    const first = mm.execsSinceStart === 0;
    mm.execsSinceStart += 1;
    return first && process.env.STAND_IN_SMOLVM_WARMUP_137 === "1";
  });
  if (warmup) {
    process.stderr.write("stand-in-smolvm: exec channel not ready (warm-up 137, STAND_IN_SMOLVM_WARMUP_137=1)\n");
    return 137;
  }

  const marker = randomUUID();
  const dargs = ["exec", "-u", "0:0"];
  if (o.interactive) dargs.push("-i");
  if (o.tty && process.stdin.isTTY) dargs.push("-t");
  for (const [k, v] of env) dargs.push("-e", `${k}=${v}`);
  dargs.push("-e", `STAND_IN_SMOLVM_EXEC_ID=${marker}`);
  if (o.workdir !== undefined) dargs.push("-w", o.workdir);
  dargs.push(m.container, ...o.command);

  const child = spawn("docker", dargs, { stdio: [o.interactive ? "inherit" : "ignore", "inherit", "inherit"] });
  let outcome = null; // "timeout" | "disconnect"
  const stop = (why) => {
    if (outcome) return;
    outcome = why;
    killExec(m.container, marker);
    // The docker client returns once the process is gone; make sure it does.
    setTimeout(() => child.kill("SIGKILL"), 5000).unref();
  };
  const timer = timeoutMs === undefined ? null : setTimeout(() => stop("timeout"), timeoutMs);
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(sig, () => stop("disconnect"));

  const code = await new Promise((resolve) => {
    child.on("error", (err) => {
      process.stderr.write(`stand-in-smolvm: cannot run docker: ${err.message}\n`);
      resolve(1);
    });
    child.on("close", (c, signal) => resolve(c ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
  });
  if (timer) clearTimeout(timer);
  if (outcome === "timeout") {
    process.stderr.write(`stand-in-smolvm: command timed out after ${o.timeout}\n`);
    return 124;
  }
  if (outcome === "disconnect") return 137;
  return code;
}

function parseCpTarget(arg) {
  // N:/path names a machine; anything starting with '/' or '.' is a host path.
  const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*):(.*)$/.exec(arg);
  if (!m || arg.startsWith("/") || arg.startsWith(".")) return { host: arg };
  return { machine: m[1], guest: m[2] };
}

async function cmdCp(args) {
  const o = parse("cp", args, {}, { trailing: "positional" });
  if (o.positionals.length !== 2) throw new GrammarError("expected exactly two arguments: SRC DST (./f N:/path or N:/path ./f)");
  const [src, dst] = o.positionals.map(parseCpTarget);
  if ((src.machine === undefined) === (dst.machine === undefined)) {
    throw new GrammarError("exactly one of SRC and DST must be MACHINE:/path");
  }
  const remote = src.machine !== undefined ? src : dst;
  if (!NAME_RE.test(remote.machine)) throw new GrammarError(`invalid machine name '${remote.machine}'`);
  if (!remote.guest.startsWith("/")) throw new GrammarError(`guest path '${remote.guest}' must be absolute`);
  const m = getMachine(remote.machine);
  requireRunning(m);
  const guestTest = (flag) => docker(["exec", "-u", "0:0", m.container, "test", flag, remote.guest], { allowFail: true }).status;

  if (dst.machine !== undefined) {
    // Upload: a single regular file.
    let st;
    try {
      st = fs.statSync(src.host);
    } catch {
      throw new SmolError(`'${src.host}': no such file`);
    }
    if (!st.isFile()) throw new SmolError(`'${src.host}' is not a regular file (cp copies single files; tar directories through exec)`);
    if (remote.guest.endsWith("/") || guestTest("-d") === 0) throw new SmolError(`'${remote.guest}' is a directory in the machine; give the file's full path`);
    docker(["cp", src.host, `${m.container}:${remote.guest}`]);
    docker(["exec", "-u", "0:0", m.container, "chown", "root:root", remote.guest]);
  } else {
    // Download: a single regular file to a host file path.
    if (guestTest("-f") !== 0) throw new SmolError(`'${remote.guest}' is not a regular file in the machine (or does not exist)`);
    const hostPath = path.resolve(dst.host);
    if (fs.existsSync(hostPath) && fs.statSync(hostPath).isDirectory()) {
      throw new SmolError(`'${dst.host}' is a directory; give the file's full path`);
    }
    const r = spawnSync("docker", ["exec", "-u", "0:0", m.container, "cat", remote.guest], { maxBuffer: 1024 * 1024 * 1024 });
    if (r.error || r.status !== 0) throw new SmolError(`cannot read '${remote.guest}': ${r.error?.message ?? String(r.stderr).trim()}`);
    const tmp = `${hostPath}.stand-in-${process.pid}.tmp`;
    fs.writeFileSync(tmp, r.stdout);
    fs.renameSync(tmp, hostPath);
  }
  return 0;
}

async function cmdStop(args) {
  const o = parse("stop", args, { name: NAME });
  const m = getMachine(o.name);
  if (machineState(inspect(m.container)) !== "running") {
    process.stderr.write(`Machine '${o.name}' is not running\n`);
    return 0;
  }
  docker(["stop", "-t", "2", m.container]);
  process.stdout.write(`Stopped machine '${o.name}'\n`);
  return 0;
}

/** One line from stdin ("" on EOF or when stdin cannot be read). */
function readLineSync() {
  const buf = Buffer.alloc(1);
  let line = "";
  for (;;) {
    let n;
    try {
      n = fs.readSync(0, buf, 0, 1, null);
    } catch (err) {
      if (err.code === "EAGAIN") {
        sleepMs(20);
        continue;
      }
      return line;
    }
    if (n === 0) return line;
    const ch = buf.toString("utf8");
    if (ch === "\n") return line;
    line += ch;
  }
}

async function cmdDelete(args) {
  const o = parse("delete", args, { name: NAME, force: { long: "--force", short: "f", value: false } });
  const m = getMachine(o.name);
  if (!o.force) {
    // Without -f, smolvm prompts; on EOF (or anything but yes) it exits 0
    // WITHOUT deleting.
    process.stderr.write(`Delete machine '${o.name}'? [y/N] `);
    if (!/^\s*y(es)?\s*$/i.test(readLineSync())) {
      process.stderr.write("\nCancelled.\n");
      return 0;
    }
  }
  docker(["rm", "-f", m.container], { allowFail: true });
  if (inspect(m.container)) throw new SmolError(`cannot remove the container of machine '${o.name}'`);
  withState((s) => {
    delete s.machines[o.name];
  });
  process.stdout.write(`Deleted machine '${o.name}'\n`);
  return 0;
}

async function cmdLs(args) {
  const o = parse("ls", args, { json: { long: "--json", value: false } });
  const views = Object.values(loadState().machines).map(machineView);
  if (o.json) process.stdout.write(JSON.stringify(views, null, 2) + "\n");
  else {
    process.stdout.write("NAME\tSTATE\tPID\tIMAGE\n");
    for (const v of views) process.stdout.write(`${v.name}\t${v.state}\t${v.pid ?? "-"}\t${v.image}\n`);
  }
  return 0;
}

async function cmdStatus(args) {
  const o = parse("status", args, { name: NAME, json: { long: "--json", value: false } });
  const v = machineView(getMachine(o.name));
  if (o.json) process.stdout.write(JSON.stringify(v, null, 2) + "\n");
  else process.stdout.write(`Machine '${v.name}': ${v.state}${v.pid ? ` (pid ${v.pid})` : ""}\n`);
  return 0;
}

const SUBCOMMANDS = {
  create: cmdCreate,
  start: cmdStart,
  exec: cmdExec,
  cp: cmdCp,
  stop: cmdStop,
  delete: cmdDelete,
  rm: cmdDelete, // real smolvm's visible alias
  ls: cmdLs,
  list: cmdLs, // real smolvm's visible alias
  status: cmdStatus,
};

async function main() {
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
    process.stdout.write("smolvm 0.0.0-stand-in (test stand-in, not smolvm)\n");
    return 0;
  }
  if (argv[0] !== "machine") {
    throw new GrammarError(
      argv[0] === undefined ? "a subcommand is required (the stand-in knows only `machine`)" : `unrecognized subcommand '${argv[0]}' (the stand-in knows only \`machine\`)`,
    );
  }
  const sub = argv[1];
  const fn = sub === undefined ? undefined : SUBCOMMANDS[sub];
  if (!fn) throw new GrammarError(sub === undefined ? "'machine' requires a subcommand" : `unrecognized subcommand 'machine ${sub}' (the stand-in emulates create, start, exec, cp, stop, delete, ls, status)`);
  return fn(argv.slice(2));
}

main().then(
  (code) => finish(code),
  (err) => {
    if (err instanceof GrammarError) {
      process.stderr.write(`error: ${err.message}\n\nUsage: smolvm machine <COMMAND> (stand-in-smolvm)\n`);
      finish(2, { violation: err.message });
    } else {
      const msg = err instanceof SmolError ? err.message : String(err?.stack ?? err);
      process.stderr.write(`Error: ${msg}\n`);
      finish(1, { error: msg });
    }
  },
);
