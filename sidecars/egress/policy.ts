import { formatAuthority, type Host, parseRouteHost } from "./host.js";
import { matchesRequest } from "./matches.js";
import type { Route } from "./routes.js";
import { type Authority, encodedSeparatorIn, normalisePathAndQuery, parseAbsoluteHttpUrl, parseAuthority, pathOnly } from "./target.js";

// The egress policy core: pure decisions, no I/O. The daemon asks it about
// every CONNECT and every plain-HTTP request, and about every request it sees
// inside an intercepted tunnel.
//
// Routes form an allowlist: a request is allowed when some route admits it.
// Only the most specific routes for the target's host and port count (an
// exact host beats any wildcard, a longer wildcard suffix a shorter one): a
// broader route never admits what a more specific one leaves out, nor
// carries a request the specific one would inspect past its inspection.
// Among equally specific routes, file order decides, so the route chosen, and
// with it the credential and DLP settings applied, is the first of them that
// admits the request. A route without a port is for https (443) only; plain
// http, on 80 or any other port, must be declared with its port.

export interface Allow {
  decision: "allow";
  route: Route;
  reason: string;
}

export interface Deny {
  decision: "deny";
  reason: string;
  route?: Route;
}

/**
 * How an allowed CONNECT is carried: `tunnel` copies bytes untouched;
 * `intercept` means some candidate route needs to see the requests inside
 * (matches, auth or dlp), so the TLS must be terminated to enforce it.
 */
export type ConnectAction = "tunnel" | "intercept";

export type ConnectDecision = ((Allow & { action: ConnectAction }) | Deny) & {
  /** The parsed CONNECT target, when it could be parsed. */
  target?: Authority;
};

export interface HttpTarget {
  authority: Authority;
  /** Path and query as sent upstream. */
  path: string;
}

export type HttpDecision = (Allow | Deny) & { target?: HttpTarget };

interface HttpRequestHead {
  method: string;
  /** Raw header list as Node gives it: name, value, name, value, ... */
  rawHeaders: readonly string[];
}

/**
 * A plain-HTTP request in absolute form (`GET http://host/path`), or a request
 * seen inside a TLS tunnel whose authority came from the CONNECT.
 */
export type HttpRequest = HttpRequestHead & ({ absoluteUrl: string } | { authority: Authority; path: string });

const DEFAULT_PORT = 443;
const EXACT = Number.MAX_SAFE_INTEGER;

/** How specifically a route's host covers `host`: higher is more specific; null when it does not. */
function coverage(route: Route, host: Host): number | null {
  const declared = parseRouteHost(route.host);
  if (!declared) return null;
  if (!declared.wildcard) return declared.host.value === host.value ? EXACT : null;
  if (host.kind !== "name") return null;
  const suffix = `.${declared.host.value}`;
  return host.value.endsWith(suffix) ? suffix.length : null;
}

function portAllowed(route: Route, port: number): boolean {
  return (route.port ?? DEFAULT_PORT) === port;
}

function describe(authority: Authority): string {
  return formatAuthority(authority.host, authority.port);
}

function describeRoute(route: Route): string {
  return route.port === null ? route.host : `${route.host}:${route.port}`;
}

/** The most specific routes declaring the target's host and port, in file order; or why there are none. */
function candidates(routes: readonly Route[], target: Authority): Route[] | Deny {
  const covering = routes
    .map((route) => ({ route, rank: coverage(route, target.host) }))
    .filter((c): c is { route: Route; rank: number } => c.rank !== null);
  if (covering.length === 0) {
    const what = target.host.kind === "name" ? "host" : "IP literal";
    return { decision: "deny", reason: `${what} ${target.host.value} is not declared` };
  }
  const onPort = covering.filter((c) => portAllowed(c.route, target.port));
  if (onPort.length === 0) {
    return { decision: "deny", reason: `port ${target.port} is not declared for ${target.host.value}` };
  }
  const best = Math.max(...onPort.map((c) => c.rank));
  return onPort.filter((c) => c.rank === best).map((c) => c.route);
}

const hasPathMatches = (route: Route) => route.matches?.some((match) => match.paths !== undefined) ?? false;

function needsInspection(route: Route): boolean {
  return route.matches !== null || route.auth !== null || route.dlp !== null;
}

