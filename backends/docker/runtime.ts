import { z } from "zod";

// gVisor adds a second wall around the agent, but the agent reaches its
// sidecars through Unix sockets on a shared volume, which runsc only allows
// with --host-uds=open (or all). Without it the agent could not talk to egress.

export const DockerInfoRuntimes = z.object({
  Runtimes: z.record(z.string(), z.object({ path: z.string().optional(), runtimeArgs: z.array(z.string()).nullish() })).optional(),
});

export type RuntimeChoice = { runtime: "runsc" | null; reason: string };

/** Picks the agent container's OCI runtime from `docker info --format '{{json .}}'`. */
export function chooseAgentRuntime(info: unknown): RuntimeChoice {
  const parsed = DockerInfoRuntimes.safeParse(info);
  const runsc = parsed.success ? parsed.data.Runtimes?.runsc : undefined;
  if (!runsc) return { runtime: null, reason: "gVisor (runsc) is not installed in this Docker engine; using the default runtime" };
  const args = runsc.runtimeArgs ?? [];
  const hostUds = args.find((a) => a.startsWith("--host-uds=") || a.startsWith("-host-uds="));
  const value = hostUds?.split("=")[1];
  if (value === "open" || value === "all") {
    return { runtime: "runsc", reason: `gVisor (runsc) with ${hostUds}` };
  }
  return {
    runtime: null,
    reason:
      "gVisor (runsc) is installed but not configured to let sandboxes connect to host Unix sockets, which the agent needs to reach its sidecars; add \"--host-uds=open\" to its runtimeArgs in daemon.json to use it",
  };
}
