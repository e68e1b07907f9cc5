import type { z } from "zod";
import { formatKeyPath, ManifestError } from "./errors.js";
import { parseFrontmatter, type Frontmatter } from "./frontmatter.js";
import { AgentFrontmatter, BottleFrontmatter, type AgentFile, type AgentOrigin, type BottleFile } from "./schema.js";
import { manifestIssuesFromZod } from "./schema-issues.js";

// Text of one manifest file -> its typed form. Pure: the caller reads the file,
// so tests can feed text directly.

const bottleKeys = new Set(Object.keys(BottleFrontmatter.shape));
const agentKeys = new Set(Object.keys(AgentFrontmatter.shape));

export function parseBottleFile(text: string, source: string, name: string): BottleFile {
  const { config, body, lines } = parseManifest(text, source, BottleFrontmatter, (key) =>
    agentKeys.has(key) ? `"${key}" is an agent key: put it in an agent file (agents/NAME.md)` : undefined,
  );
  return { name, source, config, body, lines };
}

export function parseAgentFile(text: string, source: string, name: string, origin: AgentOrigin): AgentFile {
  const { config, body, lines } = parseManifest(text, source, AgentFrontmatter, (key) =>
    bottleKeys.has(key)
      ? `"${key}" is a bottle key: an agent names its bottle with "bottle:", and bottles live only in BOT_BOTTLE_HOME/bottles/`
      : undefined,
  );
  return { name, source, origin, config, prompt: body, lines };
}

function parseManifest<Schema extends z.ZodType>(
  text: string,
  file: string,
  schema: Schema,
  wrongKindHint: (key: string) => string | undefined,
): { config: z.output<Schema>; body: string; lines: Record<string, number> } {
  const frontmatter = parseFrontmatter(text, file);
  const result = schema.safeParse(frontmatter.data);
  if (!result.success) {
    throw new ManifestError(
      manifestIssuesFromZod(result.error.issues, { file, schema, data: frontmatter.data, lineOf: frontmatter.lineOf, wrongKindHint }),
    );
  }
  return { config: result.data, body: frontmatter.body, lines: keyLines(frontmatter) };
}

/** The line of every key and list item in the frontmatter. */
function keyLines(frontmatter: Frontmatter): Record<string, number> {
  const lines: Record<string, number> = {};
  const walk = (value: unknown, path: PropertyKey[]) => {
    if (path.length > 0) {
      const line = frontmatter.lineOf(path);
      if (line !== undefined) lines[formatKeyPath(path)] = line;
    }
    if (Array.isArray(value)) value.forEach((item, i) => walk(item, [...path, i]));
    else if (value !== null && typeof value === "object") Object.entries(value).forEach(([key, item]) => walk(item, [...path, key]));
  };
  walk(frontmatter.data, []);
  return lines;
}
