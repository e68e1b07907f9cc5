import { answerOnce, proposeAndWait, queueIds, readProposal } from "../supervise/queue.js";
import type { LocatedFinding } from "./dlp.js";

// Requests DLP holds for a decision (`outbound_on_match: supervise`). Each
// becomes an `egress-dlp` proposal in the bottle's supervise queue; the
// request is released if the answer approves it and refused otherwise: a
// rejection, a malformed answer, no queue, or no answer in time. Values once
// approved are remembered (by fingerprint, never by value) for the life of
// this process, so the agent is not asked about the same value twice; only
// for the route and host they were approved for: a secret approved for one
// host is still a leak on any other.

/** A proposal lists this many findings at most (an entropy hit on a large blob can make thousands). */
const PAYLOAD_FINDINGS = 20;

export interface HoldSettings {
  /** The queue folder as the bundle sees it; null when this egress has none (every hold is refused). */
  queueDir: string | null;
  bottle: string;
  timeoutMs: number;
}

/** Where an approval holds: the route (host and port as declared) and the host and port the request went to. */
export function holdScope(route: { host: string; port: number | null }, host: string, port: number): string {
  return `${route.host}:${route.port ?? "default"} -> ${host}:${port}`;
}

export interface HeldRequest {
  /** See holdScope. */
  scope: string;
  host: string;
  port: number;
  method: string;
  /** Path without query, already scrubbed of known secrets. */
  path: string;
  findings: LocatedFinding[];
  /** One line naming what was found where. */
  found: string;
}

export type HoldOutcome = { released: true; by: string; id: string } | { released: false; reason: string; id: string | null };

export class Holds {
  /** scope -> fingerprints approved there. */
  readonly #approved = new Map<string, Set<string>>();

  constructor(private readonly settings: HoldSettings) {}

  /**
   * Held requests do not outlive this process. At start, every egress-dlp
   * proposal still open was left by an earlier egress whose request is gone:
   * each is answered as refused, so none stays looking open. Returns how many.
   */
  closeAbandoned(): number {
    const { queueDir } = this.settings;
    if (queueDir === null) return 0;
    const { proposals, answered } = queueIds(queueDir);
    let closed = 0;
    const kindOf = (id: string) => {
      try {
        return readProposal(queueDir, id)?.kind;
      } catch {
        return undefined; // not a valid proposal: not ours to answer
      }
    };
    for (const id of proposals) {
      if (answered.has(id) || kindOf(id) !== "egress-dlp") continue;
      const notes = "egress restarted before an answer; the held request was dropped";
      answerOnce(queueDir, { id, decision: "reject", notes, decided_by: "egress (restart)", decided_at: new Date().toISOString() });
      closed++;
    }
    return closed;
  }

  /** Fingerprints of the values approved for this scope. */
  approvedIn(scope: string): ReadonlySet<string> {
    return this.#approved.get(scope) ?? new Set();
  }

  async hold(request: HeldRequest): Promise<HoldOutcome> {
    const { queueDir, bottle, timeoutMs } = this.settings;
    if (queueDir === null) return { released: false, reason: "no supervise queue is configured, so holds cannot be decided", id: null };
    const asked = await proposeAndWait(
      queueDir,
      {
        bottle,
        kind: "egress-dlp",
        summary: `egress held ${request.method} ${request.host}${request.path}: ${request.found}`,
        payload: {
          host: request.host,
          port: request.port,
          method: request.method,
          path: request.path,
          findings: request.findings
            .slice(0, PAYLOAD_FINDINGS)
            .map((f) => ({ detector: f.detector, label: f.label, form: f.form ?? null, location: f.location })),
          findings_total: request.findings.length,
        },
      },
      { timeoutMs, refusedBy: "egress (timeout)" },
    );
    if (asked.id === null) return { released: false, reason: asked.error, id: null };
    const { id, outcome } = asked;
    switch (outcome.kind) {
      case "answer": {
        if (outcome.answer.decision === "approve") {
          let approved = this.#approved.get(request.scope);
          if (!approved) this.#approved.set(request.scope, (approved = new Set()));
          for (const finding of request.findings) approved.add(finding.fingerprint);
          return { released: true, by: outcome.answer.decided_by, id };
        }
        const notes = outcome.answer.notes ? `: ${outcome.answer.notes}` : "";
        return { released: false, reason: `held for review and refused by ${outcome.answer.decided_by}${notes}`, id };
      }
      case "malformed":
        return { released: false, reason: `held for review; the answer is unusable (${outcome.reason})`, id };
      default:
        return { released: false, reason: "held for review; no answer", id };
    }
  }
}
