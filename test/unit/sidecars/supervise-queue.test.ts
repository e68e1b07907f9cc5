import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type Answer,
  answerFile,
  answerOnce,
  newProposalId,
  Proposal,
  proposalFile,
  readAnswer,
  readProposal,
  waitForAnswer,
  writeAnswerOnce,
  writeProposal,
} from "../../../sidecars/supervise/queue.js";

describe("supervise queue", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "bb-queue-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const proposal = (id = newProposalId()): Proposal => ({
    id,
    bottle: "probe-1234",
    kind: "egress-dlp",
    summary: "egress held POST api.example.com/v1: known secret X (raw) in body",
    payload: { host: "api.example.com" },
    created_at: new Date().toISOString(),
  });
  const answer = (id: string, decision: Answer["decision"] = "approve"): Answer => ({
    id,
    decision,
    decided_by: "tester",
    decided_at: new Date().toISOString(),
  });

  it("makes unguessable ids: 128 random bits as 32 hex digits", () => {
    const ids = new Set(Array.from({ length: 1000 }, newProposalId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
  });

  it("writes a proposal whole, as <id>.proposal.json readable by the folder's group only (mode 0640), leaving no temp file", () => {
    const written = proposal();
    writeProposal(dir, written);
    const file = proposalFile(dir, written.id);
    expect(path.basename(file)).toBe(`${written.id}.proposal.json`);
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(Proposal.parse(JSON.parse(readFileSync(file, "utf8")))).toEqual(written);
    expect(readdirSync(dir)).toEqual([`${written.id}.proposal.json`]);
  });

  it("refuses to write a proposal that breaks the schema", () => {
    expect(() => writeProposal(dir, { ...proposal(), kind: "anything" as never })).toThrow();
    expect(() => writeProposal(dir, { ...proposal(), summary: "" })).toThrow();
    expect(readdirSync(dir)).toEqual([]);
  });

  it("fails loudly when the queue folder is missing (callers turn that into a refusal)", () => {
    expect(() => writeProposal(path.join(dir, "gone"), proposal())).toThrow(/supervise queue .*gone is unavailable: ENOENT/);
  });

  it("rejects ids that are not the id grammar, so no file name can walk out of the folder", () => {
    expect(() => answerFile(dir, "../../etc/passwd")).toThrow(/invalid proposal id/);
    expect(() => readAnswer(dir, "ABC")).toThrow(/invalid proposal id/);
  });

  it("keeps the first answer: a second one cannot replace it", () => {
    const id = newProposalId();
    expect(answerOnce(dir, answer(id, "approve"))).toMatchObject({ kind: "answer", answer: { decision: "approve" } });
    expect(answerOnce(dir, answer(id, "reject"))).toMatchObject({ kind: "answer", answer: { decision: "approve" } });
    expect(statSync(answerFile(dir, id)).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir)).toEqual([`${id}.answer.json`]);
  });

  it("tells the writer of an answer from a second decider whose answer is equal to it (same name, same millisecond)", () => {
    const id = newProposalId();
    const same = { id, decision: "reject" as const, decided_by: "the outer agent (supervise_approve)", decided_at: "2026-12-02T07:30:00.000Z" };
    expect(writeAnswerOnce(dir, same)).toEqual({ written: true, standing: { kind: "answer", answer: same } });
    expect(writeAnswerOnce(dir, { ...same, decision: "approve" })).toEqual({ written: false, standing: { kind: "answer", answer: same } });
    expect(writeAnswerOnce(dir, same)).toMatchObject({ written: false });
  });

  it.each([
    ["not JSON", "{ approve", /answer is not JSON/],
    ["a decision that is not approve or reject", JSON.stringify({ ...answer("x"), decision: "yes" }), /answer is invalid: decision/],
    ["an unknown key", JSON.stringify({ ...answer("x"), approved: true }), /answer is invalid/],
    ["no decided_by", JSON.stringify({ ...answer("x"), decided_by: undefined }), /answer is invalid: decided_by/],
    ["an extend_credential that is not a boolean", JSON.stringify({ ...answer("x"), extend_credential: "yes" }), /answer is invalid: extend_credential/],
    ["another proposal's id", "OTHER", /answer names another proposal/],
  ])("reads an answer with %s as malformed (a refusal)", (_what, content, reason) => {
    const id = newProposalId();
    const text = content === "OTHER" ? JSON.stringify(answer(newProposalId())) : content.replace('"x"', JSON.stringify(id));
    writeFileSync(answerFile(dir, id), text);
    const outcome = readAnswer(dir, id);
    expect(outcome?.kind).toBe("malformed");
    expect(outcome?.kind === "malformed" && outcome.reason).toMatch(reason);
  });

  it("never follows a symlinked proposal or answer out of the folder, even to a file that would parse", () => {
    const outside = mkdtempSync(path.join(tmpdir(), "bb-queue-outside-"));
    try {
      const id = newProposalId();
      writeFileSync(path.join(outside, "proposal.json"), JSON.stringify(proposal(id)));
      writeFileSync(path.join(outside, "answer.json"), JSON.stringify(answer(id)));
      symlinkSync(path.join(outside, "proposal.json"), proposalFile(dir, id));
      symlinkSync(path.join(outside, "answer.json"), answerFile(dir, id));
      expect(() => readProposal(dir, id)).toThrow(/is a symbolic link, which is never followed/);
      expect(readAnswer(dir, id)).toEqual({ kind: "malformed", reason: expect.stringMatching(/answer unreadable: .* is a symbolic link/) });
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it("refuses a FIFO in place of a queue file without waiting on it", () => {
    const id = newProposalId();
    execFileSync("mkfifo", [proposalFile(dir, id), answerFile(dir, id)]);
    expect(() => readProposal(dir, id)).toThrow(/is not a regular file/);
    expect(readAnswer(dir, id)).toMatchObject({ kind: "malformed", reason: expect.stringMatching(/is not a regular file/) });
  });

  it("refuses a queue file too big to be a proposal instead of reading it into memory", () => {
    const id = newProposalId();
    writeFileSync(proposalFile(dir, id), " ".repeat(2 * 1024 * 1024));
    expect(() => readProposal(dir, id)).toThrow(/is larger than 1048576 bytes/);
  });

  it("has no answer until one is written", () => {
    expect(readAnswer(dir, newProposalId())).toBeNull();
  });

  it("wakes a waiter when the answer lands", async () => {
    const id = newProposalId();
    // A poll interval far beyond the test's wait: only the watcher can deliver in time.
    const waiting = waitForAnswer(dir, id, { timeoutMs: 20_000, pollMs: 60_000 });
    answerOnce(dir, answer(id, "reject"));
    const started = Date.now();
    expect(await waiting).toMatchObject({ kind: "answer", answer: { id, decision: "reject" } });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("finds an answer by polling where no watcher reports it", async () => {
    const id = newProposalId();
    const waiting = waitForAnswer(path.join(dir, "."), id, { timeoutMs: 20_000, pollMs: 20 });
    answerOnce(dir, answer(id));
    expect((await waiting).kind).toBe("answer");
  });

  it("returns timeout when nobody answers within the bound, and aborted when asked to stop", async () => {
    expect(await waitForAnswer(dir, newProposalId(), { timeoutMs: 50 })).toEqual({ kind: "timeout" });
    const controller = new AbortController();
    const waiting = waitForAnswer(dir, newProposalId(), { timeoutMs: 20_000, signal: controller.signal });
    controller.abort();
    expect(await waiting).toEqual({ kind: "aborted" });
  });

  it("returns an answer that was already there", async () => {
    const id = newProposalId();
    answerOnce(dir, answer(id));
    expect((await waitForAnswer(dir, id, { timeoutMs: 1_000 })).kind).toBe("answer");
  });
});
