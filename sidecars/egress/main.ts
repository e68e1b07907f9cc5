import { lstatSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import { joinSockets } from "../join-sockets.js";
import { type DecisionRecord, DecisionLog } from "./audit.js";
import { stripHopByHop } from "./hop-by-hop.js";
import { formatAuthority } from "./host.js";
import { type ConnectDecision, decideConnect, decideHttp, type HttpDecision, type HttpTarget } from "./policy.js";
import { parseRoutesFile, type Route, type RoutesFile } from "./routes.js";
import { type Authority, pathOnly } from "./target.js";

// The egress daemon: an HTTP proxy (CONNECT tunnels and absolute-form plain
// HTTP) on a Unix socket in the bottle's socket volume, which the agent
// reaches through its forwarder. Every request is judged by the policy core
// and the decision logged. SIGHUP reloads the routes file; open tunnels keep
// running because routes are only consulted when a connection is made.
//
// Environment:
//   EGRESS_ROUTES    path of the routes file (required)
//   EGRESS_SOCKET    Unix socket to serve (default /run/bot-bottle/egress.sock)
//   EGRESS_LISTEN    host:port to also serve over TCP (tests, on loopback)
//   EGRESS_LOG_FILE  file the decision log is also appended to

const HEALTH_PATH = "/__bot-bottle/health";
const REASON_HEADER = "X-Bot-Bottle-Reason";
const UPSTREAM_CONNECT_TIMEOUT_MS = 30_000;
// A refused client gets this long to read the refusal and hang up.
const REFUSAL_LINGER_MS = 5_000;

function say(message: string): void {
  process.stderr.write(`egress: ${message}\n`);
}

function fatal(message: string): never {
  say(message);
  process.exit(1);
}

/** Reasons go into a header: printable ASCII only, bounded. */
function headerSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, 300);
}

function errorCode(error: Error): string {
  return (error as NodeJS.ErrnoException).code ?? error.message;
}

function loadRoutes(path: string): RoutesFile {
  return parseRoutesFile(readFileSync(path, "utf8"));
}

const routesPath = process.env.EGRESS_ROUTES || fatal("EGRESS_ROUTES is not set (path of the routes file)");
const socketPath = process.env.EGRESS_SOCKET || "/run/bot-bottle/egress.sock";
let config: RoutesFile;
try {
  config = loadRoutes(routesPath);
} catch (error) {
  fatal(`cannot load routes from ${routesPath}: ${(error as Error).message}`);
}
const decisions = new DecisionLog(config.log, process.env.EGRESS_LOG_FILE || undefined);
const upstreamAgent = new http.Agent({ keepAlive: true });

function record(
  target: Authority | undefined,
  request: Pick<DecisionRecord, "method" | "path">,
  verdict: Pick<DecisionRecord, "decision" | "reason">,
): void {
  decisions.record({
    host: target?.host.value ?? null,
    port: target?.port ?? null,
    method: request.method,
    path: request.path,
    decision: verdict.decision,
    reason: verdict.reason,
  });
}

