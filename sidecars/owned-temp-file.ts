import { randomBytes } from "node:crypto";
import { closeSync, fchownSync, fsyncSync, openSync, statSync, writeSync } from "node:fs";
import path from "node:path";

/**
 * Writes `content` to a new temp file beside `file`, complete and synced, and
 * owned like its folder (the bundle runs as root; the host user must be able
 * to read what it writes into a mounted folder). The caller renames or links
 * it into place, so readers never see half a file.
 */
export function writeOwnedTemp(file: string, content: string, mode: number): string {
  const owner = statSync(path.dirname(file));
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const fd = openSync(temp, "wx", mode);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
    try {
      fchownSync(fd, owner.uid, owner.gid);
    } catch {
      // Not root: the file is already ours, and ours is the folder's owner.
    }
  } finally {
    closeSync(fd);
  }
  return temp;
}
