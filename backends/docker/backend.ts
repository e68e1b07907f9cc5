import { chmodSync, mkdirSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { GATE_CONFIG_FILE } from "../../sidecars/git-gate/config.js";
import { GUEST_FILES_PATH } from "../../sidecars/guest-files/spec.js";
import { RUNNER_PATH } from "../../sidecars/runner/spec.js";
import type { BottlePlan } from "../../src/engine/plan-schema.js";
import { log } from "../../src/log.js";
import { assetPaths } from "../../src/package-root.js";
import { UserError } from "../../src/user-error.js";
import { waitUntil } from "../../src/wait-until.js";
import type { Availability, Backend, Bottle, DiscoveredBottle, LaunchHooks } from "../backend.js";
import { DockerBottle } from "./bottle.js";
import { agentCpuShare } from "./cpu-share.js";
import { docker, dockerBinary, DockerError, parseJsonLines, START_AN_ENGINE } from "./docker-cli.js";
import { ensureImage } from "./images.js";
import { chooseAgentRuntime } from "./runtime.js";

const READY_TIMEOUT_MS = 60_000;
/** Where the bundle serves its sockets, in both containers. */
const SOCKET_DIR = "/run/bot-bottle";
/** In the bundle: egress config (CA, extra upstream CA), read-only. */
const EGRESS_CONFIG_DIR = "/etc/bot-bottle/egress";
/** In the bundle: egress's live routes, read-write (supervise merges approved routes into them). */
const ROUTES_DIR = "/var/lib/bot-bottle/egress-routes";
/** In the bundle: the bottle's supervise queue, read-write. */
const QUEUE_DIR = "/var/lib/bot-bottle/queue";
/** In the bundle: the sidecars' logs, on the host under the state folder. */
const LOG_DIR = "/var/log/bot-bottle";
/** In the bundle: the git gate's configuration (gate.json), read-only. */
const GIT_GATE_CONFIG_DIR = "/etc/bot-bottle/git-gate";
/** In the bundle: the git gate's bare mirrors, read-write (on the host under the state folder, where get_changes reads them). */
const GIT_MIRRORS_DIR = "/var/lib/bot-bottle/git-mirrors";
/** In the bundle image: the mirrors' pre-receive hook (sidecars/Dockerfile). */
const GIT_GATE_HOOKS_DIR = "/opt/bot-bottle/git-gate-hooks";
/** In the bundle: a tmpfs for the secrets handoff (root only) and egress's private files (egress only). */
const PRIVATE_DIR = "/run/bot-bottle-private";
/**
 * What the bundle's init needs as root: chown and reach into host folders to
 * set up each daemon's files (CHOWN, DAC_OVERRIDE), set the modes of files it
 * handed to a daemon (FOWNER: the git gate's mirrors), start the daemons as
 * their own users (SETUID, SETGID), and signal them (KILL).
 */
const BUNDLE_CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL"];
const BUNDLE_PIDS_LIMIT = 256;
/** How long a stopping bottle's processes get between SIGTERM and SIGKILL. */
const STOP_GRACE_S = 5;

/**
 * The only capabilities left to root in the agent container (the forwarder and
 * the engine's `exec -u root` provisioning); the agent user holds none either
 * way. Found by starting bottles with fewer: the forwarder, update-ca-certificates
 * (root-owned files), `exec -u node` and the timeout kills (same user) need none.
 * Gone with the rest: NET_RAW, SYS_CHROOT, MKNOD, KILL, SETPCAP, SETFCAP,
 * NET_BIND_SERVICE, AUDIT_WRITE, FSETID.
 */
const AGENT_CAPABILITIES = [
  // chown the workspace copy, the prompt, provider files and skills to the agent user (docker cp lands them as root).
  "CHOWN",
  // create and replace folders inside the agent user's home (~/.bot-bottle, ~/.codex, skills) as root.
  "DAC_OVERRIDE",
  // chmod the prompt and provider files once they belong to the agent user (0600 and the planned modes).
  "FOWNER",
  // the background-run monitor (sidecars/runner) runs as root, so the agent cannot forge a run's exit
  // code or output, and starts the run, and later kills it, as the agent user.
  "SETUID",
  "SETGID",
];

export const LABELS = { id: "bot-bottle.id", home: "bot-bottle.home", role: "bot-bottle.role" } as const;

const labelArgs = (plan: BottlePlan, role: string) => [
  "--label",
  `${LABELS.id}=${plan.id}`,
  "--label",
  `${LABELS.home}=${plan.homeLabel}`,
  "--label",
  `${LABELS.role}=${role}`,
];

function parseLabels(labels: string): Record<string, string> {
  return Object.fromEntries(
    labels
      .split(",")
      .filter((pair) => pair.includes("="))
      .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
  );
}

export class DockerBackend implements Backend {
  readonly name = "docker" as const;

  async available(): Promise<Availability> {
    try {
      const version = await docker(["version", "--format", "{{.Server.Version}}"]);
      return { ok: true, detail: `Docker engine ${version}` };
    } catch (err) {
      const detail = err instanceof DockerError ? err.stderr.trim() : (err as Error).message;
      return {
        ok: false,
        reason: `no Docker engine answers (${detail.split("\n")[0]}). ${START_AN_ENGINE} and retry; \`bot-bottle doctor\` checks everything else bottles need`,
      };
    }
  }

  attach(plan: BottlePlan): Bottle {
    return new DockerBottle({
      id: plan.id,
      container: plan.resources.agent,
      defaultUser: plan.guest.user,
      homes: { [plan.guest.user]: plan.guest.home, root: "/root" },
      workspace: plan.guest.workspace,
      remove: () => this.remove(plan.id, plan.homeLabel),
    });
  }

  async launch(plan: BottlePlan, secrets: Record<string, string>, hooks: LaunchHooks = {}): Promise<Bottle> {
    const { signal } = hooks;
    const progress = (phase: string, message: string) => {
      log.debug({ bottle: plan.id, phase }, message);
      hooks.onProgress?.({ phase, message });
    };
    try {
      const bundleImage = await ensureImage("bundle", plan.images.bundle, (m) => progress("images", m), signal);
      const agentImage = await ensureImage(plan.provider.name, plan.images.agent, (m) => progress("images", m), signal);
      signal?.throwIfAborted();

      progress("network", `creating network ${plan.resources.network} and socket volume ${plan.resources.volume}`);
      await docker(["network", "create", "--driver", "bridge", ...labelArgs(plan, "network"), plan.resources.network]);
      await docker(["volume", "create", ...labelArgs(plan, "sockets"), plan.resources.volume]);
      signal?.throwIfAborted();

      progress("sidecars", `starting the sidecar bundle (${plan.sidecars.daemons.join(", ")})`);
      await this.startBundle(plan, bundleImage, secrets);
      signal?.throwIfAborted();

      const info: unknown = JSON.parse(await docker(["info", "--format", "{{json .}}"]));
      const runtime = chooseAgentRuntime(info);
      const cpus = agentCpuShare(plan.limits.cpus, info);
      progress("agent", `starting the agent container (${runtime.reason}; ${cpus.reason})`);
      await this.startAgent(plan, agentImage, runtime.runtime, cpus.cpus);

      progress("ready", "waiting for the agent's forwarder and egress to answer");
      const bottle = this.attach(plan);
      await this.waitReady(plan, bottle, signal);
      return bottle;
    } catch (err) {
      await this.remove(plan.id, plan.homeLabel).catch((cleanupErr) =>
        log.warn({ bottle: plan.id, err: String(cleanupErr) }, "cleanup after a failed launch was incomplete; run `bot-bottle gc`"),
      );
      throw err;
    }
  }

  private async startBundle(plan: BottlePlan, image: string, secrets: Record<string, string>): Promise<void> {
    // Made here, not by Docker (which would make them root's), and group-writable:
    // the bundle's daemons run as users of their own in the host user's group
    // (see sidecars/privileges.ts); nobody else may enter.
    const gate = plan.gitGate.folders;
    for (const dir of [plan.sidecars.queueDir, plan.sidecars.logDir, path.dirname(plan.sidecars.routesFile), ...(gate ? [gate.mirrors] : [])]) {
      mkdirSync(dir, { recursive: true, mode: 0o770 });
      chmodSync(dir, 0o770);
    }
    const egressEnv = [
      `EGRESS_ROUTES=${ROUTES_DIR}/${path.basename(plan.sidecars.routesFile)}`,
      `EGRESS_SOCKET=${SOCKET_DIR}/egress.sock`,
      `EGRESS_CA_CERT=${EGRESS_CONFIG_DIR}/ca.pem`,
      `EGRESS_CA_KEY=${EGRESS_CONFIG_DIR}/ca-key.pem`,
      ...(plan.sidecars.egressExtraCa ? [`EGRESS_EXTRA_CA=${EGRESS_CONFIG_DIR}/${plan.sidecars.egressExtraCa}`] : []),
      `EGRESS_ALLOW_NETWORKS=${plan.sidecars.egressAllowNetworks.join(",")}`,
      `EGRESS_LOG_FILE=${LOG_DIR}/egress.jsonl`,
      `EGRESS_QUEUE_DIR=${QUEUE_DIR}`,
      `EGRESS_HOLD_TIMEOUT_MS=${plan.sidecars.egressHoldTimeoutMs}`,
      `BOT_BOTTLE_ID=${plan.id}`,
      ...(plan.sidecars.supervise
        ? [`SUPERVISE_QUEUE_DIR=${QUEUE_DIR}`, `SUPERVISE_SOCKET=${SOCKET_DIR}/supervise.sock`, `SUPERVISE_TIMEOUT_MS=${plan.sidecars.supervise.timeoutMs}`]
        : []),
      ...(gate
        ? [
            `GIT_GATE_CONFIG=${GIT_GATE_CONFIG_DIR}/${GATE_CONFIG_FILE}`,
            `GIT_GATE_MIRRORS=${GIT_MIRRORS_DIR}`,
            `GIT_GATE_HOOKS_DIR=${GIT_GATE_HOOKS_DIR}`,
            `GIT_GATE_SOCKET=${SOCKET_DIR}/git-gate.sock`,
            `GIT_GATE_QUEUE_DIR=${QUEUE_DIR}`,
            `GIT_GATE_HOLD_TIMEOUT_MS=${plan.sidecars.egressHoldTimeoutMs}`,
          ]
        : []),
    ].flatMap((setting) => ["-e", setting]);
    await docker([
      "run",
      "-d",
      "--name",
      plan.resources.bundle,
      ...labelArgs(plan, "bundle"),
      "--network",
      plan.resources.network,
      "--init",
      "--security-opt",
      "no-new-privileges",
      // Init alone keeps root, to hand each daemon its user and private files and
      // to signal them; the daemons themselves run without any capability.
      "--cap-drop",
      "ALL",
      ...BUNDLE_CAPABILITIES.flatMap((capability) => ["--cap-add", capability]),
      "--pids-limit",
      String(BUNDLE_PIDS_LIMIT),
      // In memory, and nobody but root may list it: the secrets are delivered
      // there, and egress keeps its private copies in a folder of its own in it.
      "--tmpfs",
      `${PRIVATE_DIR}:rw,noexec,nosuid,nodev,size=4m,mode=0711`,
      "-v",
      `${plan.resources.volume}:${SOCKET_DIR}`,
      "-v",
      `${plan.sidecars.egressConfigDir}:${EGRESS_CONFIG_DIR}:ro`,
      "-v",
      `${path.dirname(plan.sidecars.routesFile)}:${ROUTES_DIR}`,
      "-v",
      `${plan.sidecars.queueDir}:${QUEUE_DIR}`,
      "-v",
      `${plan.sidecars.logDir}:${LOG_DIR}`,
      ...(gate ? ["-v", `${gate.config}:${GIT_GATE_CONFIG_DIR}:ro`, "-v", `${gate.mirrors}:${GIT_MIRRORS_DIR}`] : []),
      "-e",
      `BOT_BOTTLE_DAEMONS=${plan.sidecars.daemons.join(",")}`,
      "-e",
      `BOT_BOTTLE_PRIVATE_DIR=${PRIVATE_DIR}`,
      ...egressEnv,
      image,
    ]);
    // Secret values never go into the container's environment (docker inspect
    // shows it, and Docker keeps it on disk) nor into any argv: init takes them
    // from stdin, through an exec, into its private tmpfs.
    await docker(["exec", "-i", plan.resources.bundle, "node", "/opt/bot-bottle/init.js", "receive-secrets"], { input: JSON.stringify(secrets) });
  }

  private async startAgent(plan: BottlePlan, image: string, runtime: string | null, cpus: number): Promise<void> {
    const envArgs = Object.entries(plan.guest.env).flatMap(([key, value]) => ["-e", `${key}=${value}`]);
    await docker([
      "run",
      "-d",
      "--name",
      plan.resources.agent,
      ...labelArgs(plan, "agent"),
      // No interface but loopback: the sidecars are reached through sockets only.
      "--network",
      "none",
      "--hostname",
      plan.id.slice(0, 63),
      // tini as PID 1 reaps the orphans that killed commands leave behind.
      "--init",
      "--security-opt",
      "no-new-privileges",
      "--cap-drop",
      "ALL",
      ...AGENT_CAPABILITIES.flatMap((capability) => ["--cap-add", capability]),
      "--memory",
      String(plan.limits.memory),
      // Equal to --memory: no swap on top, so the limit is what the agent gets.
      "--memory-swap",
      String(plan.limits.memory),
      "--cpus",
      String(cpus),
      "--pids-limit",
      String(plan.limits.pids),
      ...(runtime ? ["--runtime", runtime] : []),
      "--user",
      "root",
      "-v",
      `${plan.resources.volume}:${SOCKET_DIR}:ro`,
      "-v",
      `${assetPaths.forwarder}:/opt/bot-bottle/forwarder.js:ro`,
      "-v",
      `${assetPaths.runner}:${RUNNER_PATH}:ro`,
      "-v",
      `${assetPaths.guestFiles}:${GUEST_FILES_PATH}:ro`,
      ...envArgs,
      "--entrypoint",
      "node",
      image,
      "/opt/bot-bottle/forwarder.js",
      ...plan.sidecars.forwards,
    ]);
  }

  private async waitReady(plan: BottlePlan, bottle: Bottle, signal?: AbortSignal): Promise<void> {
    const { agent, bundle } = plan.resources;
    await waitUntil(
      "the agent's forwarder",
      async () => {
        const running = await docker(["inspect", "--format", "{{.State.Running}}", agent]);
        if (running !== "true") throw new Error(`the agent container stopped during start:\n${await containerLogs(agent)}`);
        const logs = await containerLogs(agent);
        return logs.includes("forwarder ready") ? true : undefined;
      },
      { timeoutMs: READY_TIMEOUT_MS, signal },
    );
    const probe =
      "require('http').get('http://127.0.0.1:9099/__bot-bottle/health',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))";
    await waitUntil(
      "egress to answer through the forwarder",
      async () => {
        const running = await docker(["inspect", "--format", "{{.State.Running}}", bundle]);
        if (running !== "true") throw new UserError(`the sidecar bundle stopped during start:\n${await containerLogs(bundle)}`);
        const result = await bottle.exec(["node", "-e", probe], { user: "root", cwd: "/" });
        return result.exit_code === 0 ? true : undefined;
      },
      { timeoutMs: READY_TIMEOUT_MS, signal },
    );
  }

  async discover(homeLabel: string): Promise<DiscoveredBottle[]> {
    const filter = ["--filter", `label=${LABELS.home}=${homeLabel}`];
    const [containers, networks, volumes] = await Promise.all([
      docker(["ps", "-a", ...filter, "--format", "{{json .}}"]),
      docker(["network", "ls", ...filter, "--format", "{{json .}}"]),
      docker(["volume", "ls", ...filter, "--format", "{{json .}}"]),
    ]);
    const byId = new Map<string, DiscoveredBottle>();
    const entry = (id: string) => {
      let found = byId.get(id);
      if (!found) byId.set(id, (found = { id, resources: [], agentRunning: false }));
      return found;
    };
    type Row = { Names?: string; Name?: string; Labels: string; State?: string };
    for (const row of parseJsonLines<Row>(containers)) {
      const labels = parseLabels(row.Labels);
      const id = labels[LABELS.id];
      if (!id) continue;
      const running = row.State === "running";
      entry(id).resources.push({ kind: "container", name: row.Names ?? "", running });
      if (labels[LABELS.role] === "agent" && running) entry(id).agentRunning = true;
    }
    for (const [kind, stdout] of [
      ["network", networks],
      ["volume", volumes],
    ] as const) {
      for (const row of parseJsonLines<Row>(stdout)) {
        const id = parseLabels(row.Labels)[LABELS.id];
        if (id) entry(id).resources.push({ kind, name: row.Name ?? "", running: false });
      }
    }
    return [...byId.values()];
  }

  async remove(id: string, homeLabel: string): Promise<string[]> {
    const found = (await this.discover(homeLabel)).find((b) => b.id === id);
    if (!found) return [];
    const removed: string[] = [];
    // A stop, not a kill, first: the daemons get SIGTERM and tidy up (the git
    // gate hands its mirrors back to the host user's group, so they can be removed).
    const running = found.resources.filter((r) => r.kind === "container" && r.running).map((r) => r.name);
    if (running.length > 0) await docker(["stop", "--time", String(STOP_GRACE_S), ...running]).catch(() => undefined);
    // Containers first: a network or volume in use cannot be removed.
    for (const kind of ["container", "network", "volume"] as const) {
      const names = found.resources.filter((r) => r.kind === kind).map((r) => r.name);
      if (names.length === 0) continue;
      if (kind === "network") await disconnectStrangers(names);
      const command = kind === "container" ? ["rm", "-f", "-v"] : [kind, "rm"];
      await docker([...command, ...names]);
      removed.push(...names.map((n) => `${kind} ${n}`));
    }
    return removed;
  }
}

/** Containers someone else attached to a bottle's network would block its removal. */
async function disconnectStrangers(networks: string[]): Promise<void> {
  for (const network of networks) {
    const attached = await docker(["network", "inspect", "--format", "{{range .Containers}}{{.Name}} {{end}}", network]);
    for (const container of attached.split(/\s+/).filter(Boolean)) {
      await docker(["network", "disconnect", "-f", network, container]);
    }
  }
}

/** The container's stdout and stderr, interleaved (daemons report failures on stderr). */
async function containerLogs(container: string): Promise<string> {
  const result = await execa(dockerBinary(), ["logs", "--tail", "50", container], { all: true, reject: false });
  return String(result.all ?? "");
}
