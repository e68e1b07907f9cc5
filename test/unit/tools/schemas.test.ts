import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../../src/engine/engine.js";
import type { BottleRecord } from "../../../src/engine/records.js";
import { createMcpServer } from "../../../src/mcp/server.js";
import { execInBottleTool } from "../../../tools/exec-in-bottle.js";
import { listAgentsTool } from "../../../tools/list-agents.js";
import { listBottlesTool } from "../../../tools/list-bottles.js";
import { tools } from "../../../tools/registry.js";
import { startBottleTool } from "../../../tools/start-bottle.js";
import { stopBottleTool } from "../../../tools/stop-bottle.js";
import { superviseApproveTool } from "../../../tools/supervise-approve.js";
import { mcpFixtureHome } from "../../support/mcp-server.js";

const record: BottleRecord = {
  id: "worker-0a1b2c3d",
  agent: "worker",
  agent_origin: "home",
  agent_source: "/home/u/.bot-bottle/agents/worker.md",
  bottles: ["sandbox"],
  provider: "claude",
  backend: "docker",
  label: null,
  cwd: null,
  status: "running",
  started_at: "2026-01-01T00:00:00.000Z",
  stopped_at: null,
  resources: { agent: "a", bundle: "b", network: "n", volume: "v" },
  warnings: [],
};