/** Answers on a raw socket (CONNECT, parse errors) and closes it once the client has had the answer. */
function refuseSocket(socket: Duplex, status: string, reason: string): void {
  const text = headerSafe(reason);
  const body = `bot-bottle egress: ${text}\n`;
  socket.end(
    `HTTP/1.1 ${status}\r\n${REASON_HEADER}: ${text}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  // Drain whatever the client already sent (closing with unread data would
  // reset the connection and could lose the answer), then give up on it.
  socket.resume();
  const linger = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS);
  socket.once("close", () => clearTimeout(linger));
}

function refuseResponse(res: http.ServerResponse, status: number, reason: string): void {
  const text = headerSafe(reason);
  res.writeHead(status, { [REASON_HEADER]: text, "Content-Type": "text/plain; charset=utf-8" });
  res.end(`bot-bottle egress: ${text}\n`);
}

/** What the policy may allow but this egress cannot enforce yet is refused, never skipped. */
function notBuiltYet(feature: string, route: Route): string {
  return `route ${route.host} needs ${feature}, which this egress does not do yet`;
}

function onConnect(req: http.IncomingMessage, client: Duplex, head: Buffer): void {
  client.on("error", () => client.destroy());
  let verdict: ConnectDecision = decideConnect(config.routes, req.url ?? "");
  if (verdict.decision === "allow" && verdict.action === "intercept") {
    verdict = { ...verdict, decision: "deny", reason: notBuiltYet("TLS interception (matches, auth or dlp)", verdict.route) };
  }
  record(verdict.target, { method: "CONNECT", path: null }, verdict);
  if (verdict.decision === "deny" || !verdict.target) {
    refuseSocket(client, "403 Forbidden", verdict.reason);
    return;
  }

  // Always the CONNECT target the policy judged, never anything the client says later.
  const target = verdict.target;
  const upstream = net.connect({ host: target.host.value, port: target.port, allowHalfOpen: true });
  let established = false;
  upstream.setTimeout(UPSTREAM_CONNECT_TIMEOUT_MS, () => upstream.destroy(new Error("timed out")));
  upstream.on("error", (error) => {
    if (established) return;
    const reason = `upstream connect to ${formatAuthority(target.host, target.port)} failed: ${errorCode(error)}`;
    say(reason);
    refuseSocket(client, "502 Bad Gateway", reason);
  });
  client.once("close", () => {
    if (!established) upstream.destroy();
  });
  upstream.once("connect", () => {
    established = true;
    upstream.setTimeout(0);
    client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (head.length > 0) upstream.write(head);
    joinSockets(client, upstream);
  });
}

function upstreamHeaders(rawHeaders: readonly string[], target: HttpTarget): string[] {
  const headers = ["Host", formatAuthority(target.authority.host, target.authority.port, 80)];
  const kept = stripHopByHop(rawHeaders);
  for (let i = 0; i + 1 < kept.length; i += 2) {
    if (kept[i]!.toLowerCase() !== "host") headers.push(kept[i]!, kept[i + 1]!);
  }
  return headers;
}

function forward(req: http.IncomingMessage, res: http.ServerResponse, target: HttpTarget): void {
  const upstream = http.request({
    host: target.authority.host.value,
    port: target.authority.port,
    method: req.method,
    path: target.path,
    headers: upstreamHeaders(req.rawHeaders, target),
    setHost: false,
    agent: upstreamAgent,
  });
  upstream.on("response", (upstreamRes) => {
    upstreamRes.on("error", () => res.destroy());
    res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, stripHopByHop(upstreamRes.rawHeaders));
    upstreamRes.pipe(res);
  });
  upstream.on("error", (error) => {
    const reason = `upstream request to ${formatAuthority(target.authority.host, target.authority.port)} failed: ${errorCode(error)}`;
    say(reason);
    if (res.headersSent) res.destroy();
    else refuseResponse(res, 502, reason);
  });
  res.on("close", () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}

function onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
  req.on("error", () => res.destroy());
  res.on("error", () => req.destroy());
  const url = req.url ?? "";
  const method = req.method ?? "";
  if (url.startsWith("/")) {
    if (pathOnly(url) === HEALTH_PATH && (method === "GET" || method === "HEAD")) {
      res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("ok\n");
    } else {
      refuseResponse(res, 400, "not a proxy request: send an absolute http:// URI, or CONNECT for https");
    }
    return;
  }
  let verdict: HttpDecision = decideHttp(config.routes, { method, rawHeaders: req.rawHeaders, absoluteUrl: url });
  if (verdict.decision === "allow" && verdict.route.dlp !== null) {
    verdict = { ...verdict, decision: "deny", reason: notBuiltYet("DLP", verdict.route) };
  }
  record(verdict.target?.authority, { method, path: verdict.target ? pathOnly(verdict.target.path) : null }, verdict);
  if (verdict.decision === "deny" || !verdict.target) refuseResponse(res, 403, verdict.reason);
  else forward(req, res, verdict.target);
}

function onClientError(error: Error, socket: Duplex): void {
  const code = errorCode(error);
  if (code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const reason = `malformed request (${code})`;
  decisions.record({ host: null, port: null, method: null, path: null, decision: "deny", reason });
  refuseSocket(socket, "400 Bad Request", reason);
}

function createProxyServer(): http.Server {
  // No overall request deadline: uploads and long polls through the proxy may legitimately be slow.
  const server = http.createServer({ requestTimeout: 0 }, onRequest);
  server.on("connect", onConnect);
  server.on("clientError", onClientError);
  return server;
}

function removeStaleSocket(path: string): void {
  try {
    if (!lstatSync(path).isSocket()) fatal(`${path} exists and is not a socket; refusing to replace it`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    fatal(`cannot inspect ${path}: ${(error as Error).message}`);
  }
  rmSync(path);
}

function describeAddress(server: http.Server): string {
  const address = server.address();
  if (address === null || typeof address === "string") return `unix:${address ?? "?"}`;
  return `tcp:${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
}

function listen(server: http.Server, where: { path: string } | { host: string; port: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    const done = (): void => {
      server.off("error", reject);
      const label = describeAddress(server);
      server.on("error", (error) => say(`listener ${label}: ${error.message}`));
      resolve(label);
    };
    if ("path" in where) server.listen(where.path, done);
    else server.listen(where.port, where.host, done);
  });
}

function tcpListenAddress(text: string): { host: string; port: number } {
  const colon = text.lastIndexOf(":");
  const host = text.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const port = Number(text.slice(colon + 1));
  if (colon < 1 || !net.isIP(host) || !Number.isInteger(port) || port < 0 || port > 65535) {
    fatal(`EGRESS_LISTEN must be ip:port, got ${JSON.stringify(text)}`);
  }
  return { host, port };
}

function reloadRoutes(): void {
  try {
    config = loadRoutes(routesPath);
    decisions.level = config.log;
    say(`routes reloaded from ${routesPath}: ${config.routes.length} route(s)`);
  } catch (error) {
    say(`routes reload failed, keeping the previous ${config.routes.length} route(s): ${(error as Error).message}`);
  }
}

function start(): void {
  process.on("SIGHUP", reloadRoutes);
  process.on("SIGTERM", () => process.exit(0));
  process.on("SIGINT", () => process.exit(0));

  removeStaleSocket(socketPath);
  const listening = [listen(createProxyServer(), { path: socketPath })];
  const tcp = process.env.EGRESS_LISTEN;
  if (tcp) listening.push(listen(createProxyServer(), tcpListenAddress(tcp)));
  Promise.all(listening).then(
    (labels) => say(`ready on ${labels.join(", ")} with ${config.routes.length} route(s)`),
    (error: Error) => fatal(`cannot listen: ${error.message}`),
  );
}

start();
