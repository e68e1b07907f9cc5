import { z } from "zod";
import { RunResult } from "../src/engine/records.js";
import { defineTool } from "./tool.js";

const DEFAULT_MAX_BYTES = 64 * 1024;
const MAX_BYTES = 4 * 1024 * 1024;

export const getRunTool = defineTool({
  name: "get_run",
  title: "Read a background run",
  description:
    "Read a background run: its state (running, exited, timed_out, cancelled, or lost when its bottle went away), exit code and duration, " +
    "and its stdout and stderr from the given offsets, at most max_bytes of each; next_offset says where to read on (next_offset < size: there is more). " +
    "For a prompt run that ended, result_text is the bottled agent's answer (with structured, its final result event, and usage); its stdout is the agent's " +
    "raw event stream, left out unless you ask for it with max_bytes. " +
    "It works from any server process: runs outlive the server that started them.",
  input: z.object({
    run_id: z.string().min(1).describe("The run, from exec_in_bottle (background) or list_runs."),
    offset: z.number().int().nonnegative().optional().describe("Read stdout from this byte offset (default 0)."),
    stderr_offset: z.number().int().nonnegative().optional().describe("Read stderr from this byte offset (default 0)."),
    max_bytes: z
      .number()
      .int()
      .positive()
      .max(MAX_BYTES)
      .optional()
      .describe(`At most this many bytes of each stream (default ${DEFAULT_MAX_BYTES}; for a prompt run's stdout, 0 unless given).`),
  }),
  output: RunResult,
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run(args, { engine }) {
    const run = await engine.runs.get(args.run_id, { stdout: args.offset ?? 0, stderr: args.stderr_offset ?? 0 }, args.max_bytes ?? DEFAULT_MAX_BYTES, {
      promptStdout: args.max_bytes ?? 0,
    });
    const more = (part: RunResult["stdout"]) => (part.next_offset < part.size ? ` (more from offset ${part.next_offset} of ${part.size})` : "");
    const parts = [`run ${run.run_id} in bottle ${run.bottle_id}: ${run.state}${run.exit_code !== null ? `, exit code ${run.exit_code}` : ""}${run.duration_ms !== null ? ` after ${run.duration_ms} ms` : ""}`];
    if (run.result_text !== null) parts.push(`answer:\n${run.result_text}`);
    if (run.stdout.text !== "") parts.push(`stdout${more(run.stdout)}:\n${run.stdout.text}`);
    if (run.stderr.text !== "") parts.push(`stderr${more(run.stderr)}:\n${run.stderr.text}`);
    return { structured: run, text: parts.join("\n") };
  },
});
