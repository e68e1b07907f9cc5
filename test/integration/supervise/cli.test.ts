import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newProposalId, proposalFile, readAnswer, writeProposal, type Proposal } from "../../../sidecars/supervise/queue.js";
import { homePaths } from "../../../src/home.js";
import { readAudit } from "../../../src/supervise/audit.js";
import { cliPath, runCli } from "../../support/cli.js";

// The supervise channel for a person at a terminal, through the built CLI:
// `supervise` lists (and follows), `approve` and `reject` answer.

describe("bot-bottle supervise / approve / reject", () => {
  const home = mkdtempSync(path.join(os.tmpdir(), "bb-supervise-cli-"));
  const env = { BOT_BOTTLE_HOME: home, BOT_BOTTLE_LOG: "warn" };
  const bottle = "clitest-0a1b2c3d";
  const queue = homePaths(home).queueOf(bottle);

  const propose = (summary: string): Proposal => {
    const proposal: Proposal = {
      id: newProposalId(),
      bottle,
      kind: "request-approval",
      summary,
      payload: { summary, justification: "because", details: null },
      created_at: new Date().toISOString(),
    };
    writeProposal(queue, proposal);
    return proposal;
  };

  beforeAll(() => mkdirSync(queue, { recursive: true, mode: 0o700 }));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it("lists nothing, then what is pending, as lines or JSON", async () => {
    expect((await runCli(["supervise", "--once"], env)).stdout).toBe("no pending requests");
    const first = propose("rebase onto main");
    const lines = await runCli(["supervise", "--once"], env);
    expect(lines.exitCode, lines.stderr).toBe(0);
    expect(lines.stdout).toMatch(new RegExp(`^${first.id}\\t${bottle}\\trequest-approval\\t\\d+s\\trebase onto main$`));
    const json = await runCli(["supervise", "--once", "--json"], env);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ id: first.id, bottle, summary: "rebase onto main", age_s: expect.any(Number) })]);
  });

  it("approves with notes, records who decided, and refuses to decide twice", async () => {
    const [pending] = JSON.parse((await runCli(["supervise", "--once", "--json"], env)).stdout) as Proposal[];
    const approved = await runCli(["approve", pending!.id, "--notes", "go on"], env);
    expect(approved.exitCode, approved.stderr).toBe(0);
    expect(approved.stdout.trim()).toBe(`approved ${pending!.id} (bottle ${bottle}): rebase onto main`);
    const answer = readAnswer(queue, pending!.id);
    expect(answer).toMatchObject({ kind: "answer", answer: { decision: "approve", notes: "go on", decided_by: `${os.userInfo().username} (bot-bottle CLI)` } });
    expect(readAudit(home, bottle).map((r) => r.event)).toEqual(["proposal", "decision"]);

    const again = await runCli(["reject", pending!.id, "--notes", "changed my mind"], env);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toMatch(/was already decided: approved by .* \(bot-bottle CLI\)/);
  });

  it("reject needs notes; unknown and malformed ids are clear errors", async () => {
    const proposal = propose("delete the cache");
    const noNotes = await runCli(["reject", proposal.id], env);
    expect(noNotes.exitCode).toBe(2);
    expect(noNotes.stderr).toMatch(/required option '--notes <text>' not specified/);
    const unknown = await runCli(["approve", "0".repeat(32)], env);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toMatch(/no request 0{32} in any bottle's queue/);
    const malformed = await runCli(["approve", "../../x"], env);
    expect(malformed.stderr).toMatch(/is not a request id/);
    const rejected = await runCli(["reject", proposal.id, "--notes", "keep it"], env);
    expect(rejected.stdout.trim()).toBe(`rejected ${proposal.id} (bottle ${bottle}): delete the cache`);
  });

  it("approve --extend-credential writes the flag into the answer, and only for an egress-allow route", async () => {
    const route: Proposal = {
      id: newProposalId(),
      bottle,
      kind: "egress-allow",
      summary: "allow egress to api.github.com (all requests); credential EGRESS_TOKEN_GH: ...",
      payload: { host: "api.github.com", port: null, matches: null, auth: null, justification: "the API" },
      created_at: new Date().toISOString(),
    };
    writeProposal(queue, route);
    const question = propose("tag the release");

    const refused = await runCli(["approve", question.id, "--extend-credential"], env);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/extend_credential goes with an approval of an egress-allow route only/);
    expect(readAnswer(queue, question.id)).toBeNull();
    const unparsed = await runCli(["approve", route.id, "--extend-credential=yes"], env);
    expect(unparsed.exitCode).not.toBe(0);
    expect(readAnswer(queue, route.id)).toBeNull();

    const approved = await runCli(["approve", route.id, "--extend-credential"], env);
    expect(approved.exitCode, approved.stderr).toBe(0);
    expect(approved.stdout.trim()).toBe(`approved, extending the credential, ${route.id} (bottle ${bottle}): ${route.summary}`);
    expect(readAnswer(queue, route.id)).toMatchObject({ kind: "answer", answer: { decision: "approve", extend_credential: true } });
    await runCli(["reject", question.id, "--notes", "later"], env);
  });

  it("follows the queues: prints what arrives and what gets decided, until interrupted", async () => {
    const follower = execa("node", [cliPath, "supervise", "--json"], { env, reject: false, stdin: "ignore" });
    const lines: string[] = [];
    let buffer = "";
    follower.stdout!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const parts = buffer.split("\n");
      buffer = parts.pop()!;
      lines.push(...parts);
    });
    const until = async (count: number) => {
      for (let i = 0; i < 200 && lines.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(lines).toHaveLength(count);
    };
    const proposal = propose("run the migration");
    await until(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ event: "proposed", id: proposal.id, summary: "run the migration" });
    await runCli(["approve", proposal.id], env);
    await until(2);
    expect(JSON.parse(lines[1]!)).toEqual({ event: "decided", bottle, id: proposal.id });
    follower.kill("SIGTERM");
    expect((await follower).exitCode).toBe(0);
  });

  it("never shows what a symlinked proposal points at, and does not hang on a FIFO planted as a proposal", async () => {
    const canary = "canary-host-file-5d1c0e2b";
    const outside = mkdtempSync(path.join(os.tmpdir(), "bb-supervise-cli-host-"));
    const linked = newProposalId();
    const fifo = newProposalId();
    try {
      writeFileSync(path.join(outside, "secret.json"), JSON.stringify({ id: linked, bottle, kind: "request-approval", summary: canary, payload: {}, created_at: new Date().toISOString() }));
      symlinkSync(path.join(outside, "secret.json"), proposalFile(queue, linked));
      execFileSync("mkfifo", [proposalFile(queue, fifo)]);
      const genuine = propose("prune the tags");
      for (const args of [["supervise", "--once"], ["supervise", "--once", "--json"]]) {
        // Bounded: a reader blocked on the FIFO would never return.
        const listed = await execa("node", [cliPath, ...args], { env, reject: false, timeout: 60_000 });
        expect(listed.timedOut).toBe(false);
        expect(listed.exitCode, listed.stderr).toBe(0);
        expect(listed.stdout).toContain(genuine.id);
        expect(listed.stdout).not.toContain(canary);
        expect(listed.stdout).not.toContain(linked);
      }
      await runCli(["reject", genuine.id, "--notes", "not now"], env);
      expect(JSON.stringify(readAudit(home, bottle))).not.toContain(canary);
    } finally {
      rmSync(proposalFile(queue, linked), { force: true });
      rmSync(proposalFile(queue, fifo), { force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
