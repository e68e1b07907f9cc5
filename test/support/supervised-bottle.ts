import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { expect } from "vitest";
import { waitUntil } from "../../src/wait-until.js";
import { runCli } from "./cli.js";
import { engineTestEnv } from "./docker.js";
import { createTestCa, createTestInternet, type TestCa, type TestInternet } from "./fake-model-container.js";
import { connectStdio } from "./mcp-server.js";

// The world of the supervise e2e tests: a home with one bottle and an agent
// `asker`, a stand-in internet the bundle joins (allowed to egress by subnet),
// a test CA egress trusts for the fakes on it, and the test as the outer agent:
// an MCP SDK client of `bot-bottle mcp` that started the bottle.

export const structured = <T>(result: unknown) => (result as CallToolResult).structuredContent as T;
export type Exec = { exit_code: number; stdout: string; stderr: string };

/** Waits on a condition (bounded), polling as it goes. */
export const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> =>
  waitUntil(what, async () => await probe(), { timeoutMs, intervalMs: 250 });

export interface SupervisedBottle {
  home: string;
  outer: Client;
  bottleId: string;
  internet: TestInternet;
  ca: TestCa;
  /** Runs a command in the bottle through exec_in_bottle. */
  exec(command: string[], timeoutS?: number): Promise<Exec>;
  /** Stops the bottle and removes the network, the client and the folder. */
  remove(): Promise<void>;
}

export async function startSupervisedBottle(options: {
  /** A temporary folder this world owns (removed with it). */
  root: string;
  /** The bottle's frontmatter (YAML, without the --- lines). */
  bottle: string;
  /** The agent's system prompt. */
  prompt: string;
  label: string;
  /** Registers notification handlers before the bottle starts. */
  onClient?: (client: Client) => void;
}): Promise<SupervisedBottle> {
  const home = path.join(options.root, "home");
  mkdirSync(path.join(home, "bottles"), { recursive: true });
  mkdirSync(path.join(home, "agents"), { recursive: true });
  writeFileSync(path.join(home, "bottles", "asking.md"), `---${options.bottle}---\n`);
  writeFileSync(path.join(home, "agents", "asker.md"), `---\nbottle: asking\n---\n${options.prompt}\n`);
  const ca = await createTestCa(options.root);
  const internet = await createTestInternet(`bb-${options.label}-net-${process.pid}`);
  const env = {
    ...engineTestEnv(),
    PATH: process.env.PATH ?? "",
    BOT_BOTTLE_HOME: home,
    BOT_BOTTLE_LOG: "info",
    BOT_BOTTLE_EGRESS_EXTRA_CA: ca.certFile,
    BOT_BOTTLE_EGRESS_ALLOW_NETWORKS: internet.subnet,
  };
  const { client: outer } = await connectStdio(env);
  options.onClient?.(outer);
  let bottleId = "";
  const remove = async () => {
    await outer.close();
    if (bottleId) await runCli(["stop", bottleId], env);
    await internet.remove();
    rmSync(options.root, { recursive: true, force: true });
  };
  try {
    const started = await outer.callTool({ name: "start_bottle", arguments: { agent: "asker", label: options.label } }, undefined, { timeout: 900_000 });
    const record = structured<{ id: string; warnings: string[] } | undefined>(started);
    expect(record?.warnings, JSON.stringify(started)).toEqual([]);
    bottleId = record!.id;
    await internet.connect(`bot-bottle-${bottleId}-bundle`);
  } catch (error) {
    await remove();
    throw error;
  }
  return {
    home,
    outer,
    bottleId,
    internet,
    ca,
    exec: async (command, timeoutS = 60) =>
      structured<Exec>(
        await outer.callTool({ name: "exec_in_bottle", arguments: { bottle_id: bottleId, command, timeout_s: timeoutS } }, undefined, { timeout: (timeoutS + 30) * 1000 }),
      ),
    remove,
  };
}
