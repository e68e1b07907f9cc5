import { randomBytes } from "node:crypto";
import { linkSync, readdirSync, renameSync, rmSync, statSync, watch } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { readBundleWrittenFile } from "../bundle-written-file.js";
import { writeOwnedTemp } from "../owned-temp-file.js";

// The supervise queue: how a sidecar (egress holding a request, git-gate, the
// supervise MCP server) asks a human or an outer agent for a decision, and how
// the answer comes back. It is a plain folder, on the host at
// `$BOT_BOTTLE_HOME/queue/<bottle-id>/` and mounted read-write into the bundle,
// so that a restarted server still finds pending proposals, and so that the
// only thing the two sides share is files:
//
//   <id>.proposal.json   written once by whoever asks
//   <id>.answer.json     written once by whoever decides (first answer wins)
//
// Every file is written whole (temp file, then rename or link), mode 0640 in
// the folder's group: the bundle's daemons (each its own user) and the host
// user share that group, and nobody else may read the folder.
// Ids are 128 random bits, so nobody can answer a proposal they were not shown.
// Anything unexpected reads as a refusal: a missing queue, an answer that does
// not parse or names another id. Readers never follow a symbolic link out of
// the folder (the bundle can write one pointing at any host file) and read
// only regular files of a bounded size (a FIFO would block them for ever).

const ID_PATTERN = /^[0-9a-f]{32}$/;
const FILE_MODE = 0o640;
const DEFAULT_POLL_MS = 500;
/** Far above any real proposal or answer; a bigger file is not read into memory. */
const MAX_FILE_BYTES = 1024 * 1024;

export const ProposalId = z.string().regex(ID_PATTERN, "must be 32 lowercase hex digits");

/** What a proposal asks for; each kind defines its own payload. */
export const ProposalKind = z.enum(["egress-dlp", "egress-allow", "request-approval", "git-gate-suppression"]);

export const Proposal = z.strictObject({
  id: ProposalId,
  /** The bottle id the proposal comes from. */
  bottle: z.string().min(1),
  kind: ProposalKind,
  /** One line a person can decide on; never a secret value. */
  summary: z.string().min(1).max(2000),
  /** Kind-specific details, for tools that show more than the summary. */
  payload: z.record(z.string(), z.unknown()),
  created_at: z.iso.datetime(),
});

export const Answer = z.strictObject({
  id: ProposalId,
  decision: z.enum(["approve", "reject"]),
  notes: z.string().max(2000).optional(),
  /** An approval of an edited payload (`modify`): this replaces the proposal's payload. */
  modified: z.record(z.string(), z.unknown()).optional(),
  /**
   * An egress-allow approval that lets the requests it newly admits carry a
   * credential: widening the route that already injects the host's token, or
   * the token the proposal names. Absent: they go without any credential.
   */
  extend_credential: z.boolean().optional(),
  /** Who decided: a person, an outer agent, or the proposer itself when it gave up waiting. */
  decided_by: z.string().min(1),
  decided_at: z.iso.datetime(),
});

export type ProposalId = z.infer<typeof ProposalId>;
export type ProposalKind = z.infer<typeof ProposalKind>;
export type Proposal = z.infer<typeof Proposal>;
export type Answer = z.infer<typeof Answer>;

/** What waiting for an answer produced: an answer that parsed, a broken one (a refusal), or none in time. */
export type AnswerOutcome =
  | { kind: "answer"; answer: Answer }
  | { kind: "malformed"; reason: string }
  | { kind: "timeout" }
  | { kind: "aborted" };

export const newProposalId = (): ProposalId => randomBytes(16).toString("hex");

export const proposalFile = (dir: string, id: ProposalId) => path.join(dir, `${checkedId(id)}.proposal.json`);
export const answerFile = (dir: string, id: ProposalId) => path.join(dir, `${checkedId(id)}.answer.json`);

/** Ids become file names: anything but the id grammar could walk out of the folder. */
function checkedId(id: string): string {
  if (!ID_PATTERN.test(id)) throw new Error(`invalid proposal id ${JSON.stringify(id.slice(0, 40))}`);
  return id;
}

