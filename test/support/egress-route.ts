import type { Route } from "../../sidecars/egress/routes.js";

/** A routes-file entry with every feature off but what `extra` turns on. */
export function route(host: string, port: number | null, extra: Partial<Route> = {}): Route {
  return { host, port, tls_passthrough: false, matches: null, auth: null, dlp: null, ...extra };
}
