import { z } from "zod";
import type { KnownSecret } from "../egress/dlp-detectors.js";
import { changedFiles } from "./commit-changes.js";
import { CatFile, type GitContext } from "./git-process.js";
import { pushedObjects, RefUpdate } from "./pushed-commits.js";
import { ByteBudget, DEFAULT_SCAN_LIMITS, PushTooLarge, ScanLimits } from "./scan-limits.js";
import { type Hit, SecretDetector } from "./secret-detection.js";

// The git gate's push scanner (design §6, invariant 4: a push with a secret
// in it never reaches the upstream). The pre-receive hook hands it the ref
// updates; it scans exactly what the push would add to the upstream: every
// line added by every pushed commit (a secret added in one commit and removed
// in a later one still travels in the history), new file names, commit and
// tag objects (messages and headers). A secretlint-disable comment that
// covers a finding turns it into a suppression, for a reviewer to approve;
// a declared secret value can never be suppressed. Anything it cannot scan
// within its limits is a finding: the push fails closed.

export const FindingPlace = z.enum(["file", "file-name", "commit", "tag", "push"]);

export const PushFinding = z.strictObject({
  place: FindingPlace.describe(
    "where the secret is: a file's content, a new file's name, a commit or tag object (message and headers), or the push as a whole (too large to scan, a ref to a non-commit)",
  ),
  commit: z.string().describe("the commit (for place tag: the tag object) holding it; empty for a finding about the whole push"),
  path: z.string().describe("the file, secrets in its name redacted; empty outside files"),
  line: z.number().int().min(0).describe("1-based line in the file at that commit, or in `git cat-file -p <commit>`; 0 for a file name or the whole push"),
  rule: z.string().min(1).describe("a secretlint rule id, known-secret:<NAME> for a declared secret value, token-pattern:<kind>, or push-too-large / unscannable-ref / findings-omitted"),
  message: z.string(),
  excerpt: z.string().describe("the line, with every secret on it replaced by a [REDACTED:...] marker"),
});
export type PushFinding = z.infer<typeof PushFinding>;

export const Suppression = PushFinding.extend({
  comment: z.strictObject({
    line: z.number().int().min(1),
    text: z.string().describe("the comment's line, redacted like an excerpt"),
    added: z.boolean().describe("whether the push adds the comment (false: it was already there and now covers a new secret)"),
  }),
});
export type Suppression = z.infer<typeof Suppression>;

export const PushScan = z.strictObject({
  findings: z.array(PushFinding),
  suppressions: z.array(Suppression),
});
export type PushScan = z.infer<typeof PushScan>;

export interface ScanPushInput {
  /** The bare repository receiving the push (git's working directory). */
  repoDir: string;
  /** Given to every git child: in a pre-receive hook, the quarantine environment that shows the pushed objects. */
  env: NodeJS.ProcessEnv;
  updates: { old: string; new: string; ref: string }[];
  /** The bottle's declared secret values; never part of the result. */
  knownSecrets: KnownSecret[];
  limits?: Partial<ScanLimits>;
}

/** Past this many, findings are counted, not listed: the push is refused either way. */
const MAX_LISTED = 1000;
/** Git's own test for binary content: a NUL in the first 8000 bytes. */
const isBinary = (content: Buffer) => content.subarray(0, 8000).includes(0);

/** The result under construction; every path shown goes through the detector's redaction once. */
class Report {
  readonly findings: PushFinding[] = [];
  readonly suppressions: Suppression[] = [];
  #omitted = 0;
  readonly #paths = new Map<string, string>();

  constructor(readonly detector: SecretDetector) {}

  async path(path: string): Promise<string> {
    let shown = this.#paths.get(path);
    if (shown === undefined) this.#paths.set(path, (shown = await this.detector.redacted(path)));
    return shown;
  }

  add(where: Pick<PushFinding, "place" | "commit" | "path">, hits: readonly Hit[]): void {
    for (const hit of hits) {
      if (this.findings.length + this.suppressions.length >= MAX_LISTED) {
        this.#omitted++;
        continue;
      }
      const finding: PushFinding = { ...where, line: where.place === "file-name" ? 0 : hit.line, rule: hit.rule, message: hit.message, excerpt: hit.excerpt };
      if (hit.suppressedBy) this.suppressions.push({ ...finding, comment: hit.suppressedBy });
      else this.findings.push(finding);
    }
  }

  addPush(rule: string, message: string, commit = ""): void {
    this.findings.push({ place: "push", commit, path: "", line: 0, rule, message, excerpt: "" });
  }

