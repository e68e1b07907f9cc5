import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import lockfile from "proper-lockfile";
import { z } from "zod";
import { Answer, Proposal, queueIds, readAnswer } from "../../sidecars/supervise/queue.js";
import { homePaths } from "../home.js";
import { log } from "../log.js";
import { readQueuedProposal, skipInvalid } from "./pending.js";

// The audit log of a bottle's supervise channel:
// `$BOT_BOTTLE_HOME/audit/<bottle-id>.jsonl`, one JSON object per line, one
// record per proposal and one per decision (who, when, notes). It is derived
// from the queue folder and brought up to date whenever the host looks at
// the queue, so decisions made anywhere (a CLI, an MCP session, egress giving
// up on a hold) are recorded, and a restart loses nothing: what is already
// in the log is not written again. It holds what the proposals and answers
// hold, which never includes a secret value.

export const AuditRecord = z.discriminatedUnion("event", [
  Proposal.extend({ event: z.literal("proposal"), recorded_at: z.iso.datetime() }),
  Answer.extend({
    event: z.literal("decision"),
    bottle: z.string(),
    kind: Proposal.shape.kind,
    summary: z.string(),
    recorded_at: z.iso.datetime(),
  }),
]);
export type AuditRecord = z.infer<typeof AuditRecord>;

/** The records of a bottle's audit log; a line that does not parse is skipped (and logged). */
export function readAudit(home: string, bottle: string): AuditRecord[] {
  const file = homePaths(home).auditOf(bottle);
  if (!existsSync(file)) return [];
  const records: AuditRecord[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    try {
      records.push(AuditRecord.parse(JSON.parse(line)));
    } catch {
      log.warn({ file }, "skipping an audit line that does not parse");
    }
  }
  return records;
}

/** How long a sync waits for another process's sync of the same log before giving up. */
const LOCK_WAIT_MS = 10_000;
const LOCK_RETRY_MS = 5;

/**
 * Runs `write` holding the audit log's lock (`<log>.lock`, taken by
 * proper-lockfile; one left by a crashed process goes stale after 10 s), so
 * that two processes syncing at once do not both append what neither had seen.
 */
function withAuditLock<T>(file: string, write: () => T): T {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    let release: () => void;
    try {
      release = lockfile.lockSync(file, { realpath: false, stale: 10_000 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ELOCKED" || Date.now() > deadline) {
        throw new Error(`could not lock the audit log ${file}: ${(error as Error).message}`);
      }
      // The sync API has no retries of its own; syncs are short, so wait a moment in place.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, LOCK_RETRY_MS);
      continue;
    }
    try {
      return write();
    } finally {
      release();
    }
  }
}

/** Appends what the bottle's queue holds and its audit log does not yet; returns the records added. */
export function syncAudit(home: string, bottle: string): AuditRecord[] {
  const dir = homePaths(home).queueOf(bottle);
  if (!existsSync(dir)) return [];
  return withAuditLock(homePaths(home).auditOf(bottle), () => appendUnrecorded(home, bottle, dir));
}

function appendUnrecorded(home: string, bottle: string, dir: string): AuditRecord[] {
  const recorded = new Set(readAudit(home, bottle).map((r) => `${r.event}:${r.id}`));
  const { proposals } = queueIds(dir);
  const added: AuditRecord[] = [];
  const now = () => new Date().toISOString();
  for (const id of proposals) {
    let proposal: Proposal | null;
    try {
      proposal = readQueuedProposal(dir, bottle, id);
    } catch (error) {
      skipInvalid(bottle, id, error as Error);
      continue;
    }
    if (!proposal) continue;
    if (!recorded.has(`proposal:${id}`)) added.push({ event: "proposal", ...proposal, recorded_at: now() });
    const outcome = readAnswer(dir, id);
    if (outcome?.kind === "answer" && !recorded.has(`decision:${id}`)) {
      added.push({ event: "decision", ...outcome.answer, bottle, kind: proposal.kind, summary: proposal.summary, recorded_at: now() });
    }
  }
  if (added.length > 0) {
    appendFileSync(homePaths(home).auditOf(bottle), added.map((r) => `${JSON.stringify(r)}\n`).join(""), { mode: 0o600 });
  }
  return added;
}
