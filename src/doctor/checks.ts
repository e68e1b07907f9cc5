import { z } from "zod";
import { START_AN_ENGINE } from "../../backends/docker/docker-cli.js";
import { chooseAgentRuntime } from "../../backends/docker/runtime.js";
import type { BaseImageFacts, ClientFacts, DoctorFacts, EngineFacts, HomeFacts, SecretFacts } from "./facts.js";
import { smolvmReadiness } from "../../backends/smolmachines/readiness.js";

// The verdicts of `bot-bottle doctor`: pure functions of the gathered facts,
// each with a one-line fix. `fail` is for what stops the default path (a
// Docker bottle started from the CLI or an MCP client); what only an optional
// part needs is `warn` or `info`, so the exit code says whether bottles can run.

export const CheckStatus = z.enum(["ok", "warn", "fail", "info"]);
export type CheckStatus = z.infer<typeof CheckStatus>;

export const Check = z.object({
  id: z.string(),
  title: z.string(),
  status: CheckStatus,
  detail: z.string(),
  /** One line that says what to do; null when there is nothing to do. */
  fix: z.string().nullable(),
});
export type Check = z.infer<typeof Check>;

export const DoctorReport = z.object({
  /** Whether the default path works: no check failed. */
  ok: z.boolean(),
  checks: z.array(Check),
});
export type DoctorReport = z.infer<typeof DoctorReport>;

const GiB = 1024 ** 3;
/** Below this a first image build (the agent images are about 1 GB each) is likely to fail. */
export const DISK_FAIL_BYTES = 2 * GiB;
/** Below this a few agent versions or rebuilds fill the disk. */
export const DISK_WARN_BYTES = 10 * GiB;

const check = (id: string, title: string, status: CheckStatus, detail: string, fix: string | null = null): Check => ({ id, title, status, detail, fix });

/** Which engine answers: Podman's docker shim and Docker Desktop say so in `docker version`. */
export function engineFlavor(engine: Extract<EngineFacts, { state: "up" }>): string {
  if (/podman/i.test(engine.clientVersion) || engine.components.some((name) => /podman/i.test(name))) return "Podman (through its docker command)";
  if (/docker desktop/i.test(engine.platform)) return "Docker Desktop";
  return "Docker Engine";
}

export function engineCheck(engine: EngineFacts, dockerHost: string | null): Check {
  const title = "container engine";
  if (engine.state === "missing-cli") {
    return check("engine", title, "fail", `the \`${engine.cli}\` command was not found on PATH`, "install Docker (Docker Desktop, or the docker.io package on Debian), Podman with its docker command, or set BOT_BOTTLE_DOCKER to the docker CLI");
  }
  if (engine.state === "down") {
    const host = dockerHost ? `; DOCKER_HOST is ${dockerHost}: unset it, or point it at the engine that runs` : "";
    return check("engine", title, "fail", `\`${engine.cli}\` is there, but no engine answers it (${engine.error})`, `${START_AN_ENGINE}${host}`);
  }
  return check("engine", title, "ok", `${engineFlavor(engine)} ${engine.serverVersion} answers (${engine.clientVersion})`);
}

export function baseImagesCheck(images: BaseImageFacts | null): Check {
  const title = "base images";
  if (!images) return check("base-images", title, "info", "cannot tell without a container engine");
  const missing = images.images.filter((image) => !image.present).map((image) => image.name);
  const names = images.images.map((image) => image.name).join(", ");
  if (missing.length === 0) return check("base-images", title, "ok", `${names} ${images.images.length === 1 ? "is" : "are"} in the engine`);
  if (images.registry.state === "reachable") {
    return check("base-images", title, "ok", `${missing.join(", ")} will be pulled from the registry at the first start (it answers)`);
  }
  const why = images.registry.state === "unreachable" ? `its registry cannot be reached (${images.registry.error})` : "its registry was not asked";
  const fix = images.configured
    ? `make ${images.configured} available to the engine (docker pull, or docker load / docker import of a local build), or unset BOT_BOTTLE_BASE_IMAGE`
    : "reach Docker Hub (a proxy or mirror in the engine's settings), or build a Debian image with Node 24 locally and set BOT_BOTTLE_BASE_IMAGE to it (scripts/base-image.sh does)";
  return check("base-images", title, "fail", `${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not in the engine and ${why}`, fix);
}

export function homeCheck(home: HomeFacts): Check {
  const title = "home";
  if (!home.exists) return check("home", title, "fail", `${home.home} does not exist: there are no bottles or agents to start`, "run `bot-bottle init` to make a home with a claude and a codex bottle (or set BOT_BOTTLE_HOME)");
  if (home.issues.length > 0) {
    const shown = home.issues.slice(0, 5).join("; ");
    const more = home.issues.length > 5 ? `; and ${home.issues.length - 5} more` : "";
    return check("home", title, "fail", `${home.issues.length} problem${home.issues.length === 1 ? "" : "s"} in ${home.home}: ${shown}${more}`, "fix the files named above; `bot-bottle validate` lists every problem with its line");
  }
  if (home.agents === 0) return check("home", title, "fail", `${home.home} has no agents to start`, "add one under agents/ (`bot-bottle init` writes examples)");
  const warnings = home.warnings.length > 0 ? `; ${home.warnings.join("; ")}` : "";
  return check("home", title, home.warnings.length > 0 ? "warn" : "ok", `${home.home} validates: ${home.bottles} bottle(s), ${home.agents} agent(s)${warnings}`);
}

