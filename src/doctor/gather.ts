import { existsSync, readFileSync, statfsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import { docker, dockerBinary, DockerError, dockerSucceeds } from "../../backends/docker/docker-cli.js";
import { DEFAULT_AGENT_BASE, DEFAULT_BUNDLE_BASE } from "../engine/prepare.js";
import { formatManifestIssue } from "../manifest/errors.js";
import { loadManifestIndex } from "../manifest/load.js";
import { secretReferences } from "../manifest/secret-references.js";
import { validateManifestIndex } from "../manifest/validate.js";
import { SERVER_NAME } from "../mcp/server.js";
import { HostSecrets } from "../secrets/host-secrets.js";
import { SecretStore } from "../secrets/store.js";
import { UserError } from "../user-error.js";
import type { BaseImageFacts, ClientFacts, DoctorFacts, EngineFacts, HomeFacts, McpClientName, SecretFacts } from "./facts.js";
import { smolvmFacts } from "../../backends/smolmachines/readiness.js";

// The shell of `bot-bottle doctor`: asks the engine, the home, the secret
// store, the outer clients' configs and the machine, once each, and hands
// the answers to the pure checks. Nothing here judges.

/** A hung engine or registry must not hang the doctor. */
const PROBE_TIMEOUT_MS = 20_000;

const firstLine = (text: string) => text.trim().split("\n")[0] ?? "";

const DockerVersion = z.object({
  Version: z.string().optional(),
  Platform: z.object({ Name: z.string().optional() }).optional(),
  Components: z.array(z.object({ Name: z.string() })).nullish(),
});

async function engineFacts(): Promise<EngineFacts> {
  const cli = dockerBinary();
  let server: z.infer<typeof DockerVersion>;
  try {
    server = DockerVersion.parse(JSON.parse(await docker(["version", "--format", "{{json .Server}}"], { timeout: PROBE_TIMEOUT_MS })));
  } catch (error) {
    if (error instanceof UserError) return { state: "missing-cli", cli };
    const detail = error instanceof DockerError ? error.stderr : (error as Error).message;
    return { state: "down", cli, error: firstLine(detail) || "no answer" };
  }
  const client = await execa(cli, ["--version"], { reject: false, timeout: PROBE_TIMEOUT_MS });
  return {
    state: "up",
    cli,
    clientVersion: firstLine(String(client.stdout ?? "")),
    serverVersion: server.Version ?? "(version unknown)",
    platform: server.Platform?.Name ?? "",
    components: (server.Components ?? []).map((c) => c.Name),
  };
}

async function baseImageFacts(env: NodeJS.ProcessEnv): Promise<BaseImageFacts> {
  const configured = env.BOT_BOTTLE_BASE_IMAGE?.trim() || null;
  const names = configured ? [configured] : [DEFAULT_AGENT_BASE, DEFAULT_BUNDLE_BASE];
  const images = await Promise.all(names.map(async (name) => ({ name, present: await dockerSucceeds(["image", "inspect", name]) })));
  const missing = images.find((image) => !image.present);
  if (!missing) return { configured, images, registry: { state: "not-asked" } };
  // Reads the image's manifest from its registry: a question, not a download.
  const asked = await execa(dockerBinary(), ["manifest", "inspect", missing.name], { reject: false, timeout: PROBE_TIMEOUT_MS });
  const registry: BaseImageFacts["registry"] =
    asked.exitCode === 0 ? { state: "reachable" } : { state: "unreachable", error: firstLine(String(asked.stderr ?? "")) || (asked.timedOut ? "no answer" : "failed") };
  return { configured, images, registry };
}

async function homeAndSecretFacts(home: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ home: HomeFacts; secrets: SecretFacts[] }> {
  if (!existsSync(home)) return { home: { home, exists: false, bottles: 0, agents: 0, issues: [], warnings: [] }, secrets: [] };
  const index = await loadManifestIndex({ home, cwd });
  const issues = validateManifestIndex(index).map(formatManifestIssue);
  const namedBy = new Map<string, string[]>();
  for (const bottle of Object.values(index.bottles)) {
    for (const name of secretReferences(bottle.config)) namedBy.set(name, [...(namedBy.get(name) ?? []), bottle.name]);
  }
  const hostSecrets = new HostSecrets(env, new SecretStore(home));
  const secrets = [...namedBy.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, bottles]): SecretFacts => {
      let stored = false;
      let storeProblem: string | null = null;
      try {
        stored = hostSecrets.store.get(name) !== undefined;
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        storeProblem = error.message;
      }
      return { name, bottles: bottles.sort(), environment: hostSecrets.inEnvironment(name), stored, storeProblem };
    });
  return {
    home: { home, exists: true, bottles: Object.keys(index.bottles).length, agents: Object.keys(index.agents).length, issues, warnings: index.warnings },
    secrets,
  };
}

