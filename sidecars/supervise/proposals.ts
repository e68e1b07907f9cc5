import { isIP } from "node:net";
import { parse as parseDomain } from "tldts";
import { z } from "zod";
import { forbiddenAddressReason } from "../egress/addresses.js";
import { Route, RouteMatch } from "../egress/routes.js";
import type { ProposalKind } from "./queue.js";
import { grantedAuth, type MergeResult, mergeRoute } from "./route-merge.js";

// What each kind of proposal carries, and how a payload is checked. The
// bundle's supervise server checks what the agent asks for; the host checks a
// payload the outer agent edited (`modify`) with the same rules, so an edit
// can never approve what the agent could not have asked for.

const TEXT_MAX = 2000;
const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/** An egress route the agent asks for: the routes file's vocabulary, with auth naming an already declared token. */
export const EgressAllowPayload = z.strictObject({
  host: Route.shape.host,
  /** null: 443 (https). */
  port: z.number().int().min(1).max(65535).nullable(),
  /** null: every request to the host. */
  matches: z.array(RouteMatch).min(1).nullable(),
  /** `token` is the name of a token the bottle already injects for another route (see list-egress-routes). */
  auth: z.strictObject({ scheme: z.enum(["Bearer", "token"]), token: z.string().min(1) }).nullable(),
  justification: z.string().min(1).max(TEXT_MAX),
});
export type EgressAllowPayload = z.infer<typeof EgressAllowPayload>;

/** A free-form question for a person or the outer agent. */
export const RequestApprovalPayload = z.strictObject({
  summary: z.string().min(1).max(500),
  justification: z.string().min(1).max(TEXT_MAX),
  details: z.string().max(20_000).nullable(),
});
export type RequestApprovalPayload = z.infer<typeof RequestApprovalPayload>;

export type PayloadCheck<T> = { ok: true; payload: T } | { ok: false; problems: string[] };

const issuesOf = (error: z.ZodError) => error.issues.map((issue) => `${issue.path.join(".") || "(payload)"}: ${issue.message}`);

/** The token names the bottle's routes inject: the only ones a proposed route may use. */
export function declaredTokens(routes: readonly Route[]): string[] {
  return [...new Set(routes.flatMap((route) => (route.auth ? [route.auth.token_env] : [])))].sort();
}

/**
 * Why a host may never be opened by an approval, or null. An IP literal in a
 * loopback, private, link-local or reserved range leads to the host's own
 * services, other bottles or a cloud metadata endpoint; a wildcard over a
 * public suffix (`*.com`, `*.github.io`) admits every domain anyone can
 * register there. The user can still declare either in the bottle's manifest.
 */
function dangerousHost(host: string): string | null {
  if (isIP(host) !== 0) {
    const reason = forbiddenAddressReason(host);
    return reason === null ? null : `${host} is ${reason}: an approval never opens one (declare it in the bottle's manifest if the bottle needs it)`;
  }
  if (!host.startsWith("*.")) return null;
  const suffix = host.slice(2);
  // Private suffixes too: *.github.io spans every GitHub Pages user.
  if (parseDomain(suffix, { allowPrivateDomains: true }).domain !== null) return null;
  return `${host} would admit every domain registered under ${suffix}, a public suffix; ask for a domain, or a wildcard below one (such as *.example.${suffix})`;
}

/** Checks an egress-allow payload against its schema, the hosts no approval may open, and the tokens the bottle declares. */
export function checkEgressAllow(data: unknown, tokens: readonly string[]): PayloadCheck<EgressAllowPayload> {
  const parsed = EgressAllowPayload.safeParse(data);
  if (!parsed.success) return { ok: false, problems: issuesOf(parsed.error) };
  const payload = parsed.data;
  const danger = dangerousHost(payload.host);
  if (danger !== null) return { ok: false, problems: [`host: ${danger}`] };
  if (payload.auth && !tokens.includes(payload.auth.token)) {
    const known = tokens.length > 0 ? `declared tokens: ${tokens.join(", ")}` : "this bottle declares no tokens";
    return { ok: false, problems: [`auth.token: ${payload.auth.token} is not a token this bottle declares (${known})`] };
  }
  const route = Route.safeParse(routeOf(payload));
  if (!route.success) return { ok: false, problems: issuesOf(route.error) };
  return { ok: true, payload };
}

