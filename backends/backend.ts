import type { BottlePlan, PlanBackend } from "../src/engine/plan-schema.js";
import type { ExecResult, Progress } from "../src/engine/records.js";
import { log } from "../src/log.js";

/** Options of one command run inside a bottle. */
export interface ExecOptions {
  /** Guest user; defaults to the plan's agent user (`node`). */
  user?: string;
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
  stdin?: string;
  /** Per stream; output beyond it is dropped and `truncated` set. */
  maxOutputBytes?: number;
  /** Output as it arrives (for progress notifications and the CLI). */
  onOutput?: (stream: "stdout" | "stderr", chunk: string) => void;
  /** Aborting kills the process inside the bottle, not just the client. */
  signal?: AbortSignal;
}

/**
 * A running bottle. Provisioning and tools go through this handle only, so a
 * backend can change how it reaches the guest without touching them.
 */
export interface Bottle {
  readonly id: string;
  /** argv runs as is; a string runs through `/bin/sh -c`. A non-zero exit is a result, not an error. */
  exec(command: string | string[], options?: ExecOptions): Promise<ExecResult>;
  /** Copies a host file or folder to a guest path (landing owned by root). */
  cpIn(hostPath: string, guestPath: string): Promise<void>;
  cpOut(guestPath: string, hostPath: string): Promise<void>;
  /** Removes everything the bottle is made of; returns what was removed. */
  stop(): Promise<string[]>;
}

/** What a backend finds of a bottle by asking its engine (labels), for re-discovery and gc. */
export interface DiscoveredBottle {
  id: string;
  /** Every backend resource carrying the bottle's label, by kind. */
  resources: { kind: "container" | "network" | "volume" | "machine"; name: string; running: boolean }[];
  /** Whether the agent itself is up. */
  agentRunning: boolean;
  /** Whether the sidecar bundle (egress, supervise, the git gate) is up; null from a backend whose bottles keep their bundle elsewhere. */
  bundleRunning: boolean | null;
}

export interface LaunchHooks {
  onProgress?: (progress: Omit<Progress, "step" | "total">) => void;
  signal?: AbortSignal;
}

/** A launch's progress, to the debug log and to the caller's hook. */
export function launchProgress(bottleId: string, hooks: LaunchHooks) {
  return (phase: string, message: string) => {
    log.debug({ bottle: bottleId, phase }, message);
    hooks.onProgress?.({ phase, message });
  };
}

export type Availability = { ok: true; detail: string } | { ok: false; reason: string };

/**
 * Where bottles run. A backend sees plans, never manifests, and knows nothing
 * of MCP or the CLI; the engine reaches every backend through this interface
 * (backends/registry.ts makes them).
 */
export interface Backend {
  readonly name: PlanBackend;
  /** What separates the agent from the host, in a sentence (README, doctor, dry runs). */
  readonly isolation: string;
  /** Whether the backend can run bottles here; when not, the reason says how to make it so (doctor shows the same words). */
  available(): Promise<Availability>;
  /**
   * Builds or reuses images, creates networks and the sidecar bundle, starts
   * the agent and waits until its sidecars answer. `secrets` (bundle variable ->
   * value: egress's tokens and secrets, the git gate's deploy keys) reach the
   * bundle through init's stdin, never an argv, an environment or a file on the
   * host. Provisioning is the engine's job, through the returned handle. On
   * failure or abort it removes what it made.
   */
  launch(plan: BottlePlan, secrets: Record<string, string>, hooks?: LaunchHooks): Promise<Bottle>;
  /** A handle for a bottle this or an earlier process launched. */
  attach(plan: BottlePlan): Bottle;
  /** Bottles of this home found on the engine, by label (for a backend with parts elsewhere, only its own kind of parts). */
  discover(homeLabel: string): Promise<DiscoveredBottle[]>;
  /** Removes every resource labelled with the bottle id; returns what was removed. */
  remove(id: string, homeLabel: string): Promise<string[]>;
}
