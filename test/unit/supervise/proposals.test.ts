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

  it("checks an edited payload by its kind, and refuses edits of kinds that have none", () => {
    expect(checkEditedPayload("egress-allow", ask({ matches: [{ methods: ["GET"] }] }), []).ok).toBe(true);
    expect(checkEditedPayload("egress-allow", ask({ auth: { scheme: "Bearer", token: "NOPE" } }), []).ok).toBe(false);
    expect(checkEditedPayload("request-approval", { summary: "delete the branch", justification: "it is merged", details: null }, []).ok).toBe(true);
    expect(checkEditedPayload("request-approval", { summary: "", justification: "x", details: null }, []).ok).toBe(false);
    expect(checkEditedPayload("egress-dlp", {}, [])).toEqual({ ok: false, problems: ["egress-dlp proposals cannot be modified, only approved or rejected"] });
  });

  it("summarizes a route in one line a person can decide on", () => {
    expect(egressAllowSummary(ask())).toBe("allow egress to second.example.com (all requests): the docs live there");
    expect(egressAllowSummary(ask({ port: 8443, matches: [{ methods: ["GET"] }], auth: { scheme: "Bearer", token: "EGRESS_TOKEN_GH" } }))).toBe(
      "allow egress to second.example.com:8443 (1 match rule(s), injecting EGRESS_TOKEN_GH): the docs live there",
    );
  });
});