describe("the tool definitions", () => {
  it("are uniquely named in snake_case, titled, described, and never claim the open world", () => {
    expect(new Set(tools.map((t) => t.name)).size).toBe(tools.length);
    for (const tool of tools) {
      expect(tool.name).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect(tool.title).not.toBe("");
      expect(tool.description.length).toBeGreaterThan(150);
      expect(tool.annotations.openWorldHint).toBe(false);
    }
  });

  it("mark listings read-only and stopping destructive", () => {
    expect(listAgentsTool.annotations).toMatchObject({ readOnlyHint: true, idempotentHint: true });
    expect(listBottlesTool.annotations).toMatchObject({ readOnlyHint: true, idempotentHint: true });
    expect(stopBottleTool.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(startBottleTool.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
    expect(execInBottleTool.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
  });

  it("supervise_approve takes extend_credential as a described boolean only: a flag that does not parse is refused", () => {
    const parse = (args: object) => superviseApproveTool.input.safeParse({ request_id: "0".repeat(32), decision: "approve", ...args });
    expect(parse({ extend_credential: true }).success).toBe(true);
    expect(parse({}).success).toBe(true);
    for (const flag of ["true", 1, null]) expect(parse({ extend_credential: flag }).success).toBe(false);
    expect(superviseApproveTool.input.shape.extend_credential.description).toMatch(/Omit to open them without any credential/);
  });

  it("exec_in_bottle takes a shell line or an argv array, and bounds its numbers", () => {
    const parse = (args: object) => execInBottleTool.input.safeParse(args);
    expect(parse({ bottle_id: "b", command: "echo hi | wc -c" }).success).toBe(true);
    expect(parse({ bottle_id: "b", command: ["printf", "", "x"] }).success).toBe(true);
    expect(parse({ bottle_id: "b", command: "true", user: "root", cwd: "/tmp", env: { A_1: "x" }, timeout_s: 0.5, max_output_bytes: 10 }).success).toBe(true);
    expect(parse({ bottle_id: "b", command: "" }).success).toBe(false);
    expect(parse({ bottle_id: "b", command: [] }).success).toBe(false);
    expect(parse({ bottle_id: "b", command: [1] }).success).toBe(false);
    expect(parse({ bottle_id: "", command: "true" }).success).toBe(false);
    expect(parse({ bottle_id: "b", command: "true", timeout_s: 0 }).success).toBe(false);
    expect(parse({ bottle_id: "b", command: "true", timeout_s: 86_401 }).success).toBe(false);
    expect(parse({ bottle_id: "b", command: "true", max_output_bytes: 1.5 }).success).toBe(false);
    expect(parse({ bottle_id: "b", command: "true", env: { "1X": "y" } }).success).toBe(false);
    expect(parse({ bottle_id: "b", command: "true", env: { "A=B": "y" } }).success).toBe(false);
    expect(parse({ bottle_id: "b", command: 5 }).error?.issues[0]?.message).toMatch(/shell command line .* or an argv array/);
  });

  it("exec_in_bottle takes exactly one of a command or a prompt for the bottled agent", () => {
    const parse = (args: object) => execInBottleTool.input.safeParse(args);
    expect(parse({ bottle_id: "b", prompt: "fix the tests", model: "m", max_turns: 3, allowed_tools: ["Bash"] }).success).toBe(true);
    for (const args of [{ bottle_id: "b" }, { bottle_id: "b", command: "true", prompt: "and this" }]) {
      const result = parse(args);
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.message).toMatch(/exactly one of command .* or prompt/);
    }
    expect(parse({ bottle_id: "b", prompt: "" }).success).toBe(false);
    expect(parse({ bottle_id: "b", prompt: "x", max_turns: 0 }).success).toBe(false);
  });

  it("start_bottle takes the engine's spec, and the outputs accept the engine's records", () => {
    expect(startBottleTool.input.safeParse({ agent: "worker", bottles: ["a", "b"], cwd: ".", label: "x", backend: "docker" }).success).toBe(true);
    expect(startBottleTool.input.safeParse({ agent: "" }).success).toBe(false);
    expect(startBottleTool.input.safeParse({ agent: "worker", backend: "vmware" }).success).toBe(false);
    expect(startBottleTool.output.parse(record)).toEqual(record);
    expect(listBottlesTool.output.parse({ bottles: [record] })).toEqual({ bottles: [record] });
    expect(stopBottleTool.output.parse({ id: record.id, removed: ["container a"] })).toEqual({ id: record.id, removed: ["container a"] });
    expect(execInBottleTool.output.safeParse({ exit_code: 0, stdout: "", stderr: "", truncated: false, duration_ms: 3, timed_out: false }).success).toBe(true);
  });
});

describe("the tools as a client lists them (in-memory client, real server)", () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), "bb-schemas-cwd-"));
  const client = new Client({ name: "unit", version: "1" });

  beforeAll(async () => {
    mkdirSync(path.join(cwd, ".bot-bottle", "agents"), { recursive: true });
    writeFileSync(path.join(cwd, ".bot-bottle", "agents", "reviewer.md"), "---\nbottle: sandbox\ndescription: Reviews.\n---\nReview.\n");
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await createMcpServer(new Engine({ home: mcpFixtureHome, cwd: os.tmpdir() })).connect(serverSide);
    await client.connect(clientSide);
  });
  afterAll(async () => {
    await client.close();
    rmSync(cwd, { recursive: true, force: true });
  });

  it("publish JSON Schemas with every argument described", async () => {
    const listed = await client.listTools();
    expect(listed.tools.map((t) => t.name)).toEqual(tools.map((t) => t.name));
    for (const tool of listed.tools) {
      expect(tool.inputSchema.type).toBe("object");
      expect(tool.outputSchema?.type).toBe("object");
      for (const [name, property] of Object.entries(tool.inputSchema.properties ?? {})) {
        expect((property as { description?: string }).description, `${tool.name}.${name}`).toBeTruthy();
      }
    }
    const exec = listed.tools.find((t) => t.name === "exec_in_bottle")!;
    expect((exec.inputSchema.properties!.command as { anyOf: unknown[] }).anyOf).toHaveLength(2);
  });

  it("list_agents reads the home, and a repository's agents when given its cwd", async () => {
    const home = await client.callTool({ name: "list_agents", arguments: {} });
    expect((home.structuredContent as { agents: { name: string }[] }).agents.map((a) => a.name)).toEqual(["worker"]);
    const withRepo = await client.callTool({ name: "list_agents", arguments: { cwd } });
    expect((withRepo.structuredContent as { agents: { name: string; origin: string }[] }).agents.map((a) => [a.name, a.origin])).toEqual([
      ["reviewer", "repository"],
      ["worker", "home"],
    ]);
    expect((withRepo.content as { text: string }[])[0]!.text).toMatch(/- reviewer \(from the repository; bottle sandbox; provider claude\): Reviews\./);
    expect((withRepo.content as { text: string }[])[0]!.text).toMatch(/broken agent broken: .*colour: unknown key/);
  });
});
