import { describe, expect, it } from "vitest";
import { stripHopByHop } from "../../../sidecars/egress/hop-by-hop.js";
import { decideConnect, decideHttp, type HttpRequest } from "../../../sidecars/egress/policy.js";
import { parseRoutesFile, type Route } from "../../../sidecars/egress/routes.js";
import { parseAuthority } from "../../../sidecars/egress/target.js";

function route(host: string, extra: Partial<Route> = {}): Route {
  return { host, port: null, tls_passthrough: false, matches: null, auth: null, dlp: null, ...extra };
}

function get(url: string, headers: string[] = [], method = "GET"): HttpRequest {
  return { method, absoluteUrl: url, rawHeaders: headers };
}

describe("decideConnect", () => {
  const routes = [route("api.example.com"), route("*.cdn.example.net"), route("git.example.org", { port: 8443 })];

  it("allows a route without a port on 443 only (80 must be named), and a route with a port on that port only", () => {
    expect(decideConnect(routes, "api.example.com:443")).toMatchObject({ decision: "allow", action: "tunnel", route: routes[0] });
    expect(decideConnect(routes, "api.example.com:80")).toMatchObject({ decision: "deny", reason: "port 80 is not declared for api.example.com" });
    expect(decideConnect([...routes, route("api.example.com", { port: 80 })], "api.example.com:80").decision).toBe("allow");
    expect(decideConnect(routes, "api.example.com:8443")).toMatchObject({
      decision: "deny",
      reason: "port 8443 is not declared for api.example.com",
    });
    expect(decideConnect(routes, "git.example.org:8443").decision).toBe("allow");
    expect(decideConnect(routes, "git.example.org:443").decision).toBe("deny");
  });

  it("refuses an undeclared host and compares names case-insensitively", () => {
    expect(decideConnect(routes, "evil.example.com:443")).toEqual({
      decision: "deny",
      reason: "host evil.example.com is not declared",
      target: { host: { kind: "name", value: "evil.example.com" }, port: 443 },
    });
    expect(decideConnect(routes, "API.Example.COM:443").decision).toBe("allow");
  });

  it("lets a wildcard admit subdomains at any depth but not the bare suffix or look-alikes", () => {
    for (const host of ["a.cdn.example.net", "a.b.cdn.example.net"]) {
      expect(decideConnect(routes, `${host}:443`).decision).toBe("allow");
    }
    for (const host of ["cdn.example.net", "evilcdn.example.net", "a.cdn.example.net.evil.com"]) {
      expect(decideConnect(routes, `${host}:443`).decision).toBe("deny");
    }
  });

  it("refuses IP literals unless one is declared as such", () => {
    expect(decideConnect(routes, "93.184.216.34:443")).toMatchObject({ decision: "deny", reason: "IP literal 93.184.216.34 is not declared" });
    const withIps = [route("10.0.0.7"), route("::1", { port: 8080 })];
    expect(decideConnect(withIps, "10.0.0.7:443").decision).toBe("allow");
    expect(decideConnect(withIps, "[::1]:8080").decision).toBe("allow");
    expect(decideConnect(withIps, "[0:0:0:0:0:0:0:1]:8080").decision).toBe("allow");
    expect(decideConnect(withIps, "[::ffff:10.0.0.7]:443").decision).toBe("deny");
    expect(decideConnect([route("*.example.com")], "10.0.0.7:443").decision).toBe("deny");
  });

  it.each([
    ["", "empty target"],
    ["api.example.com", "target has no port"],
    ["api.example.com:0", "invalid port in target"],
    ["api.example.com:65536", "invalid port in target"],
    ["api.example.com:0443", "invalid port in target"],
    ["api.example.com:99999999999", "invalid port in target"],
    ["api.example.com:https", "invalid port in target"],
    ["api.example.com:443\r\nX-Injected: 1", "control characters or whitespace in target"],
    ["api.example.com :443", "control characters or whitespace in target"],
    ["user:pass@api.example.com:443", "userinfo in target"],
    ["::1:443", "IPv6 literal without brackets in target"],
    ["[::1:443", "unterminated IPv6 literal in target"],
    ["[fe80::1%25eth0]:443", "malformed host in target"],
    ["api.example.com.:443", "malformed host in target"],
    ["*.example.com:443", "malformed host in target"],
    ["api_example.com:443", "malformed host in target"],
    ["127.1:443", "malformed host in target"],
    ["2130706433:443", "malformed host in target"],
    ["0x7f.0.0.1:443", "malformed host in target"],
    ["api.example.com/x:443", "malformed host in target"],
    [`${"a".repeat(400)}:443`, "target too long"],
  ])("refuses the malformed target %j", (target, reason) => {
    expect(decideConnect([route("api.example.com"), route("::1")], target)).toEqual({ decision: "deny", reason });
  });

  it("asks for interception when a candidate route needs to see requests, and never for passthrough", () => {
    expect(decideConnect([route("a.example.com", { matches: [{ methods: ["GET"] }] })], "a.example.com:443")).toMatchObject({
      decision: "allow",
      action: "intercept",
    });
    expect(decideConnect([route("a.example.com", { auth: { scheme: "Bearer", token_env: "A_TOKEN" } })], "a.example.com:443")).toMatchObject({
      action: "intercept",
    });
    const passthrough = route("a.example.com", { tls_passthrough: true });
    expect(decideConnect([route("*.example.com", { matches: [{ methods: ["GET"] }] }), passthrough], "a.example.com:443")).toMatchObject({
      action: "tunnel",
      route: passthrough,
    });
    // A plain wildcard does not dissolve a more specific route's inspection.
    expect(decideConnect([route("*.example.com"), route("a.example.com", { matches: [{ methods: ["GET"] }] })], "a.example.com:443")).toMatchObject({
      action: "intercept",
    });
  });

  it("lets the most specific route win over a wildcard passthrough: an inspected route is never tunnelled past", () => {
    const inspected = route("api.example.com", {
      dlp: { outbound_detectors: ["known_secrets"], inbound_detectors: [], outbound_on_match: "block", known_secret_env: [] },
    });
    const passthrough = route("*.example.com", { tls_passthrough: true });
    for (const routes of [[passthrough, inspected], [inspected, passthrough]]) {
      expect(decideConnect(routes, "api.example.com:443")).toMatchObject({ decision: "allow", action: "intercept", route: inspected });
      expect(decideConnect(routes, "www.example.com:443")).toMatchObject({ decision: "allow", action: "tunnel", route: passthrough });
    }
    // Equally specific: inspection wins over passthrough, in either order.
    const samePassthrough = route("api.example.com", { tls_passthrough: true });
    expect(decideConnect([samePassthrough, inspected], "api.example.com:443")).toMatchObject({ action: "intercept", route: inspected });
  });

  it("picks the most specific route: exact host, then the longest wildcard suffix, then file order", () => {
    const wide = route("*.example.com");
    const narrow = route("*.api.example.com");
    const exact = route("v1.api.example.com");
    expect(decideConnect([wide, narrow, exact], "v1.api.example.com:443")).toMatchObject({ route: exact });
    expect(decideConnect([wide, narrow, exact], "v2.api.example.com:443")).toMatchObject({ route: narrow });
    expect(decideConnect([wide, narrow, exact], "www.example.com:443")).toMatchObject({ route: wide });
  });
});

