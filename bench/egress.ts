import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { Engine } from "../src/engine/engine.js";
import { createTestPki, startUpstream, writeUpstreamFiles } from "./egress-fixtures.js";

// What egress costs, measured against what it wraps, in one real bottle:
// a large download through a passthrough tunnel (agent -> forwarder -> egress
// -> upstream) against the same download made directly from the bundle; small
// requests on a warm keep-alive connection through a MITM route (decrypt,
// judge, inject the token, re-encrypt) against the same requests made
// directly; 500 connections held open at once through the MITM route; and
// the bundle's memory idle and under that load. Ratios matter, not absolute
// numbers. The fake upstream is a container on a network made for the run,
// whose (Docker-chosen, private) subnet egress is told to allow.

const DOWNLOAD_BYTES = 256 * 1024 * 1024;
const DOWNLOAD_RUNS = 3;
const SMALL_REQUESTS = 500;
const NEW_CONNECTIONS = 100;
const WARMUP = 20;
const CONCURRENT = 500;
const HOSTS = { pass: "pass.bench.test", mitm: "mitm.bench.test" };
/** scripts/base-image.sh builds it: Debian bookworm with Node 24, standing in for node:24-bookworm. */
const LOCAL_BASE_IMAGE = "bot-bottle/base:node24-bookworm";
const HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/**
 * The client, run by node inside a container (the agent's or the bundle's).
 * `direct` dials the host itself; `proxy` goes through egress at
 * 127.0.0.1:9099 with CONNECT. Either way: TLS, HTTP/1.1, one keep-alive
 * connection per measurement unless the task says otherwise. Its parameters
 * arrive as the global P (see LAUNCHER).
 */
const CLIENT = String.raw`
const fs = require("fs"), http = require("http"), tls = require("tls");
const ca = P.ca ? [P.ca] : undefined;
function connect() {
  const start = (socket) => new Promise((resolve, reject) => {
    const s = tls.connect({ socket, host: P.host, port: 443, servername: P.host, ca, ALPNProtocols: ["http/1.1"] }, () => resolve(s));
    s.on("error", reject);
  });
  if (P.mode === "direct") return start(undefined);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: 9099, method: "CONNECT", path: P.host + ":443", agent: false });
    req.on("connect", (res, socket) => (res.statusCode === 200 ? start(socket).then(resolve, reject) : reject(new Error("CONNECT " + res.statusCode))));
    req.on("error", reject);
    req.end();
  });
}
class OneSocket extends http.Agent {
  constructor(socket) { super({ keepAlive: true, maxSockets: 1 }); this.socket = socket; }
  createConnection() { return this.socket; }
}
function get(agent, path) {
  return new Promise((resolve, reject) => {
    const req = http.request({ agent, path, headers: { Host: P.host }, setHost: false }, (res) => {
      let bytes = 0;
      res.on("data", (c) => (bytes += c.length));
      res.on("end", () => resolve({ status: res.statusCode, bytes }));
    });
    req.on("error", reject);
    req.end();
  });
}
const now = () => Number(process.hrtime.bigint()) / 1e6;
(async () => {
  if (P.task === "download") {
    const agent = new OneSocket(await connect());
    const t = now();
    const r = await get(agent, "/download?bytes=" + P.bytes);
    console.log(JSON.stringify({ ms: now() - t, bytes: r.bytes, status: r.status }));
  } else if (P.task === "latency") {
    const agent = new OneSocket(await connect());
    const samples = [];
    for (let i = 0; i < P.warmup + P.n; i++) {
      const t = now();
      const r = await get(agent, "/small");
      if (r.status !== 200) throw new Error("status " + r.status);
      if (i >= P.warmup) samples.push(now() - t);
    }
    console.log(JSON.stringify(samples));
  } else if (P.task === "connections") {
    const samples = [];
    for (let i = 0; i < P.warmup + P.n; i++) {
      const t = now();
      const socket = await connect();
      const r = await get(new OneSocket(socket), "/small");
      socket.destroy();
      if (r.status !== 200) throw new Error("status " + r.status);
      if (i >= P.warmup) samples.push(now() - t);
    }
    console.log(JSON.stringify(samples));
  } else if (P.task === "hold") {
    const t = now();
    const held = [];
    for (let i = 0; i < P.n; i++) held.push(connect().then((s) => get(new OneSocket(s), "/hold").finally(() => s.destroy())));
    const control = new OneSocket(await connect());
    const deadline = Date.now() + 120000;
    for (;;) {
      const r = await new Promise((resolve, reject) => {
        const req = http.request({ agent: control, path: "/holding", headers: { Host: P.host }, setHost: false }, (res) => {
          let body = ""; res.on("data", (c) => (body += c)); res.on("end", () => resolve(JSON.parse(body)));
        });
        req.on("error", reject); req.end();
      });
      if (r.holding >= P.n) break;
      if (Date.now() > deadline) throw new Error("only " + r.holding + " held");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    console.log("HELD " + (now() - t));
    while (!fs.existsSync(P.goFile)) {
      if (Date.now() > deadline) throw new Error("no go signal");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await get(control, "/release-holds");
    const results = await Promise.allSettled(held);
    const ok = results.filter((r) => r.status === "fulfilled" && r.value.status === 200).length;
    console.log(JSON.stringify({ completed: ok, failed: results.length - ok }));
  }
  process.exit(0);
})().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
`;

