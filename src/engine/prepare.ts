import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { allowedNetworks } from "../../sidecars/egress/addresses.js";
import { parseRoutesFile } from "../../sidecars/egress/routes.js";
import os from "node:os";
import path from "node:path";
import { homePaths } from "../home.js";
import { loadManifestIndex } from "../manifest/load.js";
import { resolveManifest } from "../manifest/manifest.js";
import { describeResources } from "../manifest/resources.js";
import type { Manifest } from "../manifest/schema.js";
import { assetPaths } from "../package-root.js";
import { resolveProvider } from "../providers/registry.js";
import type { Provider, SecretSource } from "../providers/provider.js";
import type { HostSecrets } from "../secrets/host-secrets.js";
import { UserError } from "../user-error.js";
import { bundleTokenVar, egressConfig, egressSecrets } from "./egress-config.js";
import { forgeRepoOf } from "./deploy-keys.js";
import type { BottlePlan, GateRepoPlan, ImagePlan, PlannedFile, PreparedBottle } from "./plan-schema.js";
import type { BottleSpec } from "./records.js";
import { BUNDLE_FILES, forwardMapping, GUEST_PATHS, guestUrl } from "../../sidecars/contract.js";
import type { BackendName } from "../manifest/schema.js";
import { gateConfig, gateUrl, isGitRepository } from "./git-gate/plan.js";
import { startCommitOf } from "./git-gate/origin.js";
import { StateStore } from "./state.js";

const DEFAULT_SUPERVISE_SECONDS = 30;
/** The current Node LTS images (Node 20 reached its end of life in April 2026); BOT_BOTTLE_BASE_IMAGE replaces both. */
export const DEFAULT_AGENT_BASE = "node:24-bookworm";
export const DEFAULT_BUNDLE_BASE = "node:24-bookworm-slim";
/** The build arg that carries the agent's release into its image (see agent_provider.version). */
export const AGENT_VERSION_ARG = "AGENT_VERSION";
const DECLARES_VERSION_ARG = new RegExp(`^\\s*ARG\\s+${AGENT_VERSION_ARG}(?:[\\s=]|$)`, "im");
/** Name of the extra upstream CA bundle inside the egress config folder. */
const EGRESS_EXTRA_CA_FILE = "extra-ca.pem";
const DEFAULT_HOLD_SECONDS = 300;

export interface PrepareContext {
  home: string;
  /** Where the caller runs: its `.bot-bottle/agents/` are loaded when the spec gives no cwd. */
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Where the secrets the bottle names are found: `env`, then the secret store. */
  secrets: HostSecrets;
  /** Where a bottle runs when neither the start nor its manifest says (the engine's choice: docker when it answers). */
  defaultBackend: BackendName;
  /** The random part of the bottle's id; minted by the caller, so the same inputs plan the same bottle. */
  idSuffix: string;
}

export const homeLabel = (home: string) => createHash("sha256").update(home).digest("hex").slice(0, 12);

/** A fresh random part for a bottle id. */
export const newIdSuffix = () => randomBytes(4).toString("hex");

/** `$CLAUDE_CONFIG_DIR/skills` when set, else `~/.claude/skills`, as Claude Code itself does. */
export function hostSkillsDir(env: NodeJS.ProcessEnv): string {
  return path.join(env.CLAUDE_CONFIG_DIR ?? path.join(os.homedir(), ".claude"), "skills");
}

function buildCa(env: NodeJS.ProcessEnv): string | null {
  const file = env.BOT_BOTTLE_BUILD_CA;
  if (!file) return null;
  if (!existsSync(file)) throw new UserError(`BOT_BOTTLE_BUILD_CA names ${file}, which does not exist`);
  return path.resolve(file);
}

/**
 * Extra CAs egress trusts for upstream servers (a TLS-inspecting corporate
 * proxy, or a test upstream), from BOT_BOTTLE_EGRESS_EXTRA_CA: every
 * certificate in it must parse, so a wrong file fails here and not as a
 * puzzling TLS error later.
 */
function egressExtraCa(env: NodeJS.ProcessEnv): string | null {
  const file = env.BOT_BOTTLE_EGRESS_EXTRA_CA;
  if (!file) return null;
  if (!existsSync(file)) throw new UserError(`BOT_BOTTLE_EGRESS_EXTRA_CA names ${file}, which does not exist`);
  const certs = readFileSync(file, "utf8").match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (certs.length === 0) throw new UserError(`BOT_BOTTLE_EGRESS_EXTRA_CA names ${file}, which holds no PEM certificate`);
  for (const [i, cert] of certs.entries()) {
    try {
      new X509Certificate(cert);
    } catch (err) {
      throw new UserError(`BOT_BOTTLE_EGRESS_EXTRA_CA: certificate ${i + 1} in ${file} does not parse: ${(err as Error).message}`);
    }
  }
  return certs.join("\n") + "\n";
}

