import { type Detector, type Finding, type KnownSecret, redactRanges, type Scanner } from "./dlp-detectors.js";
import type { Route, RouteDlp } from "./routes.js";
import { pathOnly } from "./target.js";

// DLP over one outbound request, as egress is about to forward it (after the
// agent's own credentials were stripped and before the route's token is
// injected, so the token egress adds is never a finding). Pure: the daemon
// supplies the request and acts on the verdict.

export interface OutboundRequest {
  /** Origin-form path and query. */
  pathAndQuery: string;
  /** Raw header list: name, value, name, value, ... */
  headers: string[];
  /** The body as a binary string (latin1), content-decoded; null when there is none. */
  body: string | null;
}

export interface LocatedFinding extends Finding {
  /** `path`, `query`, `body`, `header <name>` or `header name`. */
  location: string;
}

export type DlpVerdict =
  | { action: "pass" }
  | { action: "block"; reason: string; findings: LocatedFinding[] }
  | { action: "redact"; reason: string; findings: LocatedFinding[]; request: OutboundRequest }
  | { action: "hold"; reason: string; findings: LocatedFinding[] };

function splitTarget(pathAndQuery: string): { path: string; query: string | null } {
  const path = pathOnly(pathAndQuery);
  return { path, query: path.length < pathAndQuery.length ? pathAndQuery.slice(path.length + 1) : null };
}

/** Every finding in the request, wherever it is, except values already approved. */
export function scanRequest(
  scanner: Scanner,
  request: OutboundRequest,
  detectors: readonly Detector[],
  approved: ReadonlySet<string>,
): LocatedFinding[] {
  const findings: LocatedFinding[] = [];
  const add = (text: string, location: string, redactable = true) => {
    for (const finding of scanner.scan(text, detectors)) {
      if (approved.has(finding.fingerprint)) continue;
      findings.push({ ...finding, location, range: redactable ? finding.range : null });
    }
  };
  const { path, query } = splitTarget(request.pathAndQuery);
  add(path, "path");
  if (query !== null) add(query, "query");
  for (let i = 0; i + 1 < request.headers.length; i += 2) {
    const name = request.headers[i]!;
    // A secret smuggled in a header NAME cannot be cut out of it.
    add(name, "header name", false);
    add(request.headers[i + 1]!, `header ${name.toLowerCase()}`);
  }
  if (request.body !== null) add(request.body, "body");
  return findings;
}

function describeFinding(finding: LocatedFinding): string {
  const what = finding.detector === "known_secrets" ? `known secret ${finding.label} (${finding.form})` : finding.label;
  return `${what} in ${finding.location}`;
}

/** One line naming what was found where; never a value. */
export function describeFindings(findings: readonly LocatedFinding[]): string {
  const lines = [...new Set(findings.map(describeFinding))];
  const shown = lines.slice(0, 5).join("; ");
  return lines.length > 5 ? `${shown}; and ${lines.length - 5} more` : shown;
}

/** The request with every redactable finding cut out of it. */
export function redactRequest(request: OutboundRequest, findings: readonly LocatedFinding[]): OutboundRequest {
  const at = (location: string) => findings.filter((f) => f.location === location);
  const { path, query } = splitTarget(request.pathAndQuery);
  const newPath = redactRanges(path, at("path"));
  const newQuery = query === null ? null : redactRanges(query, at("query"));
  const headers = [...request.headers];
  for (let i = 0; i + 1 < headers.length; i += 2) headers[i + 1] = redactRanges(headers[i + 1]!, at(`header ${headers[i]!.toLowerCase()}`));
  return {
    pathAndQuery: newQuery === null ? newPath : `${newPath}?${newQuery}`,
    headers,
    body: request.body === null ? null : redactRanges(request.body, at("body")),
  };
}

/** What a route's DLP settings make of the request. */
export function judgeDlp(scanner: Scanner, request: OutboundRequest, dlp: RouteDlp, approved: ReadonlySet<string>): DlpVerdict {
  const findings = scanRequest(scanner, request, dlp.outbound_detectors, approved);
  if (findings.length === 0) return { action: "pass" };
  const found = describeFindings(findings);
  switch (dlp.outbound_on_match) {
    case "block":
      return { action: "block", reason: `DLP: ${found}`, findings };
    case "supervise":
      return { action: "hold", reason: `DLP: ${found}`, findings };
    case "redact": {
      const redacted = redactRequest(request, findings);
      // Whatever redaction could not cut (a header name, a value that only
      // shows after decoding) is still there: refuse rather than leak it.
      const left = scanRequest(scanner, redacted, dlp.outbound_detectors, approved);
      if (left.length > 0) return { action: "block", reason: `DLP: ${describeFindings(left)}, which cannot be redacted`, findings: left };
      return { action: "redact", reason: `DLP redacted ${found}`, findings, request: redacted };
    }
  }
}

/** Text bound for a log or a proposal, with known secrets and token shapes cut out (or withheld if they cannot be cut). */
export function scrub(scanner: Scanner, text: string): string {
  const findings = scanner.scan(text, ["known_secrets", "token_patterns"]);
  if (findings.length === 0) return text;
  if (findings.some((f) => f.range === null)) return "[REDACTED: withheld, it carries an encoded secret]";
  return redactRanges(text, findings);
}

/**
 * The known secrets of a routes file: every route's token and every variable
 * a route lists in `known_secret_env`, with their values from `env`. DLP on any
 * route looks for all of them: a secret meant for one host is a leak anywhere else.
 */
export function knownSecrets(routes: readonly Route[], env: NodeJS.ProcessEnv): KnownSecret[] {
  const names = new Set<string>();
  for (const route of routes) {
    if (route.auth) names.add(route.auth.token_env);
    for (const name of route.dlp?.known_secret_env ?? []) names.add(name);
  }
  return [...names].flatMap((name) => {
    const value = env[name];
    return value ? [{ name, value }] : [];
  });
}
