import { randomBytes } from "node:crypto";

// Hand-built TLS ClientHello records, for the probes that act as a crafty
// agent: hellos no TLS library would send (two server names, an encrypted
// client hello extension, a second hello after a HelloRetryRequest naming
// another host). Only the fields a server needs to answer are filled in.

export interface HelloOptions {
  /** host_name entries of the server_name extension; none: no extension at all. */
  serverNames?: string[];
  /** Named groups offered, and whether a key share is sent for them (none: the server must ask with a HelloRetryRequest). */
  groups?: number[];
  keyShares?: { group: number; key: Buffer }[];
  /** Further extensions, as they go on the wire. */
  extensions?: { type: number; data: Buffer }[];
  /** Split the handshake message over records of at most this many bytes. */
  recordSize?: number;
}

export const GROUP = { x25519: 0x001d, secp256r1: 0x0017, secp384r1: 0x0018 } as const;
export const EXTENSION = { serverName: 0, encryptedClientHello: 0xfe0d } as const;

const u8 = (n: number) => Buffer.from([n]);
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u24 = (n: number) => Buffer.from([n >> 16, (n >> 8) & 0xff, n & 0xff]);
const vec16 = (data: Buffer) => Buffer.concat([u16(data.length), data]);
const ext = (type: number, data: Buffer) => Buffer.concat([u16(type), vec16(data)]);

export function serverNameExtension(names: string[]): { type: number; data: Buffer } {
  const entries = Buffer.concat(names.map((name) => Buffer.concat([u8(0), vec16(Buffer.from(name, "ascii"))])));
  return { type: EXTENSION.serverName, data: vec16(entries) };
}

/** A TLS 1.3 ClientHello, wrapped in handshake records. */
export function clientHello(options: HelloOptions = {}): Buffer {
  const groups = options.groups ?? [GROUP.x25519];
  const shares = options.keyShares ?? [];
  const extensions = [
    ...(options.serverNames ? [serverNameExtension(options.serverNames)] : []),
    { type: 43, data: Buffer.concat([u8(2), u16(0x0304)]) }, // supported_versions: TLS 1.3
    { type: 10, data: vec16(Buffer.concat(groups.map(u16))) }, // supported_groups
    { type: 13, data: vec16(Buffer.concat([0x0804, 0x0403, 0x0805, 0x0503].map(u16))) }, // signature_algorithms
    { type: 51, data: vec16(Buffer.concat(shares.map((s) => Buffer.concat([u16(s.group), vec16(s.key)])))) }, // key_share
    ...(options.extensions ?? []),
  ];
  const body = Buffer.concat([
    u16(0x0303),
    randomBytes(32),
    Buffer.concat([u8(32), randomBytes(32)]), // legacy_session_id
    vec16(Buffer.concat([0x1301, 0x1302, 0x1303].map(u16))), // TLS 1.3 cipher suites
    Buffer.concat([u8(1), u8(0)]), // null compression
    vec16(Buffer.concat(extensions.map((e) => ext(e.type, e.data)))),
  ]);
  const message = Buffer.concat([u8(1), u24(body.length), body]);
  return handshakeRecords(message, options.recordSize ?? 16_384);
}

export function handshakeRecords(message: Buffer, recordSize: number): Buffer {
  const records: Buffer[] = [];
  for (let at = 0; at < message.length; at += recordSize) {
    const fragment = message.subarray(at, at + recordSize);
    records.push(Buffer.concat([u8(22), u16(0x0301), u16(fragment.length), fragment]));
  }
  return Buffer.concat(records);
}

/** The ChangeCipherSpec record a TLS 1.3 client sends for middlebox compatibility. */
export const CHANGE_CIPHER_SPEC = Buffer.from([20, 3, 3, 0, 1, 1]);
