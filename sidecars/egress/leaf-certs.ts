// @peculiar/x509 resolves its services through tsyringe, which needs this polyfill loaded first.
import "reflect-metadata";
import { createPrivateKey, webcrypto } from "node:crypto";
import tls from "node:tls";
import * as x509 from "@peculiar/x509";
import type { Host } from "./host.js";

// Certificates egress shows the agent when it terminates TLS: one leaf per
// host, signed by the bottle's own CA (which the agent trusts and nothing else
// does). Leaves are short-lived, carry exactly the host they were minted for,
// and are cached; the CA key is read once from its file into this process and
// goes nowhere else.

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const CURVES: Record<string, { namedCurve: string; hash: string }> = {
  prime256v1: { namedCurve: "P-256", hash: "SHA-256" },
  secp384r1: { namedCurve: "P-384", hash: "SHA-384" },
};
const LEAF_ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;
const LEAF_LIFETIME_MS = 24 * 3600 * 1000;
/** Leaves start a little in the past: clocks between processes can disagree slightly. */
const BACKDATE_MS = 5 * 60 * 1000;
/** A cached leaf this close to expiry is replaced before it is shown again. */
const RENEW_MARGIN_MS = 3600 * 1000;
const CACHE_LIMIT = 1000;

export interface SigningCa {
  cert: x509.X509Certificate;
  key: webcrypto.CryptoKey;
  signingAlgorithm: { name: "ECDSA"; hash: string };
  /** The CA's subject key id, which every leaf names as its authority key id. */
  keyId: string;
}

/** Loads the bottle CA from PEM text. Only ECDSA CAs (what the engine makes) are supported. */
export async function loadSigningCa(certPem: string, keyPem: string): Promise<SigningCa> {
  const cert = new x509.X509Certificate(certPem);
  const keyObject = createPrivateKey(keyPem);
  const curve = keyObject.asymmetricKeyType === "ec" ? CURVES[keyObject.asymmetricKeyDetails?.namedCurve ?? ""] : undefined;
  if (!curve) throw new Error(`the CA key must be ECDSA P-256 or P-384 (got ${keyObject.asymmetricKeyType ?? "unknown"})`);
  const der = keyObject.export({ type: "pkcs8", format: "der" });
  const key = await webcrypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve: curve.namedCurve }, false, ["sign"]);
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const keyId = ski ? ski.keyId : (await x509.SubjectKeyIdentifierExtension.create(cert.publicKey)).keyId;
  return { cert, key, signingAlgorithm: { name: "ECDSA", hash: curve.hash }, keyId };
}

export interface LeafKey {
  pair: webcrypto.CryptoKeyPair;
  pem: string;
}

/** The key every leaf of this process certifies: made at start, kept in memory only. */
export async function createLeafKey(): Promise<LeafKey> {
  const pair = (await webcrypto.subtle.generateKey(LEAF_ALGORITHM, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", pair.privateKey);
  return { pair, pem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY") };
}

/** 16 random bytes with the top bit clear: DER serials must be positive. */
function positiveSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = bytes[0]! & 0x7f;
  return Buffer.from(bytes).toString("hex");
}

/** A leaf for one host: SAN of exactly that name or address, serverAuth only, never a CA. */
export async function mintLeaf(ca: SigningCa, leafKey: LeafKey, host: Host, now = new Date()): Promise<x509.X509Certificate> {
  const notAfter = new Date(Math.min(now.getTime() + LEAF_LIFETIME_MS, ca.cert.notAfter.getTime()));
  const san = host.kind === "name" ? { type: "dns" as const, value: host.value } : { type: "ip" as const, value: host.value };
  return x509.X509CertificateGenerator.create({
    serialNumber: positiveSerial(),
    subject: `CN=${host.value}`,
    issuer: ca.cert.subject,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
    publicKey: leafKey.pair.publicKey,
    signingKey: ca.key,
    signingAlgorithm: ca.signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension([san], false),
      new x509.AuthorityKeyIdentifierExtension(ca.keyId, false),
      await x509.SubjectKeyIdentifierExtension.create(leafKey.pair.publicKey),
    ],
  });
}

interface CachedLeaf {
  context: Promise<tls.SecureContext>;
  renewAt: number;
}

/** Leaves by host, minted once and reused until close to expiry; the least recently used go first. */
export class LeafCache {
  readonly #entries = new Map<string, CachedLeaf>();

  constructor(
    private readonly ca: SigningCa,
    private readonly leafKey: LeafKey,
  ) {}

  /** The TLS context presenting the leaf for `host` (what the agent will check against its CONNECT target). */
  contextFor(host: Host): Promise<tls.SecureContext> {
    const key = `${host.kind}:${host.value}`;
    const cached = this.#entries.get(key);
    if (cached && cached.renewAt > Date.now()) {
      this.#entries.delete(key);
      this.#entries.set(key, cached);
      return cached.context;
    }
    const now = new Date();
    const context = mintLeaf(this.ca, this.leafKey, host, now).then((leaf) =>
      tls.createSecureContext({ key: this.leafKey.pem, cert: leaf.toString("pem"), minVersion: "TLSv1.2" }),
    );
    const renewAt = Math.min(now.getTime() + LEAF_LIFETIME_MS, this.ca.cert.notAfter.getTime()) - RENEW_MARGIN_MS;
    const entry: CachedLeaf = { context, renewAt };
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    // A failed mint must not stick: the next connection tries again.
    context.catch(() => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    });
    while (this.#entries.size > CACHE_LIMIT) this.#entries.delete(this.#entries.keys().next().value!);
    return context;
  }
}
