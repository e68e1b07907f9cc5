import path from "node:path";
import { z } from "zod";
import { AgentListing } from "../src/manifest/agent-summary.js";
import { AgentListingCache } from "../src/manifest/listing-cache.js";
import { defineTool } from "./tool.js";

const listings = new AgentListingCache();

export const listAgentsTool = defineTool({
  name: "list_agents",
  title: "List agents",
  description:
    "List the agents that can be started in a bottle. Call this first, to pick the `agent` for start_bottle. " +
    "Agents come from the user's bot-bottle home and from the repository's .bot-bottle/agents/ folder; a repository agent was written " +
    "by the repository's author, not the user, and never replaces a home agent of the same name. " +
    "Returns `agents` (name, `origin` home or repository, description, the bottles it runs in, its provider template such as claude or codex, " +
    "skills, the file it came from, and `error` when it cannot start), `broken` manifest files with the reason each one fails, " +
    "`conflicts` (repository agents not loaded because a home agent has their name), and loader `warnings`.",
  input: z.object({
    cwd: z
      .string()
      .min(1)
      .optional()
      .describe("A repository folder on the host whose .bot-bottle/agents/ to include (default: the server's working folder)."),
  }),
  output: AgentListing,
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run({ cwd }, { engine }) {
    const listing = await listings.listing(engine.home, cwd ? path.resolve(engine.cwd, cwd) : engine.cwd);
    return { structured: listing, text: describeListing(listing) };
  },
});

function describeListing(listing: AgentListing): string {
  const lines = listing.agents.map((agent) => {
    const where = agent.bottles.length > 0 ? `bottle ${agent.bottles.join("+")}` : "no bottle declared";
    const state = agent.error === null ? `provider ${agent.provider ?? "unknown"}` : `cannot start: ${agent.error}`;
    return `- ${agent.name} (from the ${agent.origin === "home" ? "user's home" : "repository"}; ${where}; ${state})${agent.description ? `: ${agent.description}` : ""}`;
  });
  const head = lines.length > 0 ? `${lines.length} agent${lines.length === 1 ? "" : "s"}:` : "No agents. Add one under agents/ in the bot-bottle home.";
  const broken = listing.broken.map((b) => `- broken ${b.kind} ${b.name}: ${b.error}`);
  const conflicts = listing.conflicts.map((c) => `- ${c.source}: ${c.message}`);
  return [
    head,
    ...lines,
    ...(broken.length > 0 ? ["Broken manifests:", ...broken] : []),
    ...(conflicts.length > 0 ? ["Repository agents not loaded (a home agent has the name):", ...conflicts] : []),
  ].join("\n");
}
