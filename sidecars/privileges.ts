import { chmodSync, chownSync, closeSync, copyFileSync, fchownSync, lstatSync, mkdirSync, openSync, readdirSync, statSync, writeSync } from "node:fs";
import path from "node:path";
import type { Secrets } from "./secrets-handoff.js";
import type { DaemonName } from "./contract.js";

// Privilege separation inside the sidecar bundle. Init starts as root and
// stays root only to supervise; each daemon runs as a uid of its own with no
// capabilities, so a daemon that an agent manages to subvert (supervise
// parses what the agent sends) can neither read another daemon's memory or
// /proc/<pid>/environ nor the secrets egress holds. All daemons share one
// group: the group of the host folders mounted into the bundle (queue, logs,
// live routes), which is the host user's, so a daemon can write there and the
// host user can read what it wrote, group-readable only.


/** High uids, unlikely to belong to anyone on the host (files a daemon writes into host folders carry its uid). */
export const DAEMON_UIDS: Record<DaemonName, number> = { egress: 64101, supervise: 64102, "git-gate": 64103 };

export interface Account {
  uid: number;
  gid: number;
}

export function accountOf(name: DaemonName, sharedGid: number): Account {
  return { uid: DAEMON_UIDS[name], gid: sharedGid };
}

/** The group of a host folder mounted into the bundle, as the bundle sees it (user namespaces may map it). */
export function sharedGroupOf(folder: string): number {
  return statSync(folder).gid;
}

/** The socket volume: every daemon may create its socket there, none may remove another's (sticky), and nobody else may enter. */
export function prepareSocketDir(dir: string, sharedGid: number): void {
  chownSync(dir, 0, sharedGid);
  chmodSync(dir, 0o1770);
}

function writePrivate(file: string, content: string, owner: Account): void {
  const fd = openSync(file, "wx", 0o400);
  try {
    writeSync(fd, content);
    fchownSync(fd, owner.uid, owner.gid);
  } finally {
    closeSync(fd);
  }
}

/** Which daemon a delivered secret belongs to: the git gate's keys to the gate, the rest to egress. */
export const isGateKey = (name: string) => name.startsWith("GIT_GATE_KEY_");

function privateFolder(privateDir: string, name: DaemonName, owner: Account): string {
  const dir = path.join(privateDir, name);
  mkdirSync(dir, { mode: 0o700 });
  chownSync(dir, owner.uid, owner.gid);
  return dir;
}

/**
 * Egress's folder on the bundle's private tmpfs, readable by egress's uid
 * alone: the secrets it injects and scans for, and private copies of the
 * files it is configured with (the bottle CA's key is mounted from the host
 * readable by root only). Returns the settings that point egress at them.
 */
export function prepareEgressPrivate(privateDir: string, egress: Account, secrets: Secrets, files: Record<string, string>): Record<string, string> {
  const dir = privateFolder(privateDir, "egress", egress);
  const settings: Record<string, string> = { EGRESS_SECRETS_FILE: path.join(dir, "secrets.json") };
  const own = Object.fromEntries(Object.entries(secrets).filter(([name]) => !isGateKey(name)));
  writePrivate(settings.EGRESS_SECRETS_FILE!, JSON.stringify(own), egress);
  for (const [setting, source] of Object.entries(files)) {
    const copy = path.join(dir, `${setting.toLowerCase()}.pem`);
    copyFileSync(source, copy);
    chmodSync(copy, 0o400);
    chownSync(copy, egress.uid, egress.gid);
    settings[setting] = copy;
  }
  return settings;
}

/**
 * The git gate's folder on the private tmpfs, readable by the gate's uid
 * alone: each repository's private key as the file named for its delivery
 * (`GIT_GATE_KEY_<n>`, 0400, as ssh insists), the known_hosts files the gate
 * writes next to them, and the bottle's declared secret values (egress's
 * tokens and known secrets), which a push must not carry. Returns the
 * settings that point the gate at them.
 */
export function prepareGatePrivate(privateDir: string, gate: Account, secrets: Secrets): Record<string, string> {
  const dir = privateFolder(privateDir, "git-gate", gate);
  const declared: Record<string, string> = {};
  for (const [name, value] of Object.entries(secrets)) {
    if (isGateKey(name)) writePrivate(path.join(dir, name), value.endsWith("\n") ? value : `${value}\n`, gate);
    else declared[name] = value;
  }
  const settings = { GIT_GATE_KEYS_DIR: dir, GIT_GATE_SECRETS_FILE: path.join(dir, "secrets.json") };
  writePrivate(settings.GIT_GATE_SECRETS_FILE, JSON.stringify(declared), gate);
  return settings;
}

/**
 * Walks a folder tree (symlinks are not followed: lchown/skip) and sets each
 * entry's owner and mode. Written by hand: Node has no recursive chown, and
 * a shell `chown -R` would be one more process per bottle start.
 */
function ownTree(root: string, owner: Account, dirMode: number, fileMode: (current: number) => number): void {
  const visit = (entry: string): void => {
    const stat = lstatSync(entry);
    if (stat.isSymbolicLink()) return;
    chownSync(entry, owner.uid, owner.gid);
    if (stat.isDirectory()) {
      chmodSync(entry, dirMode);
      for (const name of readdirSync(entry)) visit(path.join(entry, name));
    } else {
      chmodSync(entry, fileMode(stat.mode));
    }
  };
  visit(root);
}

/**
 * The git gate's mirrors become the gate's alone to write: owned by its uid,
 * readable by the shared group (the host user fetches a bottle's work from
 * them), writable by nobody else. Another daemon of the bundle (they share
 * the group) could otherwise rewrite a mirror's config or refs, and with
 * them run code as the gate, which holds the deploy keys. The gate gives
 * group write back when it stops (git-gate/main.ts), so the host user can
 * remove the bottle.
 */
export function prepareGateMirrors(mirrors: string, gate: Account): void {
  ownTree(mirrors, gate, 0o2750, () => 0o640);
}

/** What the gate does on its way out: the host user (the group) may remove the mirrors again. */
export function releaseGateMirrors(mirrors: string, gate: Account): void {
  ownTree(mirrors, gate, 0o2770, (mode) => (mode & 0o777) | 0o060);
}
