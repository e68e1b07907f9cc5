import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { releaseGateMirrors } from "../privileges.js";
import { readSecretsFile } from "../secrets-handoff.js";
import { openToPeers, removeStaleSocket } from "../unix-socket.js";
import { type GateConfig, readGateConfig } from "./config.js";
import { preReceive } from "./hook.js";
import { ensureMirror, type MirrorPlaces } from "./mirror.js";
import { smartHttp } from "./smart-http.js";
import { daemonSocket, ENV } from "../contract.js";

// The git gate: the only way the agent's git reaches a repository. It serves
// each repository the bottle declares (and its cwd repository as `origin`)
// over smart HTTP on a Unix socket in the socket volume, which the agent
// reaches at http://127.0.0.1:9418 through its forwarder. Fetches are served
// from a mirror refreshed from upstream first; pushes are scanned for
// secrets and forwarded upstream with the repository's deploy key, which only
// this daemon's user can read (see ../privileges.ts).
//
//   git-gate.js              the daemon
//   git-gate.js hook         the mirrors' pre-receive hook (git runs it; see hook.ts)
//
// Environment:
//   GIT_GATE_CONFIG          the repositories (config.ts), required
//   GIT_GATE_MIRRORS         folder of the bare mirrors, required
//   GIT_GATE_KEYS_DIR        the gate's private folder: the keys, known_hosts (and the hook, unless:)
//   GIT_GATE_HOOKS_DIR       a folder already holding the pre-receive hook (the image's)
//   GIT_GATE_SECRETS_FILE    the bottle's declared secret values, scanned for in pushes
//   GIT_GATE_QUEUE_DIR       the bottle's supervise queue (suppressions are asked there)
//   GIT_GATE_HOLD_TIMEOUT_MS how long a push waits for an answer (default 300000)
//   GIT_GATE_SOCKET          Unix socket to serve (default /run/bot-bottle/git-gate.sock)
//   GIT_GATE_LISTEN          host:port to also serve over TCP (tests, on loopback)
//   BOT_BOTTLE_ID            the bottle id, named in proposals

const DEFAULT_HOLD_TIMEOUT_MS = 300_000;

function say(message: string): void {
  process.stderr.write(`git-gate: ${message}\n`);
}

function fatal(message: string): never {
  say(message);
  process.exit(1);
}

function required(name: string): string {
  return process.env[name] || fatal(`${name} is not set`);
}

function places(): MirrorPlaces {
  const keys = required("GIT_GATE_KEYS_DIR");
  return { mirrors: required(ENV.gitGateMirrors), keys, hooks: process.env[ENV.gitGateHooksDir] || path.join(keys, "hooks") };
}

function knownSecrets(): { name: string; value: string }[] {
  const file = process.env[ENV.gitGateSecretsFile];
  if (!file) return [];
  return Object.entries(readSecretsFile(file)).map(([name, value]) => ({ name: name.replace(/^EGRESS_(TOKEN|SECRET)_/, ""), value }));
}

function holdTimeoutMs(): number {
  const value = Number(process.env[ENV.gitGateHoldTimeoutMs] || DEFAULT_HOLD_TIMEOUT_MS);
  return Number.isSafeInteger(value) && value > 0 ? value : fatal("GIT_GATE_HOLD_TIMEOUT_MS must be a positive whole number of milliseconds");
}

async function hook(): Promise<void> {
  const config = readGateConfig(required(ENV.gitGateConfig));
  // git runs the hook inside the mirror: its folder names the repository.
  const name = path.basename(process.cwd()).replace(/\.git$/, "");
  const repo = config.repos.find((r) => r.name === name) ?? fatal(`pre-receive in ${process.cwd()}, which is no repository of this gate`);
  const code = await preReceive(
    {
      places: places(),
      repo,
      knownSecrets: knownSecrets(),
      queue: { dir: process.env[ENV.gitGateQueueDir] || null, bottle: process.env[ENV.bottleId] || "unknown", timeoutMs: holdTimeoutMs() },
    },
    readFileSync(0, "utf8"),
  );
  process.exit(code);
}

/** The hook every mirror runs: this very script, in hook mode, with git's environment (quarantine included). */
function writeHook(where: MirrorPlaces): void {
  mkdirSync(where.hooks, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(where.hooks, "pre-receive"), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(path.resolve(process.argv[1]!))} hook\n`, { mode: 0o700 });
}

function listen(server: http.Server, where: { path: string } | { host: string; port: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    const done = (label: string) => () => {
      server.off("error", reject);
      server.on("error", (error) => say(`listener ${label}: ${error.message}`));
      resolve(label);
    };
    if ("path" in where) {
      removeStaleSocket(where.path);
      server.listen(where.path, () => {
        openToPeers(where.path);
        done(`unix:${where.path}`)();
      });
    } else {
      server.listen(where.port, where.host, () => {
        const address = server.address() as net.AddressInfo;
        done(`tcp:${address.address}:${address.port}`)();
      });
    }
  });
}

async function daemon(): Promise<void> {
  let config: GateConfig;
  try {
    config = readGateConfig(required(ENV.gitGateConfig));
  } catch (error) {
    fatal(`cannot read the configuration: ${(error as Error).message}`);
  }
  const where = places();
  mkdirSync(where.mirrors, { recursive: true });
  // The image ships the hook (the private folder is a noexec tmpfs); on a host it is written.
  if (!process.env[ENV.gitGateHooksDir]) writeHook(where);
  for (const repo of config.repos) {
    try {
      await ensureMirror(where, repo);
    } catch (error) {
      fatal((error as Error).message);
    }
  }
  // What the hook needs from the daemon's environment, passed through git to it.
  const hookEnv: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => key.startsWith("GIT_GATE_") || key === "BOT_BOTTLE_ID"));
  const gate = smartHttp(config, where, hookEnv, say);
  const serve = () => http.createServer({ requestTimeout: 0 }, (req, res) => gate.handle(req, res));

  const stop = () => {
    try {
      releaseGateMirrors(where.mirrors, { uid: process.getuid!(), gid: process.getgid!() });
    } catch (error) {
      say(`cannot hand the mirrors back to the host user's group: ${(error as Error).message}`);
    }
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  const listening = [listen(serve(), { path: process.env[ENV.gitGateSocket] || daemonSocket("git-gate") })];
  const tcp = process.env[ENV.gitGateListen];
  if (tcp) {
    const colon = tcp.lastIndexOf(":");
    listening.push(listen(serve(), { host: tcp.slice(0, colon), port: Number(tcp.slice(colon + 1)) }));
  }
  try {
    const labels = await Promise.all(listening);
    say(`ready on ${labels.join(", ")} with ${config.repos.length} repositor${config.repos.length === 1 ? "y" : "ies"}: ${config.repos.map((r) => r.name).join(", ")}`);
  } catch (error) {
    fatal(`cannot listen: ${(error as Error).message}`);
  }
}

(process.argv[2] === "hook" ? hook() : daemon()).catch((error: Error) => fatal(`failed: ${error.stack ?? error.message}`));
