import type { Bottle } from "./backend.js";

/** How often the probe asks inside the guest: cheap there, so a service is seen within this of coming up. */
const ASK_EVERY_MS = 25;
/** A request that hangs this long counts as no answer. */
const REQUEST_TIMEOUT_MS = 1_000;

/**
 * Asks `url` from inside the guest (as root, with node) until it answers
 * `status` or `windowMs` pass; true when it did. The asking loops inside one
 * exec: polling from the host costs a `docker exec` and a node start per try
 * (about 0.1 s each here), and the host-side backoff between tries then adds
 * up to a second of waiting after the service is already up.
 */
export async function guestAnswers(bottle: Bottle, url: string, status: number, windowMs: number): Promise<boolean> {
  const script = `const http = require("http");
const until = Date.now() + ${windowMs};
const retry = () => (Date.now() > until ? process.exit(1) : setTimeout(ask, ${ASK_EVERY_MS}));
function ask() {
  const req = http.get(${JSON.stringify(url)}, { timeout: ${REQUEST_TIMEOUT_MS} }, (res) => {
    res.resume();
    if (res.statusCode === ${status}) process.exit(0);
    retry();
  });
  req.on("timeout", () => req.destroy(new Error("timeout")));
  req.on("error", retry);
}
ask();`;
  return (await bottle.exec(["node", "-e", script], { user: "root", cwd: "/" })).exit_code === 0;
}
