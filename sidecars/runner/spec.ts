import { z } from "zod";

// What the engine and the in-bottle runner say to each other about a
// background run: the run's spec (what to run, as whom), its status (what
// happened), and the output read back in parts. The runner writes status and
// output as root, so the agent can read them but never forge them.

export const RunId = z.string().regex(/^run-[0-9a-f]{16}$/, "must be a run id (run- and 16 hex digits)");
export type RunId = z.infer<typeof RunId>;

export const RunSpec = z.strictObject({
  run_id: RunId,
  argv: z.array(z.string()).min(1),
  /** A user name of the bottle's /etc/passwd. */
  user: z.string().min(1),
  cwd: z.string().min(1),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()),
  timeout_ms: z.number().int().positive(),
});
export type RunSpec = z.infer<typeof RunSpec>;

/** `lost`: the runner found no monitor for a run it never saw end (the bottle restarted under it). */
export const RunState = z.enum(["running", "exited", "timed_out", "cancelled", "lost"]);
export type RunState = z.infer<typeof RunState>;

export const RunStatus = z.strictObject({
  run_id: RunId,
  state: RunState,
  /** The monitor's pid inside the bottle. */
  monitor_pid: z.number().int().nullable(),
  started_at: z.iso.datetime(),
  ended_at: z.iso.datetime().nullable(),
  exit_code: z.number().int().nullable(),
  signal: z.string().nullable(),
});
export type RunStatus = z.infer<typeof RunStatus>;

/** A part of one output stream, from `offset`, decoded as UTF-8 (a character cut at the edge is replaced). */
export const OutputPart = z.strictObject({
  text: z.string(),
  offset: z.number().int().nonnegative(),
  /** Where the next read starts. */
  next_offset: z.number().int().nonnegative(),
  /** The stream's whole size so far. */
  size: z.number().int().nonnegative(),
});
export type OutputPart = z.infer<typeof OutputPart>;

export const RunRead = z.strictObject({
  status: RunStatus,
  stdout: OutputPart,
  stderr: OutputPart,
  /** The last lines of stdout, for reading a bottled agent's final result; null unless asked for. */
  stdout_tail: z.string().nullable(),
});
export type RunRead = z.infer<typeof RunRead>;

/** Every process of a run carries this variable, so a cancel finds the ones that left its process group. */
export const RUN_MARKER = "BOT_BOTTLE_RUN";
