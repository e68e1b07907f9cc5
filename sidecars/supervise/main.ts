import http from "node:http";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { openToPeers, removeStaleSocket } from "../unix-socket.js";
import { startApplier } from "./applier.js";
import { egressReloader } from "./egress-reload.js";
import { LiveRoutes } from "./live-routes.js";
import { createSuperviseServer } from "./server.js";
import { Supervisor } from "./supervisor.js";
import { daemonSocket, ENV } from "../contract.js";

// The supervise daemon: an MCP server (Streamable HTTP) on a Unix socket in
// the bottle's socket volume, which the agent reaches at
// http://127.0.0.1:9100/mcp through its forwarder. Stateless: every POST gets
// its own server and transport, so neither side holds a session that a
// restart could lose; the state is the queue folder.
//
// Environment:
//   SUPERVISE_QUEUE_DIR    the bottle's supervise queue folder (required)
//   SUPERVISE_SOCKET       Unix socket to serve (default /run/bot-bottle/supervise.sock)
//   SUPERVISE_TIMEOUT_MS   how long one call waits for an answer (default 30000)
//   EGRESS_ROUTES          egress's live routes file, read-write (required)
//   EGRESS_SOCKET          egress's socket, to confirm a reload (default /run/bot-bottle/egress.sock)
//   BOT_BOTTLE_ID          the bottle id, named in proposals

const MCP_PATH = "/mcp";
const DEFAULT_TIMEOUT_MS = 30_000;
const RELOAD_TIMEOUT_MS = 10_000;

function say(message: string): void {
  process.stderr.write(`supervise: ${message}\n`);
}

function fatal(message: string): never {
  say(message);
  process.exit(1);
}

function positiveInteger(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) fatal(`${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return value;
}

const jsonRpcError = (res: http.ServerResponse, status: number, message: string) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
};


async function main(): Promise<void> {
  const queueDir = process.env[ENV.superviseQueueDir] || fatal("SUPERVISE_QUEUE_DIR is not set (the bottle's queue folder)");
  const routesFile = process.env[ENV.egressRoutes] || fatal("EGRESS_ROUTES is not set (egress's live routes file)");
  const socketPath = process.env[ENV.superviseSocket] || daemonSocket("supervise");
  const routes = new LiveRoutes(routesFile, egressReloader({ egressSocket: process.env[ENV.egressSocket] || daemonSocket("egress"), timeoutMs: RELOAD_TIMEOUT_MS }));
  try {
    routes.read();
  } catch (error) {
    fatal(`cannot read the routes file ${routesFile}: ${(error as Error).message}`);
  }
  const supervisor = new Supervisor(
    { queueDir, bottle: process.env[ENV.bottleId] || "unknown", timeoutMs: positiveInteger(ENV.superviseTimeoutMs, DEFAULT_TIMEOUT_MS) },
    routes,
  );
  startApplier(supervisor, say);

  const httpServer = http.createServer({ requestTimeout: 0 }, (req, res) => {
    if (new URL(req.url ?? "/", "http://localhost").pathname !== MCP_PATH) return jsonRpcError(res, 404, `not found: the MCP endpoint is ${MCP_PATH}`);
    // Stateless: no session to resume (GET) or end (DELETE).
    if (req.method !== "POST") return jsonRpcError(res, 405, "method not allowed: this server is stateless; POST JSON-RPC requests");
    const server = createSuperviseServer(supervisor);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    // A client that hangs up aborts its waiting call; the proposal stays queued.
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    server
      .connect(transport)
      .then(() => transport.handleRequest(req, res))
      .catch((error: Error) => {
        say(`request failed: ${error.message}`);
        if (!res.headersSent) jsonRpcError(res, 500, "internal error; see the bundle's log");
        else res.end();
      });
  });

  process.on("SIGTERM", () => process.exit(0));
  process.on("SIGINT", () => process.exit(0));
  try {
    removeStaleSocket(socketPath);
  } catch (error) {
    fatal((error as Error).message);
  }
  httpServer.once("error", (error) => fatal(`cannot listen on ${socketPath}: ${error.message}`));
  httpServer.listen(socketPath, () => {
    openToPeers(socketPath);
    say(`ready on unix:${socketPath}, queue ${queueDir}, waiting up to ${supervisor.settings.timeoutMs} ms per call`);
  });
}

main().catch((error: Error) => fatal(`failed: ${error.stack ?? error.message}`));
