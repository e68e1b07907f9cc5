import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { bottleLineage } from "../../../src/manifest/extends.js";
import { parseFrontmatter } from "../../../src/manifest/frontmatter.js";
import { frontmatterJsonSchema } from "../../../src/manifest/json-schema.js";
import { loadManifestIndex } from "../../../src/manifest/load.js";
import { resolveManifest } from "../../../src/manifest/manifest.js";
import type { ManifestKind } from "../../../src/manifest/schema.js";
import { validateManifestIndex } from "../../../src/manifest/validate.js";
import { fixtureDir } from "./fixture-home.js";

// examples/home is documentation that must keep working: every file loads,
// every agent resolves, and together they use every manifest key.
const examples = fileURLToPath(new URL("../../../examples/", import.meta.url));
const home = path.join(examples, "home");

async function loadExamples() {
  return loadManifestIndex({ home, cwd: await fixtureDir() });
}

type JsonSchema = {
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
};

const alternatives = (schema: JsonSchema) => [schema, ...(schema.anyOf ?? []), ...(schema.oneOf ?? [])];
const mapSchema = (schema: JsonSchema) =>
  typeof schema.additionalProperties === "object" && Object.keys(schema.additionalProperties).length > 0 ? schema.additionalProperties : undefined;

const join = (prefix: string, key: string) => (prefix === "" ? key : `${prefix}.${key}`);

/** Every key path a JSON Schema allows: `egress.routes[].auth.scheme`, `env.*`. */
function schemaKeyPaths(schema: JsonSchema, prefix = "", out = new Set<string>()): Set<string> {
  for (const option of alternatives(schema)) {
    for (const [key, child] of Object.entries(option.properties ?? {})) {
      out.add(join(prefix, key));
      schemaKeyPaths(child, join(prefix, key), out);
    }
    if (option.items) schemaKeyPaths(option.items, `${prefix}[]`, out);
    const values = mapSchema(option);
    if (values) schemaKeyPaths(values, join(prefix, "*"), out);
  }
  return out;
}

/** The key paths `data` uses, in the same notation; keys the schema does not know go to `unknown`. */
function usedKeyPaths(data: unknown, schema: JsonSchema, prefix: string, used: Set<string>, unknown: string[]): void {
  const options = alternatives(schema);
  if (Array.isArray(data)) {
    for (const option of options) if (option.items) data.forEach((item) => usedKeyPaths(item, option.items as JsonSchema, `${prefix}[]`, used, unknown));
    return;
  }
  if (data === null || typeof data !== "object") return;
  for (const [key, value] of Object.entries(data)) {
    const known = options.filter((option) => option.properties?.[key]);
    const map = options.map(mapSchema).find((s) => s !== undefined);
    if (known.length > 0) {
      used.add(join(prefix, key));
      known.forEach((option) => usedKeyPaths(value, option.properties?.[key] as JsonSchema, join(prefix, key), used, unknown));
    } else if (map) {
      usedKeyPaths(value, map, join(prefix, "*"), used, unknown);
    } else if (options.every((option) => option.additionalProperties === false)) {
      unknown.push(join(prefix, key));
    }
  }
}

describe("examples/home", () => {
  it("loads without a broken file or a warning, and validates", async () => {
    const index = await loadExamples();
    expect(index.broken).toEqual([]);
    expect(index.warnings).toEqual([]);
    expect(validateManifestIndex(index)).toEqual([]);
    expect(Object.keys(index.bottles).sort()).toEqual(["base", "claude", "claude-dev", "codex", "forge", "github"]);
  });

  it("has agents that all resolve, including hello (claude) and codex-hello (codex)", async () => {
    const index = await loadExamples();
    const providers = Object.fromEntries(Object.keys(index.agents).map((name) => [name, resolveManifest(index, name).bottle.agent_provider.template]));
    expect(providers).toEqual({ hello: "claude", "codex-hello": "codex", fixer: "claude", reviewer: "claude" });
  });

  it("keeps hello minimal: the claude bottle, no skills, no repositories", async () => {
    const { agent, bottle } = resolveManifest(await loadExamples(), "hello");
    expect(agent.config.skills).toBeUndefined();
    expect(bottle.names).toEqual(["claude"]);
    expect(bottle.git_gate.repos).toEqual({});
    expect(bottle.egress.routes.map((r) => r.host)).toEqual(["api.anthropic.com"]);
  });

  it("has an extends chain of depth two and a list-valued extends", async () => {
    const index = await loadExamples();
    expect(index.bottles["claude-dev"]?.config.extends).toEqual(["claude", "github"]);
    expect(bottleLineage(index, ["claude-dev"])).toEqual(["claude", "base", "github", "claude-dev"]);
  });

  it("uses every route feature, both auth schemes and both key providers", async () => {
    const { bottle } = resolveManifest(await loadExamples(), "reviewer");
    const routes = bottle.egress.routes;
    const matches = routes.flatMap((r) => r.matches ?? []);
    expect(new Set(matches.flatMap((m) => m.paths ?? []).map((p) => p.type))).toEqual(new Set(["prefix", "exact", "regex"]));
    expect(matches.some((m) => m.methods && m.headers)).toBe(true);
    expect(new Set(routes.map((r) => r.auth?.scheme).filter(Boolean))).toEqual(new Set(["Bearer", "token"]));
    expect(routes.some((r) => r.tls_passthrough)).toBe(true);
    expect(new Set(Object.values(bottle.git_gate.repos).map((r) => r.key.provider))).toEqual(new Set(["static", "gitea"]));
  });

  it("ships the Dockerfile its bottle names (relative to bottles/, as the engine reads it)", async () => {
    const index = await loadExamples();
    const dockerfiles = Object.values(index.bottles).flatMap((b) => b.config.agent_provider?.dockerfile ?? []);
    expect(dockerfiles).toEqual(["claude-dev.Dockerfile"]);
    for (const dockerfile of dockerfiles) expect(existsSync(path.join(home, "bottles", dockerfile))).toBe(true);
  });

  it("ships the skill its agent uses", async () => {
    const index = await loadExamples();
    for (const skill of Object.values(index.agents).flatMap((a) => a.config.skills ?? [])) {
      expect(existsSync(path.join(examples, "skills", skill, "SKILL.md"))).toBe(true);
    }
  });

  it.each<ManifestKind>(["bottle", "agent"])("uses every %s key, and only keys of the published JSON Schema", async (kind) => {
    const index = await loadExamples();
    const schema = frontmatterJsonSchema(kind) as JsonSchema;
    const files = kind === "bottle" ? Object.values(index.bottles) : Object.values(index.agents);
    const used = new Set<string>();
    const unknown: string[] = [];
    for (const file of files) usedKeyPaths(parseFrontmatter(readFileSync(file.source, "utf8"), file.source).data, schema, "", used, unknown);
    expect(unknown).toEqual([]);
    const allowed = schemaKeyPaths(schema);
    expect(allowed).toContain(kind === "bottle" ? "egress.routes[].dlp.known_secret_env" : "git-gate.user.email");
    // A key the schema accepts and planning refuses ("not supported yet") cannot be in a home that starts.
    const refusedByPlanning = new Set(["egress.routes[].dlp.inbound_detectors"]);
    expect([...allowed].filter((p) => !used.has(p) && !refusedByPlanning.has(p))).toEqual([]);
  });
});
