import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createBottleCa } from "../../../src/engine/ca.js";

describe("createBottleCa", () => {
  it("makes a CA certificate whose key signs and whose fingerprint matches the certificate", async () => {
    const ca = await createBottleCa("demo-abc123");
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toContain("bot-bottle egress CA demo-abc123");
    expect(cert.fingerprint256).toBe(ca.fingerprint);
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(cert.checkPrivateKey((await import("node:crypto")).createPrivateKey(ca.keyPem))).toBe(true);
  });

  it("gives every bottle its own CA", async () => {
    const [a, b] = await Promise.all([createBottleCa("a"), createBottleCa("b")]);
    expect(a.fingerprint).not.toBe(b.fingerprint);
  });
});
