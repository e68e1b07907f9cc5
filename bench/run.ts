import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { execa } from "execa";
import { waitUntil } from "../src/wait-until.js";
import { type Figure, figure, renderTable, writeReadmeTable } from "./figures.js";

// `npm run bench`: what bot-bottle costs, measured against what it wraps,
// side by side in one run. Ratios matter, not absolute numbers (they depend on
// the machine and its load). Every figure of issue 15 goes to
// bench/results/latest.json with its floor, and the README's table is
// regenerated from it. `node dist/bench/run.js SECTION...` runs only some
// sections (mcp, start, exec, concurrent, pool, egress) and writes
// bench/results/partial.json instead, leaving latest.json and the README alone.

const SECTIONS = ["mcp", "start", "exec", "concurrent", "pool", "egress"] as const;
type Section = (typeof SECTIONS)[number];

const LIST_AGENTS_CALLS = 300;
const EXEC_CALLS = 50;
const WARMUP_CALLS = 10;
const START_RUNS = 3;
const CONCURRENT_STARTS = 8;
const CLAIMED_STARTS = 5;
/** Bounds the wait for a warm pool to (re)fill: one launch, under load. */
const POOL_FILL_TIMEOUT_MS = 300_000;
/** Longer than any start here (the SDK's default, 60 s, is shorter than 8 concurrent starts once took). */
const CALL_TIMEOUT_MS = 600_000;
/** The goal of issue 15 is 80 MB; the figures are in MiB. */
const RSS_GOAL_MIB = Math.round((80e6 / 2 ** 20) * 10) / 10;
/** scripts/base-image.sh builds it: Debian bookworm with Node 24, standing in for node:24-bookworm. */
const LOCAL_BASE_IMAGE = "bot-bottle/base:node24-bookworm";
const HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const cliPath = path.join(packageRoot, "dist", "src", "cli.js");
const resultsDir = path.join(packageRoot, "bench", "results");

interface Stats {
  calls: number;
  p50_ms: number;
  p95_ms: number;
  mean_ms: number;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
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
  const result = (await client.callTool({ name, arguments: args }, undefined, { timeout: CALL_TIMEOUT_MS })) as CallToolResult;
  if (result.isError) throw new Error(`${name} failed: ${(result.content[0] as { text: string }).text}`);
  return result;
}

interface Started {
  id: string;
  resources: { agent: string; bundle: string };
}

/** The bottles this run started and has not stopped yet: stopped at the end whatever happens. */
const live = new Set<string>();

async function start(client: Client): Promise<Started> {
  const record = (await call(client, "start_bottle", { agent: "bench", label: "bench" })).structuredContent as unknown as Started;
  live.add(record.id);
  return record;
}

/** How long one `start_bottle` takes alone (its stop not counted). */
async function timedStartStop(client: Client): Promise<number> {
  let record!: Started;
  const ms = await timed(async () => (record = await start(client)));
  await stop(client, record.id);
  return ms;
}

async function stop(client: Client, id: string): Promise<void> {
  await call(client, "stop_bottle", { bottle_id: id });
  live.delete(id);
}

const docker = (args: string[]) => execa("docker", args);

/**
 * What a start and a stop wrap, as raw docker commands on the same images: a
 * network and a volume, the bundle and agent containers (each idling, so
 * nothing of bot-bottle runs), one exec, and their removal.
 */
async function rawStartStop(images: { bundle: string; agent: string }, run: number): Promise<number> {
  const name = `bb-bench-raw-${process.pid}-${run}`;
  const volume = `${name}-sockets`;
  const containers = [`${name}-bundle`, `${name}-agent`];
  try {
    return await timed(async () => {
      await docker(["network", "create", "--driver", "bridge", name]);
      await docker(["volume", "create", volume]);
      await docker(["run", "-d", "--name", containers[0]!, "--network", name, "--init", "--entrypoint", "sleep", images.bundle, "infinity"]);
      await docker(["run", "-d", "--name", containers[1]!, "--network", "none", "--init", "-v", `${volume}:/run/bot-bottle:ro`, "--entrypoint", "sleep", images.agent, "infinity"]);
      await docker(["exec", containers[1]!, "true"]);
      await docker(["rm", "-f", ...containers]);
      await docker(["network", "rm", name]);
      await docker(["volume", "rm", volume]);
    });
  } finally {
    await execa("docker", ["rm", "-f", ...containers], { reject: false });
    await execa("docker", ["network", "rm", name], { reject: false });
    await execa("docker", ["volume", "rm", volume], { reject: false });
  }
}

