import { z } from "zod";
import { shellQuote } from "../../shell-quote.js";
import { UserError } from "../../user-error.js";
import { hostGit, hostGitOk } from "./host-git.js";
import type { SeedRefs } from "./origin.js";

// Bringing a bottle's work home: every branch of its origin that differs from
// what the bottle started with is fetched into the host repository as
// refs/heads/bottle/<id>/<branch>, and nothing else there moves (no other
// ref, not HEAD, the index or the working tree). The fetch reads the gate's
// mirror as a remote, with a refspec fixed here, objects checked on arrival.

const MAX_COMMITS = 100;
const MAX_FILES = 200;

export const ChangedFile = z.object({
  path: z.string(),
  /** null for a binary file. */
  insertions: z.number().int().nullable(),
  deletions: z.number().int().nullable(),
});

export const ChangedBranch = z.object({
  /** The branch as the bottle named it. */
  branch: z.string(),
  /** Where it now is in the host repository. */
  ref: z.string(),
  head: z.string(),
  /** Newest first: commits on the branch that the start commit does not have (at most 100). */
  commits: z.array(z.object({ sha: z.string(), subject: z.string(), author: z.string() })),
  commits_total: z.number().int(),
  /** Against the commit the bottle started from. */
  diffstat: z.object({
    files_changed: z.number().int(),
    insertions: z.number().int(),
    deletions: z.number().int(),
    files: z.array(ChangedFile),
    files_truncated: z.boolean(),
  }),
});

export const BottleChanges = z.object({
  bottle_id: z.string(),
  /** The host repository the branches were fetched into. */
  repository: z.string(),
  /** The commit the bottle started from (null: the repository had none). */
  base: z.string().nullable(),
  branches: z.array(ChangedBranch),
  /** Refs under bottle/<id>/ removed because the bottle no longer has that branch changed. */
  removed: z.array(z.string()),
  /** The commit made from the workspace's uncommitted state, when asked for (null: not asked, or nothing to commit). */
  workspace_commit: z.object({ branch: z.string(), sha: z.string() }).nullable(),
});
export type BottleChanges = z.infer<typeof BottleChanges>;
export type ChangedBranch = z.infer<typeof ChangedBranch>;

export const bottleRefPrefix = (id: string) => `refs/heads/bottle/${id}/`;

/** `<sha> <name>` lines, as ls-remote and for-each-ref print them. */
function refLines(text: string, prefix: string): Map<string, string> {
  const refs = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^([0-9a-f]{40,64})\s+(\S+)$/.exec(line.trim());
    if (match && match[2]!.startsWith(prefix)) refs.set(match[2]!.slice(prefix.length), match[1]!);
  }
  return refs;
}

async function branchReport(repo: string, branch: string, ref: string, head: string, base: string | null): Promise<ChangedBranch> {
  const doing = `reading ${ref}`;
  // Without a start commit, the diff is against the empty tree (stdin is empty).
  const from = base ?? (await hostGitOk(repo, ["hash-object", "-t", "tree", "--stdin"], doing)).trim();
  const range = base ? [ref, "--not", base] : [ref];
  const log = await hostGitOk(repo, ["log", `--max-count=${MAX_COMMITS}`, "--format=%H%x1f%s%x1f%an <%ae>%x1e", ...range, "--"], doing);
  const commits = log
    .split("\x1e")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
    .map((entry) => {
      const [sha = "", subject = "", author = ""] = entry.split("\x1f");
      return { sha, subject, author };
    });
  const total = Number((await hostGitOk(repo, ["rev-list", "--count", ...range, "--"], doing)).trim());
  const numstat = await hostGitOk(repo, ["diff", "--numstat", "-z", "--no-renames", "--no-ext-diff", "--no-textconv", from, ref, "--"], doing);
  const files = numstat
    .split("\0")
    .filter((entry) => entry !== "")
    .map((entry) => {
      const [added = "-", removed = "-", ...rest] = entry.split("\t");
      return { path: rest.join("\t"), insertions: added === "-" ? null : Number(added), deletions: removed === "-" ? null : Number(removed) };
    });
  return {
    branch,
    ref,
    head,
    commits,
    commits_total: total,
    diffstat: {
      files_changed: files.length,
      insertions: files.reduce((sum, file) => sum + (file.insertions ?? 0), 0),
      deletions: files.reduce((sum, file) => sum + (file.deletions ?? 0), 0),
      files: files.slice(0, MAX_FILES),
      files_truncated: files.length > MAX_FILES,
    },
  };
}

