import { z } from "zod";
import { UserError } from "../user-error.js";
import { resolveManifest } from "./manifest.js";
import { AgentConflict, AgentOrigin, ManifestKind, type ManifestIndex } from "./schema.js";

// What a listing of agents shows (the `agents` command, and any tool that lists
// agents): enough to pick one, and why one cannot be used.

export const AgentSummary = z.object({
  name: z.string(),
  /** home: the user's own; repository: shipped by the repository in the cwd (its author chose the prompt and skills). */
  origin: AgentOrigin,
  source: z.string(),
  description: z.string().nullable(),
  /** The bottles the agent declares (empty: the caller must name one). */
  bottles: z.array(z.string()),
  /** The effective bottle's agent_provider.template, when the agent resolves. */
  provider: z.string().nullable(),
  skills: z.array(z.string()),
  /** Why the agent does not resolve, if it does not. */
  error: z.string().nullable(),
});
export type AgentSummary = z.infer<typeof AgentSummary>;

export const AgentListing = z.object({
  agents: z.array(AgentSummary),
  broken: z.array(z.object({ kind: ManifestKind, name: z.string(), source: z.string(), error: z.string() })),
  /** Repository agents named like home agents: not loaded, the home agent keeps the name. */
  conflicts: z.array(AgentConflict),
  warnings: z.array(z.string()),
});
export type AgentListing = z.infer<typeof AgentListing>;

export function listAgents(index: ManifestIndex): AgentListing {
  const agents = Object.values(index.agents)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((agent): AgentSummary => {
      const declared = agent.config.bottle;
      const bottles = declared === undefined ? [] : typeof declared === "string" ? [declared] : declared;
      let provider: string | null = null;
      let error: string | null = null;
      if (bottles.length > 0) {
        try {
          provider = resolveManifest(index, agent.name).bottle.agent_provider.template;
        } catch (err) {
          if (!(err instanceof UserError)) throw err;
          error = err.message;
        }
      }
      return {
        name: agent.name,
        origin: agent.origin,
        source: agent.source,
        description: agent.config.description ?? null,
        bottles,
        provider,
        skills: agent.config.skills ?? [],
        error,
      };
    });
  const broken = index.broken.map(({ kind, name, source, error }) => ({ kind, name, source, error }));
  return { agents, broken, conflicts: index.conflicts, warnings: index.warnings };
}
