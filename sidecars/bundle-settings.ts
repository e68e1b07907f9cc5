import { z } from "zod";
import { BUNDLE_FILES, BUNDLE_PATHS, DAEMONS, type DaemonName, daemonSocket, ENV } from "./contract.js";

// What a backend tells the bundle about one bottle, and the bundle container's
// environment it becomes: the engine's side of the sidecar contract, apart
// from contract.ts so that the daemons that only read the environment do not
// load zod.

/** What a backend tells the bundle about one bottle; everything else is fixed in contract.ts. */
export const BundleSettings = z.object({
  bottleId: z.string(),
  daemons: z.array(z.enum(DAEMONS)),
  /** File name of the live routes inside BUNDLE_PATHS.routes. */
  routesFile: z.string(),
  /** File name of extra upstream CAs inside BUNDLE_PATHS.egressConfig, or null. */
  egressExtraCa: z.string().nullable(),
  egressAllowNetworks: z.array(z.string()),
  holdTimeoutMs: z.number().int().positive(),
  superviseTimeoutMs: z.number().int().positive().nullable(),
});
export type BundleSettings = z.infer<typeof BundleSettings>;

/** The bundle container's environment (no secrets: those arrive through init's stdin). */
export function bundleEnvironment(settings: BundleSettings): Record<string, string> {
  const { egressConfig, routes, logs, queue, gitGateConfig, gitMirrors, gitGateHooks } = BUNDLE_PATHS;
  const has = (daemon: DaemonName) => settings.daemons.includes(daemon);
  return {
    [ENV.daemons]: settings.daemons.join(","),
    [ENV.privateDir]: BUNDLE_PATHS.private,
    [ENV.bottleId]: settings.bottleId,
    [ENV.egressRoutes]: `${routes}/${settings.routesFile}`,
    [ENV.egressSocket]: daemonSocket("egress"),
    [ENV.egressCaCert]: `${egressConfig}/${BUNDLE_FILES.caCert}`,
    [ENV.egressCaKey]: `${egressConfig}/${BUNDLE_FILES.caKey}`,
    ...(settings.egressExtraCa ? { [ENV.egressExtraCa]: `${egressConfig}/${settings.egressExtraCa}` } : {}),
    [ENV.egressAllowNetworks]: settings.egressAllowNetworks.join(","),
    [ENV.egressLogFile]: `${logs}/${BUNDLE_FILES.egressLog}`,
    [ENV.egressQueueDir]: queue,
    [ENV.egressHoldTimeoutMs]: String(settings.holdTimeoutMs),
    ...(has("supervise") && settings.superviseTimeoutMs !== null
      ? { [ENV.superviseQueueDir]: queue, [ENV.superviseSocket]: daemonSocket("supervise"), [ENV.superviseTimeoutMs]: String(settings.superviseTimeoutMs) }
      : {}),
    ...(has("git-gate")
      ? {
          [ENV.gitGateConfig]: `${gitGateConfig}/${BUNDLE_FILES.gateConfig}`,
          [ENV.gitGateMirrors]: gitMirrors,
          [ENV.gitGateHooksDir]: gitGateHooks,
          [ENV.gitGateSocket]: daemonSocket("git-gate"),
          [ENV.gitGateQueueDir]: queue,
          [ENV.gitGateHoldTimeoutMs]: String(settings.holdTimeoutMs),
        }
      : {}),
  };
}
