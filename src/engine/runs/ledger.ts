import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { RunId, RunStatus } from "../../../sidecars/runner/spec.js";
import { homePaths } from "../../home.js";
import { writeFileAtomic } from "../state.js";

// The host's record of background runs: `state/<bottle>/runs/<run_id>.json`,
// written when a run starts, so a new server process knows every run and
// which bottle holds it. The bottle's runner is the authority on how a run
// stands; the last final status seen is kept here too, so a run still has an
// answer after its bottle is gone.

export const LedgerEntry = z.object({
  run_id: RunId,
  bottle_id: z.string(),
  kind: z.enum(["command", "prompt"]),
  summary: z.string(),
  /** For prompts: the provider whose headless output the result is read from. */
  provider: z.string().nullable(),
  started_at: z.string(),
  final: RunStatus.nullable(),
});
export type LedgerEntry = z.infer<typeof LedgerEntry>;

export class RunLedger {
  constructor(private readonly home: string) {}

  #dir(bottle: string): string {
    return path.join(homePaths(this.home).stateOf(bottle), "runs");
  }

  write(entry: LedgerEntry): void {
    writeFileAtomic(path.join(this.#dir(entry.bottle_id), `${entry.run_id}.json`), `${JSON.stringify(entry, null, 2)}\n`);
  }

  /** Every run of one bottle, or of every bottle; entries that do not parse are skipped. */
  list(bottle?: string): LedgerEntry[] {
    const root = homePaths(this.home).state;
    const bottles = bottle !== undefined ? [bottle] : existsSync(root) ? readdirSync(root) : [];
    return bottles
      .flatMap((b) => {
        const dir = this.#dir(b);
        if (!existsSync(dir)) return [];
        return readdirSync(dir)
          .filter((name) => name.endsWith(".json"))
          .flatMap((name) => {
            const parsed = LedgerEntry.safeParse(JSON.parse(readFileSync(path.join(dir, name), "utf8")));
            return parsed.success && parsed.data.bottle_id === b ? [parsed.data] : [];
          });
      })
      .sort((a, b) => a.started_at.localeCompare(b.started_at));
  }

  find(runId: string): LedgerEntry | undefined {
    return this.list().find((entry) => entry.run_id === runId);
  }
}
