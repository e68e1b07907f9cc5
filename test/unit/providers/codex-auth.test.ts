import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { jwtClaims, placeholderCodexAuth, readCodexAuth } from "../../../src/providers/codex/auth.js";

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
const realJwt = (claims: Record<string, unknown>) => `${b64({ alg: "RS256", typ: "JWT" })}.${b64(claims)}.real-signature-xyz`;

function hostAuth(exp: number) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "codex-auth-"));
  const file = path.join(dir, "auth.json");
  const auth = { email: "dev@example.test", "https://api.openai.com/auth": { chatgpt_account_id: "acct-9", chatgpt_plan_type: "pro" } };
  const access = realJwt({ exp, ...auth, scp: ["openid"], secret_claim: "s3cr3t" });
  writeFileSync(file, JSON.stringify({ OPENAI_API_KEY: null, tokens: { id_token: realJwt({ exp, ...auth }), access_token: access, refresh_token: "rt-REAL", account_id: "acct-9" }, last_refresh: "2026-11-01T00:00:00Z" }));
  return { file, access };
}

describe("codex forwarded credentials", () => {
  it("gives the agent JWTs with the real expiry and account, but none of the real tokens", () => {
    const exp = 1_900_000_000;
    const { file, access } = hostAuth(exp);
    const real = readCodexAuth(file);
    const placeholder = placeholderCodexAuth(real);
    const text = JSON.stringify(placeholder);
    expect(jwtClaims(placeholder.tokens!.access_token).exp).toBe(exp);
    expect(jwtClaims(placeholder.tokens!.id_token).exp).toBe(exp);
    expect(jwtClaims(placeholder.tokens!.access_token)["https://api.openai.com/auth"]).toEqual({ chatgpt_account_id: "acct-9", chatgpt_plan_type: "pro" });
    expect(placeholder.tokens!.account_id).toBe("acct-9");
    expect(text).not.toContain(access);
    expect(text).not.toContain("rt-REAL");
    expect(text).not.toContain("real-signature-xyz");
    expect(text).not.toContain("s3cr3t");
  });

  it("says to sign in when the host has no auth.json, naming the file", () => {
    expect(() => readCodexAuth("/nonexistent/auth.json")).toThrow(/\/nonexistent\/auth.json.*codex login/);
  });

  it("refuses an auth.json without ChatGPT tokens", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "codex-auth-"));
    writeFileSync(path.join(dir, "auth.json"), JSON.stringify({ OPENAI_API_KEY: "sk-x" }));
    expect(() => readCodexAuth(path.join(dir, "auth.json"))).toThrow(/no ChatGPT sign-in tokens/);
  });
});
