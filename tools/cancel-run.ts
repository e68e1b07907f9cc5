import { z } from "zod";
import { RunRecord } from "../src/engine/records.js";
import { defineTool } from "./tool.js";

export const cancelRunTool = defineTool({
  name: "cancel_run",
  title: "Cancel a background run",
  description:
    "Cancel a background run: every process it started inside the bottle is killed, and its state becomes cancelled. " +
    "A run that already ended is left as it is (calling again is harmless).",
  input: z.object({ run_id: z.string().min(1).describe("The run, from exec_in_bottle (background) or list_runs.") }),
  output: RunRecord,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async run({ run_id }, { engine }) {
    const run = await engine.runs.cancel(run_id);
    return { structured: run, text: `run ${run.run_id} is ${run.state}${run.exit_code !== null ? ` (exit code ${run.exit_code})` : ""}` };
  },
});
