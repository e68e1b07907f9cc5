import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { DAEMONS, type DaemonName, ENV } from "./contract.js";
import { type Account, accountOf, isGateKey, prepareEgressPrivate, prepareGateMirrors, prepareGatePrivate, prepareSocketDir, sharedGroupOf } from "./privileges.js";
import { awaitSecrets, deliverSecrets } from "./secrets-handoff.js";

// The sidecar bundle's init (PID 1 of the bundle container). It starts each
// daemon named in BOT_BOTTLE_DAEMONS (egress, supervise, git-gate) as its own
// process, relays their output line by line with a `[name]` prefix, and
// restarts none of them: when one exits, init says which and why (its exit
// status and last stderr lines), stops the others and exits non-zero, so the
// container stops and the engine can report the failure instead of running a
// bottle with a hole in it.
//
// SIGTERM/SIGINT are forwarded to every daemon (init exits 0 once they have
// stopped); SIGHUP is forwarded to egress, which reloads its routes. Daemon
// files sit next to this one (/opt/bot-bottle in the image).
//
// In the bundle (BOT_BOTTLE_PRIVATE_DIR set: a root-only tmpfs), init first
// waits for the engine to deliver the secrets (`init.js receive-secrets`,
// see secrets-handoff.ts), gives egress and the git gate their private copies, and starts every
// daemon as its own unprivileged uid (privileges.ts). Without it (tests on
// a host), the daemons run as init's own user, and egress reads the secrets
// from EGRESS_SECRETS_FILE if one is named.

const STDERR_LINES_KEPT = 10;
const STOP_GRACE_MS = 8_000;
const SECRETS_TIMEOUT_MS = 60_000;

function say(message: string): void {
  process.stderr.write(`[init] ${message}\n`);
}

function fail(message: string): never {
  say(message);
  process.exit(2);
}

interface Daemon {
  name: DaemonName;
  child: ChildProcess;
  lastStderr: string[];
}

const isDaemon = (name: string): name is DaemonName => (DAEMONS as readonly string[]).includes(name);

function parseDaemonList(text: string | undefined): DaemonName[] {
  const names = (text ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  if (names.length === 0) fail(`BOT_BOTTLE_DAEMONS is empty: name at least one of ${DAEMONS.join(", ")}`);
  const known = names.filter(isDaemon);
  for (const name of names) {
    if (!isDaemon(name)) fail(`unknown daemon ${JSON.stringify(name)} in BOT_BOTTLE_DAEMONS (known: ${DAEMONS.join(", ")})`);
  }
  if (new Set(names).size !== names.length) fail(`BOT_BOTTLE_DAEMONS names a daemon twice: ${names.join(",")}`);
  return known;
}

/** How each daemon is started: as whom, and with which environment. */
interface Launch {
  account: Account | null;
  env: NodeJS.ProcessEnv;
}

/**
 * In the bundle: takes the delivered secrets, prepares egress's private
 * folder and the socket volume, and names each daemon's account.
 */
async function privilegedLaunches(names: DaemonName[], privateDir: string): Promise<Map<DaemonName, Launch>> {
  if (process.getuid?.() !== 0) fail("BOT_BOTTLE_PRIVATE_DIR is set, but init does not run as root: it cannot give each daemon its own user");
  const shared = process.env[ENV.egressQueueDir] ?? process.env[ENV.superviseQueueDir];
  if (!shared) fail("BOT_BOTTLE_PRIVATE_DIR needs EGRESS_QUEUE_DIR: its group is the one the daemons share with the host");
  const gid = sharedGroupOf(shared);
  const secrets = await awaitSecrets(privateDir, SECRETS_TIMEOUT_MS);
  const socket = process.env[ENV.egressSocket] ?? process.env[ENV.superviseSocket];
  if (socket) prepareSocketDir(dirname(socket), gid);
  const launches = new Map<DaemonName, Launch>();
  for (const name of names) {
    const account = accountOf(name, gid);
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (name === "egress") {
      const files = Object.fromEntries(
        [ENV.egressCaCert, ENV.egressCaKey, ENV.egressExtraCa].flatMap((setting) => (process.env[setting] ? [[setting, process.env[setting]!]] : [])),
      );
      Object.assign(env, prepareEgressPrivate(privateDir, account, secrets, files));
    }
    if (name === "git-gate") {
      Object.assign(env, prepareGatePrivate(privateDir, account, secrets));
      const mirrors = process.env[ENV.gitGateMirrors];
      if (!mirrors) fail("the git gate needs GIT_GATE_MIRRORS");
      prepareGateMirrors(mirrors, account);
    }
    launches.set(name, { account, env });
  }
  const keys = Object.keys(secrets).filter(isGateKey).length;
  say(`received ${Object.keys(secrets).length - keys} secret(s) for egress and ${keys} key(s) for the git gate; daemons run as ${names.map((n) => `${n} uid ${accountOf(n, gid).uid}`).join(", ")}, group ${gid}`);
  return launches;
}

function relay(stream: NodeJS.ReadableStream, out: NodeJS.WriteStream, name: string, keep?: string[]): void {
  createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
    out.write(`[${name}] ${line}\n`);
    if (keep) {
      keep.push(line);
      if (keep.length > STDERR_LINES_KEPT) keep.shift();
    }
  });
}