/** Reads the client and its parameters from stdin, so nothing of them shows in any argv. */
const LAUNCHER = `const [script, params] = require("fs").readFileSync(0, "utf8").split("\\n__PARAMS__\\n"); global.P = JSON.parse(params); eval(script);`;

function clientArgs(container: string, user: string): string[] {
  return ["exec", "-i", "-u", user, container, "node", "-e", LAUNCHER];
}

const clientInput = (params: Record<string, unknown>) => `${CLIENT}\n__PARAMS__\n${JSON.stringify(params)}`;

interface Percentiles {
  p50_ms: number;
  p95_ms: number;
}

export interface EgressBenchResult {
  passthrough_download: { bytes: number; runs: number; direct_mib_s: number; via_egress_mib_s: number; ratio: number };
  mitm_small_requests: { requests: number; direct: Percentiles; via_mitm: Percentiles; ratio_p50: number; ratio_p95: number };
  mitm_new_connections: { connections: number; direct: Percentiles; via_mitm: Percentiles; ratio_p50: number; ratio_p95: number };
  concurrency: { connections: number; all_held_ms: number; completed: number; failed: number; bundle_rss_mib: number };
  idle: { bundle_rss_mib: number; egress_rss_mib: number };
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50_ms: round(at(0.5)), p95_ms: round(at(0.95)) };
}

/** Runs the client in a container as `user`, its parameters after the script on stdin (never in argv). */
async function runClient(container: string, user: string, params: Record<string, unknown>): Promise<string> {
  const result = await execa("docker", clientArgs(container, user), { input: clientInput(params), reject: false });
  if (result.exitCode !== 0) throw new Error(`benchmark client failed in ${container}: ${result.stderr}`);
  return result.stdout;
}

/** Resident memory (MiB) of every process in a container, and of those whose command line matches `name`. */
export async function rss(container: string, name: RegExp): Promise<{ total: number; named: number }> {
  const { stdout } = await execa("docker", ["exec", container, "sh", "-c", "for p in /proc/[0-9]*; do echo \"$(tr '\\0' ' ' < $p/cmdline) :: $(grep VmRSS $p/status)\"; done"]);
  let total = 0;
  let named = 0;
  for (const line of stdout.split("\n")) {
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(line)?.[1] ?? 0);
    total += kb;
    if (name.test(line.split(" :: ")[0] ?? "")) named += kb;
  }
  return { total: round(total / 1024, 1), named: round(named / 1024, 1) };
}

