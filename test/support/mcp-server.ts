import { cpSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { execa } from "execa";
import { beforeAll } from "vitest";
import { cliPath, repoRoot } from "./cli.js";
import { engineTestEnv } from "./docker.js";
import { useTempDir } from "./temp-dir.js";

// Helpers for tests that drive the BUILT MCP server through real MCP clients.

export const mcpFixtureHome = path.join(repoRoot, "test", "fixtures", "homes", "mcp");

/**
 * A throwaway copy of the MCP fixture home (agents worker and broken, bottle
 * sandbox) for one describe block, and the server environment that uses it.
 */
export function useMcpTestHome(): { readonly home: string; readonly env: Record<string, string> } {
  const dir = useTempDir("bb-mcp-home-");
  beforeAll(() => cpSync(mcpFixtureHome, dir.path, { recursive: true }));
  return {
    get home() {
      return dir.path;
    },
    get env() {
      return { ...engineTestEnv(), BOT_BOTTLE_HOME: dir.path, BOT_BOTTLE_LOG: "info" };
    },
  };
}

const clientInfo = { name: "bot-bottle-tests", version: "1.0.0" };

/** An SDK client on a `bot-bottle mcp` child over stdio; the child's stderr is collected. */
export async function connectStdio(env: Record<string, string>, mcpArgs: string[] = []): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({
    command: "node",
    args: [cliPath, "mcp", ...mcpArgs],
    env,
    cwd: os.tmpdir(),
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client(clientInfo);
  await client.connect(transport);
  return { client, stderr: () => stderr };
}

export interface HttpServerProcess {
  url: string;
  /** The bearer token the server printed (or was given). */
  token: string;
  stderr: () => string;
  stop: () => Promise<void>;
}

/** Starts `bot-bottle mcp --http --port 0 ...` and waits until it prints where it listens. */
export async function startHttpServer(env: Record<string, string>, args: string[] = [], token?: string): Promise<HttpServerProcess> {
  const child = execa("node", [cliPath, "mcp", "--http", "--port", "0", ...args], {
    env: { ...env },
    cwd: os.tmpdir(),
    reject: false,
    stdin: "ignore",
  });
  let stderr = "";
  const listening = new Promise<{ url: string; token: string }>((resolve, reject) => {
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const url = /listening on (http\S+)/.exec(stderr)?.[1];
      const printed = /bearer token \([^)]*\): (\S+)/.exec(stderr)?.[1];
      if (url && (printed || token)) resolve({ url, token: printed ?? token! });
    });
    void child.then((result) => reject(new Error(`the server exited (${result.exitCode}) before listening:\n${stderr}`)));
  });
  const ready = await listening;
  return {
    ...ready,
    stderr: () => stderr,
    stop: async () => {
      child.kill("SIGTERM");
      await child;
    },
  };
}

export async function connectHttp(url: string, token: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
  const client = new Client(clientInfo);
  await client.connect(transport);
  return client;
}

/** The first text block of a tool result. */
export const resultText = (result: unknown) => ((result as CallToolResult).content[0] as { text: string } | undefined)?.text ?? "";
