import { z } from "zod";
import type { Route } from "../egress/routes.js";

// Routes as the bottled agent sees them in tool schemas and results: the
// token a route injects by name only, DLP as a flag, and matches in a plain
// JSON shape (the strict checks run on what the agent sends, not in its
// client's schema validator).

export const MatchView = z.object({
  paths: z.array(z.object({ type: z.enum(["prefix", "exact", "regex"]), value: z.string() })).optional(),
  methods: z.array(z.string()).optional(),
  headers: z.record(z.string(), z.string()).optional(),
});

export const RouteView = z.object({
  host: z.string(),
  /** null: 443 (https). */
  port: z.number().nullable(),
  tls_passthrough: z.boolean(),
  /** null: every request to the host. */
  matches: z.array(MatchView).nullable(),
  auth: z.object({ scheme: z.string(), token: z.string() }).nullable(),
  dlp: z.boolean(),
});
export type RouteView = z.infer<typeof RouteView>;

export const viewOf = (route: Route): RouteView => ({
  host: route.host,
  port: route.port,
  tls_passthrough: route.tls_passthrough,
  matches: route.matches,
  auth: route.auth ? { scheme: route.auth.scheme, token: route.auth.token_env } : null,
  dlp: route.dlp !== null,
});
