import http from "node:http";
import { ROUTES_DIGEST_HEADER } from "../egress/routes.js";

// Asks egress to reload its routes and waits until it has: the bundle's init
// forwards SIGHUP to egress, and egress's health answer names the digest of
// the routes it loaded. Only once that digest is the one just written may the
// agent be told that its route is live.

const HEALTH_PATH = "/__bot-bottle/health";
const POLL_MS = 50;

export interface EgressReloadSettings {
  /** The bundle's init, which forwards SIGHUP to egress; null outside the bundle (reloads then fail). */
  initPid: number | null;
  /** Egress's Unix socket, for its health endpoint. */
  egressSocket: string;
  timeoutMs: number;
}

function loadedDigest(socketPath: string): Promise<string | null> {
  return new Promise((resolve) => {
    const request = http.get({ socketPath, path: HEALTH_PATH, timeout: 2_000 }, (response) => {
      response.resume();
      const digest = response.headers[ROUTES_DIGEST_HEADER.toLowerCase()];
      resolve(response.statusCode === 200 && typeof digest === "string" ? digest : null);
    });
    request.on("timeout", () => request.destroy());
    request.on("error", () => resolve(null));
  });
}

/**
 * A function that reloads egress and resolves once egress serves the routes
 * whose sha256 is `digest`. The signal is sent only once egress answers: until
 * then it has no SIGHUP handler (a signal would kill it), and when it does
 * answer it may already have loaded the new file at its start.
 */
export function egressReloader(settings: EgressReloadSettings): (digest: string) => Promise<void> {
  return async (digest) => {
    if (settings.initPid === null) throw new Error("egress cannot be reloaded: supervise is not running under the bundle's init");
    const deadline = Date.now() + settings.timeoutMs;
    let signalled = false;
    for (;;) {
      const loaded = await loadedDigest(settings.egressSocket);
      if (loaded === digest) return;
      if (loaded !== null && !signalled) {
        process.kill(settings.initPid, "SIGHUP");
        signalled = true;
      }
      if (Date.now() >= deadline) {
        throw new Error(`egress did not load the new routes within ${settings.timeoutMs} ms (it serves ${loaded ?? "no answer"}); see the bundle's log`);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  };
}
