import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { GateRepo, GateUpstream } from "./config.js";

// The gate's bare mirrors, one per repository: created on first use, brought
// in step with the upstream before every fetch (a mirror is never served
// stale: when the upstream cannot be reached, the fetch fails), and
// reached only over SSH with the repository's own key and pinned host key.

export interface MirrorPlaces {
  /** Folder of the bare mirrors (`<name>.git`). */
  mirrors: string;
  /** The gate's private folder: the keys (`GIT_GATE_KEY_<n>`) and known_hosts files. */
  keys: string;
  /** The hooks every mirror runs (the gate's pre-receive). */
  hooks: string;
}

export const mirrorDir = (places: MirrorPlaces, name: string) => path.join(places.mirrors, `${name}.git`);
const knownHostsFile = (places: MirrorPlaces, name: string) => path.join(places.keys, `${name}.known_hosts`);

/** SSH as the gate may use it: this key only, this host key only, never a prompt or an agent, and a bounded connect. */
export function sshCommand(places: MirrorPlaces, repo: GateRepo & { upstream: GateUpstream }): string {
  const options = [
    "-F /dev/null",
    `-i ${path.join(places.keys, repo.upstream.key)}`,
    "-o IdentitiesOnly=yes",
    "-o IdentityAgent=none",
    "-o StrictHostKeyChecking=yes",
    `-o UserKnownHostsFile=${knownHostsFile(places, repo.name)}`,
    "-o GlobalKnownHostsFile=/dev/null",
    "-o BatchMode=yes",
    "-o ConnectTimeout=15",
    "-o LogLevel=ERROR",
  ];
  return `ssh ${options.join(" ")}`;
}

/** The environment of every git the gate runs for a repository (and of its hooks). */
export function gitEnv(places: MirrorPlaces, repo: GateRepo): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GIT_TERMINAL_PROMPT: "0",
    GIT_CONFIG_NOSYSTEM: "1",
    HOME: places.keys,
    ...(repo.upstream ? { GIT_SSH_COMMAND: sshCommand(places, repo as GateRepo & { upstream: GateUpstream }) } : {}),
  };
}

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function git(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; input?: string }): Promise<GitResult> {
  return new Promise((resolve) => {
    const child = spawn("git", args, { cwd: options.cwd, env: options.env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", (error) => resolve({ code: 127, stdout: "", stderr: `cannot run git: ${error.message}` }));
    child.on("close", (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }));
    // git may not read its stdin at all (and close it first): that is no error here.
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
  });
}

/** Creates the bare mirror and its settings (idempotent). */
export async function ensureMirror(places: MirrorPlaces, repo: GateRepo): Promise<void> {
  const dir = mirrorDir(places, repo.name);
  const env = gitEnv(places, repo);
  if (!existsSync(path.join(dir, "HEAD"))) {
    const made = await git(["init", "--bare", "--quiet", "--shared=0640", "--template=", dir], { cwd: places.mirrors, env });
    if (made.code !== 0) throw new Error(`cannot create the mirror of ${repo.name}: ${made.stderr.trim()}`);
  }
  const settings: [string, string][] = [
    ["core.hooksPath", places.hooks],
    ["http.uploadpack", "true"],
    ["http.receivepack", "true"],
    // Pushed objects are checked before anything else looks at them.
    ["receive.fsckObjects", "true"],
    ["gc.auto", "0"],
    // Readable by the group (the host user reads a bottle's work from here), writable by the gate alone.
    ["core.sharedRepository", "0640"],
  ];
  if (repo.upstream) {
    settings.push(["remote.origin.url", repo.upstream.url]);
    writeFileSync(knownHostsFile(places, repo.name), `${repo.upstream.host_key.trim()}\n`, { mode: 0o600 });
  }
  for (const [key, value] of settings) {
    const set = await git(["config", key, value], { cwd: dir, env });
    if (set.code !== 0) throw new Error(`cannot configure the mirror of ${repo.name}: ${set.stderr.trim()}`);
  }
}

/** What git says after any failed remote call, whatever the reason; the reason (ssh's) comes before it. */
const BOILERPLATE = /^(fatal: Could not read from remote repository\.|Please make sure you have the correct access rights|and the repository exists\.)$/;

/** The last lines of git's complaint, as one line (ssh and git are verbose; the reason is at the end). */
export const lastWords = (stderr: string) =>
  stderr
    .trim()
    .split("\n")
    .filter((line) => line.trim() !== "" && !BOILERPLATE.test(line.trim()))
    .slice(-3)
    .join("; ");

/**
 * Brings the mirror in line with the upstream: every branch and tag as the
 * upstream has it (pruned), and HEAD on the upstream's default branch.
 * Throws when the upstream cannot be reached: nothing is served stale.
 */
export async function refreshMirror(places: MirrorPlaces, repo: GateRepo): Promise<void> {
  if (!repo.upstream) return;
  const cwd = mirrorDir(places, repo.name);
  const env = gitEnv(places, repo);
  const fetched = await git(["fetch", "--quiet", "--prune", "--no-write-fetch-head", "origin", "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"], { cwd, env });
  if (fetched.code !== 0) throw new Error(`cannot reach the upstream of ${repo.name} (${repo.upstream.url}): ${lastWords(fetched.stderr)}`);
  const head = await git(["ls-remote", "--symref", "origin", "HEAD"], { cwd, env });
  if (head.code !== 0) throw new Error(`cannot read the default branch of ${repo.name}: ${lastWords(head.stderr)}`);
  const branch = /^ref: (refs\/heads\/\S+)\tHEAD$/m.exec(head.stdout)?.[1];
  if (branch) await git(["symbolic-ref", "HEAD", branch], { cwd, env });
}
