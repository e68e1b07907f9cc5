import type { RouteAuth } from "./routes.js";

// Credential injection. Whatever the agent sends as credentials (it only ever
// holds placeholders) is removed, and the route's real token, which lives in
// the egress process environment alone, is added on the way out.

/** Headers that carry API credentials: the agent's values never leave the bottle. */
const CREDENTIAL_HEADERS = new Set(["authorization", "x-api-key"]);

export function withoutCredentials(rawHeaders: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (!CREDENTIAL_HEADERS.has(rawHeaders[i]!.toLowerCase())) kept.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  return kept;
}

export type Injection = { ok: true; headers: string[] } | { ok: false; reason: string };

/** Adds the route's credential header (`Authorization: <scheme> <token>` or `x-api-key: <token>`), the token read from the named variable of `env`. */
export function injectToken(rawHeaders: readonly string[], auth: RouteAuth, env: NodeJS.ProcessEnv): Injection {
  const token = env[auth.token_env];
  // Fail closed: forwarding without the credential would only confuse, and a
  // token with a line break could split the header.
  if (!token) return { ok: false, reason: `the route's token (${auth.token_env}) is not set in egress` };
  if (/[\r\n\0]/.test(token)) return { ok: false, reason: `the route's token (${auth.token_env}) contains a line break` };
  if (auth.scheme === "x-api-key") return { ok: true, headers: [...rawHeaders, "x-api-key", token] };
  return { ok: true, headers: [...rawHeaders, "Authorization", `${auth.scheme} ${token}`] };
}
