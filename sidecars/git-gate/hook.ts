import { proposeAndWait } from "../supervise/queue.js";
import type { GateRepo } from "./config.js";
import { git, lastWords, mirrorDir, type MirrorPlaces } from "./mirror.js";
import { isNullId } from "./git-process.js";
import { describeFindings, type PushScan, scanPush } from "./push-scan.js";
import { parseRefUpdates, type RefUpdate } from "./pushed-commits.js";

// The gate's pre-receive hook: git runs it in the mirror after the pushed
// objects arrived (in quarantine) and before any ref moves. Nothing leaves
// the bottle unless this says yes, in order: the pushed delta is scanned; a
// finding refuses the push before the upstream is contacted; a suppression
// comment in the delta asks a person (or the outer agent) through supervise;
// then, for a repository with an upstream, the push is forwarded there over
// SSH first, and only if the upstream takes it does the mirror's ref move
// (a refusal upstream leaves the mirror as the upstream has it).

export interface HookSettings {
  places: MirrorPlaces;
  repo: GateRepo;
  knownSecrets: { name: string; value: string }[];
  queue: { dir: string | null; bottle: string; timeoutMs: number };
}

/** Lines git shows the pusher as `remote: git-gate: ...`. */
const tell = (text: string) => process.stderr.write(text.split("\n").map((line) => `git-gate: ${line}\n`).join(""));

async function askToSuppress(settings: HookSettings, scan: PushScan, updates: RefUpdate[]): Promise<boolean> {
  const { queue, repo } = settings;
  if (queue.dir === null) {
    tell("the push suppresses secret findings, and this bottle has no supervise queue to ask: refused");
    return false;
  }
  const first = scan.suppressions[0]!;
  tell(`the push suppresses ${scan.suppressions.length} secret finding(s); asking for approval (waits up to ${Math.round(queue.timeoutMs / 1000)} s)`);
  const asked = await proposeAndWait(
    queue.dir,
    {
      bottle: queue.bottle,
      kind: "git-gate-suppression",
      summary: `push to ${repo.name} ${updates.map((u) => u.ref).join(", ")} suppresses ${first.rule} at ${first.path}:${first.line} (commit ${first.commit.slice(0, 7)})${scan.suppressions.length > 1 ? ` and ${scan.suppressions.length - 1} more` : ""}`,
      payload: { repo: repo.name, refs: updates.map((u) => u.ref), suppressions: scan.suppressions.slice(0, 20) },
    },
    { timeoutMs: queue.timeoutMs, refusedBy: "git-gate (timeout)" },
  );
  if (asked.id === null) {
    tell(`cannot ask for approval: ${asked.error}; refused`);
    return false;
  }
  const { outcome } = asked;
  if (outcome.kind === "answer" && outcome.answer.decision === "approve") {
    tell(`approved by ${outcome.answer.decided_by} (request ${asked.id})`);
    return true;
  }
  const why = outcome.kind === "answer" ? `refused by ${outcome.answer.decided_by}${outcome.answer.notes ? `: ${outcome.answer.notes}` : ""}` : `no usable answer (${outcome.kind})`;
  tell(`${why} (request ${asked.id})`);
  return false;
}

/** Forwards the pushed updates upstream, all or none, each only if the upstream still has what the pusher saw. */
async function forward(settings: HookSettings, updates: RefUpdate[]): Promise<boolean> {
  const cwd = mirrorDir(settings.places, settings.repo.name);
  const leases = updates.map((u) => `--force-with-lease=${u.ref}:${isNullId(u.old) ? "" : u.old}`);
  // No `+` on the refspecs: git lets a forced refspec override the lease, which would overwrite work pushed upstream since.
  const refspecs = updates.map((u) => (isNullId(u.new) ? `:${u.ref}` : `${u.new}:${u.ref}`));
  const pushed = await git(["push", "--porcelain", "--atomic", ...leases, "origin", ...refspecs], { cwd, env: process.env });
  if (pushed.code === 0) return true;
  tell(`the upstream (${settings.repo.upstream!.url}) refused the push; nothing changed here either:\n${(pushed.stdout + pushed.stderr).trim() || lastWords(pushed.stderr)}`);
  return false;
}

/** Runs the hook; the exit code git acts on (0: the refs move). */
export async function preReceive(settings: HookSettings, stdin: string): Promise<number> {
  const updates = parseRefUpdates(stdin);
  if (updates.length === 0) return 0;
  const scan = await scanPush({ repoDir: mirrorDir(settings.places, settings.repo.name), env: process.env, updates, knownSecrets: settings.knownSecrets });
  if (scan.findings.length > 0) {
    tell(`push refused: it would send ${scan.findings.length} secret(s) out of the bottle (nothing was sent upstream):`);
    tell(describeFindings(scan));
    return 1;
  }
  if (scan.suppressions.length > 0 && !(await askToSuppress(settings, scan, updates))) return 1;
  if (settings.repo.upstream && !(await forward(settings, updates))) return 1;
  return 0;
}
