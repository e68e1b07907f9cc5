import { existsSync, watch, type FSWatcher } from "node:fs";
import { homePaths } from "../home.js";
import { log } from "../log.js";
import { syncAudit } from "./audit.js";
import { type PendingProposal, pendingOf, queuedBottles } from "./pending.js";

// Tells listeners when a proposal arrives in any bottle's queue and when a
// pending one is decided, by comparing the pending set between scans. Scans
// run on a short poll (change events do not cross every kind of mount) and
// on fs.watch events where they work; they also bring the audit logs up to
// date. The watcher runs only while someone listens.

export type QueueEvent = { type: "proposed"; proposal: PendingProposal } | { type: "decided"; bottle: string; id: string };
export type QueueListener = (event: QueueEvent) => void;

const POLL_MS = 1_000;

/**
 * The least time between two change-triggered scans, and how many times a
 * scan's own duration that gap grows to. A scan reads every queued file and
 * brings the audit logs up to date, so one per fs.watch event (two per
 * proposal or answer written) made a burst of N proposals cost O(N^2) and
 * blocked the server's event loop: 100 proposals at once held every tool call
 * for seconds. Events that arrive within the gap share one scan.
 */
const SCAN_GAP_MS = 50;
const SCAN_GAP_FACTOR = 4;

export class QueueWatcher {
  readonly #listeners = new Set<QueueListener>();
  /** id -> proposal, for everything pending at the last scan. */
  #pending = new Map<string, PendingProposal>();
  #poll: NodeJS.Timeout | null = null;
  readonly #watchers = new Map<string, FSWatcher>();
  /** A change-triggered scan waiting for its gap; when the last scan ended, and how long it took. */
  #scheduled: NodeJS.Timeout | null = null;
  #lastScanEnd = 0;
  #lastScanMs = 0;

  constructor(
    readonly home: string,
    private readonly pollMs = POLL_MS,
  ) {}

  /** Listens from now on; the listener first hears of every proposal already pending. Returns the unsubscribe. */
  subscribe(listener: QueueListener): () => void {
    if (this.#listeners.size === 0) this.#start();
    this.#listeners.add(listener);
    for (const proposal of this.#pending.values()) listener({ type: "proposed", proposal });
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  /** A scan for a change event: at once when the last one is long enough ago, else one shared scan at the end of the gap. */
  #scanSoon(): void {
    if (this.#scheduled !== null || this.#poll === null) return;
    const gap = Math.max(SCAN_GAP_MS, SCAN_GAP_FACTOR * this.#lastScanMs);
    const wait = this.#lastScanEnd + gap - performance.now();
    if (wait <= 0) return this.#scan();
    this.#scheduled = setTimeout(() => {
      this.#scheduled = null;
      this.#scan();
    }, wait);
    this.#scheduled.unref();
  }

  /** Compares what is pending now with the last scan, and tells listeners the difference. */
  #scan(): void {
    let current: Map<string, PendingProposal>;
    const started = performance.now();
    try {
      const bottles = queuedBottles(this.home);
      for (const bottle of bottles) syncAudit(this.home, bottle);
      current = new Map(bottles.flatMap((bottle) => pendingOf(this.home, bottle)).map((p) => [p.id, p]));
    } catch (error) {
      log.warn({ err: (error as Error).message }, "cannot scan the supervise queues");
      return;
    } finally {
      this.#lastScanEnd = performance.now();
      this.#lastScanMs = this.#lastScanEnd - started;
    }
    const previous = this.#pending;
    this.#pending = current;
    for (const [id, proposal] of current) if (!previous.has(id)) this.#emit({ type: "proposed", proposal });
    for (const [id, proposal] of previous) if (!current.has(id)) this.#emit({ type: "decided", bottle: proposal.bottle, id });
    this.#watchBottles();
  }

  #emit(event: QueueEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        log.warn({ err: (error as Error).message }, "a supervise listener failed");
      }
    }
  }

  #start(): void {
    // Nobody listens yet: the first scan only learns what is pending, and subscribe replays it.
    this.#poll = setInterval(() => this.#scan(), this.pollMs);
    this.#poll.unref();
    this.#scan();
  }

  /** A watcher on the queue root and on each bottle's folder, so a new proposal is seen at once. */
  #watchBottles(): void {
    if (this.#poll === null) return;
    const paths = homePaths(this.home);
    const folders = new Set([paths.queue, ...queuedBottles(this.home).map((b) => paths.queueOf(b))].filter((f) => existsSync(f)));
    for (const [folder, watcher] of this.#watchers) {
      if (folders.has(folder)) continue;
      watcher.close();
      this.#watchers.delete(folder);
    }
    for (const folder of folders) {
      if (this.#watchers.has(folder)) continue;
      try {
        const watcher = watch(folder, () => this.#scanSoon());
        watcher.on("error", () => watcher.close());
        watcher.unref();
        this.#watchers.set(folder, watcher);
      } catch {
        // The poll carries it.
      }
    }
  }

  #stop(): void {
    if (this.#poll) clearInterval(this.#poll);
    this.#poll = null;
    if (this.#scheduled) clearTimeout(this.#scheduled);
    this.#scheduled = null;
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
  }
}

const watchers = new Map<string, QueueWatcher>();

/** The one watcher of a home in this process, shared by every MCP session. */
export function watcherFor(home: string): QueueWatcher {
  let watcher = watchers.get(home);
  if (!watcher) watchers.set(home, (watcher = new QueueWatcher(home)));
  return watcher;
}
