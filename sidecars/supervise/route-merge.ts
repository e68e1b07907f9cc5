import { isDeepStrictEqual } from "node:util";
import type { Route, RouteMatch } from "../egress/routes.js";

// How an approved route joins the live routes. Egress sends a request through
// the first route of its host and port (in file order) whose matches admit
// it, with that route's auth and DLP. So an approval never changes how a
// request that some route already admits is sent: it only admits new ones,
// and sends them with the credential the approval grants (none, unless the
// approver extends one):
// - a host and port not declared yet: the route is appended as proposed;
// - a route of the host that already admits every proposed match: nothing changes;
// - a route of the host with the granted auth (none, or the extended token):
//   it gains the proposed matches;
// - otherwise a separate route, appended after the host's routes, with the
//   granted auth and the DLP settings of the route it splits from.
// Pure, and idempotent: merging the same route twice changes nothing the
// second time, so a restarted supervise server may merge every approval again.

export type MergeEffect = "added" | "widened" | "unchanged";

export interface MergeResult {
  routes: Route[];
  effect: MergeEffect;
  /** The route that now serves the proposed requests. */
  route: Route;
  /** When widened: the route as it stood before. */
  previous: Route | null;
}

const sameTarget = (a: Route, b: Route) => a.host === b.host && a.port === b.port;

/** Matches that admit what either side admits: null (every request) absorbs everything. */
export function unionMatches(a: RouteMatch[] | null, b: RouteMatch[] | null): RouteMatch[] | null {
  if (a === null || b === null) return null;
  const union = [...a];
  for (const match of b) if (!union.some((kept) => isDeepStrictEqual(kept, match))) union.push(match);
  return union;
}

/**
 * The credential an approval sends the requests it newly admits with: none,
 * unless the approver extends one; then the token the proposal names, or else
 * the one its host's route already injects.
 */
export function grantedAuth(routes: readonly Route[], proposed: Route, extendCredential: boolean): Route["auth"] {
  if (!extendCredential) return null;
  return proposed.auth ?? routes.find((route) => sameTarget(route, proposed) && route.auth !== null)?.auth ?? null;
}

/** Merges `proposed`, whose auth is the one the approval grants (see grantedAuth). */
export function mergeRoute(routes: readonly Route[], proposed: Route): MergeResult {
  const own = routes.filter((route) => sameTarget(route, proposed));
  if (own.length === 0) return { routes: [...routes, proposed], effect: "added", route: proposed, previous: null };
  // A passthrough route admits every request; another admits these when it holds each proposed match already.
  const covering = own.find((route) => route.tls_passthrough || isDeepStrictEqual(unionMatches(route.matches, proposed.matches), route.matches));
  if (covering) return { routes: [...routes], effect: "unchanged", route: covering, previous: null };
  const index = routes.findIndex((route) => sameTarget(route, proposed) && !route.tls_passthrough && isDeepStrictEqual(route.auth, proposed.auth));
  if (index === -1) {
    const splitFrom = own.find((route) => route.auth !== null) ?? own[0]!;
    const separate: Route = { ...proposed, dlp: proposed.dlp ?? splitFrom.dlp };
    return { routes: [...routes, separate], effect: "added", route: separate, previous: null };
  }
  const existing = routes[index]!;
  const widened: Route = { ...existing, matches: unionMatches(existing.matches, proposed.matches) };
  return { routes: routes.map((route, i) => (i === index ? widened : route)), effect: "widened", route: widened, previous: existing };
}