/**
 * The mirror belongs to the gate's uid, not the host user, which git refuses
 * as "dubious ownership" unless told, and a local transport does not pass
 * `-c` on to upload-pack: the setting goes into upload-pack's own command.
 * Safe here: upload-pack is the one git command documented as safe to run in
 * an untrusted repository, and nothing else runs in the mirror.
 */
const trustOwner = (mirror: string) => [`--upload-pack=git -c ${shellQuote(`safe.directory=${mirror}`)} upload-pack`];

/** The branches of the bottle's origin (name -> commit), read as a remote. */
export async function originBranches(repo: string, mirror: string): Promise<Map<string, string>> {
  return refLines(await hostGitOk(repo, ["ls-remote", ...trustOwner(mirror), "--heads", "--", mirror], `reading the bottle's origin ${mirror}`), "refs/heads/");
}

export interface ImportRequest {
  id: string;
  /** The host repository (the bottle's cwd). */
  repo: string;
  /** The gate's mirror of the bottle's origin. */
  mirror: string;
  seed: SeedRefs;
  base: string | null;
}

/** Fetches the changed branches of the bottle's origin into the host repository and reports them. */
export async function importChanges(request: ImportRequest): Promise<Omit<BottleChanges, "workspace_commit">> {
  const { id, repo, mirror, seed, base } = request;
  const prefix = bottleRefPrefix(id);
  const top = await hostGit(repo, ["rev-parse", "--git-dir"]);
  if (top.exitCode !== 0) throw new UserError(`${repo} (bottle ${id}'s cwd) is no longer a git repository: ${top.stderr.trim()}`);

  const offered = await originBranches(repo, mirror);
  const changed = [...offered].filter(([branch, sha]) => seed[branch] !== sha).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (changed.length > 0) {
    await hostGitOk(
      repo,
      [
        "-c",
        "transfer.fsckObjects=true",
        "-c",
        "gc.auto=0",
        "fetch",
        ...trustOwner(mirror),
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        "--no-auto-maintenance",
        "--no-recurse-submodules",
        "--",
        mirror,
        ...changed.map(([branch]) => `+refs/heads/${branch}:${prefix}${branch}`),
      ],
      `fetching bottle ${id}'s branches into ${repo}`,
    );
  }
  const imported = refLines(await hostGitOk(repo, ["for-each-ref", "--format=%(objectname) %(refname)", prefix], `listing ${prefix}*`), prefix);
  const removed: string[] = [];
  for (const branch of imported.keys()) {
    if (changed.some(([name]) => name === branch)) continue;
    await hostGitOk(repo, ["update-ref", "-d", `${prefix}${branch}`], `removing ${prefix}${branch}`);
    removed.push(`${prefix}${branch}`);
  }
  const branches: ChangedBranch[] = [];
  for (const [branch, sha] of changed) branches.push(await branchReport(repo, branch, `${prefix}${branch}`, sha, base));
  return { bottle_id: id, repository: repo, base, branches, removed };
}

const short = (sha: string) => sha.slice(0, 12);

/** The changes as a person reads them, with the commands to review and merge each branch. */
export function describeChanges(changes: BottleChanges): string {
  const lines: string[] = [];
  if (changes.workspace_commit) lines.push(`Committed the workspace as ${short(changes.workspace_commit.sha)} on ${changes.workspace_commit.branch}.`);
  if (changes.branches.length === 0) {
    lines.push(`Bottle ${changes.bottle_id} has pushed nothing new to its origin (started from ${changes.base ? short(changes.base) : "no commit"}).`);
  } else {
    lines.push(`Bottle ${changes.bottle_id}: ${changes.branches.length} branch(es) in ${changes.repository}, against ${changes.base ? short(changes.base) : "an empty repository"}:`);
    for (const branch of changes.branches) {
      const stat = branch.diffstat;
      const name = branch.ref.replace(/^refs\/heads\//, "");
      lines.push(`  ${name} at ${short(branch.head)}: ${branch.commits_total} commit(s), ${stat.files_changed} file(s) changed, +${stat.insertions} -${stat.deletions}`);
      for (const commit of branch.commits.slice(0, 10)) lines.push(`    ${short(commit.sha)} ${commit.subject} (${commit.author})`);
      if (branch.commits_total > 10) lines.push(`    ... and ${branch.commits_total - 10} more`);
    }
    const first = changes.branches[0]!.ref.replace(/^refs\/heads\//, "");
    lines.push(`Review with \`git log -p ${changes.base ? `${short(changes.base)}..` : ""}${first}\`; merge with \`git merge ${first}\`.`);
  }
  if (changes.removed.length > 0) lines.push(`Removed ${changes.removed.join(", ")} (no longer changed in the bottle).`);
  return lines.join("\n");
}
