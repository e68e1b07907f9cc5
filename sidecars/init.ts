import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";

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

const KNOWN_DAEMONS = ["egress", "supervise", "git-gate"];
const STDERR_LINES_KEPT = 10;
const STOP_GRACE_MS = 8_000;

function say(message: string): void {
  process.stderr.write(`[init] ${message}\n`);
}

function fail(message: string): never {
  say(message);
  process.exit(2);
}

interface Daemon {
  name: string;
  child: ChildProcess;
  lastStderr: string[];
}

function parseDaemonList(text: string | undefined): string[] {
  const names = (text ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  if (names.length === 0) fail(`BOT_BOTTLE_DAEMONS is empty: name at least one of ${KNOWN_DAEMONS.join(", ")}`);
  for (const name of names) {
    if (!KNOWN_DAEMONS.includes(name)) fail(`unknown daemon ${JSON.stringify(name)} in BOT_BOTTLE_DAEMONS (known: ${KNOWN_DAEMONS.join(", ")})`);
  }
  if (new Set(names).size !== names.length) fail(`BOT_BOTTLE_DAEMONS names a daemon twice: ${names.join(",")}`);
  return names;
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

function main(): void {
  const names = parseDaemonList(process.env.BOT_BOTTLE_DAEMONS);
  // argv[1] is this script: the daemons are bundled next to it.
  const directory = dirname(process.argv[1] ?? "");
  for (const name of names) {
    const file = join(directory, `${name}.js`);
    if (!existsSync(file)) fail(`daemon ${name} is not in this bundle (${file} is missing)`);
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
    const child = spawn(process.execPath, [join(directory, `${name}.js`)], {
      // Supervise asks egress to reload through init, which forwards SIGHUP.
      env: { ...daemonEnv(name), BOT_BOTTLE_INIT_PID: String(process.pid) },
      stdio: ["ignore", "pipe", "pipe"],
    });
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

/** Egress alone gets the secrets it injects and scans for: no other daemon needs them. */
function daemonEnv(name: string): NodeJS.ProcessEnv {
  if (name === "egress") return { ...process.env };
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^EGRESS_(TOKEN|SECRET)_/.test(key)));
}

main();
