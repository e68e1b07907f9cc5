import { describe, expect, it } from "vitest";
import type { Route } from "../../../sidecars/egress/routes.js";
import { mergeRoute, unionMatches } from "../../../sidecars/supervise/route-merge.js";

const route = (host: string, fields: Partial<Route> = {}): Route => ({ host, port: null, tls_passthrough: false, matches: null, auth: null, dlp: null, ...fields });
const prefix = (value: string) => ({ paths: [{ type: "prefix" as const, value }] });

describe("merging an approved route into the live routes", () => {
  it("appends a host that is not declared yet, as proposed", () => {
    const live = [route("api.example.com")];
    const proposed = route("second.example.com", { matches: [prefix("/v1/")] });
    const merged = mergeRoute(live, proposed);
    expect(merged.effect).toBe("added");
    expect(merged.routes).toEqual([live[0], proposed]);
    expect(merged.route).toEqual(proposed);
  });

  it("unions the matches of a declared host and keeps its own auth, DLP and port", () => {
    const auth = { scheme: "Bearer" as const, token_env: "EGRESS_TOKEN_GH" };
    const dlp = { outbound_detectors: ["known_secrets" as const], inbound_detectors: [], outbound_on_match: "block" as const, known_secret_env: [] };
    const live = [route("api.github.com", { matches: [prefix("/repos/")], auth, dlp }), route("other.example.com")];
    const merged = mergeRoute(live, route("api.github.com", { matches: [prefix("/repos/"), prefix("/user")], auth: null }));
    expect(merged.effect).toBe("widened");
    expect(merged.routes[0]).toEqual(route("api.github.com", { matches: [prefix("/repos/"), prefix("/user")], auth, dlp }));
    expect(merged.routes[1]).toBe(live[1]);
  });

  it("is idempotent: merging the same approval again changes nothing", () => {
    const once = mergeRoute([route("api.example.com", { matches: [prefix("/a")] })], route("api.example.com", { matches: [prefix("/b")] }));
    const twice = mergeRoute(once.routes, route("api.example.com", { matches: [prefix("/b")] }));
    expect(twice.effect).toBe("unchanged");
    expect(twice.routes).toEqual(once.routes);
    expect(mergeRoute(once.routes, route("new.example.com")).routes).toHaveLength(2);
  });

  it("treats null matches (every request) as absorbing the others, and leaves a passthrough route alone", () => {
    expect(unionMatches(null, [prefix("/a")])).toBeNull();
    expect(unionMatches([prefix("/a")], null)).toBeNull();
    expect(unionMatches([prefix("/a")], [prefix("/a"), prefix("/b")])).toEqual([prefix("/a"), prefix("/b")]);
    const widened = mergeRoute([route("api.example.com", { matches: [prefix("/a")] })], route("api.example.com"));
    expect(widened.routes[0]!.matches).toBeNull();
    const passthrough = [route("pinned.example.com", { tls_passthrough: true })];
    expect(mergeRoute(passthrough, route("pinned.example.com", { matches: [prefix("/x")] })).effect).toBe("unchanged");
  });

  it("keeps a route on another port of the same host apart", () => {
    const merged = mergeRoute([route("git.example.com", { port: 8443 })], route("git.example.com"));
    expect(merged.effect).toBe("added");
    expect(merged.routes.map((r) => r.port)).toEqual([8443, null]);
  });
});