function requireQueue(dir: string): { uid: number; gid: number } {
  let stats;
  try {
    stats = statSync(dir);
  } catch (error) {
    throw new Error(`supervise queue ${dir} is unavailable: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (!stats.isDirectory()) throw new Error(`supervise queue ${dir} is not a folder`);
  return { uid: stats.uid, gid: stats.gid };
}

/** A complete temp file beside `file`, in a queue folder that must exist. */
function writeTemp(dir: string, file: string, content: string): string {
  requireQueue(dir);
  return writeOwnedTemp(file, content, FILE_MODE);
}

export function writeProposal(dir: string, proposal: Proposal): void {
  const checked = Proposal.parse(proposal);
  const file = proposalFile(dir, checked.id);
  renameSync(writeTemp(dir, file, `${JSON.stringify(checked, null, 2)}\n`), file);
}

/**
 * Writes the answer unless one exists already (a link cannot replace a file),
 * and returns the answer that stands: this one, or the one that came first.
 */
export function answerOnce(dir: string, answer: Answer): AnswerOutcome {
  return writeAnswerOnce(dir, answer).standing;
}

/**
 * answerOnce, also saying whether this call's answer is the one written. Two
 * deciders can send equal answers (the same decider name, the same
 * millisecond): only the link that succeeded tells them apart.
 */
export function writeAnswerOnce(dir: string, answer: Answer): { written: boolean; standing: AnswerOutcome } {
  const checked = Answer.parse(answer);
  const file = answerFile(dir, checked.id);
  const temp = writeTemp(dir, file, `${JSON.stringify(checked, null, 2)}\n`);
  try {
    linkSync(temp, file);
    return { written: true, standing: { kind: "answer", answer: checked } };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return { written: false, standing: readAnswer(dir, checked.id) ?? { kind: "malformed", reason: "the existing answer vanished" } };
  } finally {
    rmSync(temp, { force: true });
  }
}

/** The answer to `id`, if one has been written; a file that does not hold a valid answer to this id is a refusal. */
export function readAnswer(dir: string, id: ProposalId): AnswerOutcome | null {
  const file = answerFile(dir, id);
  let text: string | null;
  try {
    text = readBundleWrittenFile(file, MAX_FILE_BYTES);
  } catch (error) {
    return { kind: "malformed", reason: `answer unreadable: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` };
  }
  if (text === null) return null;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { kind: "malformed", reason: "answer is not JSON" };
  }
  const parsed = Answer.safeParse(data);
  if (!parsed.success) {
    return { kind: "malformed", reason: `answer is invalid: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}` };
  }
  if (parsed.data.id !== id) return { kind: "malformed", reason: "answer names another proposal" };
  return { kind: "answer", answer: parsed.data };
}

/**
 * Waits for the answer to `id`: woken by fs.watch on the folder, and polling
 * as well, because change events do not cross every kind of mount (Docker
 * Desktop's file sharing, network filesystems). Bounded by `timeoutMs`.
 */
export function waitForAnswer(
  dir: string,
  id: ProposalId,
  options: { timeoutMs: number; pollMs?: number; signal?: AbortSignal },
): Promise<AnswerOutcome> {
  const wanted = path.basename(answerFile(dir, id));
  return new Promise((resolve) => {
    let settled = false;
    let watcher: ReturnType<typeof watch> | null = null;
    const finish = (outcome: AnswerOutcome): void => {
      if (settled) return;
      settled = true;
      clearInterval(poll);
      clearTimeout(deadline);
      watcher?.close();
      options.signal?.removeEventListener("abort", onAbort);
      resolve(outcome);
    };
    const check = (): void => {
      const outcome = readAnswer(dir, id);
      if (outcome) finish(outcome);
    };
    const onAbort = (): void => finish({ kind: "aborted" });
    const poll = setInterval(check, options.pollMs ?? DEFAULT_POLL_MS);
    const deadline = setTimeout(() => {
      // One last look: an answer that landed between two polls still counts.
      check();
      finish({ kind: "timeout" });
    }, options.timeoutMs);
    try {
      watcher = watch(dir, (_event, name) => {
        if (name === null || name === wanted) check();
      });
      watcher.on("error", () => watcher?.close());
    } catch {
      // No watcher on this filesystem: the poll alone carries it.
    }
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener("abort", onAbort);
    check();
  });
}

/** The proposal `id` in this queue; null when there is none, an Error when the file does not hold a valid proposal with this id. */
export function readProposal(dir: string, id: ProposalId): Proposal | null {
  const text = readBundleWrittenFile(proposalFile(dir, id), MAX_FILE_BYTES);
  if (text === null) return null;
  const proposal = Proposal.parse(JSON.parse(text));
  if (proposal.id !== id) throw new Error(`proposal file ${id} names another proposal`);
  return proposal;
}

/** The ids in a queue folder: every proposal, and those of them that have an answer file. */
export function queueIds(dir: string): { proposals: ProposalId[]; answered: Set<ProposalId> } {
  const names = readdirSync(dir);
  const idsWith = (suffix: string) =>
    names.filter((name) => name.endsWith(suffix)).map((name) => name.slice(0, -suffix.length)).filter((id) => ID_PATTERN.test(id));
  return { proposals: idsWith(".proposal.json").sort(), answered: new Set(idsWith(".answer.json")) };
}

/** What asking and waiting came to: the answer that stands (or why there is none), or why the proposal could not even be written. */
export type Asked = { id: ProposalId; outcome: AnswerOutcome } | { id: null; error: string };

/**
 * Asks and waits, for a sidecar that holds something back until a decision
 * (egress's DLP holds, the git gate's suppressions): writes the proposal,
 * waits up to `timeoutMs`, and when no answer came records the refusal as
 * the answer, so the proposal is not left looking open; a decision that
 * lands at the same moment stands instead.
 */
export async function proposeAndWait(
  dir: string,
  proposal: Omit<Proposal, "id" | "created_at">,
  options: { timeoutMs: number; refusedBy: string },
): Promise<Asked> {
  const id = newProposalId();
  try {
    writeProposal(dir, { ...proposal, id, created_at: new Date().toISOString() });
  } catch (error) {
    return { id: null, error: `cannot write the proposal: ${(error as Error).message}` };
  }
  let outcome = await waitForAnswer(dir, id, { timeoutMs: options.timeoutMs });
  if (outcome.kind === "timeout") {
    try {
      outcome = answerOnce(dir, {
        id,
        decision: "reject",
        notes: `no answer within ${Math.round(options.timeoutMs / 1000)} s; the request was refused`,
        decided_by: options.refusedBy,
        decided_at: new Date().toISOString(),
      });
    } catch (error) {
      return { id, outcome: { kind: "malformed", reason: `no answer in time, and the refusal could not be recorded: ${(error as Error).message}` } };
    }
  }
  return { id, outcome };
}
