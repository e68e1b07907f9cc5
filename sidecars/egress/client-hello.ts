import type { Authority } from "./target.js";

// Reading the plaintext start of a TLS connection that egress tunnels
// without terminating: the client's hello (whose server_name says which of
// the tenants behind an address the client is after) and the server's
// answer (which tells a HelloRetryRequest, after which the client sends a
// second, equally plaintext hello). Pure: the tunnel feeds bytes in and acts
// on what comes back. Hand-written because no library parses a ClientHello
// without also taking over the connection; it reads only the fields the
// decision needs (RFC 8446 sections 4.1.2 and 5.1, RFC 6066 section 3).

const RECORD_HEADER = 5;
const HANDSHAKE_HEADER = 4;
/** TLSPlaintext.length may not exceed 2^14; protected records (early data) carry up to 256 bytes more. */
const MAX_RECORD = 16_384 + 256;
/** A hello larger than this is not one a client needs to send (post-quantum key shares make them a few KiB). */
export const MAX_HELLO_BYTES = 64 * 1024;

export const RECORD = { changeCipherSpec: 20, alert: 21, handshake: 22, applicationData: 23 } as const;
export const HANDSHAKE = { clientHello: 1, serverHello: 2 } as const;
const EXTENSION = { serverName: 0, encryptedClientHello: 0xfe0d, encryptedServerName: 0xffce } as const;

/** ServerHello.random of a HelloRetryRequest (RFC 8446 section 4.1.3). */
const HELLO_RETRY_RANDOM = Buffer.from("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c", "hex");

export type MessageRead =
  | { status: "incomplete" }
  | { status: "invalid"; reason: string }
  /** `end`: offset just past the record that carried the message's last byte. */
  | { status: "message"; type: number; body: Buffer; end: number }
  /** The first record is not a handshake record (an alert, say); nothing was read. */
  | { status: "other-record"; type: number };

/**
 * The first handshake message in `data`, reassembled from as many handshake
 * records as it spans. Records of a type in `skip` before it are passed over
 * (the compatibility ChangeCipherSpec before a second hello); any other
 * record in between makes it invalid.
 */
export function readHandshakeMessage(data: Buffer, skip: readonly number[] = []): MessageRead {
  const fragments: Buffer[] = [];
  let collected = 0;
  let at = 0;
  for (;;) {
    if (data.length - at < RECORD_HEADER) return incomplete(data);
    const type = data[at]!;
    const major = data[at + 1]!;
    const length = data.readUInt16BE(at + 3);
    if (major !== 3) return { status: "invalid", reason: "not a TLS record" };
    if (type !== RECORD.handshake) {
      if (fragments.length > 0 || !skip.includes(type)) {
        return fragments.length === 0 && at === 0 ? { status: "other-record", type } : { status: "invalid", reason: `unexpected TLS record type ${type} in a hello` };
      }
    } else if (length === 0) {
      return { status: "invalid", reason: "empty TLS handshake record" };
    }
    if (length > MAX_RECORD) return { status: "invalid", reason: "oversized TLS record" };
    if (data.length - at - RECORD_HEADER < length) return incomplete(data);
    const fragment = data.subarray(at + RECORD_HEADER, at + RECORD_HEADER + length);
    at += RECORD_HEADER + length;
    if (type !== RECORD.handshake) continue;
    fragments.push(fragment);
    collected += fragment.length;
    if (collected < HANDSHAKE_HEADER) continue;
    const handshake = Buffer.concat(fragments);
    const bodyLength = handshake.readUIntBE(1, 3);
    if (bodyLength > MAX_HELLO_BYTES) return { status: "invalid", reason: "TLS hello too large" };
    if (collected >= HANDSHAKE_HEADER + bodyLength) {
      return { status: "message", type: handshake[0]!, body: handshake.subarray(HANDSHAKE_HEADER, HANDSHAKE_HEADER + bodyLength), end: at };
    }
  }
}

/** More bytes are needed, unless more than any hello (and what may precede it) has arrived already. */
function incomplete(data: Buffer): MessageRead {
  return data.length > 2 * MAX_HELLO_BYTES ? { status: "invalid", reason: "TLS hello too large" } : { status: "incomplete" };
}

