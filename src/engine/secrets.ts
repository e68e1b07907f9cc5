import type { SecretSource } from "../providers/provider.js";
import { readCodexAuth } from "../providers/codex/auth.js";
import type { HostSecrets } from "../secrets/host-secrets.js";
import { UserError } from "../user-error.js";

/**
 * Reads each secret's value at launch, from the host (a named secret from the
 * environment, else the secret store), for the egress process only. The
 * values live in memory until they are handed to the backend.
 */
export function resolveSecrets(sources: Record<string, SecretSource>, hostSecrets: HostSecrets): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [bundleVar, source] of Object.entries(sources)) {
    if (source.kind === "env") {
      values[bundleVar] = hostSecrets.find(source.name)?.value ?? "";
    } else {
      values[bundleVar] = readCodexAuth(source.file).tokens.access_token;
    }
    if (source.kind === "codex-access-token" && !values[bundleVar]) {
      throw new UserError(`${source.file} has an empty access token: sign in again with \`codex login\``);
    }
  }
  return values;
}
