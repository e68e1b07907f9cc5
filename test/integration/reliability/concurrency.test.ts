import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { BottleRecord, ExecResult, RunRecord, RunResult } from "../../../src/engine/records.js";
import { homePaths } from "../../../src/home.js";
import { readAudit } from "../../../src/supervise/audit.js";
import type { DecisionRecord } from "../../../src/supervise/decide.js";
import type { PendingProposal } from "../../../src/supervise/pending.js";
import { waitUntil } from "../../../src/wait-until.js";
import { runCli } from "../../support/cli.js";
import { describeWithDocker } from "../../support/docker.js";
import { type AskAnswer, askScript, call, homeResources, ok, parseAnswers, type ServerProcess, startServerProcess, writeReliabilityHome } from "../../support/reliability.js";

// Load on the real engine through `bot-bottle mcp` as real processes with SDK
// clients: bottles started at once, execs in parallel across them, and a
// burst of supervise proposals answered from two server processes at once.
// Every call must succeed with the right answer; nothing lost, nothing twice.

const BOTTLES = 8;
const EXECS_PER_BOTTLE = 50;
const PROPOSALS = 100;
/** Proposals both servers answer at once. */
const RACED = 20;

/** Far longer than any of these calls takes: reaching it means something hangs. */
const HANG_GUARD_MS = 600_000;

/** Fisher-Yates with Math.random: each run answers in another order. */
function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

