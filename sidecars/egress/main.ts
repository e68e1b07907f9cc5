import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import { readSecretsFile, type Secrets } from "../secrets-handoff.js";
import { openToPeers, removeStaleSocket } from "../unix-socket.js";
import { allowedNetworks, FORBIDDEN_ADDRESS } from "./addresses.js";
import { type DecisionRecord, DecisionLog } from "./audit.js";
import { MIN_SECRET_LENGTH, Scanner } from "./dlp-detectors.js";
import { knownSecrets, scrub } from "./dlp.js";
import { STRICT_PARSER } from "./framing.js";
import { Holds } from "./holds.js";
import { formatAuthority } from "./host.js";
import { Interceptor } from "./interceptor.js";
import { createLeafKey, LeafCache, loadSigningCa } from "./leaf-certs.js";
import { type ConnectDecision, decideConnect } from "./policy.js";
import { type ProxyContext, proxyRequest } from "./proxy-request.js";
import { refuseResponse, refuseSocket } from "./refusal.js";
import { parseRoutesFile, ROUTES_DIGEST_HEADER, type RoutesFile } from "./routes.js";
import { type Authority, pathOnly } from "./target.js";
import { gateTlsTunnel } from "./tls-gate.js";
import { Upstreams, upstreamTrust } from "./upstream.js";
import { BUNDLE_FILES, BUNDLE_PATHS, daemonSocket, ENV, HEALTH_PATH } from "../contract.js";

// The egress daemon: an HTTP proxy (CONNECT tunnels and absolute-form plain
// HTTP) on a Unix socket in the bottle's socket volume, which the agent
// reaches through its forwarder. Every CONNECT and every request is judged by
// the policy core and the decision logged. Tunnels to routes that need to see
// requests (matches, auth, dlp) are TLS-terminated with the bottle CA; the
// rest pass the TLS gate (only TLS, naming the CONNECT host) and are then
// copied byte for byte. The routes file is reloaded when it changes (supervise
// replaces it when an approval adds a route; egress watches it, since
// supervise runs as another user and cannot signal egress) and on SIGHUP: open
// tunnels keep running, and requests inside intercepted tunnels are judged
// against the routes of the moment they arrive.
//
// Environment:
//   EGRESS_ROUTES            path of the routes file (required)
//   EGRESS_SOCKET            Unix socket to serve (default /run/bot-bottle/egress.sock)
//   EGRESS_LISTEN            host:port to also serve over TCP (tests, on loopback)
//   EGRESS_LOG_FILE          file the decision log is also appended to
//   EGRESS_CA_CERT           bottle CA certificate (default /etc/bot-bottle/egress/ca.pem)
//   EGRESS_CA_KEY            bottle CA key (default /etc/bot-bottle/egress/ca-key.pem); read once, kept in memory
//   EGRESS_EXTRA_CA          extra PEM bundle trusted for upstream servers
//   EGRESS_ALLOW_NETWORKS    comma-separated CIDRs that declared names may resolve into
//                            although private (internal services); others are refused
//   EGRESS_QUEUE_DIR         the bottle's supervise queue folder (DLP holds)
//   EGRESS_HOLD_TIMEOUT_MS   how long a held request waits for an answer (default 300000)
//   EGRESS_DLP_MAX_BODY_BYTES  the largest body DLP reads (default 16 MiB); larger ones are refused
//   EGRESS_SECRETS_FILE      JSON file of the token and secret values the routes file names
//                            (by EGRESS_TOKEN_*/EGRESS_SECRET_* name); in the bundle, a
//                            file only egress's uid can read (see ../privileges.ts)
//   BOT_BOTTLE_ID            the bottle id, named in proposals

const UPSTREAM_CONNECT_TIMEOUT_MS = 30_000;
const DEFAULT_CA_CERT = `${BUNDLE_PATHS.egressConfig}/${BUNDLE_FILES.caCert}`;
const DEFAULT_CA_KEY = `${BUNDLE_PATHS.egressConfig}/${BUNDLE_FILES.caKey}`;
const DEFAULT_HOLD_TIMEOUT_MS = 300_000;
const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
const ROUTES_POLL_MS = 250;