/**
 * BOT_BOTTLE_EGRESS_ALLOW_NETWORKS: private networks (comma-separated CIDRs)
 * that declared names may resolve into, for internal services. An operator's
 * choice, so a host variable: no manifest can widen it.
 */
function egressAllowNetworks(env: NodeJS.ProcessEnv): string[] {
  const text = env.BOT_BOTTLE_EGRESS_ALLOW_NETWORKS ?? "";
  try {
    allowedNetworks(text);
  } catch (err) {
    throw new UserError(`BOT_BOTTLE_EGRESS_ALLOW_NETWORKS: ${(err as Error).message}`);
  }
  return text.split(",").map((cidr) => cidr.trim()).filter((cidr) => cidr !== "");
}

/** BOT_BOTTLE_EGRESS_HOLD_SECONDS: how long a request DLP holds for review waits for an answer. */
function egressHoldTimeoutMs(env: NodeJS.ProcessEnv): number {
  const text = env.BOT_BOTTLE_EGRESS_HOLD_SECONDS;
  if (text === undefined || text === "") return DEFAULT_HOLD_SECONDS * 1000;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UserError(`BOT_BOTTLE_EGRESS_HOLD_SECONDS must be a positive number of seconds, got "${text}"`);
  return Math.round(seconds * 1000);
}

/**
 * The release of the agent the image installs: the bottle's `version`, else
 * the provider's pinned default; null when the Dockerfile takes no
 * AGENT_VERSION build arg (then it installs whatever it pins itself). A
 * version the bottle asks for that the Dockerfile would ignore is an error,
 * never a silently different agent.
 */
function agentVersion(manifest: Manifest, provider: Provider, dockerfile: string): string | null {
  const asked = manifest.bottle.agent_provider.version;
  if (!DECLARES_VERSION_ARG.test(readFileSync(dockerfile, "utf8"))) {
    if (asked === undefined) return null;
    throw new UserError(
      `bottle ${manifest.bottle.names.join("+")} sets agent_provider.version ${asked}, but its image's Dockerfile ${dockerfile} declares no \`ARG ${AGENT_VERSION_ARG}\`, ` +
        `so the version would be ignored: declare the build arg there and install that release, or remove agent_provider.version`,
    );
  }
  return asked ?? provider.defaultVersion;
}

/** Dockerfile cascade: this start's option, then the manifest's, then the plugin's or provider's own. */
function agentImage(spec: BottleSpec, manifest: Manifest, provider: Provider, context: PrepareContext): ImagePlan {
  const named = (file: string, base: string, what: string) => {
    const resolved = path.resolve(base, file);
    if (!existsSync(resolved)) throw new UserError(`${what} names ${resolved}, which does not exist`);
    return resolved;
  };
  const fromManifest = manifest.bottle.agent_provider.dockerfile;
  let dockerfile: string;
  let origin: ImagePlan["dockerfileOrigin"];
  if (spec.dockerfile) {
    dockerfile = named(spec.dockerfile, context.cwd, "--dockerfile");
    origin = "start-option";
  } else if (fromManifest) {
    // relative to the bottles folder, where the manifest that names it lives
    dockerfile = named(fromManifest, homePaths(context.home).bottles, `agent_provider.dockerfile of bottle ${manifest.bottle.names.join("+")}`);
    origin = "manifest";
  } else if (provider.dockerfile) {
    dockerfile = provider.dockerfile;
    origin = provider.dockerfileOrigin;
  } else {
    throw new UserError(`provider ${provider.name} has no Dockerfile: add one next to its plugin or set agent_provider.dockerfile in the bottle`);
  }
  const version = agentVersion(manifest, provider, dockerfile);
  return {
    dockerfile,
    files: [],
    dockerfileOrigin: origin,
    baseImage: context.env.BOT_BOTTLE_BASE_IMAGE ?? DEFAULT_AGENT_BASE,
    buildArgs: version === null ? {} : { [AGENT_VERSION_ARG]: version },
    buildCa: buildCa(context.env),
  };
}