/** `init.js receive-secrets`: the engine's delivery of the secrets, read from stdin. */
function receiveSecrets(): void {
  const privateDir = process.env[ENV.privateDir] || fail("receive-secrets needs BOT_BOTTLE_PRIVATE_DIR (the bundle's private tmpfs)");
  try {
    const count = deliverSecrets(privateDir, readFileSync(0, "utf8"));
    say(`delivered ${count} secret(s)`);
  } catch (error) {
    fail(`cannot take the secrets: ${(error as Error).message}`);
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === "receive-secrets") return receiveSecrets();
  const names = parseDaemonList(process.env[ENV.daemons]);
  // argv[1] is this script: the daemons are bundled next to it.
  const directory = dirname(process.argv[1] ?? "");
  for (const name of names) {
    const file = join(directory, `${name}.js`);
    if (!existsSync(file)) fail(`daemon ${name} is not in this bundle (${file} is missing)`);
  }
  const privateDir = process.env[ENV.privateDir];
  let launches: Map<DaemonName, Launch>;
  try {
    launches = privateDir
      ? await privilegedLaunches(names, privateDir)
      : new Map(names.map((name) => [name, { account: null, env: { ...process.env } }]));
  } catch (error) {
    fail(`cannot prepare the daemons: ${(error as Error).message}`);
  }

  const running = new Map<string, Daemon>();
  let stopping = false;
  let exitCode = 0;
  let killTimer: NodeJS.Timeout | undefined;

  const stopAll = (signal: NodeJS.Signals): void => {
    for (const daemon of running.values()) daemon.child.kill(signal);
    killTimer ??= setTimeout(() => {
      for (const daemon of running.values()) {
        say(`daemon ${daemon.name} did not stop within ${STOP_GRACE_MS} ms; killing it`);
        daemon.child.kill("SIGKILL");
      }
    }, STOP_GRACE_MS);
  };

  const onExit = (daemon: Daemon, code: number | null, signal: NodeJS.Signals | null): void => {
    if (!running.delete(daemon.name)) return;
    if (!stopping) {
      const detail = daemon.lastStderr.length > 0 ? daemon.lastStderr.join(" | ") : "(no stderr output)";
      say(`daemon ${daemon.name} exited with code ${code ?? "none"} / signal ${signal ?? "none"}: ${detail}`);
      stopping = true;
      exitCode = 1;
      stopAll("SIGTERM");
    }
    if (running.size === 0) {
      if (killTimer) clearTimeout(killTimer);
      say(exitCode === 0 ? "all daemons stopped" : "stopped after a daemon failure");
      process.exit(exitCode);
    }
  };

  for (const name of names) {
    const { account, env } = launches.get(name)!;
    // Dropping to a non-zero uid also drops every capability and supplementary group.
    const child = spawn(process.execPath, [join(directory, `${name}.js`)], { env, stdio: ["ignore", "pipe", "pipe"], ...(account ?? {}) });
    const daemon: Daemon = { name, child, lastStderr: [] };
    running.set(name, daemon);
    relay(child.stdout!, process.stdout, name);
    relay(child.stderr!, process.stderr, name, daemon.lastStderr);
    child.on("error", (error) => {
      daemon.lastStderr.push(`cannot run: ${error.message}`);
      onExit(daemon, null, null);
    });
    // "close" rather than "exit": it fires once the daemon's output is fully
    // read, so the failure report carries its last words.
    child.on("close", (code, signal) => onExit(daemon, code, signal));
    say(`started ${name} (pid ${child.pid ?? "?"})`);
  }

  const shutdown = (signal: NodeJS.Signals): void => {
    say(`${signal} received; stopping ${[...running.keys()].join(", ")}`);
    stopping = true;
    stopAll(signal);
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGHUP", () => {
    const egress = running.get("egress");
    if (egress) {
      say("SIGHUP received; asking egress to reload its routes");
      egress.child.kill("SIGHUP");
    }
  });
}

main().catch((error: Error) => fail(`failed: ${error.stack ?? error.message}`));
