import type { EffectiveBottle } from "../manifest/schema.js";

/**
 * How one kind of agent (Claude Code, Codex, a user's harness) lives in a
 * bottle: its image, its home, and what its environment needs. Behaviour, not
 * data, so an interface rather than a schema.
 */
export interface Provider {
  readonly name: string;
  /** Folder holding the provider's default Dockerfile. */
  readonly dockerfileDir: string;
  readonly guestUser: string;
  readonly guestHome: string;
  /** Environment the agent needs to start unattended. Placeholders only, never secrets. */
  guestEnv(bottle: EffectiveBottle): Record<string, string>;
}
