import { Readable } from "node:stream";
import zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { contentCoding, decodeBody, encodeBody, readBounded } from "../../../sidecars/egress/body.js";

describe("bounded bodies", () => {
  it("reads a body up to the bound, and refuses one past it with 413", async () => {
    expect(await readBounded(Readable.from([Buffer.from("abc"), Buffer.from("def")]), 6)).toEqual({ ok: true, body: Buffer.from("abcdef") });
    expect(await readBounded(Readable.from([Buffer.from("abc"), Buffer.from("defg")]), 6)).toEqual({
      ok: false,
      status: 413,
      reason: "request body exceeds 6 bytes, the most DLP scans",
    });
  });

  it("knows the codings it can read, and names the ones it cannot", () => {
    expect(contentCoding(["Content-Type", "text/plain"])).toBe("identity");
    expect(contentCoding(["content-encoding", "GZIP"])).toBe("gzip");
    expect(contentCoding(["Content-Encoding", "identity"])).toBe("identity");
    expect(contentCoding(["Content-Encoding", "br"])).toBe("br");
    expect(contentCoding(["Content-Encoding", "zstd"])).toEqual({ unsupported: "zstd" });
    expect(contentCoding(["Content-Encoding", "gzip, gzip"])).toEqual({ unsupported: "gzip, gzip" });
  });

  it.each(["gzip", "deflate", "br"] as const)("inflates %s for the scan and compresses it again", (coding) => {
    const text = Buffer.from("the secret is in here ".repeat(50));
    const encoded = encodeBody(text, coding);
    expect(encoded.length).toBeLessThan(text.length);
    expect(decodeBody(encoded, coding, 1 << 20)).toEqual({ ok: true, body: text });
  });

  it("refuses a compressed body that inflates past the bound, and one that is not what it claims", () => {
    const bomb = zlib.gzipSync(Buffer.alloc(1 << 20));
    expect(decodeBody(bomb, "gzip", 1024)).toMatchObject({ ok: false, status: 413 });
    expect(decodeBody(Buffer.from("not gzip"), "gzip", 1024)).toEqual({ ok: false, status: 400, reason: "request body is not valid gzip" });
  });
});
