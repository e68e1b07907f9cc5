import { isDeepStrictEqual } from "node:util";
import type { Route, RouteMatch } from "../egress/routes.js";

// How an approved route joins the live routes: a host not yet declared is
// appended as proposed; a host already declared (same host, same port) keeps
// its own auth, DLP and passthrough settings and gains the proposed matches.
// Pure, and idempotent: merging the same route twice changes nothing the
// second time, so a restarted supervise server may merge every approval again.

export type MergeEffect = "added" | "widened" | "unchanged";

export interface MergeResult {
  routes: Route[];
  effect: MergeEffect;
  /** The route as it now stands in the live routes. */
  route: Route;
}

/** Matches that admit what either side admits: null (every request) absorbs everything. */
export function unionMatches(a: RouteMatch[] | null, b: RouteMatch[] | null): RouteMatch[] | null {
  if (a === null || b === null) return null;
  const union = [...a];
  for (const match of b) if (!union.some((kept) => isDeepStrictEqual(kept, match))) union.push(match);
  return union;
}

export function mergeRoute(routes: readonly Route[], proposed: Route): MergeResult {
  const index = routes.findIndex((route) => route.host === proposed.host && route.port === proposed.port);
  if (index === -1) return { routes: [...routes, proposed], effect: "added", route: proposed };
  const existing = routes[index]!;
  // A passthrough route already admits every request and can carry no matches.
  const matches = existing.tls_passthrough ? existing.matches : unionMatches(existing.matches, proposed.matches);
  if (isDeepStrictEqual(matches, existing.matches)) return { routes: [...routes], effect: "unchanged", route: existing };
  const widened: Route = { ...existing, matches };
  return { routes: routes.map((route, i) => (i === index ? widened : route)), effect: "widened", route: widened };
}