const ClaudeServers = z.record(z.string(), z.object({ alwaysLoad: z.boolean().optional() }).loose());
const ClaudeConfig = z.object({ mcpServers: ClaudeServers.optional(), projects: z.record(z.string(), z.object({ mcpServers: ClaudeServers.optional() }).loose()).optional() }).loose();
const CodexConfig = z.object({ mcp_servers: z.record(z.string(), z.object({ required: z.boolean().optional() }).loose()).optional() }).loose();

/** A JSON or TOML config file, or null when there is none. */
function readConfig<T>(file: string, schema: z.ZodType<T>, parse: (text: string) => unknown): T | null {
  if (!existsSync(file)) return null;
  const parsed = schema.safeParse(parse(readFileSync(file, "utf8")));
  if (!parsed.success) throw new Error(`${file} does not have the expected shape: ${parsed.error.issues[0]?.message ?? "unknown"}`);
  return parsed.data;
}

/**
 * Where `mcp install` registered the server, read from the client's own
 * config files rather than `claude mcp list` / `codex mcp list`: those start
 * every registered server to check it, and show neither mark.
 */
function registrations(client: McpClientName, cwd: string, env: NodeJS.ProcessEnv): Pick<ClientFacts, "config" | "registrations"> {
  if (client === "codex") {
    const config = path.join(env.CODEX_HOME ?? path.join(os.homedir(), ".codex"), "config.toml");
    const server = readConfig(config, CodexConfig, parseToml)?.mcp_servers?.[SERVER_NAME];
    return { config, registrations: server ? [{ scope: "user", marked: server.required === true }] : [] };
  }
  // Claude Code: user and local scope in .claude.json, project scope in the project's .mcp.json.
  const userConfig = path.join(env.CLAUDE_CONFIG_DIR ?? os.homedir(), ".claude.json");
  const projectConfig = path.join(cwd, ".mcp.json");
  const claude = readConfig(userConfig, ClaudeConfig, JSON.parse);
  const project = readConfig(projectConfig, ClaudeConfig, JSON.parse);
  const found = [
    { scope: "user", server: claude?.mcpServers?.[SERVER_NAME] },
    { scope: `local (${cwd})`, server: claude?.projects?.[cwd]?.mcpServers?.[SERVER_NAME] },
    { scope: `project (${projectConfig})`, server: project?.mcpServers?.[SERVER_NAME] },
  ];
  return {
    config: `${userConfig}, ${projectConfig}`,
    registrations: found.flatMap(({ scope, server }) => (server ? [{ scope, marked: server.alwaysLoad === true }] : [])),
  };
}

async function clientFacts(client: McpClientName, cwd: string, env: NodeJS.ProcessEnv): Promise<ClientFacts> {
  const version = await execa(client, ["--version"], { reject: false, timeout: PROBE_TIMEOUT_MS, stdin: "ignore" });
  const facts: ClientFacts = { client, version: null, config: "", registrations: [], problem: null };
  if (version.exitCode !== 0) return facts;
  facts.version = firstLine(String(version.stdout ?? "")) || "(version unknown)";
  try {
    return { ...facts, ...registrations(client, cwd, env) };
  } catch (error) {
    return { ...facts, problem: (error as Error).message };
  }
}

const EngineRoot = z.object({ DockerRootDir: z.string().optional() });

/** Free space where the engine keeps its images, when that folder is on this machine. */
function diskFacts(engineInfo: unknown): DoctorFacts["disk"] {
  const root = EngineRoot.safeParse(engineInfo).data?.DockerRootDir;
  if (!root || !existsSync(root)) return null;
  const stats = statfsSync(root);
  return { path: root, freeBytes: stats.bavail * stats.bsize };
}

/** `docker info`, or null when it fails even though `docker version` answered (the checks that need it then say they cannot tell). */
async function engineInfoOrNull(): Promise<unknown> {
  try {
    return JSON.parse(await docker(["info", "--format", "{{json .}}"], { timeout: PROBE_TIMEOUT_MS })) as unknown;
  } catch {
    return null;
  }
}

export async function gatherDoctorFacts({ home, cwd, env }: { home: string; cwd: string; env: NodeJS.ProcessEnv }): Promise<DoctorFacts> {
  const [engine, homeAndSecrets, claude, codex] = await Promise.all([
    engineFacts(),
    homeAndSecretFacts(home, cwd, env),
    clientFacts("claude", cwd, env),
    clientFacts("codex", cwd, env),
  ]);
  const up = engine.state === "up";
  const engineInfo = up ? await engineInfoOrNull() : null;
  return {
    engine,
    dockerHost: env.DOCKER_HOST?.trim() || null,
    engineInfo,
    baseImages: up ? await baseImageFacts(env) : null,
    home: homeAndSecrets.home,
    secrets: homeAndSecrets.secrets,
    clients: [claude, codex],
    smolvm: smolvmFacts(env),
    disk: diskFacts(engineInfo),
  };
}
