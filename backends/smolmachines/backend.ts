import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { daemonSocket, FORWARDER_READY, GUEST_PATHS } from "../../sidecars/contract.js";
import type { BottlePlan } from "../../src/engine/plan-schema.js";
import { homePaths } from "../../src/home.js";
import { log } from "../../src/log.js";
import { UserError } from "../../src/user-error.js";
import { waitUntil } from "../../src/wait-until.js";
import { type Availability, type Backend, type Bottle, type DiscoveredBottle, type LaunchHooks, launchProgress } from "../backend.js";
import { DockerBackend } from "../docker/backend.js";
import { containerLogs, createBundleNetwork, READY_TIMEOUT_MS, startBundle, waitForEgress } from "../docker/bundle.js";
import { docker } from "../docker/docker-cli.js";
import { ensureImage } from "../docker/images.js";
import { removeLabelled } from "../docker/resources.js";
import { bottleLabels, LABELS, labelArgs } from "../labels.js";
import { EXEC_MARKER_VAR } from "../guest-exec.js";
import { SmolmachinesBottle, WARM_UP_MS } from "./bottle.js";
import { vmImageArchive } from "./image-archive.js";
import { smolvmFacts, smolvmReadiness } from "./readiness.js";
import { listMachines, MachineLocks, type MachineInfo, smolvm } from "./smolvm-cli.js";

/** Where the forwarder's output goes inside the VM (read to see it is up). */
const FORWARDER_LOG = "/var/log/bot-bottle-forwarder.log";
/** Unix socket paths are limited to 104 bytes on macOS (108 on Linux). */
const MAX_SOCKET_PATH = 103;
const MACHINE_EXIT_TIMEOUT_MS = 30_000;
const MiB = 1024 * 1024;

/** The host folder the bundle serves its sockets in: a microVM cannot mount a Docker volume, but smolvm can mount host sockets. */
const socketFolder = (plan: BottlePlan) => path.join(plan.stateDir, "sockets");

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

/**
 * Bottles in libkrun microVMs through the smolvm CLI. The agent gets a VM of
 * its own with no network at all; the sidecar bundle stays in Docker (the
 * same bundle a Docker bottle gets), and its sockets are mounted into the VM
 * and bridged to loopback ports by the same forwarder. Nothing is published
 * on host ports.
 */
export class SmolmachinesBackend implements Backend {
  readonly name = "smolmachines" as const;
  readonly isolation = "a libkrun microVM per bottle (its own kernel, no network device; the sidecars stay in a Docker container)";
  readonly #docker = new DockerBackend();
  readonly #locks = new MachineLocks();

  async available(): Promise<Availability> {
    const readiness = smolvmReadiness(smolvmFacts(process.env));
    if (!readiness.ok) return { ok: false, reason: `smolmachines cannot run bottles here: ${readiness.detail}. Fix: ${readiness.fix}` };
    const dockerReady = await this.#docker.available();
    if (!dockerReady.ok) return { ok: false, reason: `smolmachines keeps each bottle's sidecars in Docker, and ${dockerReady.reason}` };
    try {
      await listMachines();
    } catch (error) {
      return { ok: false, reason: `smolvm does not answer (${(error as Error).message.split("\n")[0]}); check the install with \`smolvm machine ls --json\`` };
    }
    return { ok: true, detail: `${readiness.detail}; sidecars on ${dockerReady.detail}` };
  }

  attach(plan: BottlePlan, warmUntil = 0): Bottle {
    return new SmolmachinesBottle({
      id: plan.id,
      machine: plan.resources.agent,
      defaultUser: plan.guest.user,
      homes: { [plan.guest.user]: plan.guest.home, root: "/root" },
      workspace: plan.guest.workspace,
      warmUntil,
      remove: () => this.remove(plan.id, plan.homeLabel),
    });
  }

