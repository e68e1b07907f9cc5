import { describe, expect, it } from "vitest";
import type { Route } from "../../../sidecars/egress/routes.js";
import { checkEditedPayload, checkEgressAllow, declaredTokens, egressAllowSummary, routeOf, type EgressAllowPayload } from "../../../sidecars/supervise/proposals.js";

const ask = (fields: Partial<EgressAllowPayload> = {}): EgressAllowPayload => ({
  host: "second.example.com",
  port: null,
  matches: null,
  auth: null,
  justification: "the docs live there",
  ...fields,
});

const live: Route[] = [
  { host: "api.github.com", port: null, tls_passthrough: false, matches: null, auth: { scheme: "Bearer", token_env: "EGRESS_TOKEN_GH" }, dlp: null },
  { host: "plain.example.com", port: null, tls_passthrough: false, matches: null, auth: null, dlp: null },
];

describe("checking what a bottle asks for", () => {
  it("names the tokens the live routes inject, each once", () => {
    expect(declaredTokens([...live, live[0]!])).toEqual(["EGRESS_TOKEN_GH"]);
    expect(declaredTokens([live[1]!])).toEqual([]);
  });

  it("accepts a plain route and one whose auth names a declared token", () => {
    expect(checkEgressAllow(ask(), [])).toEqual({ ok: true, payload: ask() });
    const withAuth = ask({ host: "uploads.github.com", auth: { scheme: "Bearer", token: "EGRESS_TOKEN_GH" } });
    expect(checkEgressAllow(withAuth, declaredTokens(live))).toEqual({ ok: true, payload: withAuth });
    expect(routeOf(withAuth)).toEqual({
      host: "uploads.github.com",
      port: null,
      tls_passthrough: false,
      matches: null,
      auth: { scheme: "Bearer", token_env: "EGRESS_TOKEN_GH" },
      dlp: null,
    });
  });

  it("refuses auth with a token the bottle does not declare, saying which it does", () => {
    const check = checkEgressAllow(ask({ auth: { scheme: "Bearer", token: "AWS_SECRET_ACCESS_KEY" } }), declaredTokens(live));
    expect(check).toEqual({ ok: false, problems: ["auth.token: AWS_SECRET_ACCESS_KEY is not a token this bottle declares (declared tokens: EGRESS_TOKEN_GH)"] });
    const none = checkEgressAllow(ask({ auth: { scheme: "token", token: "X" } }), []);
    expect(none.ok ? "" : none.problems[0]).toContain("this bottle declares no tokens");
  });

  it("refuses hosts, ports, matches and fields the routes file would refuse", () => {
    const problems = (data: unknown) => {
      const check = checkEgressAllow(data, []);
      return check.ok ? [] : check.problems;
    };
    expect(problems(ask({ host: "Second.Example.com" }))[0]).toMatch(/^host: must be a lowercase host name/);
    expect(problems(ask({ host: "[::1]" }))[0]).toMatch(/^host:/);
    expect(problems(ask({ port: 0 }))[0]).toMatch(/^port:/);
    expect(problems(ask({ matches: [] }))[0]).toMatch(/^matches:/);
    expect(problems(ask({ matches: [{ paths: [{ type: "regex", value: "(" }] }] }))[0]).toMatch(/^matches\.0\.paths\.0\.value: must be a valid regular expression/);
    expect(problems(ask({ justification: "" }))[0]).toMatch(/^justification:/);
    expect(problems({ ...ask(), tls_passthrough: true })[0]).toMatch(/Unrecognized key/);
  });

  it.each([
    ["127.0.0.1", "loopback"],
    ["10.0.0.5", "private"],
    ["172.17.0.1", "Docker's bridge, on the host"],
    ["192.168.1.1", "private"],
    ["169.254.169.254", "cloud metadata"],
    ["100.100.100.200", "carrier-grade NAT (Alibaba's metadata)"],
    ["0.0.0.0", "this network"],
    ["240.0.0.1", "reserved"],
    ["::1", "IPv6 loopback"],
    ["fd00:ec2::254", "AWS's IPv6 metadata"],
    ["fe80::1", "IPv6 link-local"],
    ["::ffff:a9fe:a9fe", "169.254.169.254 mapped into IPv6"],
  ])("refuses a route to %s (%s), naming the host and why", (host) => {
    const check = checkEgressAllow(ask({ host }), []);
    expect(check.ok).toBe(false);
    const problems = check.ok ? [] : check.problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/loopback, private, link-local or reserved address: an approval never opens one/);
    expect(problems[0]!.startsWith(`host: ${host} is a`)).toBe(true);
  });

  it.each([
    ["*.com", "com"],
    ["*.co.uk", "co.uk"],
    ["*.github.io", "github.io"],
    ["*.s3.amazonaws.com", "s3.amazonaws.com"],
    ["*.test", "test"],
  ])("refuses the wildcard %s: it covers every domain registered under the public suffix %s", (host, suffix) => {
    const check = checkEgressAllow(ask({ host }), []);
    expect(check).toEqual({
      ok: false,
      problems: [`host: ${host} would admit every domain registered under ${suffix}, a public suffix; ask for a domain, or a wildcard below one (such as *.example.${suffix})`],
    });
  });

  it.each(["8.8.8.8", "2606:4700::1111", "*.example.com", "*.docs.example.co.uk", "*.someone.github.io", "second.fake.test", "github.io"])(
    "still accepts %s",
    (host) => {
      expect(checkEgressAllow(ask({ host }), [])).toEqual({ ok: true, payload: ask({ host }) });
    },
  );

  it("checks an edited payload by its kind, and refuses edits of kinds that have none", () => {
    expect(checkEditedPayload("egress-allow", ask({ matches: [{ methods: ["GET"] }] }), []).ok).toBe(true);
    expect(checkEditedPayload("egress-allow", ask({ auth: { scheme: "Bearer", token: "NOPE" } }), []).ok).toBe(false);
    expect(checkEditedPayload("request-approval", { summary: "delete the branch", justification: "it is merged", details: null }, []).ok).toBe(true);
    expect(checkEditedPayload("request-approval", { summary: "", justification: "x", details: null }, []).ok).toBe(false);
    expect(checkEditedPayload("egress-dlp", {}, [])).toEqual({ ok: false, problems: ["egress-dlp proposals cannot be modified, only approved or rejected"] });
  });

  const githubRepo: Route = { ...live[0]!, matches: [{ paths: [{ type: "prefix", value: "/repos/x" }] }] };
  const userPath = [{ paths: [{ type: "prefix" as const, value: "/user" }] }];

  it("summarizes a route that involves no credential in one line a person can decide on", () => {
    expect(egressAllowSummary(ask(), live)).toBe("allow egress to second.example.com (all requests): the docs live there");
    expect(egressAllowSummary(ask({ host: "plain.example.com", port: 8443, matches: [{ methods: ["GET"] }] }), live)).toBe(
      "allow egress to plain.example.com:8443 (1 match rule(s)): the docs live there",
    );
  });

  it("tells the approver that the host already carries a credential, and what each kind of approval would make of it", () => {
    expect(egressAllowSummary(ask({ host: "api.github.com", matches: userPath }), [githubRepo])).toBe(
      "allow egress to api.github.com (1 match rule(s)); credential EGRESS_TOKEN_GH: approve adds api.github.com without a credential (prefix /user); " +
        "approve with extend_credential widens api.github.com injecting EGRESS_TOKEN_GH from (prefix /repos/x) to (prefix /repos/x | prefix /user): the docs live there",
    );
  });

  it("calls out a route that asks for a token of its own as a credential request", () => {
    expect(egressAllowSummary(ask({ host: "uploads.github.com", auth: { scheme: "Bearer", token: "EGRESS_TOKEN_GH" } }), [githubRepo])).toBe(
      "allow egress to uploads.github.com (all requests, asking to inject EGRESS_TOKEN_GH); credential EGRESS_TOKEN_GH: approve adds uploads.github.com without a credential (every request); " +
        "approve with extend_credential adds uploads.github.com injecting EGRESS_TOKEN_GH (every request): the docs live there",
    );
  });

  it("keeps the credential warning when the agent sends a long justification or a long list of matches", () => {
    const matches = Array.from({ length: 60 }, (_, i) => ({ paths: [{ type: "prefix" as const, value: `/a-long-path-to-push-the-warning-out/${i}` }] }));
    const summary = egressAllowSummary(ask({ host: "api.github.com", matches, justification: "x".repeat(2000) }), [githubRepo]);
    expect(summary.length).toBeLessThanOrEqual(2000);
    expect(summary).toContain("; credential EGRESS_TOKEN_GH: approve adds api.github.com without a credential (");
    expect(summary).toContain("; approve with extend_credential widens api.github.com injecting EGRESS_TOKEN_GH from (prefix /repos/x) to (");
  });
});
