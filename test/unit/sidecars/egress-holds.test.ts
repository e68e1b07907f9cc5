import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LocatedFinding } from "../../../sidecars/egress/dlp.js";
import { type HeldRequest, Holds, holdScope } from "../../../sidecars/egress/holds.js";
import { Answer, answerFile, answerOnce, newProposalId, Proposal, readAnswer, writeProposal } from "../../../sidecars/supervise/queue.js";

// Holds against a real queue folder; the "human" answers by writing files.

const finding: LocatedFinding = { detector: "known_secrets", label: "EGRESS_SECRET_X", form: "base64", fingerprint: "f".repeat(64), range: [0, 4], location: "body" };
const scope = holdScope({ host: "api.example.com", port: null }, "api.example.com", 443);
const held: HeldRequest = { scope, host: "api.example.com", port: 443, method: "POST", path: "/v1/upload", findings: [finding], found: "known secret EGRESS_SECRET_X (base64) in body" };

async function nextProposal(dir: string): Promise<Proposal> {
  for (let i = 0; i < 500; i++) {
    const name = readdirSync(dir).find((f) => f.endsWith(".proposal.json"));
    if (name) return Proposal.parse(JSON.parse(readFileSync(path.join(dir, name), "utf8")));
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("no proposal appeared");
}

describe("DLP holds", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "bb-holds-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const answer = (id: string, decision: "approve" | "reject", notes?: string) =>
    answerOnce(dir, { id, decision, decided_by: "reviewer", decided_at: new Date().toISOString(), ...(notes ? { notes } : {}) });

  it("writes an egress-dlp proposal naming what was found where, never a value, and releases on approval", async () => {
    const holds = new Holds({ queueDir: dir, bottle: "probe-1", timeoutMs: 20_000 });
    const outcome = holds.hold(held);
    const proposal = await nextProposal(dir);
    expect(proposal).toMatchObject({
      bottle: "probe-1",
      kind: "egress-dlp",
      summary: "egress held POST api.example.com/v1/upload: known secret EGRESS_SECRET_X (base64) in body",
      payload: {
        host: "api.example.com",
        port: 443,
        method: "POST",
        path: "/v1/upload",
        findings: [{ detector: "known_secrets", label: "EGRESS_SECRET_X", form: "base64", location: "body" }],
      },
    });
    expect(JSON.stringify(proposal)).not.toContain(finding.fingerprint);
    answer(proposal.id, "approve");
    expect(await outcome).toEqual({ released: true, by: "reviewer", id: proposal.id });
    expect(holds.approvedIn(scope).has(finding.fingerprint)).toBe(true);
  });

  it("remembers an approval for the route and host it was given for, and nowhere else", async () => {
    const holds = new Holds({ queueDir: dir, bottle: "b", timeoutMs: 20_000 });
    const outcome = holds.hold(held);
    answer((await nextProposal(dir)).id, "approve");
    await outcome;
    expect(holds.approvedIn(scope).has(finding.fingerprint)).toBe(true);
    expect(holds.approvedIn(holdScope({ host: "*.example.com", port: null }, "other.example.com", 443)).has(finding.fingerprint)).toBe(false);
    expect(holds.approvedIn(holdScope({ host: "api.example.com", port: 8443 }, "api.example.com", 8443)).has(finding.fingerprint)).toBe(false);
  });

  it("refuses on rejection, with the reviewer's notes", async () => {
    const holds = new Holds({ queueDir: dir, bottle: "b", timeoutMs: 20_000 });
    const outcome = holds.hold(held);
    answer((await nextProposal(dir)).id, "reject", "not that key");
    expect(await outcome).toMatchObject({ released: false, reason: "held for review and refused by reviewer: not that key" });
    expect(holds.approvedIn(scope).size).toBe(0);
  });

  it("refuses on timeout and records the refusal as the proposal's answer", async () => {
    const holds = new Holds({ queueDir: dir, bottle: "b", timeoutMs: 100 });
    const outcome = await holds.hold(held);
    expect(outcome).toMatchObject({ released: false, reason: "held for review and refused by egress (timeout): no answer within 0 s; the request was refused" });
    const recorded = Answer.parse(JSON.parse(readFileSync(answerFile(dir, outcome.id!), "utf8")));
    expect(recorded).toMatchObject({ decision: "reject", decided_by: "egress (timeout)" });
  });

  it("refuses on a malformed answer", async () => {
    const holds = new Holds({ queueDir: dir, bottle: "b", timeoutMs: 20_000 });
    const outcome = holds.hold(held);
    const { id } = await nextProposal(dir);
    const { writeFileSync } = await import("node:fs");
    writeFileSync(answerFile(dir, id), JSON.stringify({ id, decision: "approve" }));
    expect(await outcome).toMatchObject({ released: false, reason: expect.stringMatching(/^held for review; the answer is unusable \(answer is invalid: decided_by/) });
  });

  it("lists at most 20 findings in a proposal, with the total", async () => {
    const holds = new Holds({ queueDir: dir, bottle: "b", timeoutMs: 20_000 });
    const many = Array.from({ length: 50 }, (_, i) => ({ ...finding, fingerprint: String(i).padStart(64, "0") }));
    const outcome = holds.hold({ ...held, findings: many });
    const proposal = await nextProposal(dir);
    expect((proposal.payload.findings as unknown[]).length).toBe(20);
    expect(proposal.payload.findings_total).toBe(50);
    answer(proposal.id, "approve");
    await outcome;
    expect(holds.approvedIn(scope).size).toBe(50);
  });

  it("at start, refuses the egress-dlp proposals an earlier egress left open, and no others", () => {
    const make = (kind: Proposal["kind"]) => {
      const id = newProposalId();
      writeProposal(dir, { id, bottle: "b", kind, summary: "s", payload: {}, created_at: new Date().toISOString() });
      return id;
    };
    const abandoned = make("egress-dlp");
    const answered = make("egress-dlp");
    answer(answered, "approve");
    const other = make("request-approval");
    expect(new Holds({ queueDir: dir, bottle: "b", timeoutMs: 1_000 }).closeAbandoned()).toBe(1);
    expect(readAnswer(dir, abandoned)).toMatchObject({ kind: "answer", answer: { decision: "reject", decided_by: "egress (restart)" } });
    expect(readAnswer(dir, answered)).toMatchObject({ kind: "answer", answer: { decision: "approve" } });
    expect(readAnswer(dir, other)).toBeNull();
  });

  it("refuses when there is no queue, or the queue folder is gone", async () => {
    expect(await new Holds({ queueDir: null, bottle: "b", timeoutMs: 1_000 }).hold(held)).toEqual({
      released: false,
      reason: "no supervise queue is configured, so holds cannot be decided",
      id: null,
    });
    const gone = await new Holds({ queueDir: path.join(dir, "gone"), bottle: "b", timeoutMs: 1_000 }).hold(held);
    expect(gone).toMatchObject({ released: false, reason: expect.stringMatching(/^cannot write the proposal: supervise queue .* is unavailable: ENOENT/) });
  });
});
