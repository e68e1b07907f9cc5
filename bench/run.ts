import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { execa } from "execa";

// `npm run bench`: what the MCP layer costs, measured against what it wraps,
// side by side in one run. Ratios matter, not absolute numbers (they depend on
// the machine). Results go to bench/results/latest.json.

const LIST_AGENTS_CALLS = 300;
const EXEC_CALLS = 50;
const WARMUP_CALLS = 10;
/** scripts/base-image.sh builds it: Debian bookworm with Node 24, standing in for node:24-bookworm. */
const LOCAL_BASE_IMAGE = "bot-bottle/base:node24-bookworm";
const HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const cliPath = path.join(packageRoot, "dist", "src", "cli.js");
const resultsFile = path.join(packageRoot, "bench", "results", "latest.json");

interface Stats {
  calls: number;
  p50_ms: number;
  p95_ms: number;
  mean_ms: number;
}

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return { calls: samples.length, p50_ms: round(at(0.5)), p95_ms: round(at(0.95)), mean_ms: round(samples.reduce((a, b) => a + b, 0) / samples.length) };
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

/**
 * The engine's environment: the caller's, or on a machine without an image
 * registry the local base image (scripts/base-image.sh) and the host's CA bundle
 * for builds, as the tests use, so that their cached images are reused.
 */
async function engineEnv(): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  if (!process.env.BOT_BOTTLE_BASE_IMAGE && (await execa("docker", ["image", "inspect", LOCAL_BASE_IMAGE], { reject: false })).exitCode === 0) {
    env.BOT_BOTTLE_BASE_IMAGE = LOCAL_BASE_IMAGE;
    if (!process.env.BOT_BOTTLE_BUILD_CA && existsSync(HOST_CA_BUNDLE)) env.BOT_BOTTLE_BUILD_CA = HOST_CA_BUNDLE;
  }
  return env;
}

function benchHome(): string {
  const home = mkdtempSync(path.join(os.tmpdir(), "bb-bench-"));
  mkdirSync(path.join(home, "bottles"));
  mkdirSync(path.join(home, "agents"));
  writeFileSync(path.join(home, "bottles", "bench.md"), "---\nagent_provider:\n  template: claude\n---\nThe benchmark's bottle.\n");
  writeFileSync(path.join(home, "agents", "bench.md"), "---\nbottle: bench\ndescription: The benchmark's agent.\n---\nYou are benchmarked.\n");
  return home;
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  if (result.isError) throw new Error(`${name} failed: ${(result.content[0] as { text: string }).text}`);
  return result;
}

async function main(): Promise<void> {
  const home = benchHome();
  const extraEnv = await engineEnv();
  const env = Object.fromEntries(Object.entries({ ...process.env, ...extraEnv, BOT_BOTTLE_HOME: home, BOT_BOTTLE_LOG: "warn" }).filter(([, v]) => v !== undefined)) as Record<string, string>;
  const client = new Client({ name: "bot-bottle-bench", version: "1" });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [cliPath, "mcp"], env, stderr: "inherit" }));
  let bottleId: string | undefined;
  try {
    for (let i = 0; i < WARMUP_CALLS; i++) await call(client, "list_agents", {});
    const listAgents: number[] = [];
    for (let i = 0; i < LIST_AGENTS_CALLS; i++) listAgents.push(await timed(() => call(client, "list_agents", {})));

    let started!: CallToolResult;
    const startMs = await timed(async () => (started = await call(client, "start_bottle", { agent: "bench", label: "bench" })));
    const record = started.structuredContent as { id: string; resources: { agent: string } };
    bottleId = record.id;

    // Interleaved, so that both see the same engine load.
    const viaMcp: number[] = [];
    const viaDocker: number[] = [];
    for (let i = 0; i < WARMUP_CALLS; i++) await call(client, "exec_in_bottle", { bottle_id: bottleId, command: ["true"] });
    for (let i = 0; i < EXEC_CALLS; i++) {
      viaMcp.push(await timed(() => call(client, "exec_in_bottle", { bottle_id: bottleId, command: ["true"] })));
      viaDocker.push(await timed(() => execa("docker", ["exec", record.resources.agent, "true"])));
    }

    const mcpExec = stats(viaMcp);
    const dockerExec = stats(viaDocker);
    const results = {
      generated_at: new Date().toISOString(),
      machine: { node: process.version, platform: `${os.platform()} ${os.release()}`, cpus: os.cpus().length, docker: (await execa("docker", ["version", "--format", "{{.Server.Version}}"])).stdout },
      engine_env: extraEnv,
      mcp_round_trip: { transport: "stdio", tool: "list_agents", ...stats(listAgents) },
      exec: {
        command: "true",
        exec_in_bottle: mcpExec,
        docker_exec: dockerExec,
        ratio_p50: Math.round((mcpExec.p50_ms / dockerExec.p50_ms) * 100) / 100,
        overhead_p50_ms: Math.round((mcpExec.p50_ms - dockerExec.p50_ms) * 100) / 100,
      },
      start_bottle_ms: Math.round(startMs),
      egress: await (await import("./egress.js")).benchEgress(extraEnv),
    };
    mkdirSync(path.dirname(resultsFile), { recursive: true });
    writeFileSync(resultsFile, JSON.stringify(results, null, 2) + "\n");
    process.stdout.write(
      [
        `MCP round trip (stdio, list_agents x${LIST_AGENTS_CALLS}): p50 ${results.mcp_round_trip.p50_ms} ms, p95 ${results.mcp_round_trip.p95_ms} ms`,
        `exec of true x${EXEC_CALLS}: exec_in_bottle p50 ${mcpExec.p50_ms} ms (p95 ${mcpExec.p95_ms}) vs docker exec p50 ${dockerExec.p50_ms} ms (p95 ${dockerExec.p95_ms}): ` +
          `${results.exec.ratio_p50}x, +${results.exec.overhead_p50_ms} ms`,
        `start_bottle (images cached): ${results.start_bottle_ms} ms`,
        `written to ${resultsFile}`,
      ].join("\n") + "\n",
    );
  } finally {
    if (bottleId) await call(client, "stop_bottle", { bottle_id: bottleId }).catch(() => undefined);
    await client.close();
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