/** Decides a CONNECT given its raw authority-form target (`host:port`). */
export function decideConnect(routes: readonly Route[], connectTarget: string): ConnectDecision {
  const parsed = parseAuthority(connectTarget, null);
  if (!parsed.ok) return { decision: "deny", reason: parsed.reason };
  const target = parsed.value;
  const found = candidates(routes, target);
  if (!Array.isArray(found)) return { ...found, target };

  // Among equally specific routes, one that must see requests wins over a
  // passthrough: leaving the TLS alone would skip its checks.
  const inspected = found.find(needsInspection);
  const route = inspected ?? found[0]!;
  const action: ConnectAction = inspected ? "intercept" : "tunnel";
  return { decision: "allow", route, action, reason: `allowed by route ${describeRoute(route)}`, target };
}

const CONTROL_IN_HEADER = /[\r\n\0]/;

/** Why the request's Host headers disagree with its target, if they do. */
function hostHeaderProblem(rawHeaders: readonly string[], target: Authority, defaultPort: number): string | null {
  const hosts: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() === "host") hosts.push(rawHeaders[i + 1] ?? "");
  }
  if (hosts.length === 0) return null;
  if (hosts.length > 1) return "multiple Host headers";
  const header = parseAuthority(hosts[0]!, defaultPort);
  if (!header.ok) return `malformed Host header (${header.reason})`;
  if (header.value.host.value !== target.host.value || header.value.port !== target.port) {
    return `Host header ${describe(header.value)} does not match target ${describe(target)}`;
  }
  return null;
}

// DNS-over-HTTPS (RFC 8484 and the JSON flavour) would let the agent resolve
// and tunnel through any DoH server a declared host happens to front. A user
// who really wants a resolver declares it as a tls_passthrough route.
const DOH_MEDIA_TYPE = /application\/dns-(?:message|json)/i;

function looksLikeDnsOverHttps(path: string, rawHeaders: readonly string[]): boolean {
  if (/\/dns-query$/i.test(path)) return true;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if ((name === "content-type" || name === "accept") && DOH_MEDIA_TYPE.test(rawHeaders[i + 1]!)) return true;
  }
  return false;
}

/** Decides a plain-HTTP request, or a request seen inside an intercepted tunnel. */
export function decideHttp(routes: readonly Route[], request: HttpRequest): HttpDecision {
  const deny = (reason: string, target?: HttpTarget): HttpDecision => ({ decision: "deny", reason, target });

  let target: HttpTarget;
  const overTls = "authority" in request;
  if (overTls) {
    const path = normalisePathAndQuery(request.path);
    if (!path.ok) return deny(path.reason);
    target = { authority: request.authority, path: path.value };
  } else {
    const parsed = parseAbsoluteHttpUrl(request.absoluteUrl);
    if (!parsed.ok) return deny(parsed.reason);
    target = parsed.value;
  }

  if (!/^[A-Z]+$/.test(request.method) || request.method === "CONNECT") {
    return deny(`method ${request.method.slice(0, 20)} is not proxied here`, target);
  }
  for (let i = 0; i < request.rawHeaders.length; i++) {
    if (CONTROL_IN_HEADER.test(request.rawHeaders[i] ?? "")) return deny("control characters in a header", target);
  }
  const hostProblem = hostHeaderProblem(request.rawHeaders, target.authority, overTls ? 443 : 80);
  if (hostProblem) return deny(hostProblem, target);

  const found = candidates(routes, target.authority);
  if (!Array.isArray(found)) return { ...found, target };
  const path = pathOnly(target.path);
  const separator = encodedSeparatorIn(path);
  const route = found.find(
    (r) => !(separator && hasPathMatches(r)) && matchesRequest(r.matches, { method: request.method, path, rawHeaders: request.rawHeaders }),
  );
  if (!route) {
    if (separator && found.some(hasPathMatches)) return deny(`path ${path} holds an escaped / \\ or NUL, which routes with path matches refuse`, target);
    return deny(`no route for ${target.authority.host.value} admits ${request.method} ${path}`, target);
  }
  if (looksLikeDnsOverHttps(path, request.rawHeaders)) return { decision: "deny", route, reason: "DNS-over-HTTPS requests are not proxied", target };
  if (!overTls && route.auth !== null) {
    return {
      decision: "deny",
      route,
      reason: `route ${describeRoute(route)} injects credentials, which are never sent over plain HTTP`,
      target,
    };
  }
  return { decision: "allow", route, reason: `allowed by route ${describeRoute(route)}`, target };
}
