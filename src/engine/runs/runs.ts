import { randomBytes } from "node:crypto";
import type { Bottle } from "../../../backends/backend.js";
import type { RunStatus } from "../../../sidecars/runner/spec.js";
import { resolveProvider } from "../../providers/registry.js";
import { UserError } from "../../user-error.js";
import type { BottlePlan } from "../plan-schema.js";
import type { AgentRunRequest, RunRecord, RunResult } from "../records.js";
import { type LedgerEntry, RunLedger } from "./ledger.js";
import { cancelRunIn, readRunIn, runStatusesIn, startRunIn } from "./runner-client.js";

// Background runs: a command or a prompt for the bottled agent, started
// detached inside the bottle (see sidecars/runner), recorded in the host's
// ledger, and read back by id from any later process. Waiting returns as
// soon as a run ends or a bottle asks for a decision, so an outer agent can
// answer mid-run and wait again.

/** Enough of the end of a prompt run's output to hold the agent's final events. */
const RESULT_TAIL_BYTES = 256 * 1024;
const POLL_MS = 1_000;
const SUMMARY_CHARS = 120;

export interface RunsContext {
  home: string;
  /** A handle on a running bottle; a UserError when it is not running. */
  attach(id: string): { plan: BottlePlan; bottle: Bottle };
}

export type RunWhat =
  | { command: string | string[]; user?: string; cwd?: string; env?: Record<string, string> }
  | { prompt: AgentRunRequest };

/** A pending supervise request, as a waiting outer agent needs it to answer. */
export interface PendingSummary {
  id: string;
  bottle: string;
  kind: string;
  summary: string;
}

export interface WaitRequest {
  runIds?: string[];
  bottleIds?: string[];
  timeoutMs: number;
  /** The pending supervise requests of a bottle (the host's queue). */
  pendingFor(bottle: string): PendingSummary[];
  signal?: AbortSignal;
  onProgress?: (elapsedS: number, message: string) => void;
}

export const WaitReason = ["run_ended", "pending_request", "timeout", "nothing_to_wait_for", "cancelled"] as const;
export interface WaitResult {
  reason: (typeof WaitReason)[number];
  runs: RunRecord[];
  pending: PendingSummary[];
}

const clip = (text: string) => (text.length <= SUMMARY_CHARS ? text : `${text.slice(0, SUMMARY_CHARS - 1)}…`);

function record(entry: LedgerEntry, status: RunStatus): RunRecord {
  return {
    run_id: entry.run_id,
    bottle_id: entry.bottle_id,
    kind: entry.kind,
    summary: entry.summary,
    state: status.state,
    exit_code: status.exit_code,
    signal: status.signal,
    started_at: status.started_at,
    ended_at: status.ended_at,
    duration_ms: status.ended_at === null ? null : Date.parse(status.ended_at) - Date.parse(status.started_at),
  };
}

/** A run nobody can tell the end of: its bottle stopped, or its bottle does not know it. */
const lost = (entry: LedgerEntry): RunStatus => ({
  run_id: entry.run_id,
  state: "lost",
  monitor_pid: null,
  started_at: entry.started_at,
  ended_at: new Date().toISOString(),
  exit_code: null,
  signal: null,
});

export class Runs {
  readonly ledger: RunLedger;

  constructor(private readonly context: RunsContext) {
    this.ledger = new RunLedger(context.home);
  }

  async start(bottleId: string, what: RunWhat, timeoutMs: number): Promise<RunRecord> {
    const { plan, bottle } = this.context.attach(bottleId);
    const runId = `run-${randomBytes(8).toString("hex")}`;
    let spec;
    let entry: LedgerEntry;
    const started_at = new Date().toISOString();
    if ("prompt" in what) {
      const provider = await resolveProvider(plan.provider.name, plan.home);
      spec = { run_id: runId, argv: provider.headless.argv(what.prompt, plan.prompt.guest), user: plan.guest.user, cwd: plan.guest.workspace, env: {}, timeout_ms: timeoutMs };
      entry = { run_id: runId, bottle_id: bottleId, kind: "prompt", summary: clip(`prompt: ${what.prompt.prompt}`), provider: plan.provider.name, started_at, final: null };
    } else {
      const user = what.user ?? plan.guest.user;
      const argv = typeof what.command === "string" ? ["/bin/sh", "-c", what.command] : what.command;
      const cwd = what.cwd ?? (user === plan.guest.user ? plan.guest.workspace : "/");
      spec = { run_id: runId, argv, user, cwd, env: what.env ?? {}, timeout_ms: timeoutMs };
      const shown = typeof what.command === "string" ? what.command : what.command.join(" ");
      entry = { run_id: runId, bottle_id: bottleId, kind: "command", summary: clip(shown), provider: null, started_at, final: null };
    }
    // Recorded before it starts: a run the ledger does not know could never be read back.
    this.ledger.write(entry);
    const status = await startRunIn(bottle, spec);
    return record(entry, status);
  }

