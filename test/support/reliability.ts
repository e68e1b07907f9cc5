import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { execa } from "execa";
import { LABELS } from "../../backends/labels.js";
import { homeLabel } from "../../src/engine/prepare.js";
import { waitUntil } from "../../src/wait-until.js";
import { cliPath } from "./cli.js";
import { engineTestEnv } from "./docker.js";
import { mcpFixtureHome } from "./mcp-server.js";

// Helpers of the reliability suites (faults, concurrency): MCP servers as
// real processes that can be SIGKILLed, and what a home has on the engine.

/**
 * A home for the reliability suites: the MCP fixture home (agent `worker`)
 * plus a bottle `reliable` with the given extra frontmatter, and an agent
 * `steady` on it.
 */
export function writeReliabilityHome(home: string, bottleFrontmatter = ""): Record<string, string> {
  mkdirSync(home, { recursive: true });
  cpSync(mcpFixtureHome, home, { recursive: true });
  writeFileSync(path.join(home, "bottles", "reliable.md"), `---\nagent_provider:\n  template: claude\n${bottleFrontmatter}---\nThe reliability suites' bottle.\n`);
  writeFileSync(path.join(home, "agents", "steady.md"), "---\nbottle: reliable\n---\nYou are the steady agent of the reliability suites.\n");
  return { ...engineTestEnv(), PATH: process.env.PATH ?? "", BOT_BOTTLE_HOME: home, BOT_BOTTLE_LOG: "info" };
}

export interface ServerProcess {
  client: Client;
  /** The server's pid, which is also its session id: every process it starts shares that session. */
  pid: number;
  /** Resolves when the client sees the connection close (the process is gone and reaped). */
  closed: Promise<void>;
  stderr(): string;
}

/**
 * `bot-bottle mcp` over stdio as a process of its own session (setsid execs
 * it in place, so the pid is the server's), with an SDK client named `name`.
 * The session tells the server's children (docker commands) apart from
 * everything else, so a test can wait for those a killed server left behind.
 */
export async function startServerProcess(env: Record<string, string>, name = "bot-bottle-reliability"): Promise<ServerProcess> {
  const transport = new StdioClientTransport({ command: "setsid", args: [process.execPath, cliPath, "mcp"], env, cwd: os.tmpdir(), stderr: "pipe" });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({ name, version: "1.0.0" });
  const closed = new Promise<void>((resolve) => (client.onclose = resolve));
  await client.connect(transport);
  return { client, pid: transport.pid!, closed, stderr: () => stderr };
}

/** Pids of the processes in a session (from /proc: field 6 of stat, after the command name in parentheses). */
export function sessionMembers(sid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // After the name: state, ppid, pgrp, session.
    if (Number(fields[3]) === sid) members.push(Number(entry));
  }
  return members;
}

/**
 * SIGKILLs the server (a crash: no handler runs) and waits until it is gone
 * and, unless told otherwise, until the commands it had started (docker
 * run/exec/network...) have finished on their own: their effects land even
 * though the server died, and gc must see them.
 */
export async function killServer(server: ServerProcess, options: { waitForChildren?: boolean } = {}): Promise<void> {
  process.kill(server.pid, "SIGKILL");
  await server.closed;
  if (options.waitForChildren === false) return;
  await sessionEnded(server.pid, `server ${server.pid}`);
}

/** Waits until no process is left in session `sid`: the commands its leader (`who`, dead by now) had started have ended. */
export async function sessionEnded(sid: number, who: string): Promise<void> {
  await waitUntil(`the commands ${who} left behind to end`, async () => (sessionMembers(sid).length === 0 ? true : undefined), { timeoutMs: 120_000, intervalMs: 50 });
}

/**
 * Starts the built CLI as a process of its own session, so that a test can
 * crash it with `crashCli` and wait for the commands it left running.
 */
export const startCliInSession = (args: string[], env: NodeJS.ProcessEnv) => execa(process.execPath, [cliPath, ...args], { env, reject: false, detached: true });

/** SIGKILLs a CLI started with `startCliInSession` and waits for what it left running (docker commands) to end, as killServer does. */
export async function crashCli(child: ReturnType<typeof startCliInSession>): Promise<void> {
  child.kill("SIGKILL");
  await child;
  await sessionEnded(child.pid!, `CLI ${child.pid}`);
}

/** Calls a tool and returns its structured result; an error result throws with its text. */
export async function ok<T = Record<string, unknown>>(client: Client, name: string, args: Record<string, unknown>, timeoutMs = 300_000): Promise<T> {
  const result = (await client.callTool({ name, arguments: args }, undefined, { timeout: timeoutMs })) as CallToolResult;
  if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
  return result.structuredContent as T;
}

/** Calls a tool and returns the whole result (errors included). */
export const call = (client: Client, name: string, args: Record<string, unknown>, timeoutMs = 300_000) =>
  client.callTool({ name, arguments: args }, undefined, { timeout: timeoutMs }) as Promise<CallToolResult>;

/** Everything on the engine that carries the home's label: containers (any state), networks, volumes. */
export async function homeResources(home: string): Promise<{ containers: string[]; networks: string[]; volumes: string[] }> {
  const filter = ["--filter", `label=${LABELS.home}=${homeLabel(home)}`];
  const names = async (args: string[]) => (await execa("docker", [...args, ...filter, "--format", "{{.Name}}"])).stdout.split("\n").filter(Boolean);
  const [containers, networks, volumes] = await Promise.all([
    (async () => (await execa("docker", ["ps", "-a", ...filter, "--format", "{{.Names}}"])).stdout.split("\n").filter(Boolean))(),
    names(["network", "ls"]),
    names(["volume", "ls"]),
  ]);
  return { containers, networks, volumes };
}

/** The entries of a folder of the home (none when it does not exist). */
export function entriesOf(folder: string): string[] {
  try {
    return readdirSync(folder).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

/**
 * A request-approval call to the bottle's supervise server, made from inside
 * the bottle as its agent would (stateless Streamable HTTP), for each summary
 * at once; prints one JSON line per answer: the summary and the tool's
 * structured result (or the error).
 */
export function askScript(summaries: string[]): string {
  const program = `
const summaries = ${JSON.stringify(summaries)};
const ask = async (summary, i) => {
  const body = JSON.stringify({ jsonrpc: "2.0", id: i + 1, method: "tools/call", params: { name: "request-approval", arguments: { summary, justification: "the reliability suite asks" } } });
  try {
    const response = await fetch("http://127.0.0.1:9100/mcp", { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body });
    const text = await response.text();
    const json = text.split("\\n").filter((l) => l.startsWith("data: ")).map((l) => JSON.parse(l.slice(6))).find((m) => m.id === i + 1) ?? JSON.parse(text);
    return { summary, result: json.result?.structuredContent ?? null, error: json.error ?? (json.result?.isError ? json.result.content : null) };
  } catch (error) {
    return { summary, result: null, error: String(error) };
  }
};
Promise.all(summaries.map(ask)).then((answers) => { for (const a of answers) console.log(JSON.stringify(a)); });
`;
  return `node -e '${program.replace(/'/g, `'"'"'`)}'`;
}

export interface AskAnswer {
  summary: string;
  result: { request_id: string | null; status: string; decided_by: string | null; notes: string | null; message: string } | null;
  error: unknown;
}

export const parseAnswers = (stdout: string): AskAnswer[] =>
  stdout
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as AskAnswer);
