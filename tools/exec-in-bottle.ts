import { z } from "zod";
import { ExecResult } from "../src/engine/records.js";
import { defineTool, type ProgressUpdate } from "./tool.js";

const DEFAULT_TIMEOUT_S = 600;
const MAX_TIMEOUT_S = 24 * 60 * 60;
const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;
/** Output is sent in batches so a chatty command does not flood the client with notifications. */
const PROGRESS_INTERVAL_MS = 200;

export const execInBottleTool = defineTool({
  name: "exec_in_bottle",
  title: "Run a command in a bottle",
  description:
    "Run a command inside a running bottle, as the agent user in its workspace unless told otherwise. " +
    "Use it for all work on the bottle: inspect files, run builds and tests. " +
    "To hand the bottled agent (Claude Code, Codex, ...) a task, give `prompt` instead of `command`: it runs the agent headless " +
    "with its system prompt and returns its answer as `result_text` (plus `structured`, its final result event, and `usage`); " +
    "the agent's progress is reported while it works. " +
    "`command` is a shell command line (run by /bin/sh -c, so pipes and && work) or an argv array run as is. " +
    "Returns exit_code, stdout, stderr, duration_ms, `timed_out` (the command was killed inside the bottle after timeout_s) and " +
    "`truncated` (a stream went past max_output_bytes and was cut: redirect to a file and read it in parts). " +
    "A non-zero exit code is a normal result, not an error. Output is reported as progress while the command runs if you ask for it; " +
    "cancelling the call kills the command inside the bottle. " +
    "With `background: true` (commands and prompts alike) it returns at once with a `run_id`: the run goes on inside the bottle, " +
    "outliving this call and even this server. Use that for anything long, and to run several bottles at once: start each run in the background, " +
    "then wait_for_runs (it also returns when a bottled agent asks for a decision: answer with supervise_approve and wait again), " +
    "and read the output and answer with get_run.",
  input: z.object({
    bottle_id: z.string().min(1).describe("The bottle's id, from start_bottle or list_bottles."),
    command: z
      .union([z.string().min(1), z.array(z.string()).min(1)], { error: "expected a shell command line (a non-empty string) or an argv array of strings" })
      .optional()
      .describe('A shell command line, e.g. "ls -la && git status", or an argv array, e.g. ["git", "log", "-1"]. Give this or prompt.'),
    prompt: z.string().min(1).optional().describe("A task for the bottled agent, run headless in its workspace. Give this or command."),
    model: z.string().min(1).optional().describe("With prompt: the model the agent uses (default: the agent's own)."),
    max_turns: z.number().int().positive().optional().describe("With prompt: stop the agent after this many turns (Claude Code)."),
    allowed_tools: z
      .array(z.string().min(1))
      .optional()
      .describe('With prompt: tools the agent may use without asking, e.g. ["Bash", "Edit", "mcp__supervise__request-approval"] (Claude Code).'),
    user: z.string().min(1).optional().describe("The user to run as inside the bottle (default: the agent user; root for system changes)."),
    cwd: z.string().min(1).optional().describe("Working folder inside the bottle (default: the agent's workspace)."),
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name (letters, digits, _)"), z.string())
      .optional()
      .describe("Extra environment variables for this command only."),
    timeout_s: z
      .number()
      .positive()
      .max(MAX_TIMEOUT_S)
      .optional()
      .describe(`Kill the command inside the bottle after this many seconds (default ${DEFAULT_TIMEOUT_S}).`),
    max_output_bytes: z
      .number()
      .int()
      .positive()
      .max(MAX_OUTPUT_BYTES)
      .optional()
      .describe(`Keep at most this many bytes of stdout and of stderr each (default ${DEFAULT_MAX_OUTPUT_BYTES}); the rest is dropped and truncated set.`),
    background: z
      .boolean()
      .optional()
      .describe("Start it detached in the bottle and return at once with a run_id (then wait_for_runs, get_run, cancel_run). Default false."),
  }).refine((args) => (args.command === undefined) !== (args.prompt === undefined), {
    message: "give exactly one of command (to run a command) or prompt (to give the bottled agent a task)",
  }),
  output: ExecResult.extend({
    exit_code: ExecResult.shape.exit_code.nullable().describe("The exit code; null for a run started in the background."),
    run_id: z.string().nullable().optional().describe("With background: the run's id, for wait_for_runs, get_run and cancel_run; null otherwise."),
    result_text: z.string().nullable().optional().describe("With prompt: the agent's final answer."),
    structured: z.record(z.string(), z.unknown()).nullable().optional().describe("With prompt: the agent's final result event, parsed."),
    usage: z.record(z.string(), z.unknown()).nullable().optional().describe("With prompt: token usage, when the agent reports it."),
  }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async run(args, { engine, signal, wantsProgress, progress }) {
    const cap = args.max_output_bytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    const timeoutS = args.timeout_s ?? DEFAULT_TIMEOUT_S;
    if (args.background) {
      const what =
        args.prompt !== undefined
          ? { prompt: { prompt: args.prompt, model: args.model, maxTurns: args.max_turns, allowedTools: args.allowed_tools } }
          : { command: args.command!, user: args.user, cwd: args.cwd, env: args.env };
      const run = await engine.runs.start(args.bottle_id, what, Math.round(timeoutS * 1000));
      return {
        structured: { run_id: run.run_id, exit_code: null, stdout: "", stderr: "", truncated: false, duration_ms: 0, timed_out: false },
        text: `started ${run.kind} run ${run.run_id} in bottle ${run.bottle_id} (${run.summary}); it runs for up to ${timeoutS} s. wait_for_runs waits for it, get_run reads it.`,
      };
    }
    if (args.prompt !== undefined) {
      let events = 0;
      let lastSent = Promise.resolve();
      const result = await engine.runAgent(
        args.bottle_id,
        { prompt: args.prompt, model: args.model, maxTurns: args.max_turns, allowedTools: args.allowed_tools },
        {
          timeoutMs: Math.round(timeoutS * 1000),
          maxOutputBytes: cap,
          signal,
          onEvent: wantsProgress ? (message) => void (lastSent = progress({ progress: ++events, message })) : undefined,
        },
      );
      await lastSent;
      const answer = result.result_text === null ? "the agent gave no answer" : `answer:\n${result.result_text}`;
      return { structured: { ...result, run_id: null }, text: `${describeResult(result, timeoutS, cap).split("\n")[0]}\n${answer}` };
    }
    const streamed = wantsProgress ? new OutputProgress(progress, cap) : undefined;
    const result = await engine
      .exec(args.bottle_id, args.command!, {
        user: args.user,
        cwd: args.cwd,
        env: args.env,
        timeoutMs: Math.round(timeoutS * 1000),
        maxOutputBytes: cap,
        signal,
        onOutput: streamed && ((stream, chunk) => streamed.push(stream, chunk)),
      })
      .finally(() => streamed?.close());
    return { structured: { ...result, run_id: null }, text: describeResult(result, timeoutS, cap) };
  },
});

function describeResult(result: ExecResult, timeoutS: number, cap: number): string {
  const notes = [
    result.timed_out ? `timed out after ${timeoutS} s and was killed inside the bottle` : undefined,
    result.truncated ? `output cut at ${cap} bytes per stream` : undefined,
  ].filter(Boolean);
  const parts = [`exit code ${result.exit_code} after ${result.duration_ms} ms${notes.length > 0 ? ` (${notes.join("; ")})` : ""}`];
  if (result.stdout !== "") parts.push(`stdout:\n${result.stdout}`);
  if (result.stderr !== "") parts.push(`stderr:\n${result.stderr}`);
  return parts.join("\n");
}

/**
 * Streams a command's output as progress notifications: batched every
 * PROGRESS_INTERVAL_MS, stderr marked, and no more in total than the result
 * itself may carry. `progress` counts the bytes sent so far.
 */
class OutputProgress {
  private pending = "";
  private sentBytes = 0;
  /** The last notification sent, so the result waits until it is on its way. */
  private lastSent: Promise<void> = Promise.resolve();
  private readonly budget: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly send: (update: ProgressUpdate) => Promise<void>,
    cap: number,
  ) {
    this.budget = 2 * cap;
  }

  push(stream: "stdout" | "stderr", chunk: string): void {
    const text = stream === "stderr" ? chunk.replace(/^(?=.)/gm, "[stderr] ") : chunk;
    const room = this.budget - this.sentBytes - Buffer.byteLength(this.pending);
    if (room <= 0) return;
    this.pending += Buffer.byteLength(text) > room ? Buffer.from(text).subarray(0, room).toString() : text;
    this.timer ??= setTimeout(() => this.flush(), PROGRESS_INTERVAL_MS);
  }

  close(): Promise<void> {
    this.flush();
    return this.lastSent;
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending === "") return;
    this.sentBytes += Buffer.byteLength(this.pending);
    this.lastSent = this.send({ progress: this.sentBytes, message: this.pending });
    this.pending = "";
  }
}