/** Checks a request-approval payload. */
export function checkRequestApproval(data: unknown): PayloadCheck<RequestApprovalPayload> {
  const parsed = RequestApprovalPayload.safeParse(data);
  return parsed.success ? { ok: true, payload: parsed.data } : { ok: false, problems: issuesOf(parsed.error) };
}

/** Checks an edited payload of `kind` (the `modify` decision). */
export function checkEditedPayload(kind: ProposalKind, data: unknown, tokens: readonly string[]): PayloadCheck<Record<string, unknown>> {
  switch (kind) {
    case "egress-allow":
      return checkEgressAllow(data, tokens);
    case "request-approval":
      return checkRequestApproval(data);
    default:
      return { ok: false, problems: [`${kind} proposals cannot be modified, only approved or rejected`] };
  }
}

/** The routes-file entry an egress-allow payload stands for. */
export function routeOf(payload: EgressAllowPayload): Route {
  return {
    host: payload.host,
    port: payload.port,
    tls_passthrough: false,
    matches: payload.matches,
    auth: payload.auth ? { scheme: payload.auth.scheme, token_env: payload.auth.token } : null,
    dlp: null,
  };
}

/** Longest description of one route's matches in a summary: the agent writes them, and must not push the rest out. */
const MATCHES_MAX = 300;

function describeMatches(matches: RouteMatch[] | null): string {
  if (matches === null) return "every request";
  const one = (match: RouteMatch) =>
    [match.methods?.join(" "), match.paths?.map((p) => `${p.type} ${p.value}`).join(" or "), match.headers && Object.entries(match.headers).map(([k, v]) => `${k}: ${v}`).join(", ")]
      .filter((part) => part !== undefined && part !== "")
      .join(" ") || "any request";
  return clip(matches.map(one).join(" | "), MATCHES_MAX);
}

const targetOf = (route: { host: string; port: number | null }) => (route.port === null ? route.host : `${route.host}:${route.port}`);
const credentialOf = (route: Route) => (route.auth ? `injecting ${route.auth.token_env}` : "without a credential");

/** What an approval would make live, for the approver. */
function describeMerge(merge: MergeResult): string {
  const route = merge.route;
  switch (merge.effect) {
    case "added":
      return `adds ${targetOf(route)} ${credentialOf(route)} (${describeMatches(route.matches)})`;
    case "widened":
      return `widens ${targetOf(route)} ${credentialOf(route)} from (${describeMatches(merge.previous?.matches ?? null)}) to (${describeMatches(route.matches)})`;
    case "unchanged":
      return `changes nothing: ${targetOf(route)} ${credentialOf(route)} (${describeMatches(route.matches)}) already admits these requests`;
  }
}

/**
 * The one line a person decides on for a route, computed from the live
 * routes. When a credential could be involved (the host already injects one,
 * or the agent names one) it says what a plain approval and an approval with
 * extend_credential would each make live; the agent's justification comes
 * last, so that however long it is, clipping never cuts the warning.
 */
export function egressAllowSummary(payload: EgressAllowPayload, routes: readonly Route[]): string {
  const scope = payload.matches === null ? "all requests" : `${payload.matches.length} match rule(s)`;
  const asks = payload.auth ? `, asking to inject ${payload.auth.token}` : "";
  const head = `allow egress to ${targetOf(payload)} (${scope}${asks})`;
  const asked = routeOf(payload);
  const extended = grantedAuth(routes, asked, true);
  if (extended === null) return clip(`${head}: ${payload.justification}`, TEXT_MAX);
  const plain = describeMerge(mergeRoute(routes, { ...asked, auth: grantedAuth(routes, asked, false) }));
  const widened = describeMerge(mergeRoute(routes, { ...asked, auth: extended }));
  return clip(`${head}; credential ${extended.token_env}: approve ${plain}; approve with extend_credential ${widened}: ${payload.justification}`, TEXT_MAX);
}
