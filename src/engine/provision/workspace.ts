import { existsSync, lstatSync, readdirSync } from "node:fs";
import path from "node:path";
import { shellQuote } from "../../shell-quote.js";
import { hostGitOk } from "../git-gate/host-git.js";
import { parseGitConfigList, rewriteGitConfigsScript, scrubGitConfig, type ScrubbedConfig } from "./workspace-git-config.js";
import { required, type ProvisionStep } from "./step.js";

/**
 * Creates the agent's workspace and, with a cwd, fills it with a copy of the
 * host repository (history included), its git configs scrubbed of the host's
 * credentials before the agent user owns anything. A copy, never a mount:
 * nothing the agent does can write back to the host folder.
 */
export const workspaceStep: ProvisionStep = {
  name: "workspace",
  describe: "preparing the workspace",
  after: [],
  async run(plan, bottle) {
    const workspace = shellQuote(plan.guest.workspace);
    await required(bottle, "workspace", `mkdir -p ${workspace}`);
    if (plan.cwd) {
      const [configs] = await Promise.all([hostRepoConfigs(plan.cwd), bottle.cpIn(plan.cwd, plan.guest.workspace)]);
      if (configs.length > 0) await required(bottle, "workspace", rewriteGitConfigsScript(plan.guest.workspace, configs));
    }
    await required(bottle, "workspace", `chown -R ${plan.guest.user}: ${workspace}`);
  },
};

/**
 * The git config files of the repository at `cwd` (its own, each submodule's
 * under .git/modules, each worktree's config.worktree), relative to `cwd`,
 * with the entries the bottle's copy keeps. A `.git` that is a file points at
 * a git dir outside the copy, so nothing of it is copied.
 */
async function hostRepoConfigs(cwd: string): Promise<ScrubbedConfig[]> {
  const files = isDirectory(path.join(cwd, ".git")) ? configFiles(".git", cwd) : [];
  return Promise.all(
    files.map(async (file) => {
      const listed = await hostGitOk(cwd, ["config", "--file", file, "--list", "-z"], `reading the git config ${path.join(cwd, file)}`);
      return { file, entries: scrubGitConfig(parseGitConfigList(listed)) };
    }),
  );
}

/** The config files of the git dir `gitDir` (relative to `root`) and of the git dirs of its submodules. */
function configFiles(gitDir: string, root: string): string[] {
  const found: string[] = [];
  const at = (relative: string) => path.join(root, relative);
  if (existsSync(at(path.join(gitDir, "config")))) found.push(path.join(gitDir, "config"));
  for (const worktree of subdirectories(at(path.join(gitDir, "worktrees")))) {
    const file = path.join(gitDir, "worktrees", worktree, "config.worktree");
    if (existsSync(at(file))) found.push(file);
  }
  // A submodule's git dir sits under modules/ at its (possibly nested) name; a folder holding HEAD is one.
  const walk = (folder: string) => {
    for (const name of subdirectories(at(folder))) {
      const child = path.join(folder, name);
      if (existsSync(at(path.join(child, "HEAD")))) found.push(...configFiles(child, root));
      else walk(child);
    }
  };
  walk(path.join(gitDir, "modules"));
  return found;
}

/** The names of the real folders (not links) in `folder`; none when it is missing. */
function subdirectories(folder: string): string[] {
  try {
    return readdirSync(folder, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
  } catch {
    return [];
  }
}

/** A real folder: a `.git` that is a link is copied as the link, and points at nothing in the guest. */
function isDirectory(file: string): boolean {
  try {
    return lstatSync(file).isDirectory();
  } catch {
    return false;
  }
}
