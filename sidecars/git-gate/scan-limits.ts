import { z } from "zod";
import type { ByteMeter } from "./git-process.js";

// How much one push may make the scanner read. A push beyond a limit is not
// scanned partly and let through: it is refused as a whole ("split it"), so
// the limits bound the gate's time and memory without opening a way around it.

export const ScanLimits = z.strictObject({
  /** Commits in the pushed delta. */
  maxCommits: z.number().int().positive(),
  /**
   * Bytes of object content read and scanned (new file versions, commit and
   * tag objects); counted separately, the same bound applies to git's diff
   * output, which the scanner reads to learn the added lines.
   */
  maxBytes: z.number().int().positive(),
});
export type ScanLimits = z.infer<typeof ScanLimits>;

export const DEFAULT_SCAN_LIMITS: ScanLimits = { maxCommits: 5000, maxBytes: 64 * 1024 * 1024 };

export class PushTooLarge extends Error {}

export class ByteBudget implements ByteMeter {
  #spent = 0;

  constructor(
    readonly limit: number,
    readonly what: string,
  ) {}

  spend(bytes: number): void {
    this.#spent += bytes;
    if (this.#spent > this.limit) throw new PushTooLarge(`more than ${formatBytes(this.limit)} of ${this.what}`);
  }
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB`;
  if (bytes >= 1024) return `${Math.round((bytes / 1024) * 10) / 10} KiB`;
  return `${bytes} bytes`;
}
