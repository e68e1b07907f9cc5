import { describe, expect, it } from "vitest";
import { framingHeader, requestFraming } from "../../../sidecars/egress/framing.js";

// The framing egress accepts from the agent and the framing it writes: one
// reading only, so egress and the upstream can never disagree on where a
// request ends.

describe("requestFraming", () => {
  it("reads no body, a Content-Length body and a chunked body", () => {
    expect(requestFraming(["Host", "a"], "1.1")).toEqual({ ok: true, framing: { kind: "none" } });
    expect(requestFraming(["Content-Length", " 12 "], "1.1")).toEqual({ ok: true, framing: { kind: "length", length: 12 } });
    expect(requestFraming(["Content-Length", "0"], "1.0")).toEqual({ ok: true, framing: { kind: "length", length: 0 } });
    expect(requestFraming(["transfer-encoding", "Chunked"], "1.1")).toEqual({ ok: true, framing: { kind: "chunked" } });
  });

  it.each([
    [["Content-Length", "5", "Transfer-Encoding", "chunked"], "1.1", "both Content-Length and Transfer-Encoding"],
    [["Content-Length", "5", "content-length", "5"], "1.1", "more than one Content-Length header"],
    [["Transfer-Encoding", "chunked", "Transfer-Encoding", "chunked"], "1.1", "more than one Transfer-Encoding header"],
    [["Transfer-Encoding", "gzip, chunked"], "1.1", "Transfer-Encoding other than chunked"],
    [["Transfer-Encoding", "chunked"], "1.0", "Transfer-Encoding on an HTTP/1.0 request"],
    [["Content-Length", "+5"], "1.1", "malformed Content-Length"],
    [["Content-Length", "5, 5"], "1.1", "malformed Content-Length"],
    [["Content-Length", "0x10"], "1.1", "malformed Content-Length"],
    [["Content-Length", "9".repeat(16)], "1.1", "malformed Content-Length"],
  ])("refuses %j over HTTP/%s: %s", (headers, version, reason) => {
    expect(requestFraming(headers, version)).toEqual({ ok: false, reason });
  });

  it("writes its own framing header for what it forwards", () => {
    expect(framingHeader({ kind: "none" })).toBeNull();
    expect(framingHeader({ kind: "length", length: 7 })).toEqual(["Content-Length", "7"]);
    expect(framingHeader({ kind: "chunked" })).toEqual(["Transfer-Encoding", "chunked"]);
  });
});
