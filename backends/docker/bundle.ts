import { chmodSync, mkdirSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { bundleEnvironment } from "../../sidecars/bundle-settings.js";
import { BUNDLE_PATHS, guestUrl, HEALTH_PATH, SOCKET_DIR } from "../../sidecars/contract.js";
import type { BottlePlan } from "../../src/engine/plan-schema.js";
import { UserError } from "../../src/user-error.js";
import { waitUntil } from "../../src/wait-until.js";
import type { Bottle } from "../backend.js";
import { guestAnswers } from "../guest-http-probe.js";
import { bottleLabels, labelArgs } from "../labels.js";
import { docker, dockerBinary } from "./docker-cli.js";

// The sidecar bundle (egress, supervise, the git gate) runs in a Docker
// container on a network of its own, whichever backend runs the agent: the
// agent reaches it only through the Unix sockets the bundle serves.

/** How long a starting bottle's forwarder and egress get to answer. */
export const READY_TIMEOUT_MS = 60_000;
/**
 * What the bundle's init needs as root: chown and reach into host folders to
 * set up each daemon's files (CHOWN, DAC_OVERRIDE), set the modes of files it
 * handed to a daemon (FOWNER: the git gate's mirrors), start the daemons as
 * their own users (SETUID, SETGID), and signal them (KILL).
 */
const BUNDLE_CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL"];
const BUNDLE_PIDS_LIMIT = 256;

/** The bottle's network (the bundle's way out) and, for a Docker agent, the volume that carries the sockets. */
export async function createBundleNetwork(plan: BottlePlan): Promise<void> {
  await docker(["network", "create", "--driver", "bridge", ...labelArgs(bottleLabels(plan, "network")), plan.resources.network]);
}

/**
 * Starts the bundle container and hands it the secrets. `sockets` is where
 * its socket folder comes from: a Docker volume the agent container mounts
 * too, or a host folder (for an agent that is not a container).
 */
export async function startBundle(plan: BottlePlan, image: string, secrets: Record<string, string>, sockets: string): Promise<void> {
  // Made here, not by Docker (which would make them root's), and group-writable:
  // the bundle's daemons run as users of their own in the host user's group
  // (see sidecars/privileges.ts); nobody else may enter.
  const gate = plan.gitGate.folders;
  for (const dir of [plan.sidecars.queueDir, plan.sidecars.logDir, path.dirname(plan.sidecars.routesFile), ...(gate ? [gate.mirrors] : [])]) {
    mkdirSync(dir, { recursive: true, mode: 0o770 });
    chmodSync(dir, 0o770);
  }
  const env = bundleEnvironment({
    bottleId: plan.id,
    daemons: plan.sidecars.daemons,
    routesFile: path.basename(plan.sidecars.routesFile),
    egressExtraCa: plan.sidecars.egressExtraCa,
    egressAllowNetworks: plan.sidecars.egressAllowNetworks,
    holdTimeoutMs: plan.sidecars.egressHoldTimeoutMs,
    superviseTimeoutMs: plan.sidecars.supervise?.timeoutMs ?? null,
  });
  const mount = (host: string, inside: string, mode = "") => ["-v", `${host}:${inside}${mode}`];
  await docker([
    "run",
    "-d",
    "--name",
    plan.resources.bundle,
    ...labelArgs(bottleLabels(plan, "bundle")),
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
    `${BUNDLE_PATHS.private}:rw,noexec,nosuid,nodev,size=4m,mode=0711`,
    ...mount(sockets, SOCKET_DIR),
    ...mount(plan.sidecars.egressConfigDir, BUNDLE_PATHS.egressConfig, ":ro"),
    ...mount(path.dirname(plan.sidecars.routesFile), BUNDLE_PATHS.routes),
    ...mount(plan.sidecars.queueDir, BUNDLE_PATHS.queue),
    ...mount(plan.sidecars.logDir, BUNDLE_PATHS.logs),
    ...(gate ? [...mount(gate.config, BUNDLE_PATHS.gitGateConfig, ":ro"), ...mount(gate.mirrors, BUNDLE_PATHS.gitMirrors)] : []),
    ...Object.entries(env).flatMap(([key, value]) => ["-e", `${key}=${value}`]),
    image,
  ]);
  // Secret values never go into the container's environment (docker inspect
  // shows it, and Docker keeps it on disk) nor into any argv: init takes them
  // from stdin, through an exec, into its private tmpfs.
  await docker(["exec", "-i", plan.resources.bundle, "node", BUNDLE_PATHS.init, "receive-secrets"], { input: JSON.stringify(secrets) });
}

/** The container's stdout and stderr, interleaved (daemons report failures on stderr). */
export async function containerLogs(container: string): Promise<string> {
  const result = await execa(dockerBinary(), ["logs", "--tail", "50", container], { all: true, reject: false });
  return String(result.all ?? "");
}

/** How long one in-guest probe asks before the host checks that the containers still run. */
const PROBE_WINDOW_MS = 3_000;

/**
 * Waits until egress answers its health path from inside the agent, through
 * the forwarder (which proves the forwarder listens too). Between probes the
 * bundle, and the `watch`ed containers, must still run: one that stopped is
 * an error with its logs, not a wait until the timeout.
 */
export async function waitForEgress(plan: BottlePlan, bottle: Bottle, signal?: AbortSignal, watch: { container: string; what: string }[] = []): Promise<void> {
  const url = guestUrl("egress", HEALTH_PATH);
  const containers = [{ container: plan.resources.bundle, what: "the sidecar bundle" }, ...watch];
  await waitUntil(
    "egress to answer through the forwarder",
    async () => {
      const states = (await docker(["inspect", "--format", "{{.State.Running}}", ...containers.map((c) => c.container)])).split("\n");
      const stopped = containers.find((_, i) => states[i]?.trim() !== "true");
      if (stopped) throw new UserError(`${stopped.what} stopped during start:\n${await containerLogs(stopped.container)}`);
      return (await guestAnswers(bottle, url, 200, PROBE_WINDOW_MS)) ? true : undefined;
    },
    { timeoutMs: READY_TIMEOUT_MS, signal },
  );
}
