import { z } from "zod";
import { BottleRecord } from "../src/engine/records.js";
import { defineTool } from "./tool.js";

export const listBottlesTool = defineTool({
  name: "list_bottles",
  title: "List bottles",
  description:
    "List the bottles this bot-bottle home knows: running ones (usable with exec_in_bottle and stop_bottle) and stopped or failed ones. " +
    "Use it to find a bottle id again, or to check what is still running before starting another. " +
    "Returns `bottles`, each with id, agent, bottles, provider, backend, label, status (starting, pooled: warm and waiting for a start to claim it, running, stopped, failed), " +
    "started_at and stopped_at, and `problem` when a running bottle is not whole (its sidecar bundle is down: stop it and start another).",
  input: z.object({}),
  output: z.object({ bottles: z.array(BottleRecord) }),
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run(_args, { engine }) {
    const bottles = await engine.list();
    const lines = bottles.map((b) => `- ${b.id}: ${b.status}, agent ${b.agent}${b.label ? `, label ${b.label}` : ""}, started ${b.started_at}${b.problem ? `; PROBLEM: ${b.problem}` : ""}`);
    return { structured: { bottles }, text: bottles.length > 0 ? [`${bottles.length} bottle(s):`, ...lines].join("\n") : "No bottles." };
  },
});
