import { z } from "zod";
import type { LiveRoutes } from "./live-routes.js";
import { checkEgressAllow, declaredTokens, routeOf } from "./proposals.js";
import { grantedAuth } from "./route-merge.js";
import { RouteView, viewOf } from "./route-view.js";
import { type Answer, type AnswerOutcome, newProposalId, type Proposal, type ProposalId, type ProposalKind, readAnswer, readProposal, waitForAnswer, writeProposal } from "./queue.js";

// The bottle's side of a decision: queue a proposal, wait for the answer up to
// the bound, and turn what came back into what the agent is told. Fails
// closed: only a well-formed approval of this very proposal is an approval;
// a rejection, a broken answer or a queue that cannot be written is a refusal,
// and no answer in time is "still pending", never a yes.

export const DecisionResult = z.object({
  /** null only when the request could not even be queued. */
  request_id: z.string().nullable(),
  status: z.enum(["approved", "rejected", "pending"]),
  decided_by: z.string().nullable(),
  notes: z.string().nullable(),
  /** What was approved: the proposal's payload, or the approver's edit of it. */
  approved_payload: z.record(z.string(), z.unknown()).nullable(),
  /** For an approved route: the route that now serves the approved requests, as egress serves it (token names only). */
  route: RouteView.nullable(),
  message: z.string(),
});
export type DecisionResult = z.infer<typeof DecisionResult>;

export interface SupervisorSettings {
  queueDir: string;
  bottle: string;
  /** How long one call waits for an answer before saying "still pending". */
  timeoutMs: number;
}

const result = (fields: Partial<DecisionResult> & Pick<DecisionResult, "status" | "message">): DecisionResult => ({
  request_id: null,
  decided_by: null,
  notes: null,
  approved_payload: null,
  route: null,
  ...fields,
});

export class Supervisor {
  constructor(
    readonly settings: SupervisorSettings,
    readonly routes: LiveRoutes,
  ) {}

  /** Queues a proposal and waits for its answer. */
  async propose(kind: ProposalKind, summary: string, payload: Record<string, unknown>, signal?: AbortSignal): Promise<DecisionResult> {
    const id = newProposalId();
    try {
      writeProposal(this.settings.queueDir, { id, bottle: this.settings.bottle, kind, summary, payload, created_at: new Date().toISOString() });
    } catch (error) {
      return result({ status: "rejected", message: `Refused: the request could not be queued for review (${(error as Error).message}).` });
    }
    return this.await(id, signal);
  }

  /** Waits (again) for the answer to a proposal of this bottle; an unknown id is an Error. */
  async await(id: ProposalId, signal?: AbortSignal): Promise<DecisionResult> {
    const proposal = this.#proposal(id);
    const outcome = await waitForAnswer(this.settings.queueDir, id, { timeoutMs: this.settings.timeoutMs, signal });
    return this.settle(proposal, outcome);
  }

  /** The decision on an answered proposal, applying an approved route; null while it is unanswered. */
  async settleIfAnswered(id: ProposalId): Promise<DecisionResult | null> {
    const outcome = readAnswer(this.settings.queueDir, id);
    return outcome ? this.settle(this.#proposal(id), outcome) : null;
  }

  #proposal(id: ProposalId): Proposal {
    let proposal: Proposal | null;
    try {
      proposal = readProposal(this.settings.queueDir, id);
    } catch (error) {
      throw new Error(`request ${id} cannot be read: ${(error as Error).message}`);
    }
    if (!proposal) throw new Error(`there is no request ${id} in this bottle's queue`);
    return proposal;
  }

  async settle(proposal: Proposal, outcome: AnswerOutcome): Promise<DecisionResult> {
    const request_id = proposal.id;
    switch (outcome.kind) {
      case "timeout":
      case "aborted":
        return result({
          request_id,
          status: "pending",
          message: `Still pending: nobody has answered yet. The request stays queued; ask again later with await-decision {"request_id": "${request_id}"}.`,
        });
      case "malformed":
        return result({ request_id, status: "rejected", message: `Refused: the answer to this request is unusable (${outcome.reason}).` });
      case "answer":
        return outcome.answer.decision === "approve" ? this.#approved(proposal, outcome.answer) : this.#rejected(proposal, outcome.answer);
    }
  }

  #rejected(proposal: Proposal, answer: Answer): DecisionResult {
    const notes = answer.notes ?? null;
    return result({
      request_id: proposal.id,
      status: "rejected",
      decided_by: answer.decided_by,
      notes,
      message: `Rejected by ${answer.decided_by}${notes ? `: ${notes}` : "."}`,
    });
  }

  async #approved(proposal: Proposal, answer: Answer): Promise<DecisionResult> {
    const payload = answer.modified ?? proposal.payload;
    const decided = { request_id: proposal.id, decided_by: answer.decided_by, notes: answer.notes ?? null, approved_payload: payload };
    const edited = answer.modified ? " (as modified by the approver)" : "";
    const notes = answer.notes ? ` Notes: ${answer.notes}` : "";
    if (proposal.kind !== "egress-allow") {
      return result({ ...decided, status: "approved", message: `Approved by ${answer.decided_by}${edited}.${notes}` });
    }
    const { routes } = this.routes.read();
    const check = checkEgressAllow(payload, declaredTokens(routes));
    if (!check.ok) {
      return result({ ...decided, status: "rejected", message: `Refused: the approved route is not valid (${check.problems.join("; ")}).` });
    }
    // Only an explicit extend_credential lets the new requests carry a token.
    const asked = routeOf(check.payload);
    const extend = answer.extend_credential === true;
    const applied = await this.routes.apply(proposal.id, { ...asked, auth: grantedAuth(routes, asked, extend) });
    if (!applied.ok) {
      throw new Error(`request ${proposal.id} was approved by ${answer.decided_by}, but the route could not be applied: ${applied.reason}`);
    }
    const how = applied.effect === "added" ? "added to" : applied.effect === "widened" ? "merged into" : "already in";
    const live = applied.route.auth;
    const withheld = extend || live ? null : grantedAuth(routes, asked, true);
    const credential = live
      ? ` It injects ${live.token_env}.`
      : withheld
        ? ` It does not inject ${withheld.token_env}: the approver did not extend that credential${check.payload.auth ? " (the route names it)" : ""}.`
        : "";
    return result({
      ...decided,
      status: "approved",
      route: viewOf(applied.route),
      message: `Approved by ${answer.decided_by}${edited}: the route for ${applied.route.host} is ${how} egress and live now.${credential}${notes}`,
    });
  }
}
