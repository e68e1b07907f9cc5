import { z } from "zod";
import { commitHeaders, type PushedCommit } from "./commit-changes.js";
import { type ByteMeter, type CatFile, type GitContext, gitLines, isNullId } from "./git-process.js";
import { PushTooLarge } from "./scan-limits.js";

// What a push adds, from the ref updates a pre-receive hook is given: for an
// updated ref the commits old..new, for a new ref the commits reachable from
// nothing the repository had before (during pre-receive, git still shows the
// refs as they were before the push), for a deleted ref nothing. Annotated
// tags are pushed objects too (their messages can leak), and a ref may point
// at a tree or a blob, whose content no commit range covers.

const OBJECT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const ObjectId = z.string().regex(OBJECT_ID, "must be a full hex object id");
export const RefUpdate = z.strictObject({ old: ObjectId, new: ObjectId, ref: z.string().min(1) });
export type RefUpdate = z.infer<typeof RefUpdate>;

/** The hook's stdin: one `<old> <new> <ref>` line per updated ref. */
export function parseRefUpdates(text: string): RefUpdate[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [old, updated, ref] = line.trim().split(" ");
      const update = RefUpdate.safeParse({ old, new: updated, ref });
      if (!update.success) throw new Error(`not an "<old> <new> <ref>" line: ${JSON.stringify(line.slice(0, 300))}`);
      return update.data;
    });
}

export interface PushedCommitObject extends PushedCommit {
  content: Buffer;
}

export interface PushedObjects {
  /** The commits in the pushed delta, each once. */
  commits: PushedCommitObject[];
  /** Annotated tag objects the updated refs point at, directly or through other tags. */
  tags: { oid: string; content: Buffer }[];
  /** Refs whose new value is neither a commit nor a tag of one. */
  unscannable: { ref: string; oid: string; type: string }[];
}

/** Tags of tags of ...: a chain this long is not a real tag. */
const MAX_TAG_DEPTH = 16;

export async function pushedObjects(
  git: GitContext,
  catFile: CatFile,
  updates: readonly RefUpdate[],
  maxCommits: number,
  meter: ByteMeter,
): Promise<PushedObjects> {
  const tags = new Map<string, Buffer>();
  const unscannable: PushedObjects["unscannable"] = [];
  const ranges: string[][] = [];
  for (const update of updates) {
    if (isNullId(update.new)) continue;
    let oid = update.new;
    let object = await catFile.read(oid, meter);
    for (let depth = 0; object.type === "tag" && depth < MAX_TAG_DEPTH; depth++) {
      tags.set(oid, object.content);
      // A tag object's first header names what it tags.
      const target = /^object ([0-9a-f]+)\n/.exec(object.content.toString("latin1"))?.[1];
      if (!target || !OBJECT_ID.test(target)) break;
      oid = target;
      object = await catFile.read(oid, meter);
    }
    if (object.type === "commit") ranges.push([oid, "--not", isNullId(update.old) ? "--all" : update.old]);
    else unscannable.push({ ref: update.ref, oid, type: object.type });
  }

  const oids = new Set<string>();
  for (const range of ranges) {
    // One more than allowed is enough to know the push is too large.
    await gitLines(git, ["rev-list", `--max-count=${maxCommits + 1}`, ...range], { onLine: (line) => oids.add(line.toString("latin1")) });
    if (oids.size > maxCommits) throw new PushTooLarge(`more than ${maxCommits} commits`);
  }

  const objects = new Map<string, PushedCommitObject>();
  const trees = new Map<string, string>();
  const parentsOf = new Map<string, string[]>();
  for (const oid of oids) {
    const { content } = await catFile.read(oid, meter);
    const { tree, parents } = commitHeaders(content);
    trees.set(oid, tree);
    parentsOf.set(oid, parents);
    objects.set(oid, { oid, tree, parentTrees: [], content });
  }
  for (const [oid, parents] of parentsOf) {
    for (const parent of parents) {
      if (!trees.has(parent)) trees.set(parent, commitHeaders((await catFile.read(parent, meter)).content).tree);
      objects.get(oid)!.parentTrees.push(trees.get(parent)!);
    }
  }
  return { commits: [...objects.values()], tags: [...tags].map(([oid, content]) => ({ oid, content })), unscannable };
}