/**
 * Claimed starts through a server of their own that keeps one warm bottle of
 * the bench agent: each claim is timed, then the pool is left to refill
 * before the next (a claim, not a launch, is what is measured).
 */
async function benchWarmPool(env: Record<string, string>): Promise<Stats> {
  const pooled = new Client({ name: "bot-bottle-bench-pool", version: "1" });
  await pooled.connect(new StdioClientTransport({ command: process.execPath, args: [cliPath, "mcp", "--warm", "bench=1"], env, stderr: "inherit" }));
  const warmIds = async () =>
    ((await call(pooled, "list_bottles", {})).structuredContent as { bottles: { id: string; status: string }[] }).bottles.filter((b) => b.status === "pooled").map((b) => b.id);
  const waitForWarm = () => waitUntil("the warm pool to fill", async () => ((await warmIds()).length > 0 ? true : undefined), { timeoutMs: POOL_FILL_TIMEOUT_MS });
  try {
    const claims: number[] = [];
    for (let i = 0; i < CLAIMED_STARTS; i++) {
      await waitForWarm();
      let record!: Started;
      claims.push(await timed(async () => (record = await start(pooled))));
      await stop(pooled, record.id);
    }
    return stats(claims);
  } finally {
    await pooled.close();
  }
}

const imageOf = async (container: string) => (await docker(["inspect", "--format", "{{.Config.Image}}", container])).stdout.trim();

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  for (const name of asked) if (!(SECTIONS as readonly string[]).includes(name)) throw new Error(`unknown section ${name}; sections: ${SECTIONS.join(", ")}`);
  const sections = new Set<Section>(asked.length > 0 ? (asked as Section[]) : SECTIONS);
  const complete = sections.size === SECTIONS.length;

  const home = benchHome();
  const extraEnv = await engineEnv();
  const env = Object.fromEntries(Object.entries({ ...process.env, ...extraEnv, BOT_BOTTLE_HOME: home, BOT_BOTTLE_LOG: "warn" }).filter(([, v]) => v !== undefined)) as Record<string, string>;
  const client = new Client({ name: "bot-bottle-bench", version: "1" });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [cliPath, "mcp"], env, stderr: "inherit" }));
  const details: Record<string, unknown> = {};
  const figures: Figure[] = [];
  const say = (line: string) => process.stdout.write(`${line}\n`);
  try {
    if (sections.has("mcp")) {
      // The floor: a ping, which the SDK answers itself over the same transport.
      for (let i = 0; i < WARMUP_CALLS; i++) await client.ping();
      const ping: number[] = [];
      for (let i = 0; i < LIST_AGENTS_CALLS; i++) ping.push(await timed(() => client.ping()));
      for (let i = 0; i < WARMUP_CALLS; i++) await call(client, "list_agents", {});
      const listAgents: number[] = [];
      for (let i = 0; i < LIST_AGENTS_CALLS; i++) listAgents.push(await timed(() => call(client, "list_agents", {})));
      const list = stats(listAgents);
      const floor = stats(ping);
      details.mcp_round_trip = { transport: "stdio", list_agents: list, ping: floor };
      figures.push(
        figure({
          id: "mcp_round_trip",
          label: "MCP round trip over stdio (`list_agents`), p50",
          value: list.p50_ms,
          unit: "ms",
          floor: { value: floor.p50_ms, unit: "ms", what: "`ping` over the same transport" },
          compare: "absolute",
          goal: { op: "<=", value: 1, text: "≤ 1 ms" },
        }),
      );
      say(`MCP round trip: list_agents p50 ${list.p50_ms} ms (p95 ${list.p95_ms}); ping p50 ${floor.p50_ms} ms`);
    }

    let images: { bundle: string; agent: string } | undefined;
    let oneStartMs: number | undefined;
    if (sections.has("start") || sections.has("concurrent") || sections.has("exec") || sections.has("pool")) {
      // Builds the images if needed and warms the engine's caches; not counted.
      const warm = await start(client);
      images = { bundle: await imageOf(warm.resources.bundle), agent: await imageOf(warm.resources.agent) };
      await stop(client, warm.id);
    }

    if (sections.has("start") && images) {
      const starts: number[] = [];
      const stops: number[] = [];
      const total: number[] = [];
      const raw: number[] = [];
      // Interleaved, so that both see the same engine load.
      for (let i = 0; i < START_RUNS; i++) {
        let record!: Started;
        const startMs = await timed(async () => (record = await start(client)));
        const stopMs = await timed(() => stop(client, record.id));
        starts.push(startMs);
        stops.push(stopMs);
        total.push(startMs + stopMs);
        raw.push(await rawStartStop(images, i));
      }
      const bottle = stats(total);
      const floor = stats(raw);
      oneStartMs = stats(starts).p50_ms;
      details.start = { runs: START_RUNS, images, start: stats(starts), stop: stats(stops), start_and_stop: bottle, raw_docker: floor };
      figures.push(
        figure({
          id: "start_bottle_warm",
          label: "Warm `start_bottle` + `stop_bottle` (images cached), p50",
          value: Math.round(bottle.p50_ms),
          unit: "ms",
          floor: { value: Math.round(floor.p50_ms), unit: "ms", what: "the raw docker commands: network, volume, two containers, one exec, teardown" },
          compare: "ratio",
          goal: { op: "<=", value: 1.5, text: "≤ 1.5×" },
        }),
      );
      say(`start+stop p50 ${Math.round(bottle.p50_ms)} ms (start ${Math.round(oneStartMs)}, stop ${Math.round(stats(stops).p50_ms)}) vs raw docker ${Math.round(floor.p50_ms)} ms`);
    }

    if (sections.has("exec")) {
      const record = await start(client);
      // Interleaved, so that both see the same engine load.
      const viaMcp: number[] = [];
      const viaDocker: number[] = [];
      for (let i = 0; i < WARMUP_CALLS; i++) await call(client, "exec_in_bottle", { bottle_id: record.id, command: ["true"] });
      for (let i = 0; i < EXEC_CALLS; i++) {
        viaMcp.push(await timed(() => call(client, "exec_in_bottle", { bottle_id: record.id, command: ["true"] })));
        viaDocker.push(await timed(() => docker(["exec", record.resources.agent, "true"])));
      }
      const mcpExec = stats(viaMcp);
      const dockerExec = stats(viaDocker);
      details.exec = { command: "true", exec_in_bottle: mcpExec, docker_exec: dockerExec };
      figures.push(
        figure({
          id: "exec_in_bottle",
          label: "`exec_in_bottle` of `true`, p50",
          value: mcpExec.p50_ms,
          unit: "ms",
          floor: { value: dockerExec.p50_ms, unit: "ms", what: "`docker exec` of `true`" },
          compare: "ratio",
          goal: { op: "<=", value: 1.15, text: "≤ 1.15×" },
        }),
      );
      say(`exec of true: exec_in_bottle p50 ${mcpExec.p50_ms} ms vs docker exec p50 ${dockerExec.p50_ms} ms`);

      // The bundle has been idle since the start: what a default bottle's sidecars (egress, supervise) hold.
      const { rss } = await import("./egress.js");
      const idle = await rss(record.resources.bundle, /egress\.js/);
      const bareNode = Number((await docker(["exec", record.resources.bundle, "node", "-e", "console.log(process.memoryUsage().rss)"])).stdout) / 2 ** 20;
      details.bundle_idle = { daemons: "egress, supervise", bundle_rss_mib: idle.total, egress_rss_mib: idle.named, bare_node_rss_mib: round(bareNode, 1) };
      figures.push(
        figure({
          id: "bundle_idle_rss",
          label: "Sidecar bundle idle RSS (egress + supervise)",
          value: idle.total,
          unit: "MiB",
          floor: { value: round(bareNode, 1), unit: "MiB", what: "one bare `node` process in the bundle image" },
          compare: "absolute",
          goal: { op: "<=", value: RSS_GOAL_MIB, text: `≤ 80 MB (${RSS_GOAL_MIB} MiB)` },
        }),
      );
      say(`bundle idle RSS ${idle.total} MiB (a bare node: ${round(bareNode, 1)} MiB)`);
      await stop(client, record.id);
    }

    if (sections.has("concurrent")) {
      oneStartMs ??= await timedStartStop(client);
      let records: Started[] = [];
      const allMs = await timed(async () => (records = await Promise.all(Array.from({ length: CONCURRENT_STARTS }, () => start(client)))));
      const stopAllMs = await timed(() => Promise.all(records.map((r) => stop(client, r.id))));
      details.concurrent_starts = { bottles: CONCURRENT_STARTS, all_started_ms: Math.round(allMs), one_start_ms: Math.round(oneStartMs), all_stopped_ms: Math.round(stopAllMs) };
      figures.push(
        figure({
          id: "concurrent_starts",
          label: `${CONCURRENT_STARTS} \`start_bottle\` at once, until all run`,
          value: Math.round(allMs),
          unit: "ms",
          floor: { value: Math.round(oneStartMs), unit: "ms", what: "one `start_bottle` alone" },
          compare: "ratio",
          goal: { op: "<=", value: 3, text: "≤ 3×" },
        }),
      );
      say(`${CONCURRENT_STARTS} starts at once: ${Math.round(allMs)} ms vs one start ${Math.round(oneStartMs)} ms`);
    }

    if (sections.has("pool")) {
      oneStartMs ??= await timedStartStop(client);
      const claims = await benchWarmPool(env);
      const claimed = { claims, cold_start_ms: oneStartMs };
      details.warm_pool = claimed;
      figures.push(
        figure({
          id: "claimed_start",
          label: `\`start_bottle\` that claims a warm bottle (\`mcp --warm bench=1\`, ×${claimed.claims.calls}), p50`,
          value: claimed.claims.p50_ms,
          unit: "ms",
          floor: { value: Math.round(claimed.cold_start_ms), unit: "ms", what: "a cold `start_bottle` of the same agent" },
          compare: "absolute",
          goal: { op: "<=", value: 200, text: "≤ 200 ms" },
        }),
      );
      say(`claimed start p50 ${claimed.claims.p50_ms} ms (p95 ${claimed.claims.p95_ms}); a cold start ${Math.round(claimed.cold_start_ms)} ms`);
    }

    if (sections.has("egress")) {
      const egress = await (await import("./egress.js")).benchEgress(extraEnv);
      details.egress = egress;
      const pass = egress.passthrough_download;
      const mitm = egress.mitm_small_requests;
      const held = egress.concurrency;
      figures.push(
        figure({
          id: "egress_passthrough",
          label: `Egress passthrough download (${pass.bytes / 2 ** 20} MiB, best of ${pass.runs})`,
          value: pass.via_egress_mib_s,
          unit: "MiB/s",
          floor: { value: pass.direct_mib_s, unit: "MiB/s", what: "the same download made directly from the bundle" },
          compare: "ratio",
          goal: { op: ">=", value: 0.6, text: "≥ 0.6×" },
        }),
        figure({
          id: "mitm_added_latency",
          label: `MITM route, small requests on a kept-alive connection (×${mitm.requests}), p50`,
          value: mitm.via_mitm.p50_ms,
          unit: "ms",
          floor: { value: mitm.direct.p50_ms, unit: "ms", what: "the same requests made directly" },
          compare: "added",
          goal: { op: "<=", value: 2, text: "≤ +2 ms" },
        }),
        figure({
          id: "egress_concurrent_connections",
          label: `Connections held at once through one egress (all ${held.connections} in ${Math.round(held.all_held_ms)} ms)`,
          value: held.completed,
          unit: "completed",
          floor: null,
          compare: "absolute",
          goal: { op: ">=", value: held.connections, text: `all ${held.connections}` },
        }),
      );
      say(`egress passthrough ${pass.via_egress_mib_s} vs direct ${pass.direct_mib_s} MiB/s; MITM p50 ${mitm.via_mitm.p50_ms} vs direct ${mitm.direct.p50_ms} ms; ${held.completed}/${held.connections} held connections completed`);
    }

    const machine = {
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      cpus: os.cpus().length,
      docker: (await docker(["version", "--format", "{{.Server.Version}}"])).stdout,
      load_average_at_end: os.loadavg().map((l) => round(l)),
    };
    const results = { generated_at: new Date().toISOString(), sections: [...sections], machine, engine_env: extraEnv, figures, details };
    mkdirSync(resultsDir, { recursive: true });
    const file = path.join(resultsDir, complete ? "latest.json" : "partial.json");
    writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
    const table = renderTable(figures, results.generated_at, `${machine.cpus} CPUs, ${machine.platform}, Node ${machine.node}, Docker ${machine.docker}, load average ${machine.load_average_at_end.join(" ")} at the end`);
    say(`\n${table}\n\nwritten to ${file}`);
    if (complete) say(writeReadmeTable(path.join(packageRoot, "README.md"), table) ? "README.md's table regenerated" : "README.md has no bench table block to regenerate");
  } finally {
    for (const id of live) await call(client, "stop_bottle", { bottle_id: id }).catch(() => undefined);
    await client.close();
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
