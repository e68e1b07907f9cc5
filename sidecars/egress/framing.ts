import type http from "node:http";

// How a request's body is delimited, judged before anything is forwarded.
//
// Node's parser (llhttp, strict: egress never turns on insecureHTTPParser)
// already refuses most ambiguous framing before a request reaches egress:
// Content-Length together with Transfer-Encoding, repeated, listed or signed
// Content-Length, a Transfer-Encoding whose last coding is not chunked, and
// obsolete line folding. What it still lets through, and this module refuses
// by hand, is what egress and an upstream could read differently:
// Transfer-Encoding other than exactly `chunked` (llhttp takes
// `gzip, chunked`, whose body is still gzip after de-chunking, and spellings
// an upstream might not), more than one Transfer-Encoding or Content-Length
// header, and Transfer-Encoding on HTTP/1.0, which cannot carry it (RFC 9112
// section 6.1). The body itself is then forwarded with framing egress writes
// (see proxy-request.ts), never the agent's.

/**
 * Parser settings for every server egress runs (the proxy listeners and the
 * one reading intercepted tunnels): llhttp strict, and a Host header required
 * (HTTP/1.1 needs one, and the policy compares it with the target).
 */
export const STRICT_PARSER: http.ServerOptions = { insecureHTTPParser: false, requireHostHeader: true };

export type Framing = { kind: "none" } | { kind: "length"; length: number } | { kind: "chunked" };

export type FramingVerdict = { ok: true; framing: Framing } | { ok: false; reason: string };

const DIGITS = /^[0-9]{1,15}$/;

/** The framing of a request head, from its raw header list (name, value, ...) and HTTP version. */
export function requestFraming(rawHeaders: readonly string[], httpVersion: string): FramingVerdict {
  const lengths: string[] = [];
  const encodings: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (name === "content-length") lengths.push(rawHeaders[i + 1]!.trim());
    else if (name === "transfer-encoding") encodings.push(rawHeaders[i + 1]!.trim());
  }
  if (lengths.length > 0 && encodings.length > 0) return { ok: false, reason: "both Content-Length and Transfer-Encoding" };
  if (lengths.length > 1) return { ok: false, reason: "more than one Content-Length header" };
  if (encodings.length > 1) return { ok: false, reason: "more than one Transfer-Encoding header" };
  if (encodings.length === 1) {
    if (httpVersion !== "1.1") return { ok: false, reason: `Transfer-Encoding on an HTTP/${httpVersion} request` };
    if (encodings[0]!.toLowerCase() !== "chunked") return { ok: false, reason: "Transfer-Encoding other than chunked" };
    return { ok: true, framing: { kind: "chunked" } };
  }
  if (lengths.length === 1) {
    if (!DIGITS.test(lengths[0]!)) return { ok: false, reason: "malformed Content-Length" };
    return { ok: true, framing: { kind: "length", length: Number(lengths[0]) } };
  }
  return { ok: true, framing: { kind: "none" } };
}

/** Header names egress sets itself for the body it forwards; the agent's are dropped. */
export const FRAMING_HEADERS = new Set(["content-length", "transfer-encoding"]);

/** The framing header for a body of `framing` as egress forwards it. */
export function framingHeader(framing: Framing): [string, string] | null {
  switch (framing.kind) {
    case "none":
      return null;
    case "length":
      return ["Content-Length", String(framing.length)];
    case "chunked":
      return ["Transfer-Encoding", "chunked"];
  }
}
