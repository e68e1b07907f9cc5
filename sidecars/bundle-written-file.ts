import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import path from "node:path";

/**
 * Reads a file in a folder the sidecar bundle can write (the supervise queue,
 * the live routes file's folder), as the host or the bundle itself must: a
 * symbolic link there could point at any file of the reader's, and a FIFO
 * would block the reader for ever. So the file is opened without following a
 * link and without waiting, and read only if it is a regular file of at most
 * `maxBytes`. Null when there is no such file; an Error for anything else.
 */
export function readBundleWrittenFile(file: string, maxBytes: number): string | null {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    if (code === "ELOOP") throw new Error(`${path.basename(file)} is a symbolic link, which is never followed`);
    throw error;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new Error(`${path.basename(file)} is not a regular file`);
    if (stats.size > maxBytes) throw new Error(`${path.basename(file)} is larger than ${maxBytes} bytes`);
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}
