import { describe, expect, it } from "vitest";
import { injectToken, withoutCredentials } from "../../../sidecars/egress/auth.js";

describe("credential injection", () => {
  const agentSent = ["Host", "api.example.com", "authorization", "Bearer placeholder", "X-Api-Key", "sk-placeholder", "AUTHORIZATION", "Basic eDp5", "Accept", "*/*"];

  it("removes every Authorization and x-api-key the agent sent, in any letter case", () => {
    expect(withoutCredentials(agentSent)).toEqual(["Host", "api.example.com", "Accept", "*/*"]);
  });

  it("injects the route's token with its scheme, read from the named variable", () => {
    const env = { EGRESS_TOKEN_GH: "ghs_real" };
    expect(injectToken(["Host", "h"], { scheme: "token", token_env: "EGRESS_TOKEN_GH" }, env)).toEqual({
      ok: true,
      headers: ["Host", "h", "Authorization", "token ghs_real"],
    });
    expect(injectToken([], { scheme: "Bearer", token_env: "EGRESS_TOKEN_GH" }, env)).toEqual({ ok: true, headers: ["Authorization", "Bearer ghs_real"] });
  });

  it("injects an API key as the x-api-key header, with no Authorization", () => {
    const injected = injectToken(withoutCredentials(agentSent), { scheme: "x-api-key", token_env: "EGRESS_TOKEN_KEY" }, { EGRESS_TOKEN_KEY: "sk-ant-api03-real" });
    expect(injected).toEqual({ ok: true, headers: ["Host", "api.example.com", "Accept", "*/*", "x-api-key", "sk-ant-api03-real"] });
  });

  it("fails closed when the token is missing, empty or would split the header", () => {
    const auth = { scheme: "Bearer" as const, token_env: "EGRESS_TOKEN_X" };
    expect(injectToken([], auth, {})).toEqual({ ok: false, reason: "the route's token (EGRESS_TOKEN_X) is not set in egress" });
    expect(injectToken([], auth, { EGRESS_TOKEN_X: "" }).ok).toBe(false);
    expect(injectToken([], auth, { EGRESS_TOKEN_X: "abc\r\nX-Evil: 1" })).toEqual({
      ok: false,
      reason: "the route's token (EGRESS_TOKEN_X) contains a line break",
    });
  });
});
