import { z } from "zod";
import { RunRecord } from "../src/engine/records.js";
import { defineTool } from "./tool.js";

export const listRunsTool = defineTool({
  name: "list_runs",
  title: "List background runs",
  description:
    "List the background runs (exec_in_bottle with background: true) of one bottle, or of every bottle, oldest first, each with its state " +
    "(running, exited, timed_out, cancelled, lost) and exit code. Read one with get_run, wait on them with wait_for_runs.",
  input: z.object({ bottle_id: z.string().min(1).optional().describe("Only this bottle's runs.") }),
  output: z.object({ runs: z.array(RunRecord) }),
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run({ bottle_id }, { engine }) {
    const runs = await engine.runs.list(bottle_id);
    const lines = runs.map((r) => `- ${r.run_id} [${r.bottle_id}] ${r.state}${r.exit_code !== null ? ` (exit ${r.exit_code})` : ""}: ${r.summary}`);
    return { structured: { runs }, text: runs.length > 0 ? lines.join("\n") : "No background runs." };
  },
});
