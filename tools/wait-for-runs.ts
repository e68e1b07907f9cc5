import { z } from "zod";
import { RunRecord } from "../src/engine/records.js";
import { WaitReason } from "../src/engine/runs/runs.js";
import { listPending } from "../src/supervise/pending.js";
import { defineTool } from "./tool.js";

const DEFAULT_TIMEOUT_S = 50;
/** Well under the tool-call timeouts clients use by default (Codex: 60 s). */
const MAX_TIMEOUT_S = 55;

const PendingRequest = z.object({ id: z.string(), bottle: z.string(), kind: z.string(), summary: z.string() });

export const waitForRunsTool = defineTool({
  name: "wait_for_runs",
  title: "Wait for background runs",
  description:
    "Wait for background runs (started with exec_in_bottle background: true). Returns as soon as one of them ends, or as soon as one of their " +
    "bottles has a pending supervise request (a bottled agent waiting for your decision), or after timeout_s. " +
    "It returns every watched run's state and the pending requests: answer each with supervise_approve, then call wait_for_runs again; " +
    "read a finished run with get_run. Without run_ids it watches every run not yet seen to end (in bottle_ids, or in all bottles). " +
    "`reason` says why it returned: run_ended, pending_request, timeout (call again), nothing_to_wait_for.",
  input: z.object({
    run_ids: z.array(z.string().min(1)).min(1).optional().describe("The runs to wait for (default: every run not yet seen to end)."),
    bottle_ids: z.array(z.string().min(1)).min(1).optional().describe("Watch these bottles' runs and pending requests."),
    timeout_s: z
      .number()
      .positive()
      .max(MAX_TIMEOUT_S)
      .optional()
      .describe(`Return after this many seconds at most (default ${DEFAULT_TIMEOUT_S}, at most ${MAX_TIMEOUT_S}); then call again.`),
  }),
  output: z.object({
    reason: z.enum(WaitReason),
    runs: z.array(RunRecord),
    pending: z.array(PendingRequest).describe("Supervise requests the bottles wait on: answer with supervise_approve."),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run(args, { engine, signal, progress }) {
    let lastSent = Promise.resolve();
    const result = await engine.runs.wait({
      runIds: args.run_ids,
      bottleIds: args.bottle_ids,
      timeoutMs: Math.round((args.timeout_s ?? DEFAULT_TIMEOUT_S) * 1000),
      signal,
      pendingFor: (bottle) => listPending(engine.home, bottle).map(({ id, bottle: b, kind, summary }) => ({ id, bottle: b, kind, summary })),
      onProgress: (elapsed, message) => void (lastSent = progress({ progress: elapsed, message })),
    });
    await lastSent;
    const lines = [
      `${result.reason.replaceAll("_", " ")}:`,
      ...result.runs.map((r) => `- ${r.run_id} [${r.bottle_id}] ${r.state}${r.exit_code !== null ? ` (exit ${r.exit_code})` : ""}: ${r.summary}`),
      ...result.pending.map((p) => `- pending request ${p.id} [${p.bottle}, ${p.kind}]: ${p.summary} (answer with supervise_approve)`),
    ];
    return { structured: result, text: lines.join("\n") };
  },
});