/** Names only, never values: whether each secret a bottle names can be found, and where. */
export function secretsCheck(secrets: SecretFacts[]): Check {
  const title = "secrets bottles name";
  if (secrets.length === 0) return check("secrets", title, "ok", "no bottle names a secret");
  const refused = secrets.filter((s) => !s.environment && s.storeProblem !== null);
  const missing = secrets.filter((s) => !s.environment && !s.stored && s.storeProblem === null);
  const namedBy = (s: SecretFacts) => `${s.name} (bottle ${s.bottles.join(", ")})`;
  if (refused.length > 0) {
    return check("secrets", title, "fail", `the secret store refuses ${refused.map((s) => `${s.name}: ${s.storeProblem}`).join("; ")}`, `fix the file's owner or mode, or store it again: bot-bottle secret set ${refused[0]!.name}`);
  }
  if (missing.length > 0) {
    return check(
      "secrets",
      title,
      "fail",
      `not set, in the environment or in bot-bottle's secret store: ${missing.map(namedBy).join(", ")}`,
      `bot-bottle secret set ${missing[0]!.name} (one per name; reads the value from stdin or a hidden prompt)`,
    );
  }
  const envOnly = secrets.filter((s) => s.environment && !s.stored);
  if (envOnly.length > 0) {
    return check(
      "secrets",
      title,
      "warn",
      `found only in this shell's environment: ${envOnly.map(namedBy).join(", ")}; an MCP client may not pass it to the server it starts`,
      `bot-bottle secret set ${envOnly[0]!.name}, so the server finds it whatever environment the client gives it`,
    );
  }
  return check("secrets", title, "ok", `all ${secrets.length} found: ${secrets.map((s) => `${s.name} (${s.environment ? "environment" : "store"})`).join(", ")}`);
}

/** An outer client: not having one is fine (the CLI works), but a registration without the mark can lose the tools on the first turn. */
export function clientCheck(client: ClientFacts): Check {
  const title = `${client.client} registration`;
  const id = `client-${client.client}`;
  const install = `bot-bottle mcp install ${client.client}`;
  if (client.version === null) return check(id, title, "info", `${client.client} is not installed (optional: bot-bottle works from any MCP client and from this CLI)`);
  if (client.problem) return check(id, title, "warn", `${client.client} ${client.version} is installed, but ${client.problem}`, install);
  if (client.registrations.length === 0) return check(id, title, "warn", `${client.client} ${client.version} is installed, but bot-bottle is not registered with it (${client.config})`, install);
  const mark = client.client === "claude" ? "alwaysLoad" : "required = true";
  const unmarked = client.registrations.filter((r) => !r.marked);
  const scopes = client.registrations.map((r) => r.scope).join(", ");
  if (unmarked.length > 0) {
    return check(
      id,
      title,
      "warn",
      `bot-bottle is registered with ${client.client} (${scopes}) but not marked to load before the first turn (${mark}) in ${unmarked.map((r) => r.scope).join(", ")}: a headless run may start without its tools`,
      `${install} (it replaces the registration with a marked one)`,
    );
  }
  return check(id, title, "ok", `bot-bottle is registered with ${client.client} ${client.version} (${scopes}) and loads before the first turn (${mark})`);
}

export function gvisorCheck(engineInfo: unknown): Check {
  const title = "gVisor runtime";
  if (engineInfo === null) return check("gvisor", title, "info", "cannot tell without a container engine");
  const choice = chooseAgentRuntime(engineInfo);
  if (choice.runtime === "runsc") return check("gvisor", title, "ok", `agents run under ${choice.reason}`);
  const installed = /installed but/.test(choice.reason);
  return check(
    "gvisor",
    title,
    installed ? "warn" : "info",
    choice.reason,
    installed ? null : "optional: install gVisor's runsc and register it in the engine's daemon.json with \"--host-uds=open\" for a second wall around agents",
  );
}

export function smolvmCheck(smolvm: DoctorFacts["smolvm"]): Check {
  const title = "smolmachines backend";
  // The backend's own words, so doctor and a failed start say the same thing.
  const readiness = smolvmReadiness(smolvm);
  if (readiness.ok) return check("smolvm", title, "ok", readiness.detail);
  return check("smolvm", title, "info", readiness.detail, `optional: ${readiness.fix}`);
}

const gib = (bytes: number) => `${(bytes / GiB).toFixed(1)} GiB`;

export function diskCheck(disk: DoctorFacts["disk"], engineUp: boolean): Check {
  const title = "disk for images";
  if (!engineUp) return check("disk", title, "info", "cannot tell without a container engine");
  if (!disk) return check("disk", title, "info", "the engine keeps its images outside this machine's folders (a VM): check its disk size in the engine's settings");
  const detail = `${gib(disk.freeBytes)} free at ${disk.path}`;
  if (disk.freeBytes < DISK_FAIL_BYTES) return check("disk", title, "fail", `${detail}: a first agent image (about 1 GB) may not fit`, "free space: docker image prune, or remove old bot-bottle/* images");
  if (disk.freeBytes < DISK_WARN_BYTES) return check("disk", title, "warn", `${detail}: enough for a few images`, "docker image prune removes unused images; each agent version gets its own image");
  return check("disk", title, "ok", detail);
}

/** Every check, in the order a newcomer fixes them. */
export function doctorReport(facts: DoctorFacts): DoctorReport {
  const checks = [
    engineCheck(facts.engine, facts.dockerHost),
    baseImagesCheck(facts.baseImages),
    homeCheck(facts.home),
    secretsCheck(facts.secrets),
    ...facts.clients.map(clientCheck),
    gvisorCheck(facts.engineInfo),
    smolvmCheck(facts.smolvm),
    diskCheck(facts.disk, facts.engine.state === "up"),
  ];
  return { ok: checks.every((c) => c.status !== "fail"), checks };
}
