import { chmodSync, existsSync, readFileSync } from "node:fs";
import { z } from "zod";
import { UserError } from "../../user-error.js";
import { writeFileAtomic } from "../state.js";
import { hostGit, hostGitOk } from "./host-git.js";

// The bottle's `origin`: a bare copy of its cwd repository that the git gate
// serves the agent (http://127.0.0.1:9418/origin.git). The engine makes it on
// the host before the bundle starts, in a folder the bundle mounts; from then
// on only the gate writes it, through its scan, and the engine only reads it
// back as a remote (changes.ts).

/** The branches the copy started with (branch name -> commit), kept host-side beside the plan. */
export const SeedRefs = z.record(z.string(), z.string());
export type SeedRefs = z.infer<typeof SeedRefs>;

/** The commit the bottle starts from: the repository's HEAD, or null when it has no commit yet. */
export async function startCommitOf(cwd: string): Promise<string | null> {
  const head = await hostGit(cwd, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]);
  return head.exitCode === 0 ? head.stdout.trim() : null;
}

/**
 * Makes the bare copy of `cwd` at `mirror`: every branch and tag, HEAD on the
 * repository's current branch. Shared with the group (the host user's, which
 * the gate's uid runs in), so the gate can add to it; nobody else may enter.
 */
export async function seedOrigin(cwd: string, mirror: string): Promise<SeedRefs> {
  const doing = `copying ${cwd} as the bottle's origin`;
  await hostGitOk(cwd, ["init", "--bare", "--quiet", "--shared=group", "--template=", mirror], doing);
  chmodSync(mirror, 0o2770);
  await hostGitOk(mirror, ["config", "gc.auto", "0"], doing);
  await hostGitOk(
    mirror,
    ["fetch", "--quiet", "--no-write-fetch-head", "--no-auto-maintenance", "--", cwd, "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"],
    doing,
  );
  const branch = await hostGit(cwd, ["symbolic-ref", "--quiet", "HEAD"]);
  if (branch.exitCode === 0) await hostGitOk(mirror, ["symbolic-ref", "HEAD", branch.stdout.trim()], doing);
  const listed = await hostGitOk(mirror, ["for-each-ref", "--format=%(objectname) %(refname:lstrip=2)", "refs/heads"], doing);
  return Object.fromEntries(
    listed
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => [line.slice(line.indexOf(" ") + 1), line.slice(0, line.indexOf(" "))]),
  );
}

export function writeSeedRefs(file: string, refs: SeedRefs): void {
  writeFileAtomic(file, JSON.stringify(refs, null, 2) + "\n");
}

export function readSeedRefs(file: string): SeedRefs {
  if (!existsSync(file)) throw new UserError(`${file} is missing: the bottle's origin was never made (did its start fail?)`);
  const parsed = SeedRefs.safeParse(JSON.parse(readFileSync(file, "utf8")));
  if (!parsed.success) throw new UserError(`${file} is invalid: ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}
