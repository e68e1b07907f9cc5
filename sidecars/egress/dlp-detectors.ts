import { createHash } from "node:crypto";

// What DLP looks for in one piece of text (a path, a query, a header, a body):
// known secret values in the encodings an agent could use to slip them past a
// plain string search, well-known token shapes, and long high-entropy strings.
//
// Text is handled as "binary strings" (latin1: one char per byte), which is
// how Node hands over header values and how bodies are decoded here, so a
// match's index is its byte offset and redaction can cut exactly there.

export type Detector = "known_secrets" | "token_patterns" | "entropy";
export type SecretForm = "raw" | "url" | "json" | "base64" | "base64url" | "hex";

export interface KnownSecret {
  /** Name of the variable holding it (shown in reasons; never the value). */
  name: string;
  value: string;
}

export interface Finding {
  detector: Detector;
  /** What was found: a secret's variable name, a token kind, or "high-entropy string". */
  label: string;
  /** For known secrets: the encoding it was found in. */
  form?: SecretForm;
  /**
   * sha256 of the underlying value (the secret, or the matched token text):
   * an approval is remembered by it, so the same value passes next time
   * without the value itself being kept anywhere.
   */
  fingerprint: string;
  /** Byte range in the text as given, or null when the match only showed after percent-decoding. */
  range: [number, number] | null;
}

interface Needle {
  text: string;
  secret: KnownSecret;
  form: SecretForm;
  fingerprint: string;
  /** Hex needles also match in either letter case. */
  caseless: boolean;
}

/** Shorter values would match all over ordinary traffic; they are not scanned for (egress says so at start). */
export const MIN_SECRET_LENGTH = 8;

const binary = (text: string) => Buffer.from(text, "utf8").toString("latin1");
export const fingerprintOf = (text: string) => createHash("sha256").update(text, "latin1").digest("hex");

/**
 * The part of base64(prefix + secret + suffix) that depends on the secret
 * alone, for each of the three alignments the secret can have inside a larger
 * encoded blob (`Basic base64(user:secret)`, a JSON document, a file). Chars
 * that mix in neighbouring bytes are left out, so the needle matches whatever
 * surrounds the secret.
 */
function base64Needles(bytes: Buffer, encoding: "base64" | "base64url"): string[] {
  const needles: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString(encoding);
    const first = Math.ceil((shift * 8) / 6);
    const end = Math.floor(((shift + bytes.length) * 8) / 6);
    needles.push(encoded.slice(first, end));
  }
  return needles;
}

function needlesFor(secret: KnownSecret): Needle[] {
  const bytes = Buffer.from(secret.value, "utf8");
  const fingerprint = fingerprintOf(binary(secret.value));
  const forms: [SecretForm, string, boolean][] = [
    ["raw", binary(secret.value), false],
    // Caseless: %2f and %2F are the same escape.
    ["url", encodeURIComponent(secret.value), true],
    // Every byte escaped, as a determined encoder would.
    ["url", [...bytes].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join(""), true],
    ...base64Needles(bytes, "base64").map((t): [SecretForm, string, boolean] => ["base64", t, false]),
    ...base64Needles(bytes, "base64url").map((t): [SecretForm, string, boolean] => ["base64url", t, false]),
    ["hex", bytes.toString("hex"), true],
  ];
  const seen = new Set<string>();
  const needles: Needle[] = [];
  for (const [form, text, caseless] of forms) {
    const key = caseless ? lowerAscii(text) : text;
    if (text.length < MIN_SECRET_LENGTH || seen.has(key)) continue;
    seen.add(key);
    needles.push({ text: caseless ? lowerAscii(text) : text, secret, form, fingerprint, caseless });
  }
  return needles;
}

/** Lowercases A-Z only, keeping every index where it was. (A byte loop: a regex replace is ten times slower on big bodies.) */
function lowerAscii(text: string): string {
  const bytes = Buffer.from(text, "latin1");
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c >= 0x41 && c <= 0x5a) bytes[i] = c + 0x20;
  }
  return bytes.toString("latin1");
}

interface TokenPattern {
  label: string;
  pattern: RegExp;
}

