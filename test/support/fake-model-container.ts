import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { build } from "esbuild";
import { execa } from "execa";
import { parseRouteHost } from "../../sidecars/egress/host.js";
import { createLeafKey, loadSigningCa, mintLeaf } from "../../sidecars/egress/leaf-certs.js";
import type { Step } from "../e2e/fake-model.js";
import { createBottleCa } from "../../src/engine/ca.js";
import { repoRoot } from "./cli.js";
import { baseImage } from "./docker.js";

// Fake internet hosts for a bottle: a fake model API (HTTPS with a leaf from a
// test CA that egress is told to trust through BOT_BOTTLE_EGRESS_EXTRA_CA;
// see fake-model-container-main.ts) and plain HTTP greeters, in containers on
// a test network joined by the bottle's bundle only (see createTestInternet):
// the agent reaches them through egress or not at all.

export interface TestCa {
  /** The CA certificate file, for BOT_BOTTLE_EGRESS_EXTRA_CA. */
  certFile: string;
  /** A leaf (certificate and key PEM) for one host name. */
  leaf(host: string): Promise<{ certPem: string; keyPem: string }>;
}

export async function createTestCa(dir: string): Promise<TestCa> {
  const ca = await createBottleCa("fake upstreams");
  const certFile = path.join(dir, "test-ca.pem");
  writeFileSync(certFile, ca.certPem);
  const signing = await loadSigningCa(ca.certPem, ca.keyPem);
  return {
    certFile,
    async leaf(host) {
      const key = await createLeafKey();
      const cert = await mintLeaf(signing, key, parseRouteHost(host)!.host);
      return { certPem: cert.toString("pem"), keyPem: key.pem };
    },
  };
}

export interface TestInternet {
  name: string;
  /** The subnet the engine gave it: egress must be told to allow it (BOT_BOTTLE_EGRESS_ALLOW_NETWORKS). */
  subnet: string;
  /** Joins a container (the bottle's bundle) to it. */
  connect(container: string): Promise<void>;
  remove(): Promise<void>;
}

/**
 * A network standing in for the internet: the fake hosts live on it and only
 * the bottle's bundle joins it. Docker picks a private subnet, which egress
 * refuses unless allowed, so tests create it before the bottle starts and
 * allow exactly its subnet. (Never a fixed "public" subnet: it could shadow a
 * real address this machine uses.)
 */
export async function createTestInternet(name: string): Promise<TestInternet> {
  await execa("docker", ["network", "create", name]);
  const subnet = (await execa("docker", ["network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", name])).stdout.trim();
  const joined: string[] = [];
  return {
    name,
    subnet,
    async connect(container) {
      await execa("docker", ["network", "connect", name, container]);
      joined.push(container);
    },
    async remove() {
      for (const container of joined) await execa("docker", ["network", "disconnect", "-f", name, container], { reject: false });
      await execa("docker", ["network", "rm", name], { reject: false });
    },
  };
}

export interface FakeModelContainer {
  name: string;
  /** The tool results the agent sent back on its latest turn. */
  toolResults(): Promise<string[]>;
  /** The credential header of every request the fake received (`authorization: ...` or `x-api-key: ...`), in order. */
  credentials(): Promise<string[]>;
  /** Everything the container printed. */
  logs(): Promise<string>;
  remove(): Promise<void>;
}

/** Starts the fake on `network` as `host` (port 443) and waits until it listens. */
export async function startFakeModelContainer(options: {
  name: string;
  network: string;
  host: string;
  dialect: "anthropic" | "openai";
  steps: Step[];
  /** The final answer once the steps are done (default: the tool results, as text). */
  answer?: string;
  ca: TestCa;
}): Promise<FakeModelContainer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bb-fake-model-"));
  await build({
    entryPoints: [path.join(repoRoot, "test", "support", "fake-model-container-main.ts")],
    outfile: path.join(dir, "main.mjs"),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    logLevel: "warning",
  });
  const leaf = await options.ca.leaf(options.host);
  writeFileSync(path.join(dir, "cert.pem"), leaf.certPem);
  writeFileSync(path.join(dir, "key.pem"), leaf.keyPem, { mode: 0o644 });
  const docker = (args: string[]) => execa("docker", args);
  await docker([
    "run", "-d", "--name", options.name, "--network", options.network, "--network-alias", options.host,
    "-v", `${dir}:/fake:ro`, "-e", `FAKE_DIALECT=${options.dialect}`, "-e", `FAKE_STEPS=${JSON.stringify(options.steps)}`,
    ...(options.answer === undefined ? [] : ["-e", `FAKE_ANSWER=${options.answer}`]),
    baseImage(), "node", "/fake/main.mjs",
  ]);
  const logs = async () => {
    const result = await execa("docker", ["logs", options.name], { all: true, reject: false });
    return String(result.all ?? "");
  };
  for (let i = 0; !(await logs()).includes("fake model listening"); i++) {
    if (i >= 100) throw new Error(`the fake model did not start:\n${await logs()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    name: options.name,
    logs,
    async toolResults() {
      const turns = (await logs())
        .split("\n")
        .filter((line) => line.startsWith('{"toolResults"'))
        .map((line) => (JSON.parse(line) as { toolResults: string[] }).toolResults);
      return turns.at(-1) ?? [];
    },
    async credentials() {
      return (await logs())
        .split("\n")
        .filter((line) => line.startsWith('{"credential"'))
        .map((line) => (JSON.parse(line) as { credential: string }).credential);
    },
    async remove() {
      await execa("docker", ["rm", "-f", options.name], { reject: false });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A plain HTTP server container answering `<greeting> <path>`, on `network` as `host`. */
export async function startGreeter(options: { name: string; network: string; host: string; greeting: string }): Promise<{ remove(): Promise<void> }> {
  const server = `require('http').createServer((q,s)=>s.end(${JSON.stringify(options.greeting)}+' '+q.url)).listen(80,()=>console.log('listening'))`;
  await execa("docker", ["run", "-d", "--name", options.name, "--network", options.network, "--network-alias", options.host, baseImage(), "node", "-e", server]);
  for (let i = 0; !(await execa("docker", ["logs", options.name])).stdout.includes("listening"); i++) {
    if (i >= 100) throw new Error(`${options.name} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { remove: async () => void (await execa("docker", ["rm", "-f", options.name], { reject: false })) };
}
