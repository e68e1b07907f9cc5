import { chmodSync, chownSync, closeSync, copyFileSync, fchownSync, mkdirSync, openSync, statSync, writeSync } from "node:fs";
import path from "node:path";
import type { Secrets } from "./secrets-handoff.js";

// Privilege separation inside the sidecar bundle. Init starts as root and
// stays root only to supervise; each daemon runs as a uid of its own with no
// capabilities, so a daemon that an agent manages to subvert (supervise
// parses what the agent sends) can neither read another daemon's memory or
// /proc/<pid>/environ nor the secrets egress holds. All daemons share one
// group: the group of the host folders mounted into the bundle (queue, logs,
// live routes), which is the host user's, so a daemon can write there and the
// host user can read what it wrote, group-readable only.

export const DAEMONS = ["egress", "supervise", "git-gate"] as const;
export type DaemonName = (typeof DAEMONS)[number];

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

/**
 * Egress's folder on the bundle's private tmpfs, readable by egress's uid
 * alone: the secrets it injects and scans for, and private copies of the
 * files it is configured with (the bottle CA's key is mounted from the host
 * readable by root only). Returns the settings that point egress at them.
 */
export function prepareEgressPrivate(privateDir: string, egress: Account, secrets: Secrets, files: Record<string, string>): Record<string, string> {
  const dir = path.join(privateDir, "egress");
  mkdirSync(dir, { mode: 0o700 });
  chownSync(dir, egress.uid, egress.gid);
  const settings: Record<string, string> = { EGRESS_SECRETS_FILE: path.join(dir, "secrets.json") };
  writePrivate(settings.EGRESS_SECRETS_FILE!, JSON.stringify(secrets), egress);
  for (const [setting, source] of Object.entries(files)) {
    const copy = path.join(dir, `${setting.toLowerCase()}.pem`);
    copyFileSync(source, copy);
    chmodSync(copy, 0o400);
    chownSync(copy, egress.uid, egress.gid);
    settings[setting] = copy;
  }
  return settings;
}
