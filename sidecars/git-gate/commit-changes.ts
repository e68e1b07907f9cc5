import { type ByteMeter, type GitContext, gitLines, gitText, isNullId } from "./git-process.js";
import { intersectRanges, type LineRanges } from "./line-ranges.js";

// What each pushed commit changed: the file versions it introduced and, for
// each, the lines it added. One `git diff-tree --stdin` compares every commit
// with each of its parents (a root commit with the empty tree) and reports
// both the changed paths (--raw) and the added lines (hunk headers of a
// zero-context patch). A merge introduces only what differs from every
// parent: the rest came from commits that are scanned themselves or are
// already upstream.

export interface PushedCommit {
  oid: string;
  tree: string;
  /** The trees of its parents, in order. */
  parentTrees: string[];
}

export interface ChangedFile {
  path: string;
  blob: string;
  /** The lines this commit added, or null when every line counts (git showed no line diff, e.g. a type change). */
  added: LineRanges;
  /** The blobs the parents held at this path (what a binary already contained). */
  before: string[];
  /** Whether no parent had this path. */
  newPath: boolean;
}

/** The `tree` and `parent` headers of a commit object. */
export function commitHeaders(content: Buffer): { tree: string; parents: string[] } {
  const end = content.indexOf("\n\n");
  const headers = content.toString("utf8", 0, end < 0 ? content.length : end).split("\n");
  const tree = headers.find((line) => line.startsWith("tree "))?.slice(5);
  if (!tree) throw new Error("a commit object without a tree header");
  return { tree, parents: headers.filter((line) => line.startsWith("parent ")).map((line) => line.slice(7)) };
}

async function emptyTree(git: GitContext): Promise<string> {
  return (await gitText(git, ["hash-object", "-t", "tree", "--stdin"], "")).trim();
}

interface RawEntry {
  srcMode: string;
  dstMode: string;
  src: string;
  dst: string;
  status: string;
}

interface TreeDiff {
  entries: Map<string, RawEntry>;
  /** Added line ranges per "src..dst" blob pair. */
  added: Map<string, [number, number][]>;
}

const NO_CHANGES: TreeDiff = { entries: new Map(), added: new Map() };
const PAIR_HEADER = /^([0-9a-f]{40,64}) ([0-9a-f]{40,64})$/;
const RAW_ENTRY = /^:(\d{6}) (\d{6}) ([0-9a-f]+) ([0-9a-f]+) ([A-Z])\d*\t(.*)$/;
const INDEX_LINE = /^index ([0-9a-f]+)\.\.([0-9a-f]+)/;
const HUNK_HEADER = /^@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;
const MINUS = 0x2d;
const PLUS = 0x2b;
const BACKSLASH = 0x5c;

/** Regular files and symbolic links have content; gitlinks (submodules) point at commits elsewhere. */
const hasContent = (mode: string) => mode === "100644" || mode === "100755" || mode === "120000";

