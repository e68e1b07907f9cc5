import { z } from "zod";
import { AgentFrontmatter, BottleFrontmatter, type ManifestKind } from "./schema.js";

// JSON Schema of the frontmatter, generated from the zod schemas so editors
// (e.g. the YAML language server) check exactly what the loader checks.
// Input mode: it describes what a person writes (an env value may be a number).

const frontmatterSchemas = {
  bottle: { schema: BottleFrontmatter, title: "bot-bottle bottle (frontmatter of $BOT_BOTTLE_HOME/bottles/NAME.md)" },
  agent: { schema: AgentFrontmatter, title: "bot-bottle agent (frontmatter of agents/NAME.md)" },
} as const;

/** The JSON Schema of one kind of manifest frontmatter. */
export function frontmatterJsonSchema(kind: ManifestKind): Record<string, unknown> {
  const { schema, title } = frontmatterSchemas[kind];
  const generated = z.toJSONSchema(schema, { io: "input" });
  return { $schema: generated.$schema, title, ...generated };
}

/** Both kinds in one document: `$defs.bottle` and `$defs.agent`. */
export function manifestJsonSchema(): Record<string, unknown> {
  // A definition inside a document does not restate the dialect.
  const definition = (kind: ManifestKind) => Object.fromEntries(Object.entries(frontmatterJsonSchema(kind)).filter(([key]) => key !== "$schema"));
  return {
    $schema: frontmatterJsonSchema("bottle").$schema,
    title: "bot-bottle manifest frontmatter",
    description: "Bottles live in $BOT_BOTTLE_HOME/bottles/; agents in $BOT_BOTTLE_HOME/agents/ or .bot-bottle/agents/ of a project.",
    $defs: { bottle: definition("bottle"), agent: definition("agent") },
    anyOf: [{ $ref: "#/$defs/bottle" }, { $ref: "#/$defs/agent" }],
  };
}
