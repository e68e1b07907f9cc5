import { randomBytes } from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import { describe, expect, it } from "vitest";
import { isHelloRetryRequest, judgeClientHello, parseClientHello, readHandshakeMessage } from "../../../sidecars/egress/client-hello.js";
import type { Authority } from "../../../sidecars/egress/target.js";
import { CHANGE_CIPHER_SPEC, clientHello, EXTENSION, handshakeRecords, serverNameExtension } from "../../support/client-hello.js";

// The ClientHello reader behind egress's tunnel gate, fed hand-built hellos
// and the hello a real TLS client (Node's OpenSSL) sends.

const named: Authority = { host: { kind: "name", value: "api.example.com" }, port: 443 };
const literal: Authority = { host: { kind: "ipv4", value: "203.0.113.7" }, port: 443 };

function judge(hello: Buffer, target: Authority = named): string | null {
  const read = readHandshakeMessage(hello);
  if (read.status !== "message") throw new Error(`not a message: ${JSON.stringify(read)}`);
  const facts = parseClientHello(read.body);
  if ("invalid" in facts) return `invalid: ${facts.invalid}`;
  return judgeClientHello(facts, target);
}

/** The first bytes a real TLS client sends for `servername`. */
function realHello(servername: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      socket.once("data", (chunk: Buffer) => {
        resolve(chunk);
        socket.destroy();
        server.close();
      });
    });
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      tls.connect({ host: "127.0.0.1", port, servername }).on("error", () => undefined);
    });
    server.on("error", reject);
  });
}

describe("reading a ClientHello", () => {
  it("finds the server name a real TLS client sends", async () => {
    const hello = await realHello("api.example.com");
    expect(judge(hello)).toBeNull();
    expect(judge(hello, { host: { kind: "name", value: "other.example.com" }, port: 443 })).toBe(
      "TLS server name api.example.com does not match CONNECT target other.example.com",
    );
  });

  it("waits for a hello split over records and reads it whole", () => {
    const hello = clientHello({ serverNames: ["api.example.com"], recordSize: 30 });
    for (const cut of [0, 3, 5, 40, hello.length - 1]) expect(readHandshakeMessage(hello.subarray(0, cut))).toEqual({ status: "incomplete" });
    const read = readHandshakeMessage(Buffer.concat([hello, Buffer.from("after")]));
    expect(read).toMatchObject({ status: "message", type: 1, end: hello.length });
  });

  it("skips the compatibility ChangeCipherSpec before a second hello only when asked to", () => {
    const second = Buffer.concat([CHANGE_CIPHER_SPEC, clientHello({ serverNames: ["api.example.com"] })]);
    expect(readHandshakeMessage(second, [20])).toMatchObject({ status: "message", type: 1, end: second.length });
    expect(readHandshakeMessage(second)).toEqual({ status: "other-record", type: 20 });
  });

  it.each([
    ["another host", clientHello({ serverNames: ["evil.example"] }), "TLS server name evil.example does not match CONNECT target api.example.com"],
    ["no server name", clientHello(), "the TLS hello names no server (SNI); it must name api.example.com"],
    ["two names", clientHello({ extensions: [serverNameExtension(["api.example.com", "evil.example"])] }), "the TLS hello names more than one server"],
    [
      "two server_name extensions",
      clientHello({ serverNames: ["api.example.com"], extensions: [serverNameExtension(["evil.example"])] }),
      "the TLS hello repeats an extension",
    ],
    [
      "an encrypted client hello",
      clientHello({ serverNames: ["api.example.com"], extensions: [{ type: EXTENSION.encryptedClientHello, data: randomBytes(40) }] }),
      "the TLS hello hides its server name (encrypted client hello)",
    ],
    ["a name with a control character", clientHello({ serverNames: ["api.example.com\u0000.evil"] }), "TLS server name api.example.com?.evil does not match CONNECT target api.example.com"],
  ])("refuses a hello with %s", (_what, hello, reason) => {
    expect(judge(hello)).toBe(reason);
  });

  it("accepts the CONNECT name in any letter case, and a hello to an IP literal that names nothing or that literal", () => {
    expect(judge(clientHello({ serverNames: ["API.Example.com"] }))).toBeNull();
    expect(judge(clientHello(), literal)).toBeNull();
    expect(judge(clientHello({ serverNames: ["203.0.113.7"] }), literal)).toBeNull();
    expect(judge(clientHello({ serverNames: ["cdn-tenant.example"] }), literal)).toBe("TLS server name cdn-tenant.example does not match CONNECT target 203.0.113.7");
  });

  it.each([
    ["plain HTTP", Buffer.from("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), { status: "invalid", reason: "not a TLS record" }],
    ["an empty handshake record", Buffer.from([22, 3, 1, 0, 0]), { status: "invalid", reason: "empty TLS handshake record" }],
    ["an oversized record", Buffer.from([22, 3, 1, 0xff, 0xff]), { status: "invalid", reason: "oversized TLS record" }],
    ["an alert first", Buffer.from([21, 3, 3, 0, 2, 2, 40]), { status: "other-record", type: 21 }],
    ["a hello claiming 16 MiB", handshakeRecords(Buffer.from([1, 0xff, 0xff, 0xff]), 100), { status: "invalid", reason: "TLS hello too large" }],
  ])("tells %s apart", (_what, bytes, expected) => {
    expect(readHandshakeMessage(bytes)).toEqual(expected);
  });

  it("calls a truncated hello body malformed, never a pass", () => {
    const body = Buffer.concat([Buffer.from([3, 3]), randomBytes(32), Buffer.from([32])]);
    expect(parseClientHello(body)).toEqual({ invalid: "malformed ClientHello" });
  });

  it("recognises a HelloRetryRequest by its special random", () => {
    const retry = Buffer.concat([Buffer.from([3, 3]), Buffer.from("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c", "hex"), Buffer.from([0])]);
    expect(isHelloRetryRequest(retry)).toBe(true);
    expect(isHelloRetryRequest(Buffer.concat([Buffer.from([3, 3]), randomBytes(32), Buffer.from([0])]))).toBe(false);
  });
});
