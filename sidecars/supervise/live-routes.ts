import { createHash } from "node:crypto";
import { readFileSync, renameSync } from "node:fs";
import { writeOwnedTemp } from "../owned-temp-file.js";
import { parseRoutesFile, type Route, type RoutesFile } from "../egress/routes.js";
import { type MergeEffect, mergeRoute } from "./route-merge.js";

// The live routes file egress serves from (read-write in the bundle, in the
// bottle's state folder on the host). Approved routes are merged into it one
// at a time, then egress reloads; each approval is applied once per process,
// and merging is idempotent, so applying it again after a restart changes
// nothing.

export type ApplyOutcome = { ok: true; effect: MergeEffect; route: Route } | { ok: false; reason: string };

export const routesDigest = (text: string) => createHash("sha256").update(text).digest("hex");

export class LiveRoutes {
  #queue: Promise<unknown> = Promise.resolve();
  readonly #applied = new Map<string, Promise<ApplyOutcome>>();

  constructor(
    readonly file: string,
    private readonly reloadEgress: (digest: string) => Promise<void>,
  ) {}

  read(): RoutesFile {
    return parseRoutesFile(readFileSync(this.file, "utf8"));
  }

  /** Merges the route approved by proposal `id` and waits until egress serves it; a failure is tried again on the next call. */
  apply(id: string, route: Route): Promise<ApplyOutcome> {
    let outcome = this.#applied.get(id);
    if (!outcome) {
      outcome = this.#serialized(() => this.#merge(route));
      this.#applied.set(id, outcome);
      void outcome.then((result) => {
        if (!result.ok) this.#applied.delete(id);
      });
    }
    return outcome;
  }

  #serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #merge(route: Route): Promise<ApplyOutcome> {
    try {
      const current = this.read();
      const merged = mergeRoute(current.routes, route);
      if (merged.effect !== "unchanged") {
        const text = `${JSON.stringify({ ...current, routes: merged.routes }, null, 2)}\n`;
        // Checked like egress will check it: a file egress would refuse must not replace a good one.
        parseRoutesFile(text);
        this.#write(text);
        await this.reloadEgress(routesDigest(text));
      }
      return { ok: true, effect: merged.effect, route: merged.route };
    } catch (error) {
      return { ok: false, reason: (error as Error).message };
    }
  }

  /** Written whole, in the folder's group, then renamed over the old one (egress sees the change and reloads). */
  #write(text: string): void {
    renameSync(writeOwnedTemp(this.file, text, 0o644), this.file);
  }

}
