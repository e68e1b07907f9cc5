import { isIPv4, isIPv6 } from "node:net";

// Host grammar shared by the routes file and request targets. Everything is
// reduced to one canonical spelling (lowercase name, dotted quad, compressed
// IPv6 without brackets) so that policy comparisons are plain string equality:
// a host the policy cannot put in canonical form is refused, never guessed at.

export type HostKind = "name" | "ipv4" | "ipv6";

export interface Host {
  kind: HostKind;
  /** Canonical spelling: lowercase name, dotted quad, or compressed IPv6 without brackets. */
  value: string;
}

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const MAX_NAME_LENGTH = 253;

// WHATWG URL parsers (and inet_aton) read a name whose last label is numeric or
// hex as an IPv4 address ("127.1", "0x7f.1", "2130706433"); such a spelling
// would mean one thing to the policy and another to a resolver, so only the
// canonical dotted quad is accepted for it.
const NUMERIC_LAST_LABEL = /(?:^|\.)(?:0x[0-9a-f]*|[0-9]+)$/;

/** A host name or IPv4 literal (no brackets, no port), in any letter case. */
export function parseHostName(text: string): Host | null {
  const lower = text.toLowerCase();
  if (isIPv4(lower)) return { kind: "ipv4", value: lower };
  if (lower.length > MAX_NAME_LENGTH || !NAME.test(lower) || NUMERIC_LAST_LABEL.test(lower)) return null;
  return { kind: "name", value: lower };
}

/** An IPv6 literal without brackets; zone ids are refused. */
export function parseIPv6(text: string): Host | null {
  if (!isIPv6(text) || text.includes("%")) return null;
  try {
    return { kind: "ipv6", value: new URL(`http://[${text}]/`).hostname.slice(1, -1) };
  } catch {
    return null;
  }
}

/** How a route declares its host: a name, `*.suffix`, or an IP literal (IPv6 without brackets). */
export interface RouteHost {
  /** Canonical spelling of the host, or of the suffix for a wildcard (without `*.`). */
  host: Host;
  wildcard: boolean;
}

export function parseRouteHost(text: string): RouteHost | null {
  if (text.startsWith("*.")) {
    const suffix = parseHostName(text.slice(2));
    return suffix?.kind === "name" ? { host: suffix, wildcard: true } : null;
  }
  const host = text.includes(":") ? parseIPv6(text) : parseHostName(text);
  return host ? { host, wildcard: false } : null;
}

/** The canonical text of a route host, as the routes file must spell it. */
export function formatRouteHost(route: RouteHost): string {
  return route.wildcard ? `*.${route.host.value}` : route.host.value;
}

/** `host` or `[v6]`, with `:port` unless it is the given default port of the scheme. */
export function formatAuthority(host: Host, port: number, defaultPort?: number): string {
  const name = host.kind === "ipv6" ? `[${host.value}]` : host.value;
  return port === defaultPort ? name : `${name}:${port}`;
}
