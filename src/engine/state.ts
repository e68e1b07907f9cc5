import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { homePaths } from "../home.js";
import { UserError } from "../user-error.js";
import { type RecordedKey, RecordedKeys } from "./deploy-keys.js";
import { BottlePlan } from "./plan-schema.js";
import { BottleRecord } from "./records.js";

// Each bottle's host-side record lives in `state/<id>/`: plan.json (what was
// resolved), metadata.json (what happened) and deploy-keys.json (the deploy
// keys it made on forges, to delete at stop or gc). All are written
// atomically, so a crash leaves the old file or the new one, never half of one.

/** The metadata file: the public record plus the pid of the process starting it (to spot half-made bottles). */
export const BottleMetadata = BottleRecord.extend({
  starter_pid: z.number().int().nullable(),
  /** A warm-pool bottle: the starts it can serve (poolKey) and the process that keeps it (null once claimed). */
  pool: z.object({ key: z.string(), owner_pid: z.number().int() }).nullable().default(null),
});
export type BottleMetadata = z.infer<typeof BottleMetadata>;

/** A plan file that does not parse: written by another version of bot-bottle, or damaged. */
export class UnreadablePlan extends UserError {
  constructor(id: string, file: string, reason: string) {
    super(`bottle ${id}'s plan ${file} cannot be read by this version of bot-bottle (${reason}); \`bot-bottle stop ${id}\` still removes its containers and networks`);
  }
}

/** The disk (or the user's quota) is full: what a write there fails with. */
const OUT_OF_SPACE = new Set(["ENOSPC", "EDQUOT"]);

/** A write failed for lack of space: says where, and what to do. */
export class OutOfSpace extends UserError {
  constructor(file: string, code: string) {
    super(`no space left on the device that holds ${file} (${code}): free some space there (\`bot-bottle gc\` removes what stopped bottles left), then try again`);
  }
}

export function writeFileAtomic(file: string, content: string, mode = 0o600): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, content, { mode });
    renameSync(temp, file);
  } catch (error) {
    // A full disk leaves the temporary file half-written (or empty): it must not
    // stay behind as litter, and the caller should hear where space ran out
    // rather than a bare "ENOSPC: no space left on device, write".
    rmSync(temp, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code && OUT_OF_SPACE.has(code)) throw new OutOfSpace(file, code);
    throw error;
  }
}

export class StateStore {
  constructor(private readonly home: string) {}

  dir(id: string): string {
    return homePaths(this.home).stateOf(id);
  }

  writePlan(plan: BottlePlan): void {
    writeFileAtomic(path.join(this.dir(plan.id), "plan.json"), JSON.stringify(plan, null, 2) + "\n");
  }

  /** The bottle's plan; undefined when it has none. A plan this version cannot read (another version wrote it) is an UnreadablePlan. */
  readPlan(id: string): BottlePlan | undefined {
    const file = path.join(this.dir(id), "plan.json");
    if (!existsSync(file)) return undefined;
    let parsed;
    try {
      parsed = BottlePlan.safeParse(JSON.parse(readFileSync(file, "utf8")));
    } catch (error) {
      throw new UnreadablePlan(id, file, (error as Error).message);
    }
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new UnreadablePlan(id, file, `${issue.path.join(".") || "(top)"}: ${issue.message}`);
    }
    return parsed.data;
  }

  writeMetadata(metadata: z.input<typeof BottleMetadata>): void {
    writeFileAtomic(path.join(this.dir(metadata.id), "metadata.json"), JSON.stringify(BottleMetadata.parse(metadata), null, 2) + "\n");
  }

  readMetadata(id: string): BottleMetadata | undefined {
    const file = path.join(this.dir(id), "metadata.json");
    if (!existsSync(file)) return undefined;
    const parsed = BottleMetadata.safeParse(JSON.parse(readFileSync(file, "utf8")));
    return parsed.success ? parsed.data : undefined;
  }

  updateMetadata(id: string, change: Partial<BottleMetadata>): BottleMetadata {
    const current = this.readMetadata(id);
    if (!current) throw new Error(`no metadata for bottle ${id}`);
    const next = { ...current, ...change };
    this.writeMetadata(next);
    return next;
  }

  /** Records the deploy keys the bottle has on forges (none: the file goes). */
  writeDeployKeys(id: string, keys: RecordedKey[]): void {
    const file = path.join(this.dir(id), "deploy-keys.json");
    if (keys.length === 0) rmSync(file, { force: true });
    else writeFileAtomic(file, JSON.stringify(keys, null, 2) + "\n");
  }

  /** The deploy keys recorded for the bottle. A damaged record is an error, never "none": that would leave keys on a forge. */
  readDeployKeys(id: string): RecordedKey[] {
    const file = path.join(this.dir(id), "deploy-keys.json");
    if (!existsSync(file)) return [];
    let parsed;
    try {
      parsed = RecordedKeys.safeParse(JSON.parse(readFileSync(file, "utf8")));
    } catch (error) {
      throw new UserError(`bottle ${id}'s deploy key record ${file} is not JSON (${(error as Error).message}); delete the keys it names on their forge by hand, then the file`);
    }
    if (!parsed.success) {
      throw new UserError(`bottle ${id}'s deploy key record ${file} is invalid (${parsed.error.issues[0]!.message}); delete the keys it names on their forge by hand, then the file`);
    }
    return parsed.data;
  }

  /** Ids of every state folder, including ones without readable metadata (debris). */
  ids(): string[] {
    const root = homePaths(this.home).state;
    if (!existsSync(root)) return [];
    return readdirSync(root, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
  }

  remove(id: string): void {
    try {
      rmSync(this.dir(id), { recursive: true, force: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "EACCES" && code !== "EPERM") throw error;
      // The git gate hands its mirrors back when it stops; a bundle that was killed could not.
      throw new UserError(
        `cannot remove ${this.dir(id)}: ${(error as Error).message}. What is left belongs to the sidecars' users (a bundle that was killed, not stopped); remove it as root: sudo rm -rf ${this.dir(id)}`,
      );
    }
  }
}
