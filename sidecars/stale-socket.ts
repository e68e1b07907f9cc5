import { lstatSync, rmSync } from "node:fs";

/**
 * Removes a socket file a previous run left behind, so the daemon can listen
 * again; anything else at that path is an error, never replaced.
 */
export function removeStaleSocket(path: string): void {
  try {
    if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new Error(`cannot inspect ${path}: ${(error as Error).message}`, { cause: error });
  }
  rmSync(path);
}
