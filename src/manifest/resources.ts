import { z } from "zod";

// The bottle key `resources`: what the agent container may use of the host
// (memory, CPUs, processes), so that one bottle cannot starve the machine or
// the other bottles, and a fork bomb or a runaway build stops at its own limit.

const UNIT_BYTES = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as const;
const MIN_MEMORY_BYTES = 64 * UNIT_BYTES.m;
const MIN_PIDS = 64;

/** `512m`, `4g`, `1.5g`: binary units, as Docker reads them. Parsed to bytes. */
export const MemorySize = z
  .string()
  .regex(/^[0-9]+(\.[0-9]+)?[kmgKMG]$/, "must be a size with a unit, such as 512m or 4g (k, m or g; binary: 1g = 1024m)")
  .transform((text) => Math.round(Number(text.slice(0, -1)) * UNIT_BYTES[text.slice(-1).toLowerCase() as keyof typeof UNIT_BYTES]))
  .refine((bytes) => bytes >= MIN_MEMORY_BYTES, "must be at least 64m: less cannot run an agent");

/** A share of CPUs, as Docker's --cpus takes it (steps of 0.01). */
export const CpuCount = z
  .number()
  .gte(0.01, "must be a number of CPUs of at least 0.01, such as 2 or 0.5")
  .multipleOf(0.01, "must be a number of CPUs in steps of 0.01, such as 2 or 0.5");

/** Processes and threads together (Linux counts both against the limit). */
export const PidCount = z.number().int().gte(MIN_PIDS, `must be at least ${MIN_PIDS}: the agent's forwarder and every command need some (there is no unlimited)`);

/** `resources` as one bottle file states it: each field overlays those of the bottles it extends. */
export const Resources = z.strictObject({
  memory: MemorySize.optional(),
  cpus: CpuCount.optional(),
  pids: PidCount.optional(),
});
export type Resources = z.infer<typeof Resources>;

/** The limits an agent container runs with: memory in bytes, CPUs, processes and threads. */
export const EffectiveResources = z.object({
  memory: z.number().int().positive(),
  cpus: z.number().positive(),
  pids: z.number().int().positive(),
});
export type EffectiveResources = z.infer<typeof EffectiveResources>;

/**
 * Enough for Claude Code or Codex with a build or a test run beside them (a
 * few GB, thousands of threads), small enough to stop a runaway at once. CPUs
 * above the host's count are lowered to it at launch.
 */
export const DEFAULT_RESOURCES: EffectiveResources = { memory: 4 * UNIT_BYTES.g, cpus: 2, pids: 4096 };

/** `4 GiB, 2 CPUs, 4096 processes` for summaries. */
export function describeResources(resources: EffectiveResources): string {
  const gib = resources.memory / UNIT_BYTES.g;
  const memory = Number.isInteger(gib) ? `${gib} GiB` : `${Math.round(resources.memory / UNIT_BYTES.m)} MiB`;
  return `memory ${memory}, ${resources.cpus} CPU${resources.cpus === 1 ? "" : "s"} (at most the host's), ${resources.pids} processes and threads`;
}
