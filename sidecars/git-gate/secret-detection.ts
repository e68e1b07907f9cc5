import { isUtf8 } from "node:buffer";
import path from "node:path";
import { lintSource } from "@secretlint/core";
import { secretLintProfiler } from "@secretlint/profiler";
import { rules as recommendedRules } from "@secretlint/secretlint-rule-preset-recommend";
import { type Finding, fingerprintOf, type KnownSecret, redactRanges, Scanner } from "../egress/dlp-detectors.js";
import { LineIndex, type LineRanges, touchesRanges } from "./line-ranges.js";

// Finding secrets in one piece of pushed content: secretlint's recommended
// rules (text only), and egress's DLP detectors for the bottle's declared
// secret values (in the encodings egress knows) and well-known token shapes
// (text and binary). Every string this module returns has its secrets
// replaced by markers; no secret value leaves it.

type LintMessage = Awaited<ReturnType<typeof lintSource>>["messages"][number];

const FILTER_COMMENTS = "@secretlint/secretlint-rule-filter-comments";
/** The preset leaves AWS access key ids to an opt-in; a gate wants them (they name a credential). */
const RULE_OPTIONS: Record<string, object> = { "@secretlint/secretlint-rule-aws": { enableIDScanRule: true } };
const describeRules = (rules: typeof recommendedRules) => rules.map((rule) => ({ id: rule.meta.id, rule, options: RULE_OPTIONS[rule.meta.id] ?? {} }));
/** Everything the preset detects, with nothing filtered out by comments. */
const DETECTING = describeRules(recommendedRules.filter((rule) => rule.meta.id !== FILTER_COMMENTS));
/** The preset as a project runs it: `secretlint-disable` comments drop what they cover. */
const COMMENTS_APPLIED = describeRules(recommendedRules);

const MAX_EXCERPT = 200;
/** Shorter values a rule reports are labels, not secrets (and would cut everywhere). */
const MIN_VALUE_LENGTH = 4;
const MAX_MESSAGE = 300;

/** A secret found in a piece of content, with everything about it already redacted. */
export interface Hit {
  /** 1-based line of the content where it starts. */
  line: number;
  rule: string;
  message: string;
  excerpt: string;
  /** The secretlint-disable comment that covers it, if one does. */
  suppressedBy?: { line: number; text: string; added: boolean };
}

interface Detection {
  rule: string;
  message: string;
  /** In egress's shape: the byte range (null: seen only in a decoded view of the text) and the marker label. */
  finding: Finding;
  suppressed: boolean;
  /**
   * For secretlint's findings, the values its rule reported (binary
   * strings): cut wherever they appear, since a rule's range is not always
   * the secret's (the AWS secret key rule reports the key's length from where
   * `aws_secret_access_key =` starts). Null for DLP's findings, whose
   * ranges are exact.
   */
  values: string[] | null;
}

/** Line of the comment that suppresses a finding on `line` (see secretlint-rule-filter-comments). */
function commentLine(lineText: (line: number) => string, line: number): number {
  if (lineText(line).includes("secretlint-disable-line")) return line;
  if (line > 1 && lineText(line - 1).includes("secretlint-disable-next-line")) return line - 1;
  for (let n = line; n >= 1; n--) if (/secretlint-disable(?!-line|-next-line)/.test(lineText(n))) return n;
  return line;
}

/** Byte offsets (in the UTF-8 encoding of `text`) of string indices, in one pass. */
function byteOffsets(text: string, indices: readonly number[]): Map<number, number> {
  const offsets = new Map<number, number>();
  let index = 0;
  let offset = 0;
  for (const next of [...new Set(indices)].sort((a, b) => a - b)) {
    offset += Buffer.byteLength(text.slice(index, next), "utf8");
    index = next;
    offsets.set(next, offset);
  }
  return offsets;
}

function* linesIn(ranges: LineRanges, lineCount: number): Generator<number> {
  for (const [first, end] of ranges ?? [[1, lineCount + 1]]) {
    for (let line = first; line < Math.min(end, lineCount + 1); line++) yield line;
  }
}

const overlaps = (a: readonly [number, number], b: readonly [number, number]) => a[0] < b[1] && b[0] < a[1];
const findingKey = (finding: Finding) => `${finding.detector}|${finding.label}|${finding.form ?? ""}|${finding.fingerprint}`;
const toText = (binary: string) => Buffer.from(binary, "latin1").toString("utf8");