function bundleImage(env: NodeJS.ProcessEnv): ImagePlan {
  const dir = assetPaths.sidecarBundleDir;
  for (const file of ["Dockerfile", "init.js", "egress.js"].map((f) => path.join(dir, f))) {
    if (!existsSync(file)) throw new Error(`the sidecar bundle is not built (${file} is missing): run \`npm run build\``);
  }
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".js"))
    .sort()
    .map((f) => path.join(dir, f));
  return {
    dockerfile: path.join(dir, "Dockerfile"),
    files,
    dockerfileOrigin: "provider",
    baseImage: env.BOT_BOTTLE_BASE_IMAGE ?? DEFAULT_BUNDLE_BASE,
    buildArgs: {},
    buildCa: null,
  };
}

/**
 * The git gate's repositories, sorted by name (the order that numbers their
 * keys). A static key's path may start with ~/ (the user's home) or be
 * relative to the bottles folder, like agent_provider.dockerfile; its file is
 * read at launch. A gitea key's forge token must exist now, so a dry run
 * already says it is missing.
 */
function gateRepos(manifest: Manifest, context: PrepareContext): GateRepoPlan[] {
  const bottle = manifest.bottle.names.join("+");
  return Object.entries(manifest.bottle.git_gate.repos)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, repo]): GateRepoPlan => {
      const base = { name, url: repo.url, hostKey: repo.host_key };
      if (repo.key.provider === "static") {
        const file = repo.key.path;
        const resolved = file === "~" || file.startsWith("~/") ? path.join(os.homedir(), file.slice(1)) : path.resolve(homePaths(context.home).bottles, file);
        return { ...base, key: { provider: "static", path: resolved } };
      }
      const apiUrl = new URL(repo.key.api_url);
      if (apiUrl.username || apiUrl.password) {
        throw new UserError(`bottle ${bottle}: git-gate repository ${name}'s key.api_url carries credentials; give the forge token through forge_token_env instead`);
      }
      const tokenSecret = repo.key.forge_token_env;
      if (!context.secrets.find(tokenSecret)) {
        throw context.secrets.missing(tokenSecret, `bottle ${bottle} creates a deploy key for git-gate repository ${name} through ${repo.key.api_url}`);
      }
      return { ...base, key: { provider: "gitea", apiUrl: repo.key.api_url, tokenSecret, ...forgeRepoOf(repo.url, name) } };
    });
}

function guestEnv(manifest: Manifest, provider: Provider, providerEnv: Record<string, string>, workspace: string): Record<string, string> {
  const proxy = guestUrl("egress");
  const noProxy = "localhost,127.0.0.1,::1";
  return {
    ...manifest.bottle.env,
    ...providerEnv,
    // Set last: the bottle's own env cannot turn the proxy or the CA off.
    HOME: provider.guestHome,
    USER: provider.guestUser,
    BOT_BOTTLE_WORKSPACE: workspace,
    HTTPS_PROXY: proxy,
    HTTP_PROXY: proxy,
    https_proxy: proxy,
    http_proxy: proxy,
    NO_PROXY: noProxy,
    no_proxy: noProxy,
    NODE_EXTRA_CA_CERTS: GUEST_PATHS.ca,
    SSL_CERT_FILE: GUEST_PATHS.systemCaBundle,
    REQUESTS_CA_BUNDLE: GUEST_PATHS.systemCaBundle,
    GIT_SSL_CAINFO: GUEST_PATHS.systemCaBundle,
    CODEX_CA_CERTIFICATE: GUEST_PATHS.systemCaBundle,
  };
}

/**
 * Pure resolution of a spec into a plan: no container calls and no writes. It
 * reads the manifests and the host files the bottle will need and fails early
 * on anything missing; the per-bottle files (prompt, provider files, routes,
 * gate.json) come back with the plan, for launch to write.
 */
