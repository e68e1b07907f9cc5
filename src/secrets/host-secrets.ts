import { UserError } from "../user-error.js";
import type { SecretStore } from "./store.js";

// Where a secret a bottle names (`agent_provider.auth_token`, a route's
// `auth.token_ref`, `dlp.known_secret_env`) comes from on the host: the
// process environment first, then the secret store. An empty variable counts
// as unset: no token is empty, and an empty one would only fail upstream.

export type SecretOrigin = "environment" | "store";

export interface FoundSecret {
  value: string;
  from: SecretOrigin;
}

export class HostSecrets {
  constructor(
    private readonly env: NodeJS.ProcessEnv,
    readonly store: SecretStore,
  ) {}

  /** Whether the environment holds the variable (the store is not read). */
  inEnvironment(name: string): boolean {
    return Boolean(this.env[name]);
  }

  /** The value and where it came from, or undefined when neither has it. */
  find(name: string): FoundSecret | undefined {
    const fromEnv = this.env[name];
    if (fromEnv) return { value: fromEnv, from: "environment" };
    const stored = this.store.get(name);
    return stored === undefined ? undefined : { value: stored, from: "store" };
  }

  /**
   * The error for a secret found in neither place: both ways to provide it,
   * and why the environment may not be enough. `purpose` says what needs it
   * ("bottle claude injects a token for api.anthropic.com").
   */
  missing(name: string, purpose: string): UserError {
    return new UserError(
      `${purpose} from the secret ${name}, which is neither in bot-bottle's environment nor in its secret store (${this.store.dir}). ` +
        `Store it with \`bot-bottle secret set ${name}\` (the value is read from stdin or a hidden prompt), or \`export ${name}=...\` in the environment the server starts in. ` +
        `MCP clients filter the environment of the servers they start (Claude Code removes CLAUDE_CODE_OAUTH_TOKEN, Codex passes only a few variables), so under a client the store is what works.`,
    );
  }
}
