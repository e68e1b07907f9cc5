import { z } from "zod";
import { AgentOrigin, BackendName } from "../manifest/schema.js";

// The engine's public records: what callers (CLI, MCP tools) get back. Kept in
// one place so the tools' output schemas and the state files agree.

/** pooled: launched and provisioned in a warm pool, not yet claimed by a start (nothing runs in it until then). */
export const BottleStatus = z.enum(["starting", "pooled", "running", "stopped", "failed"]);

/** What the caller wants: which agent, in which bottles, with which repo. */
export const BottleSpec = z.object({
  agent: z.string().min(1),
  bottles: z.array(z.string().min(1)).optional(),
  cwd: z.string().optional(),
  label: z.string().optional(),
  backend: BackendName.optional(),
  /** A Dockerfile for this start only, ahead of the manifest's, the plugin's and the provider's. */
  dockerfile: z.string().optional(),
});
export type BottleSpec = z.infer<typeof BottleSpec>;

/** A bottle as recorded in `$BOT_BOTTLE_HOME/state/<id>/metadata.json`. */
export const BottleRecord = z.object({
  id: z.string(),
  agent: z.string(),
  /**
   * home: the user's own agent; repository: one the repository in the cwd
   * shipped (its author chose the prompt and skills). Absent in the records
   * of bottles an earlier version started: those must stay readable, or ls
   * would hide them and gc would remove them while they run.
   */
  agent_origin: AgentOrigin.optional(),
  /** The agent's file (absent for bottles an earlier version started). */
  agent_source: z.string().optional(),
  bottles: z.array(z.string()),
  provider: z.string(),
  backend: BackendName,
  label: z.string().nullable(),
  cwd: z.string().nullable(),
  status: BottleStatus,
  started_at: z.string(),
  stopped_at: z.string().nullable(),
  /** Backend resource names (containers, networks, volumes) for inspection and gc. */
  resources: z.object({
    agent: z.string(),
    bundle: z.string(),
    network: z.string(),
    volume: z.string(),
  }),
  /** Provisioning steps that did not succeed but did not stop the start (e.g. a failed MCP registration). */
  warnings: z.array(z.string()),
  /** Set by a listing when a bottle that runs is not whole (its sidecar bundle is down); never stored. */
  problem: z.string().optional(),
});
export type BottleRecord = z.infer<typeof BottleRecord>;

export const ExecRequest = z.object({
  command: z.union([z.string().min(1), z.array(z.string()).min(1)]),
  user: z.string().optional(),
  cwd: z.string().optional(),
  env: z.record(z.string(), z.string()).optional(),
  timeoutMs: z.number().int().positive().optional(),
  maxOutputBytes: z.number().int().positive().optional(),
  stdin: z.string().optional(),
});
export type ExecRequest = z.infer<typeof ExecRequest>;

export const ExecResult = z.object({
  exit_code: z.number().int(),
  stdout: z.string(),
  stderr: z.string(),
  truncated: z.boolean(),
  duration_ms: z.number(),
  timed_out: z.boolean(),
});
export type ExecResult = z.infer<typeof ExecResult>;

/** One step of a long operation, for progress notifications and CLI lines. */
export const Progress = z.object({
  phase: z.string(),
  message: z.string(),
  step: z.number().int(),
  total: z.number().int().optional(),
});
export type Progress = z.infer<typeof Progress>;

export const StopResult = z.object({
  id: z.string(),
  removed: z.array(z.string()),
});
export type StopResult = z.infer<typeof StopResult>;

/** A prompt for the bottled agent, run headless as the agent user in the workspace. */
export const AgentRunRequest = z.object({
  prompt: z.string().min(1),
  model: z.string().optional(),
  maxTurns: z.number().int().positive().optional(),
  allowedTools: z.array(z.string().min(1)).optional(),
});
export type AgentRunRequest = z.infer<typeof AgentRunRequest>;

export const AgentRunResult = z.object({
  exit_code: z.number().int(),
  /** The agent's final answer, as text. */
  result_text: z.string().nullable(),
  /** The agent's final result event, parsed. */
  structured: z.record(z.string(), z.unknown()).nullable(),
  usage: z.record(z.string(), z.unknown()).nullable(),
  duration_ms: z.number(),
  timed_out: z.boolean(),
  /** Raw output, under the cap. */
  stdout: z.string(),
  stderr: z.string(),
  truncated: z.boolean(),
});
export type AgentRunResult = z.infer<typeof AgentRunResult>;

/** How a background run stands. `lost`: the bottle or its monitor went away before the run was seen to end. */
export const RunState = z.enum(["running", "exited", "timed_out", "cancelled", "lost"]);
export type RunState = z.infer<typeof RunState>;

/** A background run, as list_runs and wait_for_runs report it. */
export const RunRecord = z.object({
  run_id: z.string(),
  bottle_id: z.string(),
  kind: z.enum(["command", "prompt"]),
  /** What runs: the command line, or the start of the prompt. */
  summary: z.string(),
  state: RunState,
  exit_code: z.number().int().nullable(),
  signal: z.string().nullable(),
  started_at: z.string(),
  ended_at: z.string().nullable(),
  duration_ms: z.number().nullable(),
});
export type RunRecord = z.infer<typeof RunRecord>;

/** Part of a run's output stream. */
export const RunOutput = z.object({
  text: z.string(),
  offset: z.number().int(),
  next_offset: z.number().int(),
  /** The stream's size so far; next_offset < size means there is more to read. */
  size: z.number().int(),
});
export type RunOutput = z.infer<typeof RunOutput>;

/** A run with its output (from offsets) and, for a prompt, the bottled agent's answer once it ended. */
export const RunResult = RunRecord.extend({
  stdout: RunOutput,
  stderr: RunOutput,
  result_text: z.string().nullable(),
  structured: z.record(z.string(), z.unknown()).nullable(),
  usage: z.record(z.string(), z.unknown()).nullable(),
});
export type RunResult = z.infer<typeof RunResult>;
