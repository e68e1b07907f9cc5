import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { registerTools } from "../../../tools/registry.js";
import { defineTool, type Tool } from "../../../tools/tool.js";
import { Engine } from "../../../src/engine/engine.js";
import { UserError } from "../../../src/user-error.js";

// The registry's one wrapper, driven through a real SDK client and server
// connected in memory, with tools made for the purpose.

const answer = z.object({ ok: z.boolean() });
const noArgs = z.object({});
const annotations = { readOnlyHint: true, openWorldHint: false };

const signalsSeen: string[] = [];
const progressSeen: boolean[] = [];

const testTools: Tool[] = [
  defineTool({ name: "refuses", title: "t", description: "d", input: noArgs, output: answer, annotations, run: async () => {
    throw new UserError('no bottle with id "x"; list them with list_bottles');
  } }),
  defineTool({ name: "crashes", title: "t", description: "d", input: noArgs, output: answer, annotations, run: async () => {
    throw new Error("docker: Cannot connect to the Docker daemon");
  } }),
  defineTool({
    name: "waits_for_cancel",
    title: "t",
    description: "d",
    input: noArgs,
    output: answer,
    annotations,
    run: async (_args, { signal, progress }) => {
      await progress({ progress: 1, message: "waiting" });
      if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
      signalsSeen.push(String(signal.reason ?? "aborted"));
      throw new Error("aborted");
    },
  }),
  defineTool({
    name: "reports",
    title: "t",
    description: "d",
    input: z.object({ steps: z.number().int() }),
    output: answer,
    annotations,
    run: async ({ steps }, { wantsProgress, progress }) => {
      progressSeen.push(wantsProgress);
      for (let step = 1; step <= steps; step++) await progress({ progress: step, total: steps, message: `step ${step}` });
      return { structured: { ok: true }, text: `did ${steps} steps` };
    },
  }),
];

describe("the tool registry", () => {
  const home = mkdtempSync(path.join(os.tmpdir(), "bb-registry-"));
  const client = new Client({ name: "unit", version: "1" });

  beforeAll(async () => {
    const server = new McpServer({ name: "test", version: "1" });
    registerTools(server, new Engine({ home, cwd: home }), testTools);
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    await client.connect(clientSide);
  });
  afterAll(async () => {
    await client.close();
    rmSync(home, { recursive: true, force: true });
  });

  const call = (name: string, args: Record<string, unknown> = {}) => client.callTool({ name, arguments: args }) as Promise<CallToolResult>;
  const text = (result: CallToolResult) => (result.content[0] as { text: string }).text;

  it("registers every tool it is given, with its annotations", async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(testTools.map((t) => t.name));
    expect(tools[0]!.annotations).toMatchObject({ readOnlyHint: true, openWorldHint: false, title: "t" });
  });

  it("maps a UserError to an isError result carrying its message as is", async () => {
    const result = await call("refuses");
    expect(result.isError).toBe(true);
    expect(text(result)).toBe('no bottle with id "x"; list them with list_bottles');
  });

  it("maps any other failure to an isError result that says it is not the caller's fault and what to check", async () => {
    const result = await call("crashes");
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/^crashes failed: docker: Cannot connect to the Docker daemon\n/);
    expect(text(result)).toMatch(/not of your arguments/);
    expect(text(result)).toMatch(/docker info/);
  });

  it("returns structured content and the text, and sends progress only to a client that asked", async () => {
    const updates: { progress: number; message?: string }[] = [];
    const result = await client.callTool({ name: "reports", arguments: { steps: 3 } }, undefined, { onprogress: (p) => updates.push(p) });
    expect(result).toMatchObject({ structuredContent: { ok: true }, content: [{ type: "text", text: "did 3 steps" }] });
    expect(updates.map((u) => u.message)).toEqual(["step 1", "step 2", "step 3"]);
    await call("reports", { steps: 2 });
    expect(progressSeen).toEqual([true, false]);
  });

  it("hands the client's cancellation to the tool as an aborted signal", async () => {
    const controller = new AbortController();
    const pending = client.callTool({ name: "waits_for_cancel", arguments: {} }, undefined, {
      signal: controller.signal,
      onprogress: () => controller.abort("cancelled by the unit test"),
    });
    await expect(pending).rejects.toThrow(/cancelled by the unit test/);
    await expect.poll(() => signalsSeen.length).toBe(1);
  });

  it("keeps serving after failures", async () => {
    await call("crashes");
    await call("refuses");
    expect((await call("reports", { steps: 1 })).isError).toBeFalsy();
  });
});
