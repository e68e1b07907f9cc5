import { type ActivityEvent, bottleActivity } from "../activity/bottle-activity.js";
import { RunRecord } from "../engine/records.js";
import type { Engine } from "../engine/engine.js";
import { log } from "../log.js";
import { watcherFor } from "../supervise/watch.js";
import { UserError } from "../user-error.js";
import type { Notices } from "./notices.js";
import { activityItem, bottleRows, requestItem, runItem, type RunView } from "./views.js";

// One page's live view, sent as server-sent events: the bottles (for the
// overview, or the one bottle a bottle page shows), the pending supervise
// requests (through the home's QueueWatcher, as the MCP server hears them),
// and on a bottle page its activity and runs. Each open page polls for
// itself: a dashboard has a page or two open, and the state lives in files
// the MCP server writes too, so the two never need to talk.

export type FeedSend = (event: string, data: unknown) => void;

const BOTTLES_POLL_MS = 2_000;
const ACTIVITY_POLL_MS = 1_000;
const RUNS_POLL_MS = 2_000;
/** How much of a run's output the page keeps, and reads per poll (per stream). */
const RUN_OUTPUT_CHARS = 64 * 1024;

/** Runs `task` now and then every `ms` after each run ends, until stopped; a failure is reported and polling goes on. */
function every(ms: number, task: () => Promise<void>, onError: (error: Error) => void): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    try {
      await task();
    } catch (error) {
      onError(error as Error);
    }
    if (!stopped) timer = setTimeout(() => void tick(), ms);
  };
  void tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/**
 * Which activity events a page has not seen yet. Events carry ISO times in
 * milliseconds and several can share one, so the next read starts a
 * millisecond before the last time seen and drops what was already sent.
 */
export class ActivityCursor {
  #last: string | null = null;
  #seenAtLast = new Set<string>();

  since(): string | undefined {
    return this.#last === null ? undefined : new Date(Date.parse(this.#last) - 1).toISOString();
  }

  take(events: readonly ActivityEvent[]): ActivityEvent[] {
    const fresh: ActivityEvent[] = [];
    for (const event of events) {
      const key = JSON.stringify(event);
      if (this.#last !== null && (event.time < this.#last || (event.time === this.#last && this.#seenAtLast.has(key)))) continue;
      if (this.#last === null || event.time > this.#last) {
        this.#last = event.time;
        this.#seenAtLast = new Set();
      }
      this.#seenAtLast.add(key);
      fresh.push(event);
    }
    return fresh;
  }
}

const tail = (text: string) => (text.length > RUN_OUTPUT_CHARS ? text.slice(-RUN_OUTPUT_CHARS) : text);

/** A run's output as the page has read it so far. */
interface RunProgress {
  view: RunView;
  offsets: { stdout: number; stderr: number };
  /** Ended and read to the end: nothing more will change. */
  settled: boolean;
  shown: string;
}

/** Reads what is new of each run of the bottle; returns the runs whose view changed. */
export async function readRuns(engine: Engine, bottle: string, runs: Map<string, RunProgress>): Promise<RunView[]> {
  const changed: RunView[] = [];
  for (const entry of engine.runs.ledger.list(bottle)) {
    const known = runs.get(entry.run_id);
    if (known?.settled) continue;
    const offsets = known?.offsets ?? { stdout: 0, stderr: 0 };
    const read = await engine.runs.get(entry.run_id, offsets, RUN_OUTPUT_CHARS, { promptStdout: RUN_OUTPUT_CHARS });
    const { stdout, stderr, result_text } = read;
    const record = RunRecord.parse(read);
    const previous = known?.view;
    const view: RunView = {
      record,
      stdout: tail((previous?.stdout ?? "") + stdout.text),
      stderr: tail((previous?.stderr ?? "") + stderr.text),
      clipped: (previous?.clipped ?? false) || stdout.offset > 0 || stderr.offset > 0 || (previous?.stdout.length ?? 0) + stdout.text.length > RUN_OUTPUT_CHARS,
      result_text,
    };
    const settled = record.state !== "running" && stdout.next_offset >= stdout.size && stderr.next_offset >= stderr.size;
    const shown = runItem(view).text;
    runs.set(entry.run_id, { view, offsets: { stdout: stdout.next_offset, stderr: stderr.next_offset }, settled, shown });
    if (shown !== known?.shown) changed.push(view);
  }
  return changed;
}

export interface FeedOptions {
  engine: Engine;
  notices: Notices;
  /** The bottle a bottle page shows; null for the overview. */
  bottle: string | null;
  send: FeedSend;
}

/** Starts the feed of one page; returns what stops it. */
export function openFeed({ engine, notices, bottle, send }: FeedOptions): () => void {
  const back = bottle ? `bottle/${bottle}` : "";
  const stops: (() => void)[] = [];
  let lastProblem = "";
  const problem = (what: string) => (error: Error) => {
    const text = `${what}: ${error.message}`;
    if (error instanceof UserError) {
      if (text !== lastProblem) send("notice", { key: "problem", level: "error", text });
      lastProblem = text;
    } else {
      log.warn({ err: error.message }, `dashboard: ${what}`);
    }
  };

  let bottles = "";
  stops.push(
    every(
      BOTTLES_POLL_MS,
      async () => {
        const records = (await engine.list()).filter((r) => bottle === null || r.id === bottle);
        const now = JSON.stringify(records);
        if (now === bottles) return;
        bottles = now;
        send("bottles", { html: bottleRows(records, Date.now(), back).text });
      },
      problem("cannot list the bottles"),
    ),
  );

  stops.push(
    watcherFor(engine.home).subscribe((event) => {
      if (event.type === "decided") {
        if (bottle === null || event.bottle === bottle) send("decided", { id: event.id });
        return;
      }
      if (bottle === null || event.proposal.bottle === bottle) send("request", { id: event.proposal.id, html: requestItem(event.proposal, back).text });
    }),
  );

  stops.push(notices.subscribe((notice) => send("notice", notice)));

  if (bottle !== null) {
    const cursor = new ActivityCursor();
    let first = true;
    stops.push(
      every(
        ACTIVITY_POLL_MS,
        async () => {
          for (;;) {
            const activity = bottleActivity(engine.home, bottle, cursor.since());
            const fresh = cursor.take(activity.events);
            if (fresh.length > 0 || first) send("activity", { replace: first, html: fresh.map((e) => activityItem(e).text).join("") });
            first = false;
            if (!activity.more || fresh.length === 0) break;
          }
        },
        problem("cannot read the bottle's activity"),
      ),
    );
    const runs = new Map<string, RunProgress>();
    stops.push(
      every(
        RUNS_POLL_MS,
        async () => {
          for (const view of await readRuns(engine, bottle, runs)) send("run", { id: view.record.run_id, html: runItem(view).text });
        },
        problem("cannot read the bottle's runs"),
      ),
    );
  }
  return () => stops.forEach((stop) => stop());
}
