import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { StateStore } from "../engine/state.js";
import { homePaths } from "../home.js";
import { readAudit, syncAudit } from "../supervise/audit.js";
import { UserError } from "../user-error.js";

// What a bottle did at its boundary, from the logs that already exist: the
// egress decision log (state/<id>/logs/egress.jsonl, written by egress,
// scrubbed of secrets and query strings) and the supervise audit log. One
// time-ordered list of events, for bottle_activity, the activity resource and
// `bot-bottle activity`.

/** What egress writes per decision (bytes once a forwarded request or tunnel is over; absent from older logs). */
const EgressLine = z.object({
  time: z.string(),
  host: z.string().nullable(),
  port: z.number().nullable(),
  method: z.string().nullable(),
  path: z.string().nullable(),
  decision: z.enum(["allow", "deny", "redact", "hold"]),
  reason: z.string(),
  bytes_sent: z.number().nullable().optional(),
  bytes_received: z.number().nullable().optional(),
});

export const EgressEvent = EgressLine.extend({
  source: z.literal("egress"),
  bytes_sent: z.number().nullable(),
  bytes_received: z.number().nullable(),
});

export const SuperviseEvent = z.object({
  source: z.literal("supervise"),
  time: z.string(),
  event: z.enum(["request", "decision"]),
  request_id: z.string(),
  kind: z.string(),
  summary: z.string(),
  /** For decisions: approve or reject, who, and their notes. */
  decision: z.enum(["approve", "reject"]).nullable(),
  decided_by: z.string().nullable(),
  notes: z.string().nullable(),
});

export const ActivityEvent = z.discriminatedUnion("source", [EgressEvent, SuperviseEvent]);
export type ActivityEvent = z.infer<typeof ActivityEvent>;

export const Activity = z.object({
  bottle_id: z.string(),
  events: z.array(ActivityEvent),
  /** More events follow the last one: ask again with since set to its time. */
  more: z.boolean(),
});
export type Activity = z.infer<typeof Activity>;

/** Without `since`, the most recent events; with it, those after it, oldest first. */
const RECENT = 200;
const PAGE = 500;

function egressEvents(logFile: string): ActivityEvent[] {
  if (!existsSync(logFile)) return [];
  return readFileSync(logFile, "utf8")
    .split("\n")
    .flatMap((line) => {
      if (line.trim() === "") return [];
      try {
        const parsed = EgressLine.safeParse(JSON.parse(line));
        if (!parsed.success) return [];
        return [{ source: "egress" as const, ...parsed.data, bytes_sent: parsed.data.bytes_sent ?? null, bytes_received: parsed.data.bytes_received ?? null }];
      } catch {
        return []; // a line still being written
      }
    });
}

function superviseEvents(home: string, bottle: string): ActivityEvent[] {
  syncAudit(home, bottle);
  return readAudit(home, bottle).map((record) =>
    record.event === "proposal"
      ? { source: "supervise" as const, time: record.created_at, event: "request" as const, request_id: record.id, kind: record.kind, summary: record.summary, decision: null, decided_by: null, notes: null }
      : {
          source: "supervise" as const,
          time: record.decided_at,
          event: "decision" as const,
          request_id: record.id,
          kind: record.kind,
          summary: record.summary,
          decision: record.decision,
          decided_by: record.decided_by,
          notes: record.notes ?? null,
        },
  );
}

export function bottleActivity(home: string, bottle: string, since?: string): Activity {
  const state = new StateStore(home);
  if (!state.ids().includes(bottle)) throw new UserError(`no bottle with id "${bottle}"; list_bottles / \`bot-bottle ls\` shows them`);
  if (since !== undefined && Number.isNaN(Date.parse(since))) throw new UserError(`since ${JSON.stringify(since)} is not a time (use an ISO time such as an event's time)`);
  let logDir = path.join(homePaths(home).stateOf(bottle), "logs");
  try {
    logDir = state.readPlan(bottle)?.sidecars.logDir ?? logDir;
  } catch {
    // a plan another version wrote: its logs are in the usual place
  }
  const all = [...egressEvents(path.join(logDir, "egress.jsonl")), ...superviseEvents(home, bottle)].sort((a, b) => a.time.localeCompare(b.time));
  if (since === undefined) return { bottle_id: bottle, events: all.slice(-RECENT), more: false };
  const after = all.filter((event) => event.time > since);
  return { bottle_id: bottle, events: after.slice(0, PAGE), more: after.length > PAGE };
}