function writeHome(home: string): void {
  mkdirSync(path.join(home, "bottles"), { recursive: true });
  mkdirSync(path.join(home, "agents"), { recursive: true });
  writeFileSync(
    path.join(home, "bottles", "egress-bench.md"),
    [
      "---",
      "agent_provider:",
      "  template: claude",
      "supervise: false",
      "egress:",
      "  log: 1",
      "  routes:",
      `    - host: ${HOSTS.pass}`,
      "      tls_passthrough: true",
      `    - host: ${HOSTS.mitm}`,
      "      auth: {scheme: Bearer, token_ref: BB_EGRESS_BENCH_TOKEN}",
      "---",
      "The egress benchmark's bottle.",
      "",
    ].join("\n"),
  );
  writeFileSync(path.join(home, "agents", "egress-bench.md"), "---\nbottle: egress-bench\n---\nYou are benchmarked.\n");
}

/**
 * The engine's environment when the caller gives none: on a machine without an
 * image registry, the local base image and the host's CA bundle for builds, as
 * the tests use, so that their cached images are reused.
 */
async function defaultEngineEnv(): Promise<Record<string, string>> {
  if (process.env.BOT_BOTTLE_BASE_IMAGE) return {};
  const local = await execa("docker", ["image", "inspect", LOCAL_BASE_IMAGE], { reject: false });
  if (local.exitCode !== 0) return {};
  const env: Record<string, string> = { BOT_BOTTLE_BASE_IMAGE: LOCAL_BASE_IMAGE };
  if (!process.env.BOT_BOTTLE_BUILD_CA && existsSync(HOST_CA_BUNDLE)) env.BOT_BOTTLE_BUILD_CA = HOST_CA_BUNDLE;
  return env;
}

