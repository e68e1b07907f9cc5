import { readFileSync } from "node:fs";
import { z } from "zod";

// What the gate serves, written by the engine from the bottle's `git-gate`
// (and its cwd) into a file the bundle mounts read-only. Keys are named, never
// inlined: each is a file the bundle's init hands the gate alone.

/** A repository's name in the gate's URLs (`http://127.0.0.1:9418/<name>.git`). */
export const GateRepoName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "must be a repository name (letters, digits, . _ -)");

export const GateUpstream = z.strictObject({
  /** The repository's SSH URL (ssh://user@host[:port]/path or user@host:path). */
  url: z.string().min(1),
  /** The one known_hosts line the upstream's host key must match. */
  host_key: z.string().min(1),
  /** The name of the private key's delivery (GIT_GATE_KEY_<n>), a file in the gate's private folder. */
  key: z.string().regex(/^GIT_GATE_KEY_[0-9]+$/),
});

export const GateRepo = z.strictObject({
  name: GateRepoName,
  /** null: the bottle's own origin (a copy of its cwd repository): pushes stay in the gate, for the host to fetch. */
  upstream: GateUpstream.nullable(),
});

export const GateConfig = z.strictObject({
  version: z.literal(1),
  repos: z.array(GateRepo),
});

export type GateUpstream = z.infer<typeof GateUpstream>;
export type GateRepo = z.infer<typeof GateRepo>;
export type GateConfig = z.infer<typeof GateConfig>;

/** The repo name the gate serves a bottle's cwd repository under. */
export const ORIGIN_REPO = "origin";

export function readGateConfig(file: string): GateConfig {
  const result = GateConfig.safeParse(JSON.parse(readFileSync(file, "utf8")));
  if (!result.success) throw new Error(`${file} is invalid: ${result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`);
  return result.data;
}