describe("decideHttp", () => {
  const routes = [route("api.example.com", { port: 80 }), route("127.0.0.1", { port: 8080 })];

  it("allows an absolute-form request to a declared host and hands back the upstream target", () => {
    expect(decideHttp(routes, get("http://api.example.com/v1/items?page=2", ["Host", "api.example.com"]))).toMatchObject({
      decision: "allow",
      route: routes[0],
      target: { authority: { host: { kind: "name", value: "api.example.com" }, port: 80 }, path: "/v1/items?page=2" },
    });
    expect(decideHttp(routes, get("http://API.example.com"))).toMatchObject({ decision: "allow", target: { path: "/" } });
    expect(decideHttp(routes, get("HTTP://api.example.com?q=1"))).toMatchObject({ decision: "allow", target: { path: "/?q=1" } });
    expect(decideHttp(routes, get("http://127.0.0.1:8080/x", ["host", "127.0.0.1:8080"])).decision).toBe("allow");
  });

  it("refuses undeclared hosts and ports", () => {
    expect(decideHttp(routes, get("http://evil.example.com/")).reason).toBe("host evil.example.com is not declared");
    expect(decideHttp(routes, get("http://api.example.com:8080/")).reason).toBe("port 8080 is not declared for api.example.com");
    expect(decideHttp([route("api.example.com")], get("http://api.example.com/")).reason).toBe("port 80 is not declared for api.example.com");
  });

  it("refuses a Host header that disagrees with the target, or more than one", () => {
    expect(decideHttp(routes, get("http://api.example.com/", ["Host", "evil.example.com"]))).toMatchObject({
      decision: "deny",
      reason: "Host header evil.example.com:80 does not match target api.example.com:80",
    });
    expect(decideHttp(routes, get("http://api.example.com/", ["Host", "api.example.com:8080"])).decision).toBe("deny");
    expect(decideHttp(routes, get("http://api.example.com/", ["Host", "api.example.com:80"])).decision).toBe("allow");
    expect(decideHttp(routes, get("http://api.example.com/", ["Host", "API.EXAMPLE.COM"])).decision).toBe("allow");
    expect(decideHttp(routes, get("http://api.example.com/", ["Host", "api.example.com", "host", "evil.example.com"])).reason).toBe(
      "multiple Host headers",
    );
    expect(decideHttp(routes, get("http://api.example.com/", ["Host", "a@api.example.com"])).reason).toBe(
      "malformed Host header (userinfo in target)",
    );
  });

  it.each([
    ["https://api.example.com/", "https:// targets must use CONNECT"],
    ["ftp://api.example.com/", "only http:// absolute URIs are proxied"],
    ["http://user@api.example.com/", "userinfo in target"],
    ["http://evil.example.com\\@api.example.com/", "backslash in request target"],
    ["http://api.example.com/a\\b", "backslash in path"],
    ["http://api.example.com/#frag", "fragment in request target"],
    ["http://api.example.com/a/../admin", "dot segment in path"],
    ["http://api.example.com/a/%2E%2e/admin", "dot segment in path"],
    ["http://api.example.com/a/./b", "dot segment in path"],
    ["http://api.example.com/a/..;/admin", "dot segment in path"],
    ["http://api.example.com/a/.;x/b", "dot segment in path"],
    ["http://api.example.com/a/%2e%2E;/admin", "dot segment in path"],
    ["http://api.example.com/a\r\nHost: evil", "control characters or whitespace in request target"],
    ["http://api.example.com:99999/", "invalid port in target"],
    ["http:///path", "empty target"],
  ])("refuses the malformed request target %j", (url, reason) => {
    expect(decideHttp(routes, get(url))).toMatchObject({ decision: "deny", reason });
  });

  it("refuses control characters in headers and non-proxy methods", () => {
    expect(decideHttp(routes, get("http://api.example.com/", ["X-A", "1\r\nX-B: 2"])).reason).toBe("control characters in a header");
    expect(decideHttp(routes, get("http://api.example.com/", [], "CONNECT")).decision).toBe("deny");
  });

  it("never injects credentials into plain HTTP, but would inside a TLS tunnel", () => {
    const withAuth = [
      route("api.example.com", { auth: { scheme: "Bearer", token_env: "API_TOKEN" } }),
      route("api.example.com", { port: 80, auth: { scheme: "Bearer", token_env: "API_TOKEN" } }),
    ];
    expect(decideHttp(withAuth, get("http://api.example.com/"))).toMatchObject({
      decision: "deny",
      reason: "route api.example.com:80 injects credentials, which are never sent over plain HTTP",
    });
    const authority = { host: { kind: "name" as const, value: "api.example.com" }, port: 443 };
    expect(decideHttp(withAuth, { method: "GET", rawHeaders: ["Host", "api.example.com"], authority, path: "/v1" })).toMatchObject({
      decision: "allow",
      route: withAuth[0],
    });
    expect(decideHttp(withAuth, { method: "GET", rawHeaders: ["Host", "evil.example.com"], authority, path: "/v1" }).decision).toBe("deny");
  });

  it("refuses DNS-over-HTTPS requests to a declared host, by media type or the RFC 8484 path", () => {
    const authority = { host: { kind: "name" as const, value: "api.example.com" }, port: 443 };
    const inTunnel = (path: string, headers: string[], method = "GET") =>
      decideHttp([...routes, route("api.example.com")], { method, rawHeaders: ["Host", "api.example.com", ...headers], authority, path });
    for (const attempt of [
      inTunnel("/dns-query?dns=AAABAAABAAAAAAAAB2V4YW1wbGUDY29tAAABAAE", ["Accept", "application/dns-message"]),
      inTunnel("/v1/q", ["Content-Type", "application/dns-message"], "POST"),
      inTunnel("/resolve?name=example.com", ["accept", "application/dns-json"]),
      inTunnel("/dns-query", []),
    ]) {
      expect(attempt).toMatchObject({ decision: "deny", reason: "DNS-over-HTTPS requests are not proxied" });
    }
    expect(decideHttp(routes, get("http://api.example.com/dns-query?dns=AAAB")).reason).toBe("DNS-over-HTTPS requests are not proxied");
    expect(inTunnel("/v1/dns-queryx", ["Accept", "application/json"]).decision).toBe("allow");
  });

  describe("route matches", () => {
    const matching = route("api.example.com", {
      port: 80,
      matches: [
        { paths: [{ type: "prefix", value: "/repos/" }], methods: ["GET", "HEAD"] },
        { paths: [{ type: "exact", value: "/graphql" }], methods: ["POST"], headers: { "Content-Type": "application/json" } },
        { paths: [{ type: "regex", value: "/v[0-9]+/status" }] },
      ],
    });
    const decide = (method: string, path: string, headers: string[] = []) =>
      decideHttp([matching], get(`http://api.example.com${path}`, headers, method)).decision;

    it("matches path prefixes on whole path elements", () => {
      expect(decide("GET", "/repos")).toBe("allow");
      expect(decide("GET", "/repos/a/b?x=1")).toBe("allow");
      expect(decide("GET", "/reposx")).toBe("deny");
      expect(decide("DELETE", "/repos/a")).toBe("deny");
    });

    it("matches exact paths, methods and headers together", () => {
      expect(decide("POST", "/graphql", ["content-type", "application/json"])).toBe("allow");
      expect(decide("POST", "/graphql?op=1", ["Content-Type", "application/json"])).toBe("allow");
      expect(decide("POST", "/graphql", ["Content-Type", "text/plain"])).toBe("deny");
      expect(decide("POST", "/graphql")).toBe("deny");
      expect(decide("POST", "/graphql/x", ["Content-Type", "application/json"])).toBe("deny");
      expect(decide("GET", "/graphql", ["Content-Type", "application/json"])).toBe("deny");
    });

    it("anchors regular expressions on the whole path", () => {
      expect(decide("GET", "/v2/status")).toBe("allow");
      expect(decide("GET", "/x/v2/status")).toBe("deny");
      expect(decide("GET", "/v2/status/more")).toBe("deny");
    });

    it("says which request no route admits", () => {
      expect(decideHttp([matching], get("http://api.example.com/admin?secret=1", [], "PUT")).reason).toBe(
        "no route for api.example.com admits PUT /admin",
      );
    });

    it("never lets a broader route admit what the most specific route's matches leave out", () => {
      const wildcard = route("*.example.com", { port: 80 });
      for (const routes of [[matching, wildcard], [wildcard, matching]]) {
        expect(decideHttp(routes, get("http://api.example.com/admin"))).toMatchObject({ decision: "deny", reason: "no route for api.example.com admits GET /admin" });
        expect(decideHttp(routes, get("http://api.example.com/repos/x"))).toMatchObject({ decision: "allow", route: matching });
        expect(decideHttp(routes, get("http://www.example.com/admin"))).toMatchObject({ decision: "allow", route: wildcard });
      }
    });

    it("tries equally specific routes for the host in file order, and uses the first that admits the request", () => {
      const credentialed = route("api.example.com", { matches: [{ paths: [{ type: "prefix", value: "/repos" }] }], auth: { scheme: "Bearer", token_env: "T" } });
      const plain = route("api.example.com", { matches: [{ paths: [{ type: "prefix", value: "/" }] }] });
      const authority = { host: { kind: "name" as const, value: "api.example.com" }, port: 443 };
      const inTunnel = (path: string) => decideHttp([credentialed, plain], { method: "GET", rawHeaders: [], authority, path });
      expect(inTunnel("/repos/x")).toMatchObject({ decision: "allow", route: credentialed });
      expect(inTunnel("/users/x")).toMatchObject({ decision: "allow", route: plain });
    });

    it("compares and forwards paths with escaped unreserved characters decoded, other escapes in upper case", () => {
      expect(decideHttp([matching], get("http://api.example.com/r%65pos/a%2db?q=%41"))).toMatchObject({ decision: "allow", target: { path: "/repos/a-b?q=%41" } });
      expect(decideHttp([matching], get("http://api.example.com/v%32/status"))).toMatchObject({ decision: "allow", target: { path: "/v2/status" } });
      expect(decideHttp([route("api.example.com", { port: 80 })], get("http://api.example.com/a%2fb%c3%a9"))).toMatchObject({ target: { path: "/a%2Fb%C3%A9" } });
    });

    it.each(["/repos/..%2Fadmin", "/repos/a%2fb", "/repos/..%5cadmin", "/repos/%00", "/v2%2Fstatus"])(
      "refuses %j, an escaped separator or NUL, on a route with path matches",
      (path) => {
        expect(decideHttp([matching], get(`http://api.example.com${path}`))).toMatchObject({
          decision: "deny",
          reason: expect.stringMatching(/holds an escaped \/ \\ or NUL, which routes with path matches refuse$/),
        });
      },
    );

    it("leaves escaped separators alone on routes without path matches (an API may need %2F in a path)", () => {
      expect(decideHttp([route("api.example.com", { port: 80 })], get("http://api.example.com/projects/group%2Fname")).decision).toBe("allow");
      expect(decideHttp([route("api.example.com", { port: 80, matches: [{ methods: ["GET"] }] })], get("http://api.example.com/p/a%2Fb")).decision).toBe("allow");
    });
  });
});

