import { type Host, parseHostName, parseIPv6 } from "./host.js";

// Strict parsing of what a client asks the proxy to reach: the authority of a
// CONNECT (`host:port`) and the absolute URI of a plain-HTTP request. Anything
// two parsers could read differently (userinfo, backslashes, fragments,
// control characters, odd ports, dot segments) is refused with a reason
// rather than normalised, so the host the policy judged is the host reached.

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface Authority {
  host: Host;
  port: number;
}

export interface AbsoluteTarget {
  authority: Authority;
  /** Path and query, as sent upstream (origin-form). */
  path: string;
}

const MAX_AUTHORITY_LENGTH = 300;
const MAX_TARGET_LENGTH = 16 * 1024;
// Controls, whitespace and DEL: never valid in a request target.
function hasControlOrSpace(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f) return true;
  }
  return false;
}
const PORT = /^[1-9][0-9]{0,4}$/;

function fail<T>(reason: string): Parsed<T> {
  return { ok: false, reason };
}

/** `host:port`, `[v6]:port`, or without `:port` when a default port is given. */
export function parseAuthority(text: string, defaultPort: number | null): Parsed<Authority> {
  if (text === "") return fail("empty target");
  if (text.length > MAX_AUTHORITY_LENGTH) return fail("target too long");
  if (hasControlOrSpace(text)) return fail("control characters or whitespace in target");
  if (text.includes("@")) return fail("userinfo in target");

  let hostText: string;
  let portText: string | null;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) return fail("unterminated IPv6 literal in target");
    hostText = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== "" && !rest.startsWith(":")) return fail("malformed target");
    portText = rest === "" ? null : rest.slice(1);
  } else {
    const colon = text.indexOf(":");
    if (colon !== text.lastIndexOf(":")) return fail("IPv6 literal without brackets in target");
    hostText = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? null : text.slice(colon + 1);
  }

  const host = text.startsWith("[") ? parseIPv6(hostText) : parseHostName(hostText);
  if (!host) return fail("malformed host in target");
  if (portText === null) {
    if (defaultPort === null) return fail("target has no port");
    return { ok: true, value: { host, port: defaultPort } };
  }
  const port = PORT.test(portText) ? Number(portText) : 0;
  if (port < 1 || port > 65535) return fail("invalid port in target");
  return { ok: true, value: { host, port } };
}

/** Characters RFC 3986 calls unreserved: escaping them changes nothing, so they are compared unescaped. */
const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * The path in the one spelling the policy compares and the upstream gets:
 * escapes of unreserved characters decoded (`/v%31` is `/v1`), every other
 * escape in upper case (`%2f` is `%2F`).
 */
export function normalisePath(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : escape.toUpperCase();
  });
}

/**
 * Reasons to refuse a normalised path (the part before `?`): dot segments,
 * including the `..;` that Java servers read as `..`, and backslashes, which
 * servers may read as slashes.
 */
export function checkPath(path: string): string | null {
  if (!path.startsWith("/")) return "path does not start with /";
  if (path.includes("\\")) return "backslash in path";
  for (const segment of path.split("/")) {
    if (/^\.\.?(?:;|$)/.test(segment)) return "dot segment in path";
  }
  return null;
}

/**
 * Escapes that decode to a separator or NUL, which some servers decode
 * before routing: they would let a path climb out of the prefix a route's
 * path match admits. Checked on routes with path matches only, because some
 * APIs (GitLab's project ids) need `%2F` elsewhere.
 */
const ENCODED_SEPARATOR = /%(?:2F|5C|00)/;

export function encodedSeparatorIn(normalisedPath: string): boolean {
  return ENCODED_SEPARATOR.test(normalisedPath);
}

/** The path without its query string (what the audit log and `matches` see). */
export function pathOnly(pathAndQuery: string): string {
  const q = pathAndQuery.indexOf("?");
  return q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
}

/** Checks an origin-form path-and-query (inside a tunnel, or after an absolute URI was split) and normalises its path. */
export function normalisePathAndQuery(pathAndQuery: string): Parsed<string> {
  if (pathAndQuery.length > MAX_TARGET_LENGTH) return fail("request target too long");
  if (hasControlOrSpace(pathAndQuery)) return fail("control characters or whitespace in request target");
  if (pathAndQuery.includes("#")) return fail("fragment in request target");
  const path = normalisePath(pathOnly(pathAndQuery));
  const problem = checkPath(path);
  if (problem) return fail(problem);
  return { ok: true, value: path + pathAndQuery.slice(pathOnly(pathAndQuery).length) };
}

const HTTP_SCHEME = /^http:\/\//i;
const HTTPS_SCHEME = /^https:\/\//i;

/** An absolute-form `http://authority/path?query` request target. */
export function parseAbsoluteHttpUrl(url: string): Parsed<AbsoluteTarget> {
  if (url.length > MAX_TARGET_LENGTH) return fail("request target too long");
  if (hasControlOrSpace(url)) return fail("control characters or whitespace in request target");
  if (HTTPS_SCHEME.test(url)) return fail("https:// targets must use CONNECT");
  if (!HTTP_SCHEME.test(url)) return fail("only http:// absolute URIs are proxied");

  const rest = url.slice("http://".length);
  const end = rest.search(/[/?#\\]/);
  const authorityText = end < 0 ? rest : rest.slice(0, end);
  const remainder = end < 0 ? "" : rest.slice(end);
  if (remainder.startsWith("\\")) return fail("backslash in request target");

  const authority = parseAuthority(authorityText, 80);
  if (!authority.ok) return authority;
  const path = normalisePathAndQuery(remainder === "" ? "/" : remainder.startsWith("?") ? `/${remainder}` : remainder);
  if (!path.ok) return path;
  return { ok: true, value: { authority: authority.value, path: path.value } };
}
