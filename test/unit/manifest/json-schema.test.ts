import { describe, expect, it } from "vitest";
import { frontmatterJsonSchema, manifestJsonSchema } from "../../../src/manifest/json-schema.js";

type JsonSchema = { properties?: Record<string, JsonSchema>; items?: JsonSchema; additionalProperties?: unknown; required?: string[] };

describe("the JSON Schema of manifests", () => {
  it("describes bottle frontmatter, strict at every level", () => {
    const schema = frontmatterJsonSchema("bottle") as JsonSchema & { $schema: string };
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(Object.keys(schema.properties ?? {})).toEqual(["extends", "env", "agent_provider", "egress", "git-gate", "backend", "pool", "supervise", "resources"]);
    expect(schema.additionalProperties).toBe(false);
    const route = schema.properties?.egress?.properties?.routes?.items;
    expect(Object.keys(route?.properties ?? {})).toContain("tls_passthrough");
    expect(route?.additionalProperties).toBe(false);
    expect(route?.required).toEqual(["host"]);
  });

  it("describes what a person writes: env values may be numbers or booleans, template may come from a parent", () => {
    const schema = frontmatterJsonSchema("bottle") as JsonSchema;
    expect(schema.properties?.env?.additionalProperties).toEqual({ type: ["string", "number", "boolean"] });
    expect(schema.properties?.agent_provider?.required).toBeUndefined();
  });

  it("describes resources as a person writes them: memory with a unit, cpus and pids as numbers, nothing else", () => {
    const schema = frontmatterJsonSchema("bottle") as JsonSchema;
    const resources = schema.properties?.resources as JsonSchema & { properties: Record<string, { type?: string; pattern?: string }> };
    expect(resources.additionalProperties).toBe(false);
    expect(Object.keys(resources.properties)).toEqual(["memory", "cpus", "pids"]);
    expect(resources.properties.memory?.type).toBe("string");
    expect(new RegExp(resources.properties.memory?.pattern ?? "^$").test("4g")).toBe(true);
    expect(new RegExp(resources.properties.memory?.pattern ?? "^$").test("lots")).toBe(false);
    expect(resources.properties.cpus?.type).toBe("number");
    expect(resources.properties.pids?.type).toBe("integer");
  });

  it("publishes agent_provider.version with the loader's pattern: npm versions and dist-tags, nothing a shell would expand", () => {
    const schema = frontmatterJsonSchema("bottle") as JsonSchema & { properties: { agent_provider: { properties: { version: { pattern: string } } } } };
    const pattern = new RegExp(schema.properties.agent_provider.properties.version.pattern);
    const good = ["2.1.332", "0.171.0", "1.0.0-beta.2", "1.0.0+build.7", "latest", "next"];
    expect(good.filter((v) => pattern.test(v))).toEqual(good);
    expect(["2.1.332; rm -rf /", "$(id)", "`id`", "^2.1.0", ">=2", "2.1.x || 3", "2.1", " latest", "-rf"].filter((v) => pattern.test(v))).toEqual([]);
  });

  it("describes agent frontmatter", () => {
    const schema = frontmatterJsonSchema("agent") as JsonSchema;
    expect(Object.keys(schema.properties ?? {})).toEqual(["bottle", "skills", "git-gate", "name", "description", "model", "color"]);
  });

  it("refuses the skill names . and .. and paths, as the loader does", () => {
    const schema = frontmatterJsonSchema("agent") as JsonSchema & { properties: { skills: { items: { pattern: string } } } };
    const pattern = new RegExp(schema.properties.skills.items.pattern);
    expect(["review-checklist", "a.b", "..x", "_x"].filter((name) => pattern.test(name))).toEqual(["review-checklist", "a.b", "..x", "_x"]);
    expect([".", "..", "a/b", "../x", "/etc"].filter((name) => pattern.test(name))).toEqual([]);
  });

  it("puts both kinds in one document under $defs", () => {
    const schema = manifestJsonSchema() as { $defs: Record<string, Record<string, unknown>>; anyOf: unknown[] };
    expect(Object.keys(schema.$defs)).toEqual(["bottle", "agent"]);
    expect(schema.$defs.bottle?.$schema).toBeUndefined();
    expect(schema.anyOf).toEqual([{ $ref: "#/$defs/bottle" }, { $ref: "#/$defs/agent" }]);
  });
});