/** Starts a bottle and a fake upstream, measures, and removes both. */
export async function benchEgress(engineEnv?: Record<string, string>): Promise<EgressBenchResult> {
  const home = mkdtempSync(path.join(os.tmpdir(), "bb-egress-bench-"));
  const files = mkdtempSync(path.join(os.tmpdir(), "bb-egress-bench-upstream-"));
  const suffix = `${process.pid}-${randomBytes(3).toString("hex")}`;
  const network = `bb-egress-bench-${suffix}`;
  const upstream = `bb-egress-bench-upstream-${suffix}`;
  writeHome(home);
  const pki = await createTestPki(Object.values(HOSTS));
  writeUpstreamFiles(files, pki);
  let engine: Engine | null = null;
  let bottleId: string | null = null;
  try {
    await execa("docker", ["network", "create", network]);
    const subnet = (await execa("docker", ["network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", network])).stdout.trim();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...(engineEnv ?? (await defaultEngineEnv())),
      BOT_BOTTLE_HOME: home,
      BOT_BOTTLE_EGRESS_EXTRA_CA: path.join(files, "ca.pem"),
      BOT_BOTTLE_EGRESS_ALLOW_NETWORKS: subnet,
      BB_EGRESS_BENCH_TOKEN: `bench-${randomBytes(16).toString("hex")}`,
    };
    engine = new Engine({ home, cwd: home, env });
    await startUpstream({ name: upstream, network, aliases: Object.values(HOSTS), dir: files, image: env.BOT_BOTTLE_BASE_IMAGE ?? "node:24-bookworm" });
    const record = await engine.start({ agent: "egress-bench" });
    bottleId = record.id;
    const plan = engine.attach(record.id).plan;
    const { agent, bundle } = plan.resources;
    await execa("docker", ["network", "connect", network, bundle]);

    const idle = await rss(bundle, /egress\.js/);

    const via = (params: Record<string, unknown>) => runClient(agent, "node", { mode: "proxy", ...params });
    const direct = (params: Record<string, unknown>) => runClient(bundle, "root", { mode: "direct", ca: pki.caPem, ...params });

    // Interleaved runs, best of each, so both see the same machine load.
    const speeds = { direct: [] as number[], via: [] as number[] };
    for (let i = 0; i < DOWNLOAD_RUNS; i++) {
      for (const [kind, run] of [
        ["direct", direct],
        ["via", (p: Record<string, unknown>) => via({ ...p, ca: pki.caPem })],
      ] as const) {
        const r = JSON.parse(await run({ task: "download", host: HOSTS.pass, bytes: DOWNLOAD_BYTES })) as { ms: number; bytes: number };
        if (r.bytes !== DOWNLOAD_BYTES) throw new Error(`download ${kind} got ${r.bytes} bytes`);
        speeds[kind].push(DOWNLOAD_BYTES / (1024 * 1024) / (r.ms / 1000));
      }
    }
    const directSpeed = Math.max(...speeds.direct);
    const viaSpeed = Math.max(...speeds.via);

    const small = { task: "latency", host: HOSTS.mitm, n: SMALL_REQUESTS, warmup: WARMUP };
    const smallDirect = percentiles(JSON.parse(await direct(small)) as number[]);
    const smallVia = percentiles(JSON.parse(await via(small)) as number[]);
    const fresh = { task: "connections", host: HOSTS.mitm, n: NEW_CONNECTIONS, warmup: 5 };
    const freshDirect = percentiles(JSON.parse(await direct(fresh)) as number[]);
    const freshVia = percentiles(JSON.parse(await via(fresh)) as number[]);

    const goFile = `/tmp/bench-go-${suffix}`;
    const holding = execa("docker", clientArgs(agent, "node"), {
      input: clientInput({ mode: "proxy", task: "hold", host: HOSTS.mitm, n: CONCURRENT, goFile }),
      reject: false,
    });
    let heldMs: number | null = null;
    holding.stdout?.on("data", (chunk: Buffer) => {
      const match = /HELD ([\d.]+)/.exec(chunk.toString());
      if (match) heldMs = Number(match[1]);
    });
    for (let i = 0; i < 2400 && heldMs === null && holding.exitCode === null; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    if (heldMs === null) throw new Error(`the ${CONCURRENT} connections were never all held: ${(await holding).stderr}`);
    const loaded = await rss(bundle, /egress\.js/);
    await execa("docker", ["exec", agent, "touch", goFile]);
    const done = await holding;
    if (done.exitCode !== 0) throw new Error(`the concurrency client failed: ${done.stderr}`);
    const outcome = JSON.parse(done.stdout.split("\n").pop()!) as { completed: number; failed: number };

    return {
      passthrough_download: {
        bytes: DOWNLOAD_BYTES,
        runs: DOWNLOAD_RUNS,
        direct_mib_s: round(directSpeed, 1),
        via_egress_mib_s: round(viaSpeed, 1),
        ratio: round(viaSpeed / directSpeed),
      },
      mitm_small_requests: {
        requests: SMALL_REQUESTS,
        direct: smallDirect,
        via_mitm: smallVia,
        ratio_p50: round(smallVia.p50_ms / smallDirect.p50_ms),
        ratio_p95: round(smallVia.p95_ms / smallDirect.p95_ms),
      },
      mitm_new_connections: {
        connections: NEW_CONNECTIONS,
        direct: freshDirect,
        via_mitm: freshVia,
        ratio_p50: round(freshVia.p50_ms / freshDirect.p50_ms),
        ratio_p95: round(freshVia.p95_ms / freshDirect.p95_ms),
      },
      concurrency: { connections: CONCURRENT, all_held_ms: round(heldMs), ...outcome, bundle_rss_mib: loaded.total },
      idle: { bundle_rss_mib: idle.total, egress_rss_mib: idle.named },
    };
  } finally {
    if (engine && bottleId) await engine.stop(bottleId).catch(() => undefined);
    await execa("docker", ["rm", "-f", upstream], { reject: false });
    await execa("docker", ["network", "rm", network], { reject: false });
    await engine?.gc().catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
    rmSync(files, { recursive: true, force: true });
  }
}
