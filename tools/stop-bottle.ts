import { z } from "zod";
import { StopResult } from "../src/engine/records.js";
import { defineTool } from "./tool.js";

export const stopBottleTool = defineTool({
  name: "stop_bottle",
  title: "Stop a bottle",
  description:
    "Stop a bottle and remove its containers, network and volume. Everything inside it that was not copied out is lost. " +
    "Call it when the work in the bottle is done. Returns the id and `removed`, the resources that were deleted " +
    "(empty when nothing was left); the bottle is then listed as stopped.",
  input: z.object({ bottle_id: z.string().min(1).describe("The bottle's id, from start_bottle or list_bottles.") }),
  output: StopResult,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async run({ bottle_id }, { engine }) {
    const result = await engine.stop(bottle_id);
    const removed = result.removed.length > 0 ? `removed ${result.removed.join(", ")}` : "nothing was left to remove";
    return { structured: result, text: `Stopped bottle ${result.id}: ${removed}.` };
  },
});
