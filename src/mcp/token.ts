import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { UserError } from "../user-error.js";

/** The HTTP transport's bearer token, kept in the home so clients can be configured once. */
export const tokenFile = (home: string) => path.join(home, "mcp-token");

const MIN_TOKEN_LENGTH = 16;

export interface ServerToken {
  token: string;
  /** Where it came from, for the start-up message. */
  source: string;
  /** Whether this start created it (then it is printed, since no one has it yet). */
  created: boolean;
}

/** The token from `--token-env VAR`, or the one in the home, created (mode 0600) on first use. */
export function serverToken({ home, env, tokenEnv }: { home: string; env: NodeJS.ProcessEnv; tokenEnv?: string }): ServerToken {
  if (tokenEnv !== undefined) {
    const token = env[tokenEnv]?.trim() ?? "";
    if (token === "") throw new UserError(`--token-env ${tokenEnv}: the variable is not set or empty`, 2);
    if (token.length < MIN_TOKEN_LENGTH) throw new UserError(`--token-env ${tokenEnv}: the token must be at least ${MIN_TOKEN_LENGTH} characters long`, 2);
    return { token, source: `the ${tokenEnv} variable`, created: false };
  }
  const file = tokenFile(home);
  const existing = readTokenFile(file);
  if (existing !== undefined) return { token: existing, source: file, created: false };
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const token = newToken();
  try {
    // wx: two servers starting at once must agree on one token
    writeFileSync(file, `${token}\n`, { flag: "wx", mode: 0o600 });
    return { token, source: file, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    return { token: readTokenFile(file) ?? token, source: file, created: false };
  }
}

function readTokenFile(file: string): string | undefined {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  if ((mode & 0o077) !== 0) {
    throw new UserError(
      `${file} can be read by other users (mode ${(mode & 0o777).toString(8)}), so the MCP token in it may be known to them: ` +
        `delete the file to get a new token, or \`chmod 600 ${file}\` if you are sure it was not read`,
    );
  }
  const token = readFileSync(file, "utf8").trim();
  if (token.length < MIN_TOKEN_LENGTH) throw new UserError(`${file} holds no usable token: delete it and a new one is made`);
  return token;
}

/** A fresh random token (256 bits, URL-safe). */
export const newToken = () => randomBytes(32).toString("base64url");

/** Constant-time comparison of a presented token with the real one. */
export function tokenMatches(presented: string, token: string): boolean {
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(presented), digest(token));
}

/** Constant-time check of an `Authorization: Bearer ...` header. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match !== null && tokenMatches(match[1]!, token);
}
