import type http from "node:http";
import { FORBIDDEN_ADDRESS } from "./addresses.js";
import type { DecisionRecord } from "./audit.js";
import { injectToken, withoutCredentials } from "./auth.js";
import { contentCoding, decodeBody, encodeBody, readBounded } from "./body.js";
import type { Scanner } from "./dlp-detectors.js";
import { describeFindings, judgeDlp } from "./dlp.js";
import { type Framing, FRAMING_HEADERS, framingHeader, requestFraming } from "./framing.js";
import { type Holds, holdScope } from "./holds.js";
import { stripHopByHop } from "./hop-by-hop.js";
import { formatAuthority } from "./host.js";
import { decideHttp, type HttpDecision, type HttpTarget } from "./policy.js";
import { refuseResponse } from "./refusal.js";
import type { Route } from "./routes.js";
import { type Authority, pathOnly } from "./target.js";
import type { Upstreams } from "./upstream.js";

// One proxied HTTP request, from the agent's bytes to the upstream's answer:
// plain http:// in absolute form, or a request read out of an intercepted TLS
// tunnel. In order: the policy's verdict (route, matches, Host, structure),
// the agent's credentials stripped, DLP over what would go out, the route's
// token injected, then the request forwarded to the judged target. Bodies
// stream straight through unless DLP has to read them.

export interface ProxyContext {
  routes: readonly Route[];
  scanner: Scanner;
  holds: Holds;
  upstreams: Upstreams;
  env: NodeJS.ProcessEnv;
  /** DLP reads bodies up to this many bytes (after inflating); larger ones are refused. */
  maxBodyBytes: number;
  record(entry: DecisionRecord): void;
  /** Removes known secrets and token shapes from text bound for the log. */
  scrub(text: string): string;
  say(message: string): void;
}

function errorCode(error: Error): string {
  return (error as NodeJS.ErrnoException).code ?? error.message;
}

/**
 * The header list sent upstream: Host is the judged target; hop-by-hop
 * headers, Expect (answered here) and the agent's framing headers are gone
 * (egress frames what it forwards itself).
 */
function upstreamHeaders(rawHeaders: readonly string[], target: HttpTarget, defaultPort: number): string[] {
  const headers = ["Host", formatAuthority(target.authority.host, target.authority.port, defaultPort)];
  const kept = stripHopByHop(rawHeaders);
  for (let i = 0; i + 1 < kept.length; i += 2) {
    const name = kept[i]!.toLowerCase();
    if (name !== "host" && name !== "expect" && !FRAMING_HEADERS.has(name)) headers.push(kept[i]!, kept[i + 1]!);
  }
  return headers;
}

function withFraming(headers: readonly string[], framing: Framing): string[] {
  const header = framingHeader(framing);
  return header ? [...headers, ...header] : [...headers];
}