function clip(text: string): string {
  if (text.length <= MAX_EXCERPT) return text;
  const marker = Math.max(0, text.indexOf("[REDACTED"));
  const start = Math.max(0, Math.min(marker - 60, text.length - MAX_EXCERPT));
  return `${start > 0 ? "…" : ""}${text.slice(start, start + MAX_EXCERPT)}${start + MAX_EXCERPT < text.length ? "…" : ""}`;
}

export class SecretDetector {
  readonly #scanner: Scanner;

  constructor(knownSecrets: readonly KnownSecret[]) {
    this.#scanner = new Scanner(knownSecrets);
    // secretlint times every rule on every file by default and keeps the marks: unbounded memory over a large push.
    secretLintProfiler.setEnabled(false);
  }

  /**
   * Final guard on every string shown: declared values and token shapes are
   * cut out whatever produced the string (a path, a rule's message), and
   * control characters cannot rewrite the reader's terminal.
   */
  shown(text: string): string {
    const binary = Buffer.from(text, "utf8").toString("latin1");
    const findings = this.#scanner.scan(binary, ["known_secrets", "token_patterns"]);
    const safe = findings.some((finding) => finding.range === null) ? "[REDACTED]" : toText(redactRanges(binary, findings));
    // eslint-disable-next-line no-control-regex -- control characters are what is being replaced
    return safe.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g, "\ufffd");
  }

  /** The text with every secret found in it replaced by a marker (for file names, shown whole). */
  async redacted(text: string): Promise<string> {
    const bytes = Buffer.from(text, "utf8");
    const detections = await this.#detect(bytes, text, "(file name)");
    if (detections.some((d) => d.finding.range === null)) return "[REDACTED]";
    return this.shown(cut(bytes.toString("latin1"), new LineIndex(bytes), detections, [0, bytes.length]));
  }

  /** Secrets in a text that start or end on an added line (`added` null: every line). */
  async text(content: Buffer, name: string, added: LineRanges): Promise<Hit[]> {
    const text = content.toString("utf8");
    // Offsets must agree between secretlint (string indices) and DLP (bytes): both read the same UTF-8.
    const bytes = isUtf8(content) ? content : Buffer.from(text, "utf8");
    const binary = bytes.toString("latin1");
    const lines = new LineIndex(bytes);
    const lineText = (line: number) => toText(binary.slice(...lines.bounds(line)));
    const detections = await this.#detect(bytes, text, name);
    const placed = detections.filter((d) => d.finding.range !== null);
    const hits: { line: number; detection: Detection; wholeLine: boolean }[] = [];
    /** What each line must have cut from its excerpt. */
    const onLine = new Map<number, Detection[]>();
    for (const detection of placed) {
      const [start, end] = detection.finding.range!;
      const [first, last] = [lines.lineOf(start), lines.lineOf(Math.max(start, end - 1))];
      if (touchesRanges(added, first, last)) hits.push({ line: first, detection, wholeLine: false });
      for (let line = first; line <= last; line++) {
        const list = onLine.get(line);
        if (list) list.push(detection);
        else onLine.set(line, [detection]);
      }
    }
    // A secret only a decoded view shows (percent- or JSON-escaped) has no place in the whole text; each added line is read alone to place it.
    if (placed.length < detections.length) {
      for (const line of linesIn(added, lines.lineCount)) {
        for (const finding of this.#scanner.scan(binary.slice(...lines.bounds(line)), ["known_secrets", "token_patterns"])) {
          if (finding.range === null) hits.push({ line, detection: this.#fromScanner(finding), wholeLine: true });
        }
      }
    }
    const wholeLines = new Set(hits.filter((hit) => hit.wholeLine).map((hit) => hit.line));
    const excerpt = (line: number) =>
      wholeLines.has(line) ? "[REDACTED: this line holds an encoded secret]" : this.shown(clip(cut(binary, lines, onLine.get(line) ?? [], lines.bounds(line))).trim());
    return hits.sort((a, b) => a.line - b.line).map(({ line, detection }) => {
      const hit: Hit = { line, rule: detection.rule, message: this.shown(detection.message.slice(0, MAX_MESSAGE)), excerpt: excerpt(line) };
      if (detection.suppressed) {
        const at = commentLine(lineText, line);
        hit.suppressedBy = { line: at, text: excerpt(at), added: touchesRanges(added, at, at) };
      }
      return hit;
    });
  }

  /** Declared values and token shapes in a binary that none of the `before` versions held already. */
  binary(content: Buffer, before: readonly Buffer[]): Hit[] {
    const scan = (bytes: Buffer) => this.#scanner.scan(bytes.toString("latin1"), ["known_secrets", "token_patterns"]);
    const known = new Set(before.flatMap(scan).map(findingKey));
    const lines = new LineIndex(content);
    return scan(content)
      .filter((finding) => !known.has(findingKey(finding)))
      .map((finding) => {
        const { rule, message } = this.#fromScanner(finding);
        return { line: finding.range ? lines.lineOf(finding.range[0]) : 1, rule, message, excerpt: "(binary content, not shown)" };
      });
  }

  async #detect(bytes: Buffer, text: string, name: string): Promise<Detection[]> {
    const detections = await this.#secretlint(bytes, text, name);
    const patterns = detections.map((d) => d.finding.range!);
    for (const finding of this.#scanner.scan(bytes.toString("latin1"), ["known_secrets", "token_patterns"])) {
      // A token shape secretlint also matched is one secret: it is reported (and may be suppressed) as secretlint's.
      if (finding.detector === "token_patterns" && finding.range && patterns.some((range) => overlaps(range, finding.range!))) continue;
      detections.push(this.#fromScanner(finding));
    }
    return detections;
  }

  #fromScanner(finding: Finding): Detection {
    if (finding.detector === "known_secrets") {
      const form = finding.form === "raw" || finding.form === undefined ? "as is" : `${finding.form}-encoded`;
      return { rule: `known-secret:${finding.label}`, message: `the declared secret ${finding.label} (${form})`, finding, suppressed: false, values: null };
    }
    return { rule: `token-pattern:${finding.label}`, message: `a ${finding.label}`, finding, suppressed: false, values: null };
  }

  async #secretlint(bytes: Buffer, text: string, name: string): Promise<Detection[]> {
    // Unmasked: the values a rule reports are what excerpts must cut (messages are masked below, as secretlint's maskSecrets would).
    // Rules pick formats by extension (GCP service account JSON). Never ".p12": for it the GCP rule reads the path from the local disk.
    const ext = path.extname(name) === ".p12" ? "" : path.extname(name);
    const lint = async (rules: typeof DETECTING) =>
      (await lintSource({ source: { content: text, filePath: name, ext, contentType: "text" }, options: { config: { rules }, noPhysicFilePath: true } })).messages;
    const all = await lint(DETECTING);
    if (all.length === 0) return [];
    const key = (message: LintMessage) => `${message.ruleId}|${message.range[0]}|${message.range[1]}`;
    // The filter-comments rule acts only where its keyword appears; elsewhere a second run would find the same.
    const kept = text.includes("secretlint-disable") ? new Set((await lint(COMMENTS_APPLIED)).map(key)) : null;
    const offsets = byteOffsets(text, all.flatMap((message) => [...message.range]));
    const binary = bytes.toString("latin1");
    return all.map((message) => {
      const range: [number, number] = [offsets.get(message.range[0])!, offsets.get(message.range[1])!];
      const finding: Finding = { detector: "token_patterns", label: message.messageId, fingerprint: fingerprintOf(binary.slice(...range)), range };
      const values = Object.values(message.data ?? {}).filter((value): value is string => typeof value === "string" && value.length >= MIN_VALUE_LENGTH);
      const masked = values.reduce((text, value) => text.replaceAll(value, "*".repeat(value.length)), message.message);
      return {
        rule: message.ruleId,
        message: masked,
        finding,
        suppressed: kept !== null && !kept.has(key(message)),
        values: values.map((value) => Buffer.from(value, "utf8").toString("latin1")),
      };
    });
  }
}

/**
 * `binary[start, end)` as text with the secrets of `detections` (those
 * that reach into it) replaced by markers: each one's range, clipped to the
 * window, and each value a secretlint rule reported, wherever it appears in
 * the window. A secretlint finding
 * without values is cut from its start to the end of its line: a rule's
 * range starts at or before the secret, on its line.
 */
function cut(binary: string, lines: LineIndex, detections: readonly Detection[], [start, end]: readonly [number, number]): string {
  const window = binary.slice(start, end);
  const cuts: Finding[] = [];
  for (const detection of detections) {
    const [from, to] = detection.finding.range!;
    const reach = detection.values?.length === 0 ? Math.max(to, lines.bounds(lines.lineOf(from))[1]) : to;
    if (from < end && start < reach) cuts.push({ ...detection.finding, range: [Math.max(from, start) - start, Math.min(reach, end) - start] });
    for (const value of detection.values ?? []) {
      for (let at = window.indexOf(value); at >= 0; at = window.indexOf(value, at + value.length)) cuts.push({ ...detection.finding, range: [at, at + value.length] });
    }
  }
  return toText(redactRanges(window, cuts));
}
