import { existsSync } from "node:fs";
import path from "node:path";
import { type GateConfig, GateRepoName, ORIGIN_REPO } from "../../../sidecars/git-gate/config.js";
import { guestUrl } from "../../../sidecars/contract.js";
import { gateKeySecretName } from "../deploy-keys.js";
import type { GateRepoPlan } from "../plan-schema.js";
import { UserError } from "../../user-error.js";

// What the git gate serves a bottle, resolved from its `git-gate.repos` and
// its cwd: the gate's configuration (sidecars/git-gate/config.ts), and the
// URLs the agent's git is told to send to the gate instead of upstream.
// Pure: prepare writes the file, the engine seeds the origin mirror at launch.

export const gateUrl = (name: string) => guestUrl("git-gate", `/${name}.git`);
/** Where the agent reaches its cwd repository's copy (its `origin` remote). */
export const ORIGIN_URL = gateUrl(ORIGIN_REPO);

/**
 * The spellings of an upstream URL the agent's git may use: as declared, its
 * ssh:// and scp-like forms, and https, each with and without `.git`. Every
 * one is rewritten to the gate, so no spelling reaches the network (it could
 * not anyway: the agent has none) or bypasses the scan.
 */
export function upstreamSpellings(url: string): string[] {
  const ssh = /^ssh:\/\/(?:([^@/]+)@)?([^/:]+)(?::(\d+))?\/(.+)$/.exec(url);
  const scp = ssh ? null : /^(?:([^@/]+)@)?([^/:]+):(?!\/\/)(.+)$/.exec(url);
  const https = /^https?:\/\/(?:[^@/]+@)?([^/:]+)(?::\d+)?\/(.+)$/.exec(url);
  let host: string;
  let repoPath: string;
  let user = "git";
  let port: string | undefined;
  if (ssh) [, user = "git", host, port, repoPath] = ssh as unknown as [string, string, string, string | undefined, string];
  else if (scp) [, user = "git", host, repoPath] = scp as unknown as [string, string, string, string];
  else if (https) [, host, repoPath] = https as unknown as [string, string, string];
  else throw new UserError(`git-gate repository url ${JSON.stringify(url)} is not an ssh://, user@host:path or https:// URL`);
  const bare = repoPath.replace(/^\/+/, "").replace(/\.git$/, "");
  const forms = new Set<string>([url]);
  for (const suffix of ["", ".git"]) {
    forms.add(`ssh://${user}@${host}${port ? `:${port}` : ""}/${bare}${suffix}`);
    // scp-like paths are relative to the login's home, ssh:// paths absolute; forges take both.
    if (!port) forms.add(`${user}@${host}:${bare}${suffix}`).add(`${user}@${host}:/${bare}${suffix}`);
    forms.add(`https://${host}/${bare}${suffix}`);
  }
  return [...forms];
}

/**
 * The gate's configuration (gate.json): each declared repository, key n for
 * the n-th in name order, and the cwd repository as `origin` when there is
 * one. Null when there is nothing to serve.
 */
export function gateConfig(repos: GateRepoPlan[], origin: boolean): GateConfig | null {
  for (const repo of repos) {
    const { name } = repo;
    const checked = GateRepoName.safeParse(name);
    if (!checked.success) throw new UserError(`git-gate.repos.${name}: the name ${checked.error.issues[0]!.message}`);
    upstreamSpellings(repo.url);
    if (name === ORIGIN_REPO) throw new UserError(`git-gate.repos may not be named "${ORIGIN_REPO}": the gate serves the bottle's cwd repository under that name`);
  }
  if (repos.length === 0 && !origin) return null;
  return {
    version: 1,
    repos: [
      ...repos.map((repo, index) => ({ name: repo.name, upstream: { url: repo.url, host_key: repo.hostKey, key: gateKeySecretName(index) } })),
      ...(origin ? [{ name: ORIGIN_REPO, upstream: null }] : []),
    ],
  };
}

/** Whether a folder is a git repository the gate can serve as the bottle's origin. */
export const isGitRepository = (folder: string) => existsSync(path.join(folder, ".git"));
