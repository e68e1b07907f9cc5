import { describe, expect, it } from "vitest";
import type { Route } from "../../../sidecars/egress/routes.js";
import { grantedAuth, mergeRoute, unionMatches } from "../../../sidecars/supervise/route-merge.js";

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

  const auth = { scheme: "Bearer" as const, token_env: "EGRESS_TOKEN_GH" };
  const dlp = { outbound_detectors: ["known_secrets" as const], inbound_detectors: [], outbound_on_match: "block" as const, known_secret_env: [] };
  const github = route("api.github.com", { matches: [prefix("/repos/x")], auth, dlp });

  it("a plain approval cannot widen a credentialed route: the new paths become a separate route after it, without the credential, keeping its DLP", () => {
    const live = [github, route("other.example.com")];
    const proposed = route("api.github.com", { matches: null });
    const merged = mergeRoute(live, { ...proposed, auth: grantedAuth(live, proposed, false) });
    expect(merged.effect).toBe("added");
    expect(merged.routes).toEqual([github, live[1], route("api.github.com", { matches: null, auth: null, dlp })]);
    expect(merged.route.auth).toBeNull();
  });

  it("an approval that extends the credential widens the credentialed route itself", () => {
    const live = [github, route("other.example.com")];
    const proposed = route("api.github.com", { matches: [prefix("/user")] });
    expect(grantedAuth(live, proposed, true)).toEqual(auth);
    const merged = mergeRoute(live, { ...proposed, auth: grantedAuth(live, proposed, true) });
    expect(merged.effect).toBe("widened");
    expect(merged.routes[0]).toEqual(route("api.github.com", { matches: [prefix("/repos/x"), prefix("/user")], auth, dlp }));
    expect(merged.previous).toBe(github);
    expect(merged.routes[1]).toBe(live[1]);
  });

  it("a route the agent asks to carry a token gets it only when the approver extends the credential", () => {
    const proposed = route("uploads.github.com", { auth });
    expect(grantedAuth([github], proposed, false)).toBeNull();
    expect(mergeRoute([github], { ...proposed, auth: grantedAuth([github], proposed, false) }).route.auth).toBeNull();
    expect(mergeRoute([github], { ...proposed, auth: grantedAuth([github], proposed, true) }).route.auth).toEqual(auth);
  });

  it("widens an uncredentialed route of the host rather than adding another, and grants nothing where no route injects a token", () => {
    const live = [github, route("api.github.com", { matches: [prefix("/meta")] })];
    const proposed = route("api.github.com", { matches: [prefix("/user")] });
    const merged = mergeRoute(live, { ...proposed, auth: grantedAuth(live, proposed, false) });
    expect(merged.effect).toBe("widened");
    expect(merged.routes).toEqual([github, route("api.github.com", { matches: [prefix("/meta"), prefix("/user")] })]);
    expect(grantedAuth([route("plain.example.com")], route("plain.example.com"), true)).toBeNull();
  });

  it("changes nothing for requests a route already admits, and says which route serves them", () => {
    const merged = mergeRoute([github], route("api.github.com", { matches: [prefix("/repos/x")] }));
    expect(merged).toMatchObject({ effect: "unchanged", route: github });
  });

  it.each([false, true])("is idempotent for a credentialed host (extend_credential %s)", (extend) => {
    const proposed = route("api.github.com", { matches: [prefix("/user")] });
    const once = mergeRoute([github], { ...proposed, auth: grantedAuth([github], proposed, extend) });
    const twice = mergeRoute(once.routes, { ...proposed, auth: grantedAuth(once.routes, proposed, extend) });
    expect(twice.effect).toBe("unchanged");
    expect(twice.routes).toEqual(once.routes);
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