export async function prepare(spec: BottleSpec, context: PrepareContext): Promise<PreparedBottle> {
  const { home, env } = context;
  const cwd = spec.cwd ? path.resolve(context.cwd, spec.cwd) : null;
  if (cwd && !(existsSync(cwd) && statSync(cwd).isDirectory())) {
    throw new UserError(`--cwd ${spec.cwd}: not a folder`);
  }
  const index = await loadManifestIndex({ home, cwd: cwd ?? context.cwd });
  const manifest = resolveManifest(index, spec.agent, spec.bottles);
  const provider = await resolveProvider(manifest.bottle.agent_provider.template, home);
  const setup = provider.setup({ bottle: manifest.bottle, hostEnv: env, prompt: manifest.agent.prompt });
  // The provider's routes (its model API) come first unless the bottle declares that host itself.
  const declared = new Set(manifest.bottle.egress.routes.map((r) => r.host.toLowerCase()));
  const egress = {
    ...manifest.bottle.egress,
    routes: [...setup.routes.filter((r) => !declared.has(r.host.toLowerCase())), ...manifest.bottle.egress.routes],
  };

  const skillsRoot = hostSkillsDir(env);
  const skills = (manifest.agent.config.skills ?? []).map((name) => {
    const host = path.join(skillsRoot, name);
    if (!existsSync(host) || !statSync(host).isDirectory()) {
      throw new UserError(`agent ${manifest.agent.name} uses skill "${name}", but ${host} does not exist on this host`);
    }
    return { name, host, guest: `${provider.guestHome}/.claude/skills/${name}` };
  });

  const secrets = egressSecrets(egress, setup.secrets);
  for (const route of egress.routes) {
    const source = route.auth ? secrets[bundleTokenVar(route.auth.token_ref)] : undefined;
    if (source?.kind === "env" && !context.secrets.find(source.name)) {
      throw context.secrets.missing(source.name, `bottle ${manifest.bottle.names.join("+")} injects a token for ${route.host}`);
    }
  }

  const extraCa = egressExtraCa(env);
  const allowNetworks = egressAllowNetworks(env);
  const holdTimeoutMs = egressHoldTimeoutMs(env);
  const gitGateRepos = gateRepos(manifest, context);

  const id = `${manifest.agent.name.slice(0, 40)}-${context.idSuffix}`;
  const stateDir = new StateStore(home).dir(id);
  const egressConfigDir = path.join(stateDir, "egress");
  const supervise = manifest.bottle.supervise;
  const superviseSeconds = supervise === false ? null : supervise === true ? DEFAULT_SUPERVISE_SECONDS : supervise.timeout_s;
  const workspace = `${provider.guestHome}/workspace`;
  const prefix = `bot-bottle-${id}`;
  const agentImagePlan = agentImage(spec, manifest, provider, context);

  const origin = cwd !== null && isGitRepository(cwd);
  const gate = gateConfig(gitGateRepos, origin);
  const gateDir = path.join(stateDir, "git-gate");
  const daemons: BottlePlan["sidecars"]["daemons"] = ["egress", ...(superviseSeconds === null ? [] : ["supervise" as const]), ...(gate ? ["git-gate" as const] : [])];

  const plan: BottlePlan = {
    id,
    home,
    homeLabel: homeLabel(home),
    stateDir,
    backend: spec.backend ?? manifest.bottle.backend ?? context.defaultBackend,
    agent: { name: manifest.agent.name, source: manifest.agent.source, origin: manifest.agent.origin },
    bottles: manifest.bottle.names,
    label: spec.label ?? null,
    cwd,
    provider: { name: provider.name, version: agentImagePlan.buildArgs[AGENT_VERSION_ARG] ?? null },
    images: { agent: agentImagePlan, bundle: bundleImage(env) },
    guest: { user: provider.guestUser, home: provider.guestHome, workspace, env: guestEnv(manifest, provider, setup.env, workspace) },
    prompt: { host: path.join(stateDir, "prompt.md"), guest: `${provider.guestHome}/.bot-bottle/prompt.md` },
    providerFiles: setup.files.map((file, i) => ({ host: path.join(stateDir, "provider-files", String(i)), guest: file.path, mode: file.mode })),
    skills,
    gitUser: manifest.bottle.git_gate.user,
    ca: { cert: path.join(egressConfigDir, BUNDLE_FILES.caCert), key: path.join(egressConfigDir, BUNDLE_FILES.caKey), guestCert: GUEST_PATHS.ca },
    sidecars: {
      daemons,
      forwards: daemons.map(forwardMapping),
      egressConfigDir,
      routesFile: path.join(stateDir, "egress-routes", "routes.json"),
      egressExtraCa: extraCa === null ? null : EGRESS_EXTRA_CA_FILE,
      egressAllowNetworks: allowNetworks,
      egressHoldTimeoutMs: holdTimeoutMs,
      queueDir: homePaths(home).queueOf(id),
      logDir: path.join(stateDir, "logs"),
      secrets,
      supervise: superviseSeconds === null ? null : { timeoutMs: superviseSeconds * 1000 },
    },
    gitGate: {
      repos: gitGateRepos,
      origin: origin ? { base: await startCommitOf(cwd!), seedFile: path.join(gateDir, "origin-seed.json") } : null,
      folders: gate ? { config: path.join(gateDir, "config"), mirrors: path.join(gateDir, "mirrors") } : null,
    },
    limits: manifest.bottle.resources,
    resources: { agent: `${prefix}-agent`, bundle: `${prefix}-bundle`, network: prefix, volume: `${prefix}-sockets` },
  };

  const files: PlannedFile[] = [
    { path: plan.prompt.host, content: manifest.agent.prompt, mode: 0o600 },
    ...setup.files.map((file, i) => ({ path: plan.providerFiles[i]!.host, content: file.content, mode: 0o600 })),
    // Read by the bundle's daemons, which run as other users of the host user's group.
    { path: plan.sidecars.routesFile, content: JSON.stringify(egressConfig(egress), null, 2) + "\n", mode: 0o644 },
    ...(extraCa === null ? [] : [{ path: path.join(egressConfigDir, EGRESS_EXTRA_CA_FILE), content: extraCa, mode: 0o644 }]),
    ...(gate && plan.gitGate.folders ? [{ path: path.join(plan.gitGate.folders.config, BUNDLE_FILES.gateConfig), content: JSON.stringify(gate, null, 2) + "\n", mode: 0o644 }] : []),
  ];
  return { plan, files };
}

