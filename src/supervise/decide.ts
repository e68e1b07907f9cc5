import { z } from "zod";
import { readBundleWrittenFile } from "../../sidecars/bundle-written-file.js";
import { parseRoutesFile } from "../../sidecars/egress/routes.js";
import { checkEditedPayload, declaredTokens, EgressAllowPayload } from "../../sidecars/supervise/proposals.js";
import { type Answer, ProposalKind, readAnswer, writeAnswerOnce } from "../../sidecars/supervise/queue.js";
import { StateStore } from "../engine/state.js";
import { UserError } from "../user-error.js";
import { syncAudit } from "./audit.js";
import { findProposal } from "./pending.js";

// Answering a proposal from the host: approve, reject, or approve an edited
// payload (`modify`), which must pass the same checks as the bottle's own
// request. An approved route sends its new requests without any credential
// unless the approval says `extend_credential`. The answer file is written
// once; a proposal already answered (by anyone) is an error that says who
// answered, never a second answer.

export const DecisionRequest = z.object({
  request_id: z.string(),
  decision: z.enum(["approve", "reject", "modify"]),
  notes: z.string().max(2000).optional(),
  /** With `modify`: the whole edited payload, in the shape supervise_list showed. */
  modified: z.record(z.string(), z.unknown()).optional(),
  /** With an approval of an egress-allow route: let its new requests carry the host's token (or the one the route names). */
  extend_credential: z.boolean().optional(),
});
export type DecisionRequest = z.infer<typeof DecisionRequest>;

export const DecisionRecord = z.object({
  request_id: z.string(),
  bottle: z.string(),
  kind: ProposalKind,
  summary: z.string(),
  decision: z.enum(["approve", "reject"]),
  /** Whether the approval is of an edited payload. */
  modified: z.boolean(),
  /** Whether the approval lets the route's new requests carry a credential. */
  extend_credential: z.boolean(),
  notes: z.string().nullable(),
  decided_by: z.string(),
  decided_at: z.string(),
});
export type DecisionRecord = z.infer<typeof DecisionRecord>;

const ROUTES_MAX_BYTES = 4 * 1024 * 1024;

/** The token names a bottle's live routes inject (none when they cannot be read: edits with auth then fail). */
function bottleTokens(home: string, bottle: string): string[] {
  const plan = new StateStore(home).readPlan(bottle);
  if (!plan) return [];
  try {
    // The bundle writes the live routes file: it is read like a queue file.
    const text = readBundleWrittenFile(plan.sidecars.routesFile, ROUTES_MAX_BYTES);
    return text === null ? [] : declaredTokens(parseRoutesFile(text).routes);
  } catch {
    return [];
  }
}

const describeAnswer = (answer: Answer) => `${answer.decision === "approve" ? "approved" : "rejected"} by ${answer.decided_by} at ${answer.decided_at}`;

export function decide(home: string, request: DecisionRequest, decidedBy: string): DecisionRecord {
  // The bottle is the folder the proposal sits in, never what the proposal says.
  const { dir, bottle, proposal } = findProposal(home, request.request_id);
  const existing = readAnswer(dir, proposal.id);
  if (existing) {
    throw new UserError(
      `request ${proposal.id} was already decided: ${existing.kind === "answer" ? describeAnswer(existing.answer) : `its answer is unusable (${existing.kind === "malformed" ? existing.reason : existing.kind})`}`,
    );
  }
  if (request.modified !== undefined && request.decision !== "modify") {
    throw new UserError(`"modified" goes with decision "modify" only (this decision is "${request.decision}")`);
  }
  const extendCredential = request.extend_credential === true;
  if (extendCredential && (request.decision === "reject" || proposal.kind !== "egress-allow")) {
    throw new UserError(`extend_credential goes with an approval of an egress-allow route only (request ${proposal.id} is ${proposal.kind}, decision "${request.decision}")`);
  }
  let modified: Record<string, unknown> | undefined;
  if (request.decision === "modify") {
    if (request.modified === undefined) {
      throw new UserError(`decision "modify" needs "modified": the whole edited payload, in the shape supervise_list shows for request ${proposal.id}`);
    }
    // An approver who writes a token into the route means it to be injected: say how, rather than drop it.
    const token = proposal.kind === "egress-allow" ? EgressAllowPayload.safeParse(request.modified).data?.auth?.token : undefined;
    if (token && !extendCredential) {
      throw new UserError(`the modified route for request ${proposal.id} names the token ${token}: add extend_credential to inject it, or leave auth out`);
    }
    const check = checkEditedPayload(proposal.kind, request.modified, bottleTokens(home, bottle));
    if (!check.ok) throw new UserError(`the modified payload for request ${proposal.id} is not valid: ${check.problems.join("; ")}`);
    modified = check.payload;
  }
  const answer: Answer = {
    id: proposal.id,
    decision: request.decision === "reject" ? "reject" : "approve",
    ...(request.notes ? { notes: request.notes } : {}),
    ...(modified ? { modified } : {}),
    ...(extendCredential ? { extend_credential: true } : {}),
    decided_by: decidedBy,
    decided_at: new Date().toISOString(),
  };
  const { written, standing } = writeAnswerOnce(dir, answer);
  syncAudit(home, bottle);
  if (!written) {
    throw new UserError(`request ${proposal.id} was decided by someone else at the same moment: ${standing.kind === "answer" ? describeAnswer(standing.answer) : "its answer is unusable"}`);
  }
  return {
    request_id: proposal.id,
    bottle,
    kind: proposal.kind,
    summary: proposal.summary,
    decision: answer.decision,
    modified: modified !== undefined,
    extend_credential: extendCredential,
    notes: answer.notes ?? null,
    decided_by: decidedBy,
    decided_at: answer.decided_at,
  };
}