/** A bounds-checked reader over one message body; any overrun throws. */
class Cursor {
  at = 0;
  constructor(private readonly data: Buffer) {}
  take(n: number): Buffer {
    if (this.at + n > this.data.length) throw new RangeError("truncated");
    const slice = this.data.subarray(this.at, this.at + n);
    this.at += n;
    return slice;
  }
  u8 = () => this.take(1)[0]!;
  u16 = () => this.take(2).readUInt16BE(0);
  vector8 = () => this.take(this.u8());
  vector16 = () => this.take(this.u16());
  get done() {
    return this.at === this.data.length;
  }
}

export interface ClientHelloFacts {
  /** Every host_name in every server_name extension. */
  serverNames: string[];
  serverNameExtensions: number;
  /** An encrypted_client_hello (or draft encrypted_server_name) extension: the real name is hidden. */
  encrypted: boolean;
  duplicateExtensions: boolean;
}

export function parseClientHello(body: Buffer): ClientHelloFacts | { invalid: string } {
  try {
    const cursor = new Cursor(body);
    cursor.take(2 + 32); // legacy_version, random
    cursor.vector8(); // legacy_session_id
    cursor.vector16(); // cipher_suites
    cursor.vector8(); // legacy_compression_methods
    const facts: ClientHelloFacts = { serverNames: [], serverNameExtensions: 0, encrypted: false, duplicateExtensions: false };
    if (cursor.done) return facts; // no extensions at all (old TLS)
    const extensions = new Cursor(cursor.vector16());
    if (!cursor.done) return { invalid: "trailing bytes after the hello" };
    const seen = new Set<number>();
    while (!extensions.done) {
      const type = extensions.u16();
      const data = extensions.vector16();
      if (seen.has(type)) facts.duplicateExtensions = true;
      seen.add(type);
      if (type === EXTENSION.encryptedClientHello || type === EXTENSION.encryptedServerName) facts.encrypted = true;
      if (type === EXTENSION.serverName) {
        facts.serverNameExtensions++;
        facts.serverNames.push(...serverNames(data));
      }
    }
    return facts;
  } catch {
    return { invalid: "malformed ClientHello" };
  }
}

function serverNames(extension: Buffer): string[] {
  const outer = new Cursor(extension);
  const list = new Cursor(outer.vector16());
  if (!outer.done) throw new RangeError("trailing bytes");
  const names: string[] = [];
  while (!list.done) {
    const nameType = list.u8();
    const name = list.vector16();
    // Only host_name (0) is defined; any other entry is a name egress cannot judge.
    names.push(nameType === 0 ? name.toString("latin1") : `\u0000type ${nameType}`);
  }
  return names;
}

/** Whether a ServerHello body is a HelloRetryRequest. */
export function isHelloRetryRequest(body: Buffer): boolean {
  return body.length >= 34 && body.subarray(2, 34).equals(HELLO_RETRY_RANDOM);
}

const printable = (name: string) => name.replace(/[^\x21-\x7e]/g, "?").slice(0, 100);

/**
 * Why a tunnelled hello must not reach `target`, or null when it may: it
 * must name the CONNECT host and nothing else (a shared CDN address serves
 * every tenant a client names), and hide no name. A hello to an IP literal
 * may name nothing, or that literal.
 */
export function judgeClientHello(facts: ClientHelloFacts, target: Authority): string | null {
  if (facts.encrypted) return "the TLS hello hides its server name (encrypted client hello)";
  if (facts.duplicateExtensions) return "the TLS hello repeats an extension";
  if (facts.serverNameExtensions > 1 || facts.serverNames.length > 1) return "the TLS hello names more than one server";
  const [name] = facts.serverNames;
  if (name === undefined) {
    return target.host.kind === "name" ? `the TLS hello names no server (SNI); it must name ${target.host.value}` : null;
  }
  if (name.toLowerCase() === target.host.value) return null;
  return `TLS server name ${printable(name)} does not match CONNECT target ${target.host.value}`;
}
