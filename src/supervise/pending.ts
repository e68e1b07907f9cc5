import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { Proposal, ProposalId, proposalFile, queueIds, readProposal } from "../../sidecars/supervise/queue.js";
import { StateStore } from "../engine/state.js";
import { homePaths } from "../home.js";
import { log } from "../log.js";
import { UserError } from "../user-error.js";

// The host's view of the supervise queues: `$BOT_BOTTLE_HOME/queue/<bottle>/`,
// one folder per bottle, written by the bottles' sidecars. A proposal is
// pending while it has no answer file. Everything is read from the folders on
// each call, so a restarted server sees exactly what is still open.
//
// A bottle's bundle writes every byte of its folder, so nothing in a proposal
// decides which bottle it belongs to: the folder does. A proposal that claims
// another bottle is forged, and is skipped like any file that does not parse.

export const PendingProposal = Proposal.extend({
  /** Seconds since the proposal was made. */
  age_s: z.number().int().nonnegative(),
});
export type PendingProposal = z.infer<typeof PendingProposal>;

/** A proposal, the queue folder it lives in, and the bottle that folder belongs to. */
export interface Located {
  dir: string;
  bottle: string;
  proposal: Proposal;
}

/** Bottle ids name folders: a name that could walk out of the queue root names no bottle. */
function checkedBottle(bottle: string): string {
  if (bottle === "" || bottle !== path.basename(bottle) || bottle.startsWith(".")) throw new UserError(`"${bottle.slice(0, 80)}" is not a bottle id`);
  return bottle;
}

/**
 * The proposal `id` in `bottle`'s queue folder `dir`; null when there is none.
 * An Error when the file does not hold a valid proposal of this bottle.
 */
export function readQueuedProposal(dir: string, bottle: string, id: ProposalId): Proposal | null {
  const proposal = readProposal(dir, id);
  if (proposal && proposal.bottle !== bottle) {
    throw new Error(`it sits in bottle ${bottle}'s queue but claims to come from ${JSON.stringify(proposal.bottle.slice(0, 80))}`);
  }
  return proposal;
}

/** Said once per file and problem: the watcher rescans every second. */
const skipped = new Set<string>();

/** Logs (once) a queue file the host will not use. */
export function skipInvalid(bottle: string, id: string, error: Error): void {
  const key = `${bottle}/${id}: ${error.message}`;
  if (skipped.has(key)) return;
  skipped.add(key);
  log.warn({ bottle, id, err: error.message }, "skipping a supervise proposal that is not valid");
}

/** Bottle ids that have a queue folder, but for bottles recorded as stopped or failed: nobody waits on those. */
export function queuedBottles(home: string): string[] {
  const root = homePaths(home).queue;
  if (!existsSync(root)) return [];
  const state = new StateStore(home);
  const gone = (id: string) => ["stopped", "failed"].includes(state.readMetadata(id)?.status ?? "");
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !gone(entry.name))
    .map((entry) => entry.name)
    .sort();
}

const ageOf = (proposal: Proposal, now: number) => Math.max(0, Math.floor((now - Date.parse(proposal.created_at)) / 1000));

/** The pending proposals of one bottle; files that do not hold a valid proposal are skipped and logged. */
export function pendingOf(home: string, bottle: string, now = Date.now()): PendingProposal[] {
  const dir = homePaths(home).queueOf(bottle);
  if (!existsSync(dir)) return [];
  const { proposals, answered } = queueIds(dir);
  const pending: PendingProposal[] = [];
  for (const id of proposals) {
    if (answered.has(id)) continue;
    try {
      const proposal = readQueuedProposal(dir, bottle, id);
      if (proposal) pending.push({ ...proposal, age_s: ageOf(proposal, now) });
    } catch (error) {
      skipInvalid(bottle, id, error as Error);
    }
  }
  return pending;
}

/** Pending proposals of one bottle (an unknown bottle is a UserError) or of every bottle, oldest first. */
export function listPending(home: string, bottle?: string): PendingProposal[] {
  if (bottle !== undefined) {
    checkedBottle(bottle);
    const paths = homePaths(home);
    if (!existsSync(paths.queueOf(bottle)) && !existsSync(paths.stateOf(bottle))) {
      throw new UserError(`no bottle with id "${bottle}" (bottles with a supervise queue: ${queuedBottles(home).join(", ") || "none"})`);
    }
  }
  const bottles = bottle === undefined ? queuedBottles(home) : [bottle];
  return bottles.flatMap((b) => pendingOf(home, b)).sort((a, b) => a.created_at.localeCompare(b.created_at));
}

/** The proposal with this id, in whichever bottle's queue holds it. */
export function findProposal(home: string, id: string): Located {
  if (!ProposalId.safeParse(id).success) throw new UserError(`"${id.slice(0, 40)}" is not a request id (32 hex digits; see supervise_list / \`bot-bottle supervise\`)`);
  for (const bottle of queuedBottles(home)) {
    const dir = homePaths(home).queueOf(bottle);
    if (!existsSync(proposalFile(dir, id))) continue;
    let proposal: Proposal | null;
    try {
      proposal = readQueuedProposal(dir, bottle, id);
    } catch (error) {
      throw new UserError(`request ${id} in bottle ${bottle} is not valid, so it cannot be decided: ${(error as Error).message}`);
    }
    if (proposal) return { dir, bottle, proposal };
  }
  throw new UserError(`no request ${id} in any bottle's queue; supervise_list / \`bot-bottle supervise\` shows the pending ones`);
}