  result(): PushScan {
    if (this.#omitted > 0) this.addPush("findings-omitted", `${this.#omitted} more findings are not listed`);
    return PushScan.parse({ findings: this.findings, suppressions: this.suppressions });
  }
}

export async function scanPush(input: ScanPushInput): Promise<PushScan> {
  const updates = z.array(RefUpdate).parse(input.updates);
  const limits = { ...DEFAULT_SCAN_LIMITS, ...ScanLimits.partial().parse(input.limits ?? {}) };
  const git: GitContext = { cwd: input.repoDir, env: input.env };
  const report = new Report(new SecretDetector(input.knownSecrets));
  const { detector } = report;
  const content = new ByteBudget(limits.maxBytes, "pushed content");
  const catFile = new CatFile(git);
  try {
    const pushed = await pushedObjects(git, catFile, updates, limits.maxCommits, content);
    for (const { ref, oid, type } of pushed.unscannable) {
      report.addPush("unscannable-ref", `${await detector.redacted(ref)} points at a ${type}: the gate scans and forwards commits and annotated tags only`, oid);
    }
    for (const tag of pushed.tags) report.add({ place: "tag", commit: tag.oid, path: "" }, await detector.text(tag.content, "(tag object)", null));
    const changes = await changedFiles(git, pushed.commits, new ByteBudget(limits.maxBytes, "diff output"));
    for (const commit of pushed.commits) {
      report.add({ place: "commit", commit: commit.oid, path: "" }, await detector.text(commit.content, "(commit object)", null));
      for (const file of changes.get(commit.oid) ?? []) {
        const where = { commit: commit.oid, path: await report.path(file.path) };
        if (file.newPath) report.add({ ...where, place: "file-name" }, await detector.text(Buffer.from(file.path, "utf8"), "(file name)", null));
        const blob = (await catFile.read(file.blob, content)).content;
        if (isBinary(blob)) {
          const before: Buffer[] = [];
          for (const oid of file.before) before.push((await catFile.read(oid, content)).content);
          report.add({ ...where, place: "file" }, detector.binary(blob, before));
        } else {
          report.add({ ...where, place: "file" }, await detector.text(blob, file.path, file.added));
        }
      }
    }
  } catch (error) {
    if (!(error instanceof PushTooLarge)) throw error;
    report.addPush("push-too-large", `push too large to scan (${error.message}); split it into smaller pushes`);
  } finally {
    catFile.close();
  }
  return report.result();
}

/** Listed per kind in what the pusher is shown; the rest are counted. */
const MAX_DESCRIBED = 30;
const short = (oid: string) => oid.slice(0, 12);

function placeOf(item: PushFinding): string {
  switch (item.place) {
    case "file":
      return `${item.path}:${item.line} in commit ${short(item.commit)}`;
    case "file-name":
      return `the file name ${item.path} in commit ${short(item.commit)}`;
    case "commit":
      return `commit ${short(item.commit)}, line ${item.line} of its message and headers (git cat-file -p ${short(item.commit)})`;
    case "tag":
      return `tag object ${short(item.commit)}, line ${item.line} (git cat-file -p ${short(item.commit)})`;
    case "push":
      return "the push";
  }
}

function listed<T>(items: readonly T[], lines: (item: T) => string[]): string[] {
  const out = items.slice(0, MAX_DESCRIBED).flatMap(lines);
  if (items.length > MAX_DESCRIBED) out.push(`  ... and ${items.length - MAX_DESCRIBED} more`);
  return out;
}

/** What the gate prints to the pusher (git shows each line as `remote: ...`); empty for a clean push. */
export function describeFindings(scan: PushScan): string {
  const lines: string[] = [];
  const secrets = scan.findings.filter((item) => item.place !== "push");
  const pushLevel = scan.findings.filter((item) => item.place === "push");
  if (scan.findings.length > 0) {
    const found = secrets.length > 0 ? `: ${secrets.length} secret${secrets.length === 1 ? "" : "s"} found in the pushed commits` : "";
    lines.push(`git-gate: push refused, nothing was sent upstream${found}.`);
    for (const item of pushLevel) lines.push(`  ${item.message}${item.commit ? ` (${short(item.commit)})` : ""}`);
    lines.push(...listed(secrets, (item) => [`  ${placeOf(item)}: ${item.rule}: ${item.message}`, ...(item.excerpt ? [`      ${item.excerpt}`] : [])]));
    if (secrets.length > 0) {
      lines.push(
        "  To push: remove each secret from every commit that holds it, not only from the last one (the upstream would receive the",
        "  whole history): e.g. `git rebase -i <upstream branch>`, edit or reword those commits, then push again.",
        "  A secret that was real is exposed now: rotate it.",
      );
    }
  }
  if (scan.suppressions.length > 0) {
    const count = scan.suppressions.length;
    lines.push(`git-gate: ${count} finding${count === 1 ? " is" : "s are"} covered by secretlint-disable comments; a reviewer must approve ${count === 1 ? "it" : "them"} before the push is forwarded:`);
    lines.push(
      ...listed(scan.suppressions, (item) => [
        `  ${placeOf(item)}: ${item.rule}, covered by the comment on line ${item.comment.line}${item.comment.added ? " (added by this push)" : " (already there)"}`,
        `      ${item.excerpt}`,
        ...(item.comment.line !== item.line ? [`      comment: ${item.comment.text}`] : []),
      ]),
    );
    lines.push("  If the secret is real, remove it instead. A comment never covers a declared secret value.");
  }
  return lines.join("\n");
}
