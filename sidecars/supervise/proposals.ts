import { z } from "zod";
import { Route, RouteMatch } from "../egress/routes.js";
import type { ProposalKind } from "./queue.js";

// What each kind of proposal carries, and how a payload is checked. The
// bundle's supervise server checks what the agent asks for; the host checks a
// payload the outer agent edited (`modify`) with the same rules, so an edit
// can never approve what the agent could not have asked for.

const TEXT_MAX = 2000;
const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/** An egress route the agent asks for: the routes file's vocabulary, with auth naming an already declared token. */
export const EgressAllowPayload = z.strictObject({
  host: Route.shape.host,
  /** null: ports 80 and 443. */
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

/** Checks an egress-allow payload against its schema and against the tokens the bottle declares. */
export function checkEgressAllow(data: unknown, tokens: readonly string[]): PayloadCheck<EgressAllowPayload> {
  const parsed = EgressAllowPayload.safeParse(data);
  if (!parsed.success) return { ok: false, problems: issuesOf(parsed.error) };
  const payload = parsed.data;
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

/** The one line a person decides on for a route. */
export function egressAllowSummary(payload: EgressAllowPayload): string {
  const target = payload.port === null ? payload.host : `${payload.host}:${payload.port}`;
  const scope = payload.matches === null ? "all requests" : `${payload.matches.length} match rule(s)`;
  const auth = payload.auth ? `, injecting ${payload.auth.token}` : "";
  return clip(`allow egress to ${target} (${scope}${auth}): ${payload.justification}`, TEXT_MAX);
}