const describeSource = (source: SecretSource) => (source.kind === "env" ? `${source.name} (environment, else secret store)` : `Codex login ${source.file}`);

const describeGateRepo = (repo: GateRepoPlan) =>
  `${repo.name} (${repo.url}; ${repo.key.provider === "static" ? `key file ${repo.key.path}` : `fresh deploy key on ${repo.key.owner}/${repo.key.repo} through ${repo.key.apiUrl}, token from ${repo.key.tokenSecret}`})`;

function routesFileHosts({ plan, files }: PreparedBottle): string {
  const routesFile = files.find((file) => file.path === plan.sidecars.routesFile);
  if (!routesFile) throw new Error(`the plan of bottle ${plan.id} has no routes file`);
  const routes = parseRoutesFile(routesFile.content).routes;
  return routes.length ? `allows ${routes.map((r) => (r.port ? `${r.host}:${r.port}` : r.host)).join(", ")}` : "allows no host";
}

function describeGate(plan: BottlePlan): string {
  const gate = plan.gitGate;
  if (!gate.folders) return "off (no git-gate repositories, no git repository as cwd)";
  const served = [
    ...gate.repos.map(describeGateRepo),
    ...(gate.origin ? [`origin (copy of ${plan.cwd} at ${gate.origin.base?.slice(0, 12) ?? "no commit"})`] : []),
  ];
  return `serves ${served.join("; ")} at ${gateUrl("<name>")}; pushes are scanned for secrets`;
}

/** The preflight summary `--dry-run` prints: everything a person should check before launch. */
export function planSummary(prepared: PreparedBottle): string {
  const { plan } = prepared;
  const hosts = routesFileHosts(prepared);
  return [
    `bottle ${plan.id} (agent ${plan.agent.name} from ${plan.agent.origin === "home" ? "your home" : "the repository"}: ${plan.agent.source})`,
    `  bottles:   ${plan.bottles.join(", ")}`,
    `  provider:  ${plan.provider.name} ${plan.provider.version ?? "(the release its Dockerfile pins)"}; image from ${plan.images.agent.dockerfile} (${plan.images.agent.dockerfileOrigin}) on ${plan.images.agent.baseImage}`,
    `  backend:   ${plan.backend}; agent has no network, sidecars: ${plan.sidecars.daemons.join(", ")}`,
    `  egress:    ${hosts}; secrets from: ${Object.values(plan.sidecars.secrets).map(describeSource).join(", ") || "none"}`,
    `             upstream CAs: system${plan.sidecars.egressExtraCa ? ` + ${plan.sidecars.egressExtraCa}` : ""}; DLP holds wait ${plan.sidecars.egressHoldTimeoutMs / 1000} s for an answer in ${plan.sidecars.queueDir}`,
    `             private networks names may resolve into: ${plan.sidecars.egressAllowNetworks.join(", ") || "none"}`,
    `  supervise: ${plan.sidecars.supervise ? `the agent asks at ${guestUrl("supervise", "/mcp")}; one request waits ${plan.sidecars.supervise.timeoutMs / 1000} s for an answer` : "off"}`,
    `  workspace: ${plan.cwd ? `copy of ${plan.cwd}` : "empty"} at ${plan.guest.workspace}`,
    `  skills:    ${plan.skills.map((s) => s.name).join(", ") || "none"}`,
    `  git gate:  ${describeGate(plan)}`,
    `  git user:  ${[plan.gitUser.name, plan.gitUser.email && `<${plan.gitUser.email}>`].filter(Boolean).join(" ") || "unset"}`,
    `  limits:    ${describeResources(plan.limits)}`,
    `  label:     ${plan.label ?? "none"}`,
  ].join("\n");
}
