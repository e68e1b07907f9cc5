import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { answerOnce, newProposalId, readAnswer, writeProposal, type Proposal } from "../../../sidecars/supervise/queue.js";
import { StateStore } from "../../../src/engine/state.js";
import { homePaths } from "../../../src/home.js";
import { readAudit, syncAudit } from "../../../src/supervise/audit.js";
import { decide } from "../../../src/supervise/decide.js";
import { findProposal, listPending } from "../../../src/supervise/pending.js";
import { type QueueEvent, QueueWatcher } from "../../../src/supervise/watch.js";
import { UserError } from "../../../src/user-error.js";

// The host's side of the queue, on a real home folder: listing what is
// pending across bottles, deciding (once), and the audit log.

describe("supervise on the host", () => {
  let home: string;
  const route = { host: "second.example.com", port: null, matches: null, auth: null, justification: "docs" };

  const propose = (bottle: string, fields: Partial<Proposal> = {}): Proposal => {
    const dir = homePaths(home).queueOf(bottle);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const proposal: Proposal = {
      id: newProposalId(),
      bottle,
      kind: "egress-allow",
      summary: "allow egress to second.example.com (all requests): docs",
      payload: route,
      created_at: new Date().toISOString(),
      ...fields,
    };
    writeProposal(dir, proposal);
    return proposal;
  };

  beforeEach(() => {
    home = mkdtempSync(path.join(os.tmpdir(), "bb-supervise-home-"));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it("lists pending proposals across bottles, oldest first, with their age, and one bottle's alone", () => {
    const older = propose("alpha-1", { created_at: new Date(Date.now() - 90_000).toISOString() });
    const newer = propose("beta-2", { kind: "request-approval", summary: "rm -rf build", payload: { summary: "rm -rf build", justification: "clean", details: null } });
    const answered = propose("beta-2");
    answerOnce(homePaths(home).queueOf("beta-2"), { id: answered.id, decision: "reject", decided_by: "x", decided_at: new Date().toISOString() });
    writeFileSync(path.join(homePaths(home).queueOf("beta-2"), `${"f".repeat(32)}.proposal.json`), "{not json");

    const all = listPending(home);
    expect(all.map((p) => p.id)).toEqual([older.id, newer.id]);
    expect(all[0]!.age_s).toBeGreaterThanOrEqual(89);
    expect(listPending(home, "beta-2").map((p) => p.id)).toEqual([newer.id]);
    expect(() => listPending(home, "nope-0")).toThrow(/no bottle with id "nope-0" \(bottles with a supervise queue: alpha-1, beta-2\)/);
  });

  it("leaves out the queues of bottles recorded as stopped: nobody waits on them", () => {
    const kept = propose("alpha-1");
    propose("gone-2");
    new StateStore(home).writeMetadata({
      id: "gone-2",
      agent: "a",
      agent_origin: "home",
      agent_source: "/home/u/.bot-bottle/agents/a.md",
      bottles: ["b"],
      provider: "claude",
      backend: "docker",
      label: null,
      cwd: null,
      status: "stopped",
      started_at: new Date().toISOString(),
      stopped_at: new Date().toISOString(),
      resources: { agent: "a", bundle: "b", network: "n", volume: "v" },
      warnings: [],
      starter_pid: null,
    });
    expect(listPending(home).map((p) => p.id)).toEqual([kept.id]);
  });

  it("approves once: the answer is written, and a second decision says who decided first", () => {
    const proposal = propose("alpha-1");
    const record = decide(home, { request_id: proposal.id, decision: "approve", notes: "ok" }, "tester");
    expect(record).toMatchObject({ request_id: proposal.id, bottle: "alpha-1", kind: "egress-allow", decision: "approve", modified: false, notes: "ok", decided_by: "tester" });
    expect(readAnswer(homePaths(home).queueOf("alpha-1"), proposal.id)).toMatchObject({ kind: "answer", answer: { decision: "approve", notes: "ok", decided_by: "tester" } });
    expect(() => decide(home, { request_id: proposal.id, decision: "reject" }, "someone else")).toThrow(/was already decided: approved by tester at /);
    expect(listPending(home)).toEqual([]);
  });

  it("refuses unknown, malformed and mismatched requests with clear errors", () => {
    const proposal = propose("alpha-1");
    expect(() => decide(home, { request_id: "0".repeat(32), decision: "approve" }, "t")).toThrow(/no request 0{32} in any bottle's queue/);
    expect(() => findProposal(home, "../../etc/passwd")).toThrow(UserError);
    expect(() => decide(home, { request_id: proposal.id, decision: "approve", modified: route }, "t")).toThrow(/"modified" goes with decision "modify" only/);
    expect(() => decide(home, { request_id: proposal.id, decision: "modify" }, "t")).toThrow(/decision "modify" needs "modified"/);
    expect(listPending(home).map((p) => p.id)).toEqual([proposal.id]);
  });

  it("approves an edited payload only when it passes the original's checks", () => {
    const proposal = propose("alpha-1");
    expect(() => decide(home, { request_id: proposal.id, decision: "modify", modified: { ...route, host: "Not A Host" } }, "t")).toThrow(/the modified payload .* is not valid: host:/);
    // This bottle has no plan, so it declares no tokens: an edit that adds auth must fail closed.
    expect(() =>
      decide(home, { request_id: proposal.id, decision: "modify", modified: { ...route, auth: { scheme: "Bearer", token: "EGRESS_TOKEN_X" } }, extend_credential: true }, "t"),
    ).toThrow(/this bottle declares no tokens/);
    // An approver's edit cannot open what the bottle could not have asked for.
    expect(() => decide(home, { request_id: proposal.id, decision: "modify", modified: { ...route, host: "169.254.169.254" } }, "t")).toThrow(
      /not valid: host: 169\.254\.169\.254 is a loopback, private, link-local or reserved address/,
    );
    expect(() => decide(home, { request_id: proposal.id, decision: "modify", modified: { ...route, host: "*.co.uk" } }, "t")).toThrow(/a public suffix/);
    const narrowed = { ...route, matches: [{ methods: ["GET"] }] };
    const record = decide(home, { request_id: proposal.id, decision: "modify", modified: narrowed }, "t");
    expect(record).toMatchObject({ decision: "approve", modified: true });
    expect(readAnswer(homePaths(home).queueOf("alpha-1"), proposal.id)).toMatchObject({ answer: { modified: narrowed } });
  });

  it("records every proposal and decision in the bottle's audit log once, whoever decided", () => {
    const mine = propose("alpha-1");
    const held = propose("alpha-1", { kind: "egress-dlp", summary: "egress held POST api.example.com/upload: known secret", payload: { host: "api.example.com" } });
    decide(home, { request_id: mine.id, decision: "reject", notes: "not needed" }, "tester");
    // Egress gives up on a hold by answering it itself.
    answerOnce(homePaths(home).queueOf("alpha-1"), { id: held.id, decision: "reject", notes: "no answer within 300 s", decided_by: "egress (timeout)", decided_at: new Date().toISOString() });
    syncAudit(home, "alpha-1");
    syncAudit(home, "alpha-1");

    const records = readAudit(home, "alpha-1");
    expect(records.map((r) => `${r.event} ${r.id === mine.id ? "mine" : "held"}`).sort()).toEqual(["decision held", "decision mine", "proposal held", "proposal mine"]);
    expect(records.find((r) => r.event === "decision" && r.id === mine.id)).toMatchObject({ decision: "reject", notes: "not needed", decided_by: "tester", kind: "egress-allow", bottle: "alpha-1" });
    expect(records.find((r) => r.event === "decision" && r.id === held.id)).toMatchObject({ decided_by: "egress (timeout)" });
    const file = homePaths(home).auditOf("alpha-1");
    expect(readFileSync(file, "utf8").trim().split("\n")).toHaveLength(4);
  });

  it("tells listeners of proposals pending before they subscribed, new ones, and decisions", async () => {
    const before = propose("alpha-1");
    const watcher = new QueueWatcher(home, 50);
    const events: QueueEvent[] = [];
    const unsubscribe = watcher.subscribe((event) => events.push(event));
    const waitFor = async (count: number) => {
      for (let i = 0; i < 200 && events.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(events).toHaveLength(count);
    };
    try {
      await waitFor(1);
      const after = propose("beta-2");
      await waitFor(2);
      decide(home, { request_id: before.id, decision: "approve" }, "t");
      await waitFor(3);
      expect(events.map((e) => (e.type === "proposed" ? `proposed ${e.proposal.id}` : `decided ${e.id} ${e.bottle}`))).toEqual([
        `proposed ${before.id}`,
        `proposed ${after.id}`,
        `decided ${before.id} alpha-1`,
      ]);
      expect(readAudit(home, "beta-2").map((r) => r.event)).toEqual(["proposal"]);
    } finally {
      unsubscribe();
    }
  });
});
