import { z } from "zod";
import { Activity, bottleActivity } from "../src/activity/bottle-activity.js";
import { defineTool } from "./tool.js";

export const bottleActivityTool = defineTool({
  name: "bottle_activity",
  title: "What a bottle did at its boundary",
  description:
    "What a bottle did at its boundary, oldest first: every egress decision (host, method, path without its query, allowed or refused and why, " +
    "bytes sent and received; never a token) and every supervise request and decision (who decided, with their notes). " +
    "Without since, the most recent events; with since (an event's time), the events after it, and more: true when there are further ones. " +
    "Also readable as the resource bottle://<id>/activity.",
  input: z.object({
    bottle_id: z.string().min(1).describe("The bottle's id, from start_bottle or list_bottles (stopped bottles keep their activity until gc)."),
    since: z.string().min(1).optional().describe("Only events after this ISO time (for paging, the time of the last event you have)."),
  }),
  output: Activity,
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run({ bottle_id, since }, { engine }) {
    const activity = bottleActivity(engine.home, bottle_id, since);
    const lines = activity.events.map((e) =>
      e.source === "egress"
        ? `${e.time} egress ${e.decision} ${e.method ?? ""} ${e.host ?? ""}${e.port && e.port !== 443 ? `:${e.port}` : ""}${e.path ?? ""}: ${e.reason}` +
          (e.bytes_sent !== null ? ` (${e.bytes_sent} bytes out, ${e.bytes_received} in)` : "")
        : `${e.time} supervise ${e.event === "request" ? `request ${e.request_id} (${e.kind}): ${e.summary}` : `${e.decision} ${e.request_id} by ${e.decided_by}${e.notes ? `: ${e.notes}` : ""}`}`,
    );
    return { structured: activity, text: lines.length > 0 ? lines.join("\n") + (activity.more ? "\n(more: ask again with since)" : "") : "No activity yet." };
  },
});