function say(message: string): void {
  process.stderr.write(`egress: ${message}\n`);
}

function fatal(message: string): never {
  say(message);
  process.exit(1);
}

function errorCode(error: Error): string {
  return (error as NodeJS.ErrnoException).code ?? error.message;
}

function positiveInteger(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) fatal(`${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return value;
}

const routesDigest = (text: string) => createHash("sha256").update(text).digest("hex");

/** What changes when the routes file is rewritten or replaced; null while it is missing. */
function statKey(path: string): string | null {
  try {
    const stats = statSync(path);
    return `${stats.ino}:${stats.size}:${stats.mtimeMs}`;
  } catch {
    return null;
  }
}

/** The routes file, and the sha256 of its text (named on the health answer, so a writer can tell its change was loaded). */
function loadRoutes(path: string): { config: RoutesFile; digest: string } {
  const text = readFileSync(path, "utf8");
  return { config: parseRoutesFile(text), digest: routesDigest(text) };
}

/** The interceptor when a CA is configured: an explicitly named CA must load; the default one is optional. */
async function loadInterceptor(handle: ConstructorParameters<typeof Interceptor>[1], onFailure: ConstructorParameters<typeof Interceptor>[2]) {
  const certPath = process.env[ENV.egressCaCert] || DEFAULT_CA_CERT;
  const keyPath = process.env[ENV.egressCaKey] || DEFAULT_CA_KEY;
  const explicit = Boolean(process.env[ENV.egressCaCert] || process.env[ENV.egressCaKey]);
  if (!explicit && !(existsSync(certPath) && existsSync(keyPath))) {
    say(`no CA at ${certPath}: tunnels that need inspection will be refused`);
    return null;
  }
  try {
    const ca = await loadSigningCa(readFileSync(certPath, "utf8"), readFileSync(keyPath, "utf8"));
    return new Interceptor(new LeafCache(ca, await createLeafKey()), handle, onFailure);
  } catch (error) {
    fatal(`cannot load the CA from ${certPath} and ${keyPath}: ${(error as Error).message}`);
  }
}

/** The routes and everything derived from them, swapped whole on reload. */
interface Loaded {
  config: RoutesFile;
  digest: string;
  scanner: Scanner;
}

function derive({ config, digest }: { config: RoutesFile; digest: string }, secretValues: Secrets): Loaded {
  const secrets = knownSecrets(config.routes, secretValues);
  for (const secret of secrets) {
    if (secret.value.length < MIN_SECRET_LENGTH) say(`${secret.name} is shorter than ${MIN_SECRET_LENGTH} characters; DLP cannot look for it without false alarms`);
  }
  return { config, digest, scanner: new Scanner(secrets) };
}

async function main(): Promise<void> {
  const routesPath = process.env[ENV.egressRoutes] || fatal("EGRESS_ROUTES is not set (path of the routes file)");
  const socketPath = process.env[ENV.egressSocket] || daemonSocket("egress");
  let secretValues: Secrets = {};
  const secretsFile = process.env[ENV.egressSecretsFile];
  if (secretsFile) {
    try {
      secretValues = readSecretsFile(secretsFile);
    } catch (error) {
      fatal(`cannot read the secrets: ${(error as Error).message}`);
    }
  }
  let loaded: Loaded;
  // Taken before the file is read: a change that lands while egress starts is seen by the first poll.
  let routesStat = statKey(routesPath);
  try {
    loaded = derive(loadRoutes(routesPath), secretValues);
  } catch (error) {
    fatal(`cannot load routes from ${routesPath}: ${(error as Error).message}`);
  }
  let upstreams: Upstreams;
  try {
    upstreams = new Upstreams(upstreamTrust(process.env[ENV.egressExtraCa] || undefined), allowedNetworks(process.env[ENV.egressAllowNetworks] ?? ""));
  } catch (error) {
    fatal(`cannot set up upstream connections: ${(error as Error).message}`);
  }
  const decisions = new DecisionLog(loaded.config.log, process.env[ENV.egressLogFile] || undefined);
  const holds = new Holds({
    queueDir: process.env[ENV.egressQueueDir] || null,
    bottle: process.env[ENV.bottleId] || "unknown",
    timeoutMs: positiveInteger(ENV.egressHoldTimeoutMs, DEFAULT_HOLD_TIMEOUT_MS),
  });
  const maxBodyBytes = positiveInteger(ENV.egressDlpMaxBodyBytes, DEFAULT_MAX_BODY_BYTES);
  try {
    const closed = holds.closeAbandoned();
    if (closed > 0) say(`refused ${closed} DLP hold(s) left open by an earlier egress`);
  } catch (error) {
    say(`cannot tidy the supervise queue: ${(error as Error).message}`);
  }

  const context = (): ProxyContext => ({
    routes: loaded.config.routes,
    scanner: loaded.scanner,
    holds,
    upstreams,
    env: secretValues,
    maxBodyBytes,
    record: (entry) => decisions.record(entry),
    scrub: (text) => scrub(loaded.scanner, text),
    say,
  });
  const record = (
    target: Authority | undefined,
    request: Pick<DecisionRecord, "method" | "path">,
    verdict: Pick<DecisionRecord, "decision" | "reason" | "bytes_sent" | "bytes_received">,
  ) =>
    decisions.record({
      host: target?.host.value ?? null,
      port: target?.port ?? null,
      method: request.method,
      path: request.path === null ? null : scrub(loaded.scanner, request.path),
      decision: verdict.decision,
      reason: scrub(loaded.scanner, verdict.reason),
      bytes_sent: verdict.bytes_sent,
      bytes_received: verdict.bytes_received,
    });

  const handled = (promise: Promise<void>, res: http.ServerResponse) =>
    promise.catch((error: Error) => {
      say(`request failed: ${error.message}`);
      if (!res.headersSent) refuseResponse(res, 502, "egress failed to handle the request");
      else res.destroy();
    });

  const interceptor = await loadInterceptor(
    (req, res, target) => handled(proxyRequest(context(), req, res, target), res),
    (target, reason) => record(target, { method: null, path: null }, { decision: "deny", reason }),
  );

  function openTunnel(client: Duplex, head: Buffer, target: Authority): void {
    const upstream = upstreams.tunnel(target);
    let established = false;
    upstream.setTimeout(UPSTREAM_CONNECT_TIMEOUT_MS, () => upstream.destroy(new Error("timed out")));
    upstream.on("error", (error) => {
      if (established) return;
      if (errorCode(error) === FORBIDDEN_ADDRESS) {
        const reason = `refused to connect: ${error.message}`;
        record(target, { method: "CONNECT", path: null }, { decision: "deny", reason });
        refuseSocket(client, "403 Forbidden", reason);
        return;
      }
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
      gateTlsTunnel(client, upstream, head, target, {
        refused: (reason) => record(target, { method: "CONNECT", path: null }, { decision: "deny", reason }),
        opened: (crossed) => {
          const bytes = { bytes_sent: crossed.sent, bytes_received: crossed.received };
          client.on("data", (chunk: Buffer) => (bytes.bytes_sent += chunk.length));
          upstream.on("data", (chunk: Buffer) => (bytes.bytes_received += chunk.length));
          client.once("close", () => record(target, { method: "CONNECT", path: null }, { decision: "allow", reason: "tunnel closed", ...bytes }));
        },
      });
    });
  }

  function onConnect(req: http.IncomingMessage, client: Duplex, head: Buffer): void {
    client.on("error", () => client.destroy());
    let verdict: ConnectDecision = decideConnect(loaded.config.routes, req.url ?? "");
    if (verdict.decision === "allow" && verdict.action === "intercept" && interceptor === null) {
      verdict = { ...verdict, decision: "deny", reason: `route ${verdict.route.host} needs TLS interception, but egress has no CA` };
    }
    const forbidden = verdict.decision === "allow" && verdict.target ? upstreams.refusal(verdict.target) : null;
    if (forbidden !== null) verdict = { decision: "deny", reason: `refused to connect: ${forbidden}`, target: verdict.target };
    record(verdict.target, { method: "CONNECT", path: null }, verdict);
    if (verdict.decision === "deny" || !verdict.target) {
      refuseSocket(client, "403 Forbidden", verdict.reason);
      return;
    }
    // Always the CONNECT target the policy judged, never anything the client says later.
    if (verdict.action === "intercept") void interceptor!.take(client, head, verdict.target);
    else openTunnel(client, head, verdict.target);
  }

  function onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    req.on("error", () => res.destroy());
    res.on("error", () => req.destroy());
    const url = req.url ?? "";
    const method = req.method ?? "";
    if (url.startsWith("/")) {
      if (pathOnly(url) === HEALTH_PATH && (method === "GET" || method === "HEAD")) {
        res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8", [ROUTES_DIGEST_HEADER]: loaded.digest });
        res.end("ok\n");
      } else {
        refuseResponse(res, 400, "not a proxy request: send an absolute http:// URI, or CONNECT for https");
      }
      return;
    }
    void handled(proxyRequest(context(), req, res, null), res);
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
    // No overall request deadline: uploads, long polls and held requests may legitimately be slow.
    const server = http.createServer({ ...STRICT_PARSER, requestTimeout: 0 }, onRequest);
    server.on("connect", onConnect);
    server.on("upgrade", (_req: http.IncomingMessage, socket: Duplex) =>
      refuseSocket(socket, "501 Not Implemented", "protocol upgrades (WebSocket) are not proxied"),
    );
    server.on("clientError", onClientError);
    return server;
  }

  function reloadRoutes(): void {
    try {
      loaded = derive(loadRoutes(routesPath), secretValues);
      decisions.level = loaded.config.log;
      say(`routes reloaded from ${routesPath}: ${loaded.config.routes.length} route(s)`);
    } catch (error) {
      say(`routes reload failed, keeping the previous ${loaded.config.routes.length} route(s): ${(error as Error).message}`);
    }
  }

  process.on("SIGHUP", reloadRoutes);
  // Polled rather than fs.watch'ed: a replacement by rename shows in the stat on
  // every filesystem (bind mounts included), and the digest skips no-op changes.
  setInterval(() => {
    const now = statKey(routesPath);
    if (now === routesStat) return;
    routesStat = now;
    try {
      if (routesDigest(readFileSync(routesPath, "utf8")) !== loaded.digest) reloadRoutes();
    } catch (error) {
      say(`cannot read ${routesPath} to see whether it changed: ${(error as Error).message}`);
    }
  }, ROUTES_POLL_MS).unref();
  process.on("SIGTERM", () => process.exit(0));
  process.on("SIGINT", () => process.exit(0));

  try {
    removeStaleSocket(socketPath);
  } catch (error) {
    fatal((error as Error).message);
  }
  const listening = [listen(createProxyServer(), { path: socketPath })];
  const tcp = process.env[ENV.egressListen];
  if (tcp) listening.push(listen(createProxyServer(), tcpListenAddress(tcp)));
  try {
    const labels = await Promise.all(listening);
    say(`ready on ${labels.join(", ")} with ${loaded.config.routes.length} route(s)${interceptor ? ", TLS interception on" : ""}`);
  } catch (error) {
    fatal(`cannot listen: ${(error as Error).message}`);
  }
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
    if ("path" in where) {
      server.listen(where.path, () => {
        openToPeers(where.path);
        done();
      });
    }
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

main().catch((error: Error) => fatal(`failed: ${error.stack ?? error.message}`));
