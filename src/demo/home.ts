import { cpSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import lockfile from "proper-lockfile";
import { log } from "../log.js";
import { assetPaths } from "../package-root.js";
import { UserError } from "../user-error.js";

// `bot-bottle demo` runs in a BOT_BOTTLE_HOME of its own, never the user's:
// a dedicated folder in the user's cache folder. Under $HOME rather than a
// temporary folder, because every Docker engine can bind-mount from $HOME
// (colima, for one, shares nothing else by default), and the bottle's queue
// and logs are bind-mounted from its home. One fixed folder, used by one
// demo at a time: whatever a run finds in it was left by an earlier run that
// was killed before it could clean up.

/** A lock whose holder died is taken over after this long. */
const LOCK_STALE_MS = 10_000;

/** `$XDG_CACHE_HOME/bot-bottle/demo`, or `~/.cache/bot-bottle/demo`. */
export function demoHome(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(os.homedir(), ".cache");
  return path.join(cache, "bot-bottle", "demo");
}

/**
 * Takes the demo home for this run (`<home>.lock`, by proper-lockfile; the
 * lock of a killed run goes stale and is taken over). Returns the release.
 */
export async function claimDemoHome(home: string): Promise<() => Promise<void>> {
  mkdirSync(home, { recursive: true });
  try {
    return await lockfile.lock(home, {
      realpath: false,
      stale: LOCK_STALE_MS,
      // Long enough to outwait the stale lock of a killed run.
      retries: { retries: 12, minTimeout: 500, maxTimeout: 2_000 },
      onCompromised: (error) => log.warn({ err: error.message }, `the demo's lock on ${home} was lost`),
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ELOCKED") throw error;
    throw new UserError(`another bot-bottle demo is running (it holds ${home}.lock): wait for it to finish`);
  }
}

/** Copies the built-in demo bottle, agent and provider plugin (shipped in the package) into `home`, replacing older copies. */
export function writeDemoManifests(home: string): void {
  cpSync(assetPaths.demoHome, home, { recursive: true, force: true });
}
