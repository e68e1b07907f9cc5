import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { UserError } from "../../user-error.js";

// Codex signed in with ChatGPT keeps OAuth tokens in $CODEX_HOME/auth.json.
// The real access token goes to egress only; the agent gets a look-alike whose
// JWTs carry the real token's expiry: Codex refreshes a token that looks
// expired, and a refresh attempted with a placeholder would fail and drop it to
// its sign-in screen.

export const CodexAuthFile = z.looseObject({
  OPENAI_API_KEY: z.string().nullable().optional(),
  tokens: z
    .looseObject({
      id_token: z.string(),
      access_token: z.string(),
      refresh_token: z.string(),
      account_id: z.string().nullable().optional(),
    })
    .nullable()
    .optional(),
  last_refresh: z.string().nullable().optional(),
});
export type CodexAuthFile = z.infer<typeof CodexAuthFile>;

const JwtClaims = z.looseObject({ exp: z.number().optional() });

/** Where the host's Codex keeps its credentials. */
export const hostCodexAuthPath = (env: NodeJS.ProcessEnv) =>
  path.join(env.CODEX_HOME ?? path.join(env.HOME ?? os.homedir(), ".codex"), "auth.json");

export function readCodexAuth(file: string): CodexAuthFile & { tokens: NonNullable<CodexAuthFile["tokens"]> } {
  if (!existsSync(file)) {
    throw new UserError(`forward_host_credentials is set but ${file} does not exist: sign in with \`codex login\` on this host first`);
  }
  const parsed = CodexAuthFile.safeParse(JSON.parse(readFileSync(file, "utf8")));
  if (!parsed.success || !parsed.data.tokens) {
    throw new UserError(`${file} holds no ChatGPT sign-in tokens (forward_host_credentials needs \`codex login\` with ChatGPT)`);
  }
  return { ...parsed.data, tokens: parsed.data.tokens };
}

export function jwtClaims(token: string): Record<string, unknown> & { exp?: number } {
  const payload = token.split(".")[1];
  if (!payload) return {};
  try {
    const parsed = JwtClaims.safeParse(JSON.parse(Buffer.from(payload, "base64url").toString("utf8")));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** An unsigned JWT with the given claims: Codex reads claims, it does not verify signatures. */
function placeholderJwt(claims: Record<string, unknown>): string {
  return `${encode({ alg: "none", typ: "JWT" })}.${encode(claims)}.bot-bottle-placeholder`;
}

/** The claims Codex needs to run (account, plan, expiry); never the token itself. */
function keptClaims(token: string): Record<string, unknown> {
  const claims = jwtClaims(token);
  const kept: Record<string, unknown> = { iss: "bot-bottle", sub: "bot-bottle-placeholder" };
  for (const key of ["exp", "iat", "email", "https://api.openai.com/auth"]) {
    if (claims[key] !== undefined) kept[key] = claims[key];
  }
  return kept;
}

/** The auth.json the agent gets: same shape and expiry as the real one, no real credential. */
export function placeholderCodexAuth(real: ReturnType<typeof readCodexAuth>): CodexAuthFile {
  return {
    OPENAI_API_KEY: null,
    tokens: {
      id_token: placeholderJwt(keptClaims(real.tokens.id_token)),
      access_token: placeholderJwt(keptClaims(real.tokens.access_token)),
      refresh_token: "bot-bottle-placeholder",
      account_id: real.tokens.account_id ?? null,
    },
    last_refresh: real.last_refresh ?? new Date().toISOString(),
  };
}