/** Handles one request; `tunnel` is the CONNECT target when the request came out of an intercepted tunnel. */
export async function proxyRequest(ctx: ProxyContext, req: http.IncomingMessage, res: http.ServerResponse, tunnel: Authority | null): Promise<void> {
  const method = req.method ?? "";
  const url = req.url ?? "";
  const verdict: HttpDecision = tunnel
    ? decideHttp(ctx.routes, { method, rawHeaders: req.rawHeaders, authority: tunnel, path: url })
    : decideHttp(ctx.routes, { method, rawHeaders: req.rawHeaders, absoluteUrl: url });
  const authority = verdict.target?.authority ?? tunnel ?? undefined;
  const record: Recorder = (decision, reason, bytes) =>
    ctx.record({
      host: authority?.host.value ?? null,
      port: authority?.port ?? null,
      method,
      path: verdict.target ? ctx.scrub(pathOnly(verdict.target.path)) : null,
      decision,
      reason: ctx.scrub(reason),
      ...bytes,
    });
  const refuse = (status: number, reason: string, closeConnection = false) => {
    record("deny", reason);
    // A body left unread would be drained to keep the connection: not one DLP found too large.
    if (closeConnection) res.shouldKeepAlive = false;
    refuseResponse(res, status, ctx.scrub(reason));
  };

  // Framing first: a request egress cannot delimit exactly is never judged further, and its connection is not kept.
  const framed = requestFraming(req.rawHeaders, req.httpVersion);
  if (!framed.ok) {
    refuse(400, `ambiguous request framing: ${framed.reason}`, true);
    return;
  }
  let { framing } = framed;
  if (verdict.decision === "deny" || !verdict.target) {
    refuse(403, verdict.reason);
    return;
  }
  const { route, target } = verdict;
  const forbidden = ctx.upstreams.refusal(target.authority);
  if (forbidden !== null) {
    refuse(403, `refused to connect: ${forbidden}`);
    return;
  }
  if (route.dlp && route.dlp.inbound_detectors.length > 0) {
    refuse(403, `route ${route.host} asks for inbound DLP, which this egress does not do yet`);
    return;
  }

  let headers = upstreamHeaders(req.rawHeaders, target, tunnel ? 443 : 80);
  if (route.auth) headers = withoutCredentials(headers);
  let pathAndQuery = target.path;
  let body: Buffer | null = null;
  let outcome: { decision: DecisionRecord["decision"]; reason: string } = { decision: "allow", reason: verdict.reason };

  if (route.dlp) {
    const coding = contentCoding(headers);
    if (typeof coding !== "string") {
      refuse(415, `request body has Content-Encoding ${coding.unsupported}, which DLP cannot read`, true);
      return;
    }
    const read = await readBounded(req, ctx.maxBodyBytes);
    if (!read.ok) {
      refuse(read.status, read.reason, true);
      return;
    }
    const decoded = decodeBody(read.body, coding, ctx.maxBodyBytes);
    if (!decoded.ok) {
      refuse(decoded.status, decoded.reason);
      return;
    }
    let outgoing = read.body;
    const hasBody = framing.kind !== "none";
    const scanned = { pathAndQuery, headers, body: hasBody ? decoded.body.toString("latin1") : null };
    const scope = holdScope(route, target.authority.host.value, target.authority.port);
    const dlp = judgeDlp(ctx.scanner, scanned, route.dlp, ctx.holds.approvedIn(scope));
    switch (dlp.action) {
      case "pass":
        break;
      case "block":
        refuse(403, dlp.reason);
        return;
      case "redact":
        pathAndQuery = dlp.request.pathAndQuery;
        headers = dlp.request.headers;
        outcome = { decision: "redact", reason: dlp.reason };
        if (dlp.request.body !== null) outgoing = encodeBody(Buffer.from(dlp.request.body, "latin1"), coding);
        break;
      case "hold": {
        record("hold", `${dlp.reason}; waiting for a supervise decision`);
        const held = await ctx.holds.hold({
          scope,
          host: target.authority.host.value,
          port: target.authority.port,
          method,
          path: ctx.scrub(pathOnly(pathAndQuery)),
          findings: dlp.findings,
          found: describeFindings(dlp.findings),
        });
        if (!held.released) {
          refuse(403, `${dlp.reason}; ${held.reason}`);
          return;
        }
        outcome = { decision: "allow", reason: `${dlp.reason}; released by ${held.by} (proposal ${held.id})` };
        break;
      }
    }
    if (hasBody) {
      body = outgoing;
      framing = { kind: "length", length: outgoing.length };
    }
    if (res.destroyed) return;
  }

  if (route.auth) {
    const injected = injectToken(headers, route.auth, ctx.env);
    if (!injected.ok) {
      record("deny", injected.reason);
      refuseResponse(res, 502, injected.reason);
      return;
    }
    headers = injected.headers;
  }
  forward(ctx, req, res, { ...target, path: pathAndQuery }, tunnel !== null, withFraming(headers, framing), body ?? framing, record, outcome);
}

type Recorder = (decision: DecisionRecord["decision"], reason: string, bytes?: { bytes_sent: number; bytes_received: number }) => void;

function forward(
  ctx: ProxyContext,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  target: HttpTarget,
  overTls: boolean,
  headers: string[],
  /** The body read whole (DLP), or how the agent's body streams through. */
  body: Buffer | Framing,
  record: Recorder,
  /** Recorded, with what the request carried, once it is over. */
  outcome: { decision: DecisionRecord["decision"]; reason: string },
): void {
  const upstream = ctx.upstreams.request(target.authority, overTls, req.method ?? "GET", target.path, headers);
  const bytes = { bytes_sent: Buffer.isBuffer(body) ? body.length : 0, bytes_received: 0 };
  let failed = false;
  upstream.on("response", (upstreamRes) => {
    upstreamRes.on("data", (chunk: Buffer) => (bytes.bytes_received += chunk.length));
    upstreamRes.on("error", () => res.destroy());
    res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, stripHopByHop(upstreamRes.rawHeaders));
    upstreamRes.pipe(res);
  });
  upstream.on("error", (error) => {
    const where = formatAuthority(target.authority.host, target.authority.port);
    const forbidden = errorCode(error) === FORBIDDEN_ADDRESS;
    const reason = forbidden ? `refused to connect: ${error.message}` : `upstream request to ${where} failed: ${errorCode(error)}`;
    failed = forbidden;
    if (forbidden) record("deny", reason);
    else ctx.say(reason);
    if (res.headersSent) res.destroy();
    else refuseResponse(res, forbidden ? 403 : 502, reason);
  });
  res.on("close", () => {
    if (!res.writableFinished) upstream.destroy();
    if (!failed) record(outcome.decision, outcome.reason, bytes);
  });
  if (!Buffer.isBuffer(body)) req.on("data", (chunk: Buffer) => (bytes.bytes_sent += chunk.length));
  if (Buffer.isBuffer(body)) upstream.end(body);
  else if (body.kind === "none") upstream.end();
  else {
    // A body the agent stopped sending part way must not leave a half
    // request on a connection the pool would hand to the next one.
    req.once("close", () => {
      if (!req.complete) upstream.destroy();
    });
    req.pipe(upstream);
  }
}