/** Undoes git's C-style quoting of a path ("a\"b\303\251" -> a"bé). */
function unquotePath(text: string): string {
  if (!text.startsWith('"')) return text;
  const bytes: number[] = [];
  const simple: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, "\\": 92 };
  for (let i = 1; i < text.length - 1; i++) {
    const c = text[i]!;
    if (c !== "\\") {
      bytes.push(...Buffer.from(c, "utf8"));
      continue;
    }
    const next = text[++i]!;
    if (/[0-7]/.test(next)) {
      bytes.push(parseInt(text.slice(i, i + 3), 8));
      i += 2;
    } else {
      bytes.push(simple[next] ?? next.charCodeAt(0));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

/** Reads diff-tree's output: per tree pair, the raw entries and the added lines of each blob pair. */
class DiffParser {
  readonly diffs = new Map<string, TreeDiff>();
  #diff: TreeDiff | null = null;
  #blobs: string | null = null;
  /** Lines still to come in the current hunk, by side. */
  #oldLeft = 0;
  #newLeft = 0;

  line(line: Buffer): void {
    if (this.#oldLeft + this.#newLeft > 0) {
      const first = line[0];
      if (first === MINUS && this.#oldLeft > 0) this.#oldLeft--;
      else if (first === PLUS && this.#newLeft > 0) this.#newLeft--;
      else if (first !== BACKSLASH) throw new Error("unexpected line in git diff-tree output (hunk shorter than its header)");
      return;
    }
    if (line[0] === BACKSLASH || line.length === 0) return;
    const text = line.toString("latin1");
    const pair = PAIR_HEADER.exec(text);
    if (pair) {
      this.#diff = { entries: new Map(), added: new Map() };
      this.diffs.set(`${pair[1]} ${pair[2]}`, this.#diff);
      this.#blobs = null;
      return;
    }
    const diff = this.#diff;
    if (!diff) throw new Error("git diff-tree output does not start with a tree pair");
    const raw = RAW_ENTRY.exec(text);
    if (raw) {
      // Paths are ASCII here (core.quotePath escapes the rest), so reading them as latin1 lost nothing.
      const [, srcMode, dstMode, src, dst, status, path] = raw as unknown as [string, string, string, string, string, string, string];
      diff.entries.set(unquotePath(path), { srcMode, dstMode, src, dst, status });
      return;
    }
    if (text.startsWith("diff --git ")) {
      this.#blobs = null;
      return;
    }
    const index = INDEX_LINE.exec(text);
    if (index) {
      this.#blobs = `${index[1]}..${index[2]}`;
      return;
    }
    const hunk = HUNK_HEADER.exec(text);
    if (hunk) {
      if (!this.#blobs) throw new Error("a hunk without an index line in git diff-tree output");
      this.#oldLeft = hunk[1] === undefined ? 1 : Number(hunk[1]);
      const start = Number(hunk[2]);
      this.#newLeft = hunk[3] === undefined ? 1 : Number(hunk[3]);
      if (this.#newLeft > 0) {
        const ranges = diff.added.get(this.#blobs) ?? [];
        ranges.push([start, start + this.#newLeft]);
        diff.added.set(this.#blobs, ranges);
      }
    }
    // Anything else is a header git writes around a file's patch (modes, ---/+++, "Binary files differ").
  }
}

/**
 * The files each commit introduced. `meter` bounds how much diff output is
 * read (a huge push stops here, before any of it is scanned).
 */
export async function changedFiles(git: GitContext, commits: readonly PushedCommit[], meter: ByteMeter): Promise<Map<string, ChangedFile[]>> {
  const empty = await emptyTree(git);
  const pairsOf = (commit: PushedCommit) => (commit.parentTrees.length ? commit.parentTrees : [empty]).map((parent) => `${parent} ${commit.tree}`);
  const pairs = new Set(commits.flatMap(pairsOf));
  const parser = new DiffParser();
  if (pairs.size > 0) {
    await gitLines(
      git,
      // Plumbing ignores diff drivers and colour, but the flags say so anyway; -D leaves deleted files' content out.
      ["-c", "core.quotePath=true", "diff-tree", "--stdin", "-r", "--raw", "-p", "-U0", "-D", "--no-renames", "--full-index", "--no-color", "--no-ext-diff", "--no-textconv"],
      { input: [...pairs].map((pair) => `${pair}\n`).join(""), meter, onLine: (line) => parser.line(line) },
    );
  }
  const result = new Map<string, ChangedFile[]>();
  for (const commit of commits) {
    const diffs = pairsOf(commit).map((pair) => parser.diffs.get(pair) ?? NO_CHANGES);
    const files: ChangedFile[] = [];
    for (const [path, entry] of diffs[0]!.entries) {
      if (!hasContent(entry.dstMode) || isNullId(entry.dst)) continue;
      const perParent = diffs.map((diff) => diff.entries.get(path));
      // Unchanged relative to some parent: the content came from that parent.
      if (perParent.some((parentEntry) => parentEntry === undefined)) continue;
      let added: LineRanges = null;
      const before: string[] = [];
      for (const [i, parentEntry] of (perParent as RawEntry[]).entries()) {
        // Same blob (a mode change): no line is new. No hunks recorded: git showed no line diff, so every line counts.
        const lines = parentEntry.src === parentEntry.dst ? [] : (diffs[i]!.added.get(`${parentEntry.src}..${parentEntry.dst}`) ?? null);
        added = intersectRanges(added, lines);
        if (hasContent(parentEntry.srcMode) && !isNullId(parentEntry.src)) before.push(parentEntry.src);
      }
      files.push({ path, blob: entry.dst, added, before, newPath: perParent.every((parentEntry) => parentEntry!.status === "A") });
    }
    result.set(commit.oid, files);
  }
  return result;
}