  #entry(runId: string): LedgerEntry {
    const entry = this.ledger.find(runId);
    if (!entry) throw new UserError(`no run ${runId}; list_runs / \`bot-bottle runs\` shows the runs there are`);
    return entry;
  }

  /** The bottle's handle, or null when it is not running (its unfinished runs are then lost). */
  #bottle(entry: LedgerEntry): Bottle | null {
    try {
      return this.context.attach(entry.bottle_id).bottle;
    } catch (error) {
      if (error instanceof UserError) return null;
      throw error;
    }
  }

  /** Keeps the first final status seen, so the run keeps its answer (and stays ended) when its bottle is gone. */
  #settle(entry: LedgerEntry, status: RunStatus): RunStatus {
    if (status.state !== "running" && entry.final === null) this.ledger.write({ ...entry, final: status });
    return status;
  }

  /** Every named run's current status, one runner call per bottle. */
  async #statuses(entries: LedgerEntry[]): Promise<Map<string, RunStatus>> {
    const statuses = new Map<string, RunStatus>();
    const open = new Map<string, LedgerEntry[]>();
    for (const entry of entries) {
      if (entry.final) statuses.set(entry.run_id, entry.final);
      else open.set(entry.bottle_id, [...(open.get(entry.bottle_id) ?? []), entry]);
    }
    await Promise.all(
      [...open.values()].map(async (waiting) => {
        const bottle = this.#bottle(waiting[0]!);
        const found = bottle ? await runStatusesIn(bottle, waiting.map((e) => e.run_id)) : [];
        for (const entry of waiting) statuses.set(entry.run_id, this.#settle(entry, found.find((s) => s.run_id === entry.run_id) ?? lost(entry)));
      }),
    );
    return statuses;
  }

  async list(bottleId?: string): Promise<RunRecord[]> {
    const entries = this.ledger.list(bottleId);
    const statuses = await this.#statuses(entries);
    return entries.map((entry) => record(entry, statuses.get(entry.run_id)!));
  }

  /** `promptStdout`: how much of a prompt run's raw event stream to return (its answer is read from the tail either way). */
  async get(runId: string, offsets: { stdout: number; stderr: number }, maxBytes: number, limits: { promptStdout?: number } = {}): Promise<RunResult> {
    const entry = this.#entry(runId);
    const bottle = this.#bottle(entry);
    if (!bottle) {
      const empty = { text: "", offset: 0, next_offset: 0, size: 0 };
      return { ...record(entry, this.#settle(entry, entry.final ?? lost(entry))), result_text: null, structured: null, usage: null, stdout: empty, stderr: empty };
    }
    const prompt = entry.kind === "prompt";
    const max = { stdout: prompt ? (limits.promptStdout ?? maxBytes) : maxBytes, stderr: maxBytes };
    const read = await readRunIn(bottle, runId, offsets, max, prompt ? RESULT_TAIL_BYTES : 0);
    const status = this.#settle(entry, read.status);
    let outcome: Pick<RunResult, "result_text" | "structured" | "usage"> = { result_text: null, structured: null, usage: null };
    if (entry.kind === "prompt" && status.state !== "running" && read.stdout_tail !== null) {
      const provider = await resolveProvider(entry.provider!, this.context.home);
      outcome = provider.headless.outcome(read.stdout_tail);
    }
    // The answer before the raw output: a client that cuts long tool results keeps what matters.
    return { ...record(entry, status), ...outcome, stdout: read.stdout, stderr: read.stderr };
  }

  /** Kills the run inside its bottle; a run that already ended is left as it is. */
  async cancel(runId: string): Promise<RunRecord> {
    const entry = this.#entry(runId);
    const status = (await this.#statuses([entry])).get(runId)!;
    const bottle = status.state === "running" ? this.#bottle(entry) : null;
    return record(entry, bottle ? this.#settle(entry, await cancelRunIn(bottle, runId)) : status);
  }

  /**
   * Waits until one of the runs ends, a bottle has a pending supervise
   * request, or the time is up; returns every watched run's state and the
   * pending requests. Without run ids it watches every run still running (in
   * the named bottles, or in all).
   */
  async wait(request: WaitRequest): Promise<WaitResult> {
    const entries = request.runIds
      ? request.runIds.map((id) => this.#entry(id))
      : this.ledger.list().filter((e) => e.final === null && (request.bottleIds === undefined || request.bottleIds.includes(e.bottle_id)));
    const bottles = [...new Set([...entries.map((e) => e.bottle_id), ...(request.bottleIds ?? [])])];
    const started = Date.now();
    const deadline = started + request.timeoutMs;
    let first = true;
    for (;;) {
      const statuses = await this.#statuses(entries);
      const runs = entries.map((entry) => record(entry, statuses.get(entry.run_id)!));
      const pending = bottles.flatMap((bottle) => request.pendingFor(bottle));
      // Without run ids only unsettled runs are watched, so an ended one among them is news to the caller.
      if (runs.some((r) => r.state !== "running")) return { reason: "run_ended", runs, pending };
      if (pending.length > 0) return { reason: "pending_request", runs, pending };
      if (first && runs.length === 0) return { reason: "nothing_to_wait_for", runs, pending };
      if (request.signal?.aborted) return { reason: "cancelled", runs, pending };
      if (Date.now() >= deadline) return { reason: "timeout", runs, pending };
      first = false;
      const elapsed = Math.round((Date.now() - started) / 1000);
      request.onProgress?.(elapsed, `waiting on ${runs.length} run(s) in ${bottles.length} bottle(s), ${elapsed} s so far`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
    }
  }
}
