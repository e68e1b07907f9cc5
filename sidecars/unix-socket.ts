import { chmodSync, lstatSync, rmSync } from "node:fs";

// The Unix sockets the bundle's daemons serve in the socket volume.

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

/**
 * Lets anyone who can reach the socket connect to it: the socket volume's own
 * permissions decide who that is (root and the daemons' group in the bundle;
 * the agent's forwarder, as root, in the agent), and the forwarder must not
 * need root's power to override file permissions to connect.
 */
export function openToPeers(path: string): void {
  chmodSync(path, 0o666);
}