describeWithDocker("concurrency (real engine, real servers)", () => {
  let home = "";
  let env: Record<string, string> = {};
  let first: ServerProcess;
  let second: ServerProcess | undefined;
  let bottles: BottleRecord[] = [];

  beforeAll(async () => {
    home = mkdtempSync(path.join(os.tmpdir(), "bb-concurrency-"));
    // Bottled calls wait ten minutes for an answer: only the answers end them here.
    env = writeReliabilityHome(home, "supervise:\n  timeout_s: 600\n");
    first = await startServerProcess(env, "first-outer-agent");
  });

  afterAll(async () => {
    await Promise.all(bottles.map((b) => call(first.client, "stop_bottle", { bottle_id: b.id }).catch(() => undefined)));
    await first?.client.close().catch(() => undefined);
    await second?.client.close().catch(() => undefined);
    if (home) {
      await runCli(["gc"], env);
      rmSync(home, { recursive: true, force: true });
    }
  });

  /** Makes every request from inside the bottle at once (one background run), and waits until all are pending. */
  async function ask(bottle: BottleRecord, summaries: string[]): Promise<{ runId: string; pending: PendingProposal[] }> {
    const runId = String((await ok(first.client, "exec_in_bottle", { bottle_id: bottle.id, command: askScript(summaries), background: true })).run_id);
    const pending = await waitUntil(
      `${summaries.length} pending proposals`,
      async () => {
        const listed = (await ok<{ proposals: PendingProposal[] }>(first.client, "supervise_list", { bottle_id: bottle.id })).proposals;
        return listed.length === summaries.length ? listed : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    expect(pending.map((p) => p.summary).sort()).toEqual([...summaries].sort());
    return { runId, pending };
  }

  /** Waits for the asking run to end and returns what each bottled call was told. */
  async function answersOf(bottle: BottleRecord, runId: string): Promise<AskAnswer[]> {
    await waitUntil(
      "the asking run to end",
      async () => {
        const waited = await ok<{ runs: RunRecord[] }>(first.client, "wait_for_runs", { run_ids: [runId], timeout_s: 30 });
        return waited.runs[0]?.state === "running" ? undefined : true;
      },
      { timeoutMs: 300_000, intervalMs: 10 },
    );
    const read = await ok<RunResult>(first.client, "get_run", { run_id: runId, max_bytes: 4_000_000 });
    expect(read.exit_code, read.stderr.text).toBe(0);
    expect(read.stdout.next_offset).toBe(read.stdout.size);
    expect((await ok<{ proposals: PendingProposal[] }>(first.client, "supervise_list", { bottle_id: bottle.id })).proposals).toEqual([]);
    return parseAnswers(read.stdout.text);
  }

  it(`starts ${BOTTLES} bottles at once through one server: every one runs`, async () => {
    const results = await Promise.all(
      Array.from({ length: BOTTLES }, (_, i) => call(first.client, "start_bottle", { agent: "steady", label: `at once ${i}` }, HANG_GUARD_MS)),
    );
    for (const result of results) expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
    bottles = results.map((r) => r.structuredContent as unknown as BottleRecord);
    expect(new Set(bottles.map((b) => b.id)).size).toBe(BOTTLES);
    for (const bottle of bottles) expect(bottle).toMatchObject({ status: "running", warnings: [] });
    expect((await homeResources(home)).containers).toHaveLength(2 * BOTTLES);
    const listed = (await ok<{ bottles: BottleRecord[] }>(first.client, "list_bottles", {})).bottles;
    expect(listed.map((b) => b.status)).toEqual(listed.map(() => "running"));
  });

  it(`runs ${BOTTLES} × ${EXECS_PER_BOTTLE} execs in parallel: each one succeeds, in its own bottle, with its own output`, async () => {
    expect(bottles).toHaveLength(BOTTLES);
    const calls = bottles.flatMap((bottle) =>
      Array.from({ length: EXECS_PER_BOTTLE }, async (_, i) => {
        // The hostname is the bottle's id: the output says which bottle ran it.
        const result = await call(first.client, "exec_in_bottle", { bottle_id: bottle.id, command: ["sh", "-c", `echo "$(hostname) $1"; echo "err $1" >&2`, "sh", String(i)] }, HANG_GUARD_MS);
        return { bottle: bottle.id, i, result };
      }),
    );
    const results = await Promise.all(calls);
    const failures = results.filter((r) => r.result.isError).map((r) => `${r.bottle} #${r.i}: ${JSON.stringify(r.result.content)}`);
    expect(failures).toEqual([]);
    for (const { bottle, i, result } of results) {
      expect(result.structuredContent as unknown as ExecResult, `${bottle} #${i}`).toMatchObject({ exit_code: 0, stdout: `${bottle} ${i}\n`, stderr: `err ${i}\n`, truncated: false, timed_out: false });
    }
    expect(results).toHaveLength(BOTTLES * EXECS_PER_BOTTLE);
  });

  it(`${PROPOSALS} supervise proposals at once, answered in random order from two server processes: 0 failures, 0 lost, 0 duplicated audit records`, async () => {
    const bottle = bottles[0]!;
    const summaries = Array.from({ length: PROPOSALS }, (_, i) => `concurrent request ${i}`);
    const { runId: asking, pending } = await ask(bottle, summaries);

    second = await startServerProcess(env, "second-outer-agent");
    const servers = { first, second };
    // Each proposal gets a decision and one of the two servers, in a random order; both answer at the same time.
    const plan = shuffled(pending).map((p, i) => ({
      id: p.id,
      summary: p.summary,
      decision: Math.random() < 0.5 ? ("approve" as const) : ("reject" as const),
      by: i % 2 === 0 ? ("first" as const) : ("second" as const),
    }));
    const answers = await Promise.all(
      plan.map(async (a) => ({ ...a, result: await call(servers[a.by].client, "supervise_approve", { request_id: a.id, decision: a.decision, notes: `${a.by} answers ${a.id}` }) })),
    );
    expect(answers.filter((a) => a.result.isError).map((a) => JSON.stringify(a.result.content))).toEqual([]);
    for (const a of answers) {
      expect(a.result.structuredContent as unknown as DecisionRecord).toMatchObject({ request_id: a.id, bottle: bottle.id, decision: a.decision, notes: `${a.by} answers ${a.id}` });
    }

    // Every bottled call got the answer given to its own request.
    const got = await answersOf(bottle, asking);
    expect(got).toHaveLength(PROPOSALS);
    expect(got.filter((g) => g.error !== null || g.result === null)).toEqual([]);
    const bySummary = new Map(plan.map((a) => [a.summary, a]));
    for (const g of got) {
      const given = bySummary.get(g.summary)!;
      expect(g.result, g.summary).toMatchObject({ request_id: given.id, status: given.decision === "approve" ? "approved" : "rejected", notes: `${given.by} answers ${given.id}` });
    }
    expect(new Set(got.map((g) => g.result!.request_id)).size).toBe(PROPOSALS);

    // Nothing is left pending, and the audit log holds each proposal and each decision exactly once.
    expect((await ok<{ proposals: PendingProposal[] }>(second.client, "supervise_list", { bottle_id: bottle.id })).proposals).toEqual([]);
    const audit = readAudit(home, bottle.id).filter((r) => plan.some((a) => a.id === r.id));
    expect(audit.map((r) => `${r.event}:${r.id}`).sort()).toEqual(plan.flatMap((a) => [`decision:${a.id}`, `proposal:${a.id}`]).sort());
    const lines = readFileSync(homePaths(home).auditOf(bottle.id), "utf8").trim().split("\n");
    expect(lines).toHaveLength(2 * PROPOSALS);
    for (const record of audit.filter((r) => r.event === "decision")) {
      const given = plan.find((a) => a.id === record.id)!;
      expect(record).toMatchObject({ decision: given.decision, notes: `${given.by} answers ${given.id}` });
    }
  });

  it(`${RACED} proposals each answered by both server processes at the same moment: one answer wins, the other is told so, one decision is recorded`, async () => {
    const bottle = bottles.at(-1)!;
    second ??= await startServerProcess(env, "second-outer-agent");
    const servers = { first, second };
    const { runId, pending } = await ask(bottle, Array.from({ length: RACED }, (_, i) => `raced request ${i}`));
    const tries = shuffled(pending.flatMap((p) => (["first", "second"] as const).map((by) => ({ id: p.id, summary: p.summary, by, decision: by === "first" ? ("approve" as const) : ("reject" as const) }))));
    const results = await Promise.all(
      tries.map(async (t) => ({ ...t, result: await call(servers[t.by].client, "supervise_approve", { request_id: t.id, decision: t.decision, notes: `${t.by} answers ${t.id}` }) })),
    );
    const winners = new Map<string, (typeof results)[number]>();
    for (const p of pending) {
      const both = results.filter((r) => r.id === p.id);
      const won = both.filter((r) => !r.result.isError);
      expect(won, p.id).toHaveLength(1);
      const lost = both.find((r) => r.result.isError)!;
      expect((lost.result.content[0] as { text: string }).text).toMatch(new RegExp(`request ${p.id} was (already decided|decided by someone else at the same moment)`));
      winners.set(p.id, won[0]!);
    }
    // The bottled call, the audit log and the queue agree on the winner.
    for (const g of await answersOf(bottle, runId)) {
      const won = [...winners.values()].find((w) => w.summary === g.summary)!;
      expect(g.result, g.summary).toMatchObject({ request_id: won.id, status: won.decision === "approve" ? "approved" : "rejected", notes: `${won.by} answers ${won.id}` });
    }
    const audit = readAudit(home, bottle.id).filter((r) => winners.has(r.id));
    expect(audit.map((r) => `${r.event}:${r.id}`).sort()).toEqual([...winners.keys()].flatMap((id) => [`decision:${id}`, `proposal:${id}`]).sort());
    for (const record of audit.filter((r) => r.event === "decision")) expect(record).toMatchObject({ notes: `${winners.get(record.id)!.by} answers ${record.id}` });
  });
});
