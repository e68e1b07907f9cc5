import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import path from "node:path";

// How the secrets egress injects and scans for reach the bundle without
// passing through anything that keeps them: never the container's
// environment (which `docker inspect` shows and Docker stores on disk), never
// an argv, never a file on disk. The engine starts the bundle, then runs
// `node init.js receive-secrets` in it with the secrets on stdin; that writes
// them into the bundle's private tmpfs (root only), where init is waiting
// for them. Init then hands egress alone a copy it can read (see
// privileges.ts) and removes the delivery.

/** Names egress looks secrets up by (the routes file's token_env and known_secret_env), and the git gate's keys. */
const SECRET_NAME = /^(EGRESS_(TOKEN|SECRET)_[A-Za-z0-9_]+|GIT_GATE_KEY_[0-9]+)$/;

/** Secret values by name. */
export type Secrets = Record<string, string>;

const DELIVERY = "secrets.json";
const POLL_MS = 50;

function parse(text: string, where: string): Secrets {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error(`${where} is not JSON`);
  }
  // Checked by hand, not with a zod schema: init (PID 1 of every bundle) reads this, and zod would add about 11 MiB to it.
  if (typeof data !== "object" || data === null || Array.isArray(data)) throw new Error(`${where} is invalid: (root): must be an object of names to strings`);
  const problems = Object.entries(data).flatMap(([name, value]) => [
    ...(SECRET_NAME.test(name) ? [] : [`${name}: must be an EGRESS_TOKEN_, EGRESS_SECRET_ or GIT_GATE_KEY_<n> name`]),
    ...(typeof value === "string" ? [] : [`${name}: must be a string`]),
  ]);
  if (problems.length > 0) throw new Error(`${where} is invalid: ${problems.join("; ")}`);
  return data as Secrets;
}

/** Writes a delivery (the engine's side, through `init.js receive-secrets`): whole, 0600, renamed into place. */
export function deliverSecrets(privateDir: string, text: string): number {
  const secrets = parse(text, "the secrets on stdin");
  const file = path.join(privateDir, DELIVERY);
  const temp = `${file}.${process.pid}.tmp`;
  const fd = openSync(temp, "wx", 0o600);
  try {
    writeSync(fd, JSON.stringify(secrets));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
  return Object.keys(secrets).length;
}

/** Waits for the delivery (init's side), takes it, and removes it. */
export async function awaitSecrets(privateDir: string, timeoutMs: number): Promise<Secrets> {
  const file = path.join(privateDir, DELIVERY);
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`no secrets were delivered to ${privateDir} within ${timeoutMs / 1000} s (the engine runs \`init.js receive-secrets\` right after starting the bundle)`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const secrets = parse(readFileSync(file, "utf8"), file);
  rmSync(file);
  return secrets;
}

/** Reads the secrets file egress was given (egress's side). */
export function readSecretsFile(file: string): Secrets {
  return parse(readFileSync(file, "utf8"), file);
}
