import { GUEST_PATHS, SOCKET_DIR } from "../../sidecars/contract.js";
import type { BottlePlan } from "../../src/engine/plan-schema.js";
import { log } from "../../src/log.js";
import { assetPaths } from "../../src/package-root.js";
import { allSettledOrThrow } from "../../src/settle.js";
import { type Availability, type Backend, type Bottle, type DiscoveredBottle, type LaunchHooks, launchProgress } from "../backend.js";
import { bottleLabels, labelArgs } from "../labels.js";
import { DockerBottle } from "./bottle.js";
import { createBundleNetwork, startBundle, waitForEgress } from "./bundle.js";
import { agentCpuShare } from "./cpu-share.js";
import { docker, DockerError, START_AN_ENGINE } from "./docker-cli.js";
import { ensureImage } from "./images.js";
import { discoverLabelled, removeLabelled } from "./resources.js";
import { chooseAgentRuntime } from "./runtime.js";

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

export class DockerBackend implements Backend {
  readonly name = "docker" as const;
  readonly isolation = "a container per bottle (no network interface, all capabilities but five dropped, no-new-privileges; gVisor when its runtime is installed)";

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
    const progress = launchProgress(plan.id, hooks);
    try {
      // Each pair below is independent: done at once, and both finished before an error is reported (the cleanup must not race them).
      const [bundleImage, agentImage] = await allSettledOrThrow([
        ensureImage("bundle", plan.images.bundle, (m) => progress("images", m), signal),
        ensureImage(plan.provider.name, plan.images.agent, (m) => progress("images", m), signal),
      ]);
      signal?.throwIfAborted();

      progress("network", `creating network ${plan.resources.network} and socket volume ${plan.resources.volume}`);
      await allSettledOrThrow([createBundleNetwork(plan), docker(["volume", "create", ...labelArgs(bottleLabels(plan, "sockets")), plan.resources.volume])]);
      signal?.throwIfAborted();

      // The agent needs only the socket volume, not a running bundle: its forwarder dials the sockets per connection.
      progress("sidecars", `starting the sidecar bundle (${plan.sidecars.daemons.join(", ")})`);
      await allSettledOrThrow([
        startBundle(plan, bundleImage, secrets, plan.resources.volume),
        (async () => {
          const info: unknown = JSON.parse(await docker(["info", "--format", "{{json .}}"]));
          const runtime = chooseAgentRuntime(info);
          const cpus = agentCpuShare(plan.limits.cpus, info);
          progress("agent", `starting the agent container (${runtime.reason}; ${cpus.reason})`);
          await this.startAgent(plan, agentImage, runtime.runtime, cpus.cpus);
        })(),
      ]);
      signal?.throwIfAborted();

      progress("ready", "waiting for the agent's forwarder and egress to answer");
      const bottle = this.attach(plan);
      await waitForEgress(plan, bottle, signal, [{ container: plan.resources.agent, what: "the agent container" }]);
      return bottle;
    } catch (err) {
      await this.remove(plan.id, plan.homeLabel).catch((cleanupErr) =>
        log.warn({ bottle: plan.id, err: String(cleanupErr) }, "cleanup after a failed launch was incomplete; run `bot-bottle gc`"),
      );
      throw err;
    }
  }

  private async startAgent(plan: BottlePlan, image: string, runtime: string | null, cpus: number): Promise<void> {
    const envArgs = Object.entries(plan.guest.env).flatMap(([key, value]) => ["-e", `${key}=${value}`]);
    await docker([
      "run",
      "-d",
      "--name",
      plan.resources.agent,
      ...labelArgs(bottleLabels(plan, "agent")),
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
      `${assetPaths.forwarder}:${GUEST_PATHS.forwarder}:ro`,
      "-v",
      `${assetPaths.runner}:${GUEST_PATHS.runner}:ro`,
      "-v",
      `${assetPaths.guestFiles}:${GUEST_PATHS.guestFiles}:ro`,
      ...envArgs,
      "--entrypoint",
      "node",
      image,
      GUEST_PATHS.forwarder,
      ...plan.sidecars.forwards,
    ]);
  }

  discover(homeLabel: string): Promise<DiscoveredBottle[]> {
    return discoverLabelled(homeLabel);
  }

  remove(id: string, homeLabel: string): Promise<string[]> {
    return removeLabelled(id, homeLabel);
  }
}
