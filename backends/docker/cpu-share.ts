import { z } from "zod";

// Docker refuses `--cpus` above the host's CPU count, so a bottle written on a
// bigger machine (or the default, on a small one) gets what this host has
// rather than failing to start.

export const DockerInfoCpus = z.object({ NCPU: z.number().int().positive().optional() });

export type CpuShare = { cpus: number; reason: string };

/** The agent container's `--cpus`, from the bottle's and `docker info --format '{{json .}}'`. */
export function agentCpuShare(wanted: number, info: unknown): CpuShare {
  const parsed = DockerInfoCpus.safeParse(info);
  const hostCpus = parsed.success ? parsed.data.NCPU : undefined;
  if (hostCpus === undefined || wanted <= hostCpus) return { cpus: wanted, reason: `${wanted} CPUs` };
  return { cpus: hostCpus, reason: `${hostCpus} CPUs: the bottle asks for ${wanted}, this host has ${hostCpus}` };
}
