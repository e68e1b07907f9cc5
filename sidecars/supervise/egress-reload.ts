import http from "node:http";
import { ROUTES_DIGEST_HEADER } from "../egress/routes.js";
import { HEALTH_PATH } from "../contract.js";

// Waits until egress serves the routes just written: egress watches its
// routes file and reloads when it changes (supervise runs as another user
// and may not signal it), and its health answer names the digest of the
// routes it loaded. Only once that digest is the one just written may the
// agent be told that its route is live.

const POLL_MS = 50;

export interface EgressReloadSettings {
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

/** A function that resolves once egress serves the routes whose sha256 is `digest`, or throws past the timeout. */
export function egressReloader(settings: EgressReloadSettings): (digest: string) => Promise<void> {
  return async (digest) => {
    const deadline = Date.now() + settings.timeoutMs;
    for (;;) {
      const loaded = await loadedDigest(settings.egressSocket);
      if (loaded === digest) return;
      if (Date.now() >= deadline) {
        throw new Error(`egress did not load the new routes within ${settings.timeoutMs} ms (it serves ${loaded ?? "no answer"}); see the bundle's log`);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  };
}
