import type { Readable } from "node:stream";
import zlib from "node:zlib";

// Request bodies that DLP must read whole. They are bounded: a body past the
// bound is refused rather than forwarded partly unread (padding a secret past
// the scan window would otherwise be a way out). Compressed bodies are
// inflated for the scan, with the same bound on what they inflate to, and
// compressed again if redaction changed them.

export type ContentCoding = "identity" | "gzip" | "deflate" | "br";

export type BodyResult = { ok: true; body: Buffer } | { ok: false; status: number; reason: string };

/** Reads the whole body, or stops at the bound. */
export function readBounded(stream: Readable, maxBytes: number): Promise<BodyResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        stream.off("data", onData);
        stream.off("end", onEnd);
        resolve({ ok: false, status: 413, reason: `request body exceeds ${maxBytes} bytes, the most DLP scans` });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => resolve({ ok: true, body: Buffer.concat(chunks) });
    stream.on("data", onData);
    stream.once("end", onEnd);
    stream.once("error", reject);
  });
}

/** The Content-Encoding of a header list, when DLP can read it. */
export function contentCoding(rawHeaders: readonly string[]): ContentCoding | { unsupported: string } {
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === "content-encoding") values.push(...rawHeaders[i + 1]!.split(","));
  }
  const codings = values.map((v) => v.trim().toLowerCase()).filter((v) => v !== "" && v !== "identity");
  if (codings.length === 0) return "identity";
  if (codings.length === 1 && (codings[0] === "gzip" || codings[0] === "deflate" || codings[0] === "br")) return codings[0];
  return { unsupported: codings.join(", ") };
}

export function decodeBody(body: Buffer, coding: ContentCoding, maxBytes: number): BodyResult {
  const options = { maxOutputLength: maxBytes };
  try {
    switch (coding) {
      case "identity":
        return { ok: true, body };
      case "gzip":
        return { ok: true, body: zlib.gunzipSync(body, options) };
      case "deflate":
        return { ok: true, body: zlib.inflateSync(body, options) };
      case "br":
        return { ok: true, body: zlib.brotliDecompressSync(body, options) };
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ERR_BUFFER_TOO_LARGE") return { ok: false, status: 413, reason: `request body inflates past ${maxBytes} bytes, the most DLP scans` };
    return { ok: false, status: 400, reason: `request body is not valid ${coding}` };
  }
}

export function encodeBody(body: Buffer, coding: ContentCoding): Buffer {
  switch (coding) {
    case "identity":
      return body;
    case "gzip":
      return zlib.gzipSync(body);
    case "deflate":
      return zlib.deflateSync(body);
    case "br":
      return zlib.brotliCompressSync(body);
  }
}