// Common credential shapes (prefixes documented by their issuers). Anchored
// on a non-token character so they do not fire inside longer random strings.
// Every repetition is bounded: an unbounded one over a multi-megabyte run
// exhausts the regular expression engine's stack. A longer token still
// matches, by its first MAX chars.
const MAX = 1000;
const TOKEN_PATTERNS: TokenPattern[] = [
  { label: "Anthropic API key", pattern: new RegExp(`sk-ant-[A-Za-z0-9]{2,10}-[A-Za-z0-9_-]{20,${MAX}}`, "g") },
  { label: "OpenAI API key", pattern: new RegExp(`sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,${MAX}}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}`, "g") },
  { label: "GitHub token", pattern: new RegExp(`gh[pousr]_[A-Za-z0-9]{36,${MAX}}|github_pat_[A-Za-z0-9_]{22,${MAX}}`, "g") },
  { label: "AWS access key id", pattern: /(?:AKIA|ASIA)[A-Z0-9]{16}/g },
  // A secret key has no prefix of its own: it is known by the name it is assigned to. secretlint's rule
  // wants a word boundary after it, so it misses a key that ends in / or + (about 1 in 32).
  {
    label: "AWS secret access key",
    pattern: /(?:secret|SECRET|Secret)_?(?:access|ACCESS|Access)_?(?:key|KEY|Key)["']?\s{0,20}(?::|=>|=)\s{0,20}["']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/dg,
  },
  { label: "Stripe key", pattern: new RegExp(`(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,${MAX}}`, "g") },
  { label: "JSON Web Token", pattern: new RegExp(`eyJ[A-Za-z0-9_-]{8,${MAX}}\\.eyJ[A-Za-z0-9_-]{8,${MAX}}\\.[A-Za-z0-9_-]{16,${MAX}}`, "g") },
];

const TOKEN_CHAR = /[A-Za-z0-9_-]/;

function tokenFindings(text: string, shift: number | null): Finding[] {
  const findings: Finding[] = [];
  for (const { label, pattern } of TOKEN_PATTERNS) {
    for (const match of text.matchAll(pattern)) {
      // A pattern that knows a token by the name before it captures the token alone (group 1, with the d flag).
      const [start, end] = match.indices?.[1] ?? [match.index, match.index + match[0].length];
      const before = start > 0 ? text[start - 1]! : "";
      if (before !== "" && TOKEN_CHAR.test(before)) continue;
      findings.push({ detector: "token_patterns", label, fingerprint: fingerprintOf(text.slice(start, end)), range: shift === null ? null : [start, end] });
    }
  }
  return findings;
}

// Base64/hex-ish runs long enough to be keys, judged in pieces of at most
// 256 chars (a key is shorter; a long blob is judged piece by piece);
// threshold in bits per char. Random base64 of 32+ chars scores about 4.6 and
// up; hex digests top out at 4.0, English and identifiers well below.
const ENTROPY_RUN = /[A-Za-z0-9+/=_-]{32,256}/g;
const ENTROPY_THRESHOLD = 4.5;

export function shannonEntropy(text: string): number {
  const counts = new Map<string, number>();
  for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

function entropyFindings(text: string, shift: number | null): Finding[] {
  const findings: Finding[] = [];
  for (const match of text.matchAll(ENTROPY_RUN)) {
    if (shannonEntropy(match[0]) < ENTROPY_THRESHOLD) continue;
    const range: [number, number] | null = shift === null ? null : [match.index, match.index + match[0].length];
    findings.push({ detector: "entropy", label: "high-entropy string", fingerprint: fingerprintOf(match[0]), range });
  }
  return findings;
}

/**
 * Undoes percent-encoding, repeatedly, so double-encoding hides nothing.
 * (`+` for space is a view of its own: see Scanner.scan.)
 */
export function percentDecoded(text: string): string {
  let current = text;
  for (let round = 0; round < 3; round++) {
    const next = decodeEscapes(current);
    if (next === current) break;
    current = next;
  }
  return current;
}

const JSON_ESCAPE = /(?:\\u[0-9A-Fa-f]{4})+|\\["\\/bfnrt]/g;
const JSON_SIMPLE: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

/**
 * Undoes JSON string escapes in a binary string: `\u0073k-` is `sk-` to a
 * JSON parser, and so to DLP. A run of `\u` escapes is decoded together, so
 * surrogate pairs become the UTF-8 bytes of their character.
 */
export function jsonUnescaped(text: string): string {
  return text.replace(JSON_ESCAPE, (escape) => {
    if (escape[1] !== "u") return JSON_SIMPLE[escape[1]!]!;
    let chars = "";
    for (const hex of escape.split("\\u").slice(1)) chars += String.fromCharCode(parseInt(hex, 16));
    return Buffer.from(chars, "utf8").toString("latin1");
  });
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

/** One pass of %XX decoding into bytes; anything else is copied as it is. */
function decodeEscapes(text: string): string {
  const out = Buffer.allocUnsafe(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const hi = c === 0x25 && i + 2 < text.length ? hexValue(text.charCodeAt(i + 1)) : -1;
    const lo = hi >= 0 ? hexValue(text.charCodeAt(i + 2)) : -1;
    if (lo >= 0) {
      out[n++] = hi * 16 + lo;
      i += 2;
    } else {
      out[n++] = c & 0xff;
    }
  }
  return out.toString("latin1", 0, n);
}

/** A scanner for a fixed set of secrets and detectors; build one per routes load, use it per request. */
export class Scanner {
  readonly #needles: Needle[];
  /** Whether some known secret holds a space, which a form body or query may send as `+`. */
  readonly #spaced: boolean;

  constructor(secrets: readonly KnownSecret[]) {
    const scanned = secrets.filter((s) => s.value.length >= MIN_SECRET_LENGTH);
    this.#needles = scanned.flatMap(needlesFor);
    this.#spaced = scanned.some((s) => s.value.includes(" "));
  }

  /**
   * Every finding in `text` for the given detectors. Ranges refer to `text`
   * as given. Besides the text itself, DLP reads it as the receiver may
   * decode it: percent-decoded, with `+` as space (form bodies and queries),
   * and JSON-unescaped; a finding only a decoded view shows has no range
   * (it cannot be cut out, so redaction refuses the request instead).
   */
  scan(text: string, detectors: readonly Detector[]): Finding[] {
    /** Decoded text -> how it was decoded (what a plain secret found in it was sent as). */
    const decoded = new Map<string, SecretForm>();
    const percent = (view: string) => (/%[0-9A-Fa-f]{2}/.test(view) ? percentDecoded(view) : view);
    const add = (view: string, form: SecretForm) => {
      if (view !== text && !decoded.has(view)) decoded.set(view, form);
    };
    add(percent(text), "url");
    if (this.#spaced && text.includes("+")) add(percent(text.replaceAll("+", " ")), "url");
    if (text.includes("\\")) {
      const json = jsonUnescaped(text);
      add(json, "json");
      add(percent(json), "json");
    }
    const views = [{ text, direct: true, as: "raw" as SecretForm }, ...[...decoded].map(([view, as]) => ({ text: view, direct: false, as }))];
    const findings: Finding[] = [];
    for (const view of views) {
      if (detectors.includes("known_secrets")) findings.push(...this.#secretFindings(view.text, view.direct, view.as));
      if (detectors.includes("token_patterns")) findings.push(...tokenFindings(view.text, view.direct ? 0 : null));
      if (detectors.includes("entropy")) findings.push(...entropyFindings(view.text, view.direct ? 0 : null));
    }
    return dedupe(findings);
  }

  #secretFindings(text: string, direct: boolean, as: SecretForm): Finding[] {
    const findings: Finding[] = [];
    let lowered: string | null = null;
    for (const needle of this.#needles) {
      const haystack = needle.caseless ? (lowered ??= lowerAscii(text)) : text;
      for (let at = haystack.indexOf(needle.text); at >= 0; at = haystack.indexOf(needle.text, at + needle.text.length)) {
        findings.push({
          detector: "known_secrets",
          label: needle.secret.name,
          // Plain text that only shows after decoding was sent in that encoding.
          form: needle.form === "raw" ? as : needle.form,
          fingerprint: needle.fingerprint,
          range: direct ? [at, at + needle.text.length] : null,
        });
      }
    }
    return findings;
  }
}

/** One finding per value and place; a redactable sighting wins over one seen only after decoding. */
function dedupe(findings: Finding[]): Finding[] {
  const byKey = new Map<string, Finding>();
  for (const finding of findings) {
    const key = `${finding.detector}|${finding.fingerprint}|${finding.form ?? ""}|${finding.range?.join("-") ?? "decoded"}`;
    if (!byKey.has(key)) byKey.set(key, finding);
  }
  const direct = new Set([...byKey.values()].filter((f) => f.range !== null).map((f) => `${f.detector}|${f.fingerprint}`));
  return [...byKey.values()].filter((f) => f.range !== null || !direct.has(`${f.detector}|${f.fingerprint}`));
}

/** Replaces each range with a marker naming what was there; overlapping ranges merge. */
export function redactRanges(text: string, findings: readonly Finding[]): string {
  const ranges = findings
    .map((f) => ({ range: f.range, label: f.label }))
    .filter((r): r is { range: [number, number]; label: string } => r.range !== null)
    .sort((a, b) => a.range[0] - b.range[0]);
  let out = "";
  let cursor = 0;
  for (const { range, label } of ranges) {
    if (range[1] <= cursor) continue;
    if (range[0] < cursor) {
      cursor = range[1];
      continue;
    }
    out += text.slice(cursor, range[0]) + `[REDACTED:${label.replace(/[^A-Za-z0-9_-]/g, "-")}]`;
    cursor = range[1];
  }
  return out + text.slice(cursor);
}