  async launch(plan: BottlePlan, secrets: Record<string, string>, hooks: LaunchHooks = {}): Promise<Bottle> {
    const { signal } = hooks;
    const progress = launchProgress(plan.id, hooks);
    const sockets = socketFolder(plan);
    const longest = path.join(sockets, "supervise.sock");
    if (longest.length > MAX_SOCKET_PATH) {
      throw new UserError(`the bottle's socket folder ${sockets} is too long for Unix sockets (${longest.length} > ${MAX_SOCKET_PATH} bytes): use a shorter BOT_BOTTLE_HOME`);
    }
    try {
      const bundleImage = await ensureImage("bundle", plan.images.bundle, (m) => progress("images", m), signal);
      const agentImage = await ensureImage(plan.provider.name, plan.images.agent, (m) => progress("images", m), signal);
      const archive = await vmImageArchive(agentImage, path.join(homePaths(plan.home).cache, "smolmachines"), (m) => progress("images", m));
      signal?.throwIfAborted();

      progress("network", `creating network ${plan.resources.network} for the sidecars`);
      await createBundleNetwork(plan);
      mkdirSync(sockets, { recursive: true, mode: 0o770 });
      progress("sidecars", `starting the sidecar bundle (${plan.sidecars.daemons.join(", ")})`);
      await startBundle(plan, bundleImage, secrets, sockets);
      await this.#waitForSockets(plan, sockets, signal);
      signal?.throwIfAborted();

      progress("agent", `creating and starting microVM ${plan.resources.agent}`);
      await this.#locks.run(plan.resources.agent, async () => {
        await smolvm(this.#createArgs(plan, archive, sockets));
        await smolvm(["machine", "start", "--name", plan.resources.agent]);
      });
      const bottle = this.attach(plan, Date.now() + WARM_UP_MS);

      progress("ready", "starting the agent's forwarder and waiting for egress to answer");
      await this.#startForwarder(plan, bottle, signal);
      await waitForEgress(plan, bottle, signal);
      return bottle;
    } catch (err) {
      await this.remove(plan.id, plan.homeLabel).catch((cleanupErr) =>
        log.warn({ bottle: plan.id, err: String(cleanupErr) }, "cleanup after a failed launch was incomplete; run `bot-bottle gc`"),
      );
      throw err;
    }
  }

  #createArgs(plan: BottlePlan, archive: string, sockets: string): string[] {
    return [
      "machine",
      "create",
      "--name",
      plan.resources.agent,
      "--image",
      archive,
      // No --net: the VM gets no network device at all; the sidecars are reached through the mounted sockets only.
      ...plan.sidecars.daemons.flatMap((daemon) => ["--mount-socket", `${path.join(sockets, `${daemon}.sock`)}:${daemonSocket(daemon)}`]),
      ...Object.entries(plan.guest.env).flatMap(([key, value]) => ["-e", `${key}=${value}`]),
      ...labelArgs(bottleLabels(plan, "agent")),
      // A VM gets whole CPUs and MiB; there is no pids limit (the VM's own kernel bounds it).
      "--cpus",
      String(Math.max(1, Math.ceil(plan.limits.cpus))),
      "--mem",
      String(Math.floor(plan.limits.memory / MiB)),
    ];
  }

  /** The bundle creates each socket once its daemon listens; the VM can only mount what exists. */
  async #waitForSockets(plan: BottlePlan, sockets: string, signal?: AbortSignal): Promise<void> {
    await waitUntil(
      "the sidecars' sockets",
      async () => {
        const running = await docker(["inspect", "--format", "{{.State.Running}}", plan.resources.bundle]);
        if (running !== "true") throw new UserError(`the sidecar bundle stopped during start:\n${await containerLogs(plan.resources.bundle)}`);
        return plan.sidecars.daemons.every((daemon) => existsSync(path.join(sockets, `${daemon}.sock`))) ? true : undefined;
      },
      { timeoutMs: READY_TIMEOUT_MS, signal },
    );
  }

  /**
   * The VM's first process is smolvm's guest agent, not the image's
   * entrypoint, so the forwarder is started through exec, in a session of its
   * own (it must outlive the exec), without the exec's kill marker.
   */
  async #startForwarder(plan: BottlePlan, bottle: Bottle, signal?: AbortSignal): Promise<void> {
    const started = await bottle.exec(
      ["/bin/sh", "-c", `env -u ${EXEC_MARKER_VAR} setsid node ${GUEST_PATHS.forwarder} "$@" > ${FORWARDER_LOG} 2>&1 < /dev/null &`, "sh", ...plan.sidecars.forwards],
      { user: "root", cwd: "/" },
    );
    if (started.exit_code !== 0) throw new Error(`could not start the forwarder in microVM ${plan.resources.agent}: ${started.stderr.trim()}`);
    await waitUntil(
      "the agent's forwarder",
      async () => {
        const output = await bottle.exec(["cat", FORWARDER_LOG], { user: "root", cwd: "/" });
        return output.stdout.includes(FORWARDER_READY) ? true : undefined;
      },
      { timeoutMs: READY_TIMEOUT_MS, signal },
    );
  }

  async discover(homeLabel: string): Promise<DiscoveredBottle[]> {
    const byId = new Map<string, DiscoveredBottle>();
    for (const machine of await listMachines()) {
      const labels = machine.labels ?? {};
      const id = labels[LABELS.id];
      if (!id || labels[LABELS.home] !== homeLabel) continue;
      const running = machine.state === "running";
      // The bundle is a Docker container: the Docker backend finds it.
      const entry = byId.get(id) ?? { id, resources: [], agentRunning: false, bundleRunning: null };
      entry.resources.push({ kind: "machine", name: machine.name, running });
      entry.agentRunning ||= running && labels[LABELS.role] === "agent";
      byId.set(id, entry);
    }
    return [...byId.values()];
  }

  /** Stops and deletes the bottle's machines, then its Docker parts (bundle, network). */
  async remove(id: string, homeLabel: string): Promise<string[]> {
    const machines = (await this.discover(homeLabel)).find((bottle) => bottle.id === id)?.resources ?? [];
    const removed: string[] = [];
    for (const { name } of machines) {
      await this.#locks.run(name, () => this.#deleteMachine(name));
      removed.push(`machine ${name}`);
    }
    removed.push(...(await removeLabelled(id, homeLabel)));
    return removed;
  }

  async #deleteMachine(name: string): Promise<void> {
    const status = (await listMachines()).find((machine) => machine.name === name);
    if (!status) return;
    if (status.state === "running") await smolvm(["machine", "stop", "--name", name]);
    await this.#waitForExit(status);
    // Always -f: without it smolvm prompts, and on a closed stdin exits 0 having deleted nothing.
    await smolvm(["machine", "delete", "--name", name, "-f"]);
  }

  /** A machine's process must be gone before its name is used again. */
  async #waitForExit(machine: MachineInfo): Promise<void> {
    const pid = machine.pid;
    if (!pid) return;
    await waitUntil(`microVM ${machine.name}'s process ${pid} to exit`, async () => (isAlive(pid) ? undefined : true), { timeoutMs: MACHINE_EXIT_TIMEOUT_MS });
  }
}
