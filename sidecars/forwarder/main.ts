import net from "node:net";
import { joinSockets } from "../join-sockets.js";
import { type Mapping, parseMappings } from "./mappings.js";
import { ENV, FORWARDER_READY } from "../contract.js";

// The forwarder: PID 1 of the agent container (started as root before anything
// runs as the agent user). The agent has no network, only loopback; each
// mapping gives it a loopback TCP port whose connections are carried to a Unix
// socket served by the sidecar bundle. The socket is connected lazily per
// connection, so the bundle may start (or restart) after the forwarder.
//
//   node forwarder.js 127.0.0.1:9099=/run/bot-bottle/egress.sock [...]
//   BOT_BOTTLE_FORWARD=127.0.0.1:9099=/run/bot-bottle/egress.sock,...  (when no arguments are given)
//
// As PID 1 it gets no default signal handling from the kernel, so signals are
// handled explicitly: SIGTERM/SIGINT exit 0, SIGHUP is ignored.

function say(message: string): void {
  process.stderr.write(`forwarder: ${message}\n`);
}

/** Logs a mapping's socket becoming unreachable or reachable again, not every failed connection. */
class SocketHealth {
  #lastProblem: string | null = null;

  constructor(private readonly mapping: Mapping) {}

  failed(code: string): void {
    if (code === this.#lastProblem) return;
    this.#lastProblem = code;
    say(`${this.mapping.host}:${this.mapping.port} -> ${this.mapping.socketPath}: ${code}; closing client connections until it answers`);
  }

  reached(): void {
    if (this.#lastProblem === null) return;
    this.#lastProblem = null;
    say(`${this.mapping.host}:${this.mapping.port} -> ${this.mapping.socketPath}: reachable again`);
  }
}

function serve(mapping: Mapping): Promise<net.Server> {
  const health = new SocketHealth(mapping);
  // noDelay: Nagle's algorithm would hold small writes (a request line, a TLS
  // record) for tens of milliseconds on every new connection.
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    client.on("error", () => client.destroy());
    const upstream = net.connect({ path: mapping.socketPath, allowHalfOpen: true });
    let connected = false;
    upstream.on("error", (error: NodeJS.ErrnoException) => {
      if (connected) return;
      health.failed(error.code ?? error.message);
      client.destroy();
    });
    client.once("close", () => {
      if (!connected) upstream.destroy();
    });
    upstream.once("connect", () => {
      connected = true;
      health.reached();
      joinSockets(client, upstream);
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(mapping.port, mapping.host, () => {
      server.off("error", reject);
      server.on("error", (error) => say(`listener ${mapping.host}:${mapping.port}: ${error.message}`));
      resolve(server);
    });
  });
}

function main(): void {
  const args = process.argv.slice(2);
  let mappings: Mapping[];
  try {
    mappings = parseMappings(args.length > 0 ? args : (process.env[ENV.forward] ?? "").split(","));
  } catch (error) {
    say(`${(error as Error).message}`);
    say("usage: forwarder.js 127.0.0.1:PORT=/path/to/socket ... (or BOT_BOTTLE_FORWARD, comma-separated)");
    process.exit(2);
  }

  process.on("SIGHUP", () => say("SIGHUP ignored"));
  const stop = (): void => process.exit(0);
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // PID 1 going down takes the agent's whole container with it: once the
  // listeners are up, an unexpected error is logged, not fatal (every
  // connection is independent, there is no shared state to corrupt).
  process.on("uncaughtException", (error) => say(`unexpected error: ${error.stack ?? error.message}`));

  Promise.all(mappings.map(serve)).then(
    () => {
      for (const m of mappings) say(`${m.host}:${m.port} -> ${m.socketPath}`);
      process.stdout.write(`${FORWARDER_READY}\n`);
    },
    (error: Error) => {
      say(`cannot listen: ${error.message}`);
      process.exit(1);
    },
  );
}

main();