describe("stripHopByHop", () => {
  it("drops hop-by-hop headers and those the Connection header names, keeping order and duplicates", () => {
    expect(
      stripHopByHop([
        "Host", "a.example.com",
        "Connection", "keep-alive, X-Trace",
        "Keep-Alive", "timeout=5",
        "Proxy-Authorization", "Basic eDp5",
        "Proxy-Connection", "keep-alive",
        "TE", "trailers",
        "Transfer-Encoding", "chunked",
        "Upgrade", "websocket",
        "Trailer", "X-Sum",
        "x-trace", "1",
        "Set-Cookie", "a=1",
        "Set-Cookie", "b=2",
        "Authorization", "Bearer placeholder",
      ]),
    ).toEqual(["Host", "a.example.com", "Set-Cookie", "a=1", "Set-Cookie", "b=2", "Authorization", "Bearer placeholder"]);
  });
});

describe("routes file", () => {
  const valid = {
    version: 1,
    log: 1,
    routes: [
      route("api.example.com", { auth: { scheme: "Bearer", token_env: "EGRESS_TOKEN_0" } }),
      route("*.example.org", { port: 8443, matches: [{ paths: [{ type: "regex", value: "/v[0-9]+/.*" }], methods: ["GET"] }] }),
      route("registry.npmjs.org", { tls_passthrough: true }),
      route("2001:db8::1"),
      route("10.1.2.3", {
        dlp: { outbound_detectors: ["known_secrets"], inbound_detectors: [], outbound_on_match: "block", known_secret_env: ["EGRESS_SECRET_0"] },
      }),
    ],
  };
  const withRoute = (changes: Record<string, unknown>) => JSON.stringify({ ...valid, routes: [{ ...route("api.example.com"), ...changes }] });

  it("accepts a complete file", () => {
    expect(parseRoutesFile(JSON.stringify(valid))).toEqual(valid);
  });

  it.each([
    ["{ version: 1", /^routes file is not JSON/],
    [JSON.stringify({ ...valid, version: 2 }), /version/],
    [JSON.stringify({ ...valid, log: 3 }), /log/],
    [JSON.stringify({ ...valid, extra: true }), /extra/],
    [JSON.stringify({ version: 1, log: 0 }), /routes/],
    [withRoute({ host: "API.example.com" }), /routes\[0\]\.host/],
    [withRoute({ host: "api.example.com:443" }), /routes\[0\]\.host/],
    [withRoute({ host: "[2001:db8::1]" }), /routes\[0\]\.host/],
    [withRoute({ host: "2001:DB8:0:0:0:0:0:1" }), /routes\[0\]\.host/],
    [withRoute({ host: "127.1" }), /routes\[0\]\.host/],
    [withRoute({ host: "*.10.0.0.1" }), /routes\[0\]\.host/],
    [withRoute({ host: "" }), /routes\[0\]\.host/],
    [withRoute({ port: 0 }), /routes\[0\]\.port/],
    [withRoute({ port: 443.5 }), /routes\[0\]\.port/],
    [withRoute({ tls_pasthrough: true }), /tls_pasthrough/],
    [withRoute({ matches: undefined }), /routes\[0\]\.matches/],
    [withRoute({ matches: [] }), /routes\[0\]\.matches/],
    [withRoute({ matches: [{ paths: [{ type: "regex", value: "(" }] }] }), /valid regular expression/],
    [withRoute({ matches: [{ paths: [{ type: "prefix", value: "v1" }] }] }), /must start with \//],
    [withRoute({ matches: [{ methods: ["get"] }] }), /upper-case HTTP method/],
    [withRoute({ auth: { scheme: "Bearer", token: "ghp_secretvalue" } }), /routes\[0\]\.auth/],
    [withRoute({ auth: { scheme: "Bearer", token_env: "not a name" } }), /routes\[0\]\.auth\.token_env/],
    [withRoute({ auth: { scheme: "Basic", token_env: "A" } }), /routes\[0\]\.auth\.scheme/],
    [withRoute({ tls_passthrough: true, auth: { scheme: "Bearer", token_env: "A" } }), /tls_passthrough route cannot declare/],
  ])("rejects a bad file (%#)", (text, message) => {
    expect(() => parseRoutesFile(text)).toThrow(message);
  });
});

describe("parseAuthority", () => {
  it("applies the default port only when none is given", () => {
    expect(parseAuthority("example.com", 80)).toEqual({ ok: true, value: { host: { kind: "name", value: "example.com" }, port: 80 } });
    expect(parseAuthority("[2001:DB8::1]:8443", null)).toEqual({ ok: true, value: { host: { kind: "ipv6", value: "2001:db8::1" }, port: 8443 } });
  });
});
