import { z } from "zod";
import type { EffectiveBottle, EgressRoute } from "../manifest/schema.js";
import type { HeadlessMode } from "./headless.js";

/** Where egress gets a secret's value at launch. Only the source is planned, never the value. */
export const SecretSource = z.discriminatedUnion("kind", [
  /** A named host secret: the environment variable of that name, else the secret store's entry (src/secrets/). */
  z.object({ kind: z.literal("env"), name: z.string() }),
  /** The access token in a host Codex auth.json. */
  z.object({ kind: z.literal("codex-access-token"), file: z.string() }),
]);
export type SecretSource = z.infer<typeof SecretSource>;

/** A non-secret file the provider needs in the guest, owned by the agent user. */
export const GuestFile = z.object({ path: z.string(), content: z.string(), mode: z.number().int() });
export type GuestFile = z.infer<typeof GuestFile>;

export interface ProviderSetup {
  /** Environment the agent needs to start unattended: placeholders only, never secrets. */
  env: Record<string, string>;
  /** Routes the provider adds (its model API); `auth.token_ref` names a key of `secrets`. */
  routes: EgressRoute[];
  secrets: Record<string, SecretSource>;
  files: GuestFile[];
}

export interface SetupContext {
  bottle: EffectiveBottle;
  hostEnv: NodeJS.ProcessEnv;
  /** The agent's system prompt. */
  prompt: string;
}

/**
 * How one kind of agent (Claude Code, Codex, a user's harness) lives in a
 * bottle: its image, its home, its credentials, how it runs a prompt headless
 * and how an MCP server is registered in it. Behaviour, so an interface.
 */
export interface Provider {
  readonly name: string;
  /** The provider's own Dockerfile, or null when it has none (then the bottle must name one). */
  readonly dockerfile: string | null;
  readonly dockerfileOrigin: "plugin" | "provider";
  /**
   * The agent release its image installs when the bottle sets no
   * `agent_provider.version` (passed as the AGENT_VERSION build arg); null
   * leaves it to the Dockerfile's own ARG default.
   */
  readonly defaultVersion: string | null;
  readonly guestUser: string;
  readonly guestHome: string;
  /** Resolved at prepare time; may read host files (e.g. Codex's auth.json) but returns no secret value. */
  setup(context: SetupContext): ProviderSetup;
  readonly headless: HeadlessMode;
  /**
   * Commands, run as the agent user, that register an MCP server at `url`
   * under `name`. A call to one of its tools may take up to `callTimeoutS`
   * (supervise waits that long for an answer); the client must not give up first.
   */
  mcpRegistration(name: string, url: string, callTimeoutS: number): string[][];
}
