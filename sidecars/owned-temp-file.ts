import { randomBytes } from "node:crypto";
import { closeSync, fchownSync, fsyncSync, openSync, statSync, writeSync } from "node:fs";
import path from "node:path";

/**
 * Writes `content` to a new temp file beside `file`, complete and synced, in
 * the folder's group (the bundle's daemons and the host user share the group
 * of the mounted folders, and read each other's files through it), and owned
 * like the folder when the writer may give files away (root). The caller
 * renames or links it into place, so readers never see half a file.
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
      // Not root: keep our own uid, but take the folder's group if we are in it.
      try {
        fchownSync(fd, -1, owner.gid);
      } catch {
        // Not in the folder's group either: the file is ours, and ours is the folder's owner.
      }
    }
  } finally {
    closeSync(fd);
  }
  return temp;
}
