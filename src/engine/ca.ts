// @peculiar/x509 resolves its services through tsyringe, which needs this polyfill loaded first.
import "reflect-metadata";
import { createHash, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { writeFileAtomic } from "./state.js";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

export interface BottleCa {
  certPem: string;
  keyPem: string;
  /** sha256 of the DER certificate, colon-separated hex, as openssl prints it. */
  fingerprint: string;
}

/**
 * A fresh CA for one bottle: egress signs its per-host leaves with it and the
 * agent trusts it. Its key stays in the host state folder and the bundle.
 */
export async function createBottleCa(bottleId: string, now = new Date()): Promise<BottleCa> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const notAfter = new Date(now.getTime() + 30 * 24 * 3600 * 1000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: positiveSerial(),
    name: `CN=bot-bottle egress CA ${bottleId}, O=bot-bottle`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter,
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  const keyPem = x509.PemConverter.encode(pkcs8, "PRIVATE KEY");
  return { certPem: cert.toString("pem") + "\n", keyPem: keyPem + "\n", fingerprint: certFingerprint(cert.rawData) };
}

/** 16 random bytes with the top bit clear: DER serials must be positive. */
function positiveSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = bytes[0]! & 0x7f;
  return Buffer.from(bytes).toString("hex");
}

export function certFingerprint(der: ArrayBuffer): string {
  const hex = createHash("sha256").update(Buffer.from(der)).digest("hex").toUpperCase();
  return hex.match(/../g)!.join(":");
}

export function writeBottleCa(ca: BottleCa, certPath: string, keyPath: string): void {
  // Atomically, like every state file: a full disk must not leave half a certificate or key.
  writeFileAtomic(certPath, ca.certPem, 0o644);
  writeFileAtomic(keyPath, ca.keyPem, 0o600);
}
