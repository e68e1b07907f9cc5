import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createLeafKey, LeafCache, loadSigningCa, mintLeaf } from "../../../sidecars/egress/leaf-certs.js";
import { createBottleCa } from "../../../src/engine/ca.js";

// Leaves are checked with Node's own X.509 parser, not the library that made them.

describe("leaf certificates", async () => {
  const bottleCa = await createBottleCa("leaf-test");
  const ca = await loadSigningCa(bottleCa.certPem, bottleCa.keyPem);
  const leafKey = await createLeafKey();
  const caCert = new X509Certificate(bottleCa.certPem);

  it("are signed by the bottle CA, for exactly the host, for server auth only, and are not CAs", async () => {
    const now = new Date();
    const leaf = new X509Certificate((await mintLeaf(ca, leafKey, { kind: "name", value: "api.example.com" }, now)).toString("pem"));
    expect(leaf.verify(caCert.publicKey)).toBe(true);
    expect(leaf.checkIssued(caCert)).toBe(true);
    expect(leaf.subjectAltName).toBe("DNS:api.example.com");
    expect(leaf.checkHost("api.example.com")).toBe("api.example.com");
    expect(leaf.checkHost("other.example.com")).toBeUndefined();
    expect(leaf.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
    expect(leaf.ca).toBe(false);
    expect(leaf.issuer).toBe(caCert.subject);
  });

  it("name the CA's key as their authority key id", async () => {
    const leaf = await mintLeaf(ca, leafKey, { kind: "name", value: "api.example.com" });
    const text = new X509Certificate(leaf.toString("pem")).toLegacyObject();
    expect(text.ext_key_usage).toEqual(["1.3.6.1.5.5.7.3.1"]);
    const aki = leaf.extensions.find((e) => e.type === "2.5.29.35");
    expect(aki).toBeDefined();
    expect(Buffer.from(aki!.value).toString("hex")).toContain(ca.keyId);
  });

  it("carry an IP literal as an IP SAN", async () => {
    const leaf = new X509Certificate((await mintLeaf(ca, leafKey, { kind: "ipv6", value: "2001:db8::1" })).toString("pem"));
    expect(leaf.subjectAltName).toBe("IP Address:2001:DB8:0:0:0:0:0:1");
    expect(leaf.checkIP("2001:db8::1")).toBe("2001:db8::1");
  });

  it("live a day at most (backdated five minutes) and never outlive the CA", async () => {
    const now = new Date();
    const leaf = new X509Certificate((await mintLeaf(ca, leafKey, { kind: "name", value: "a.example" }, now)).toString("pem"));
    expect(new Date(leaf.validFrom).getTime()).toBe(Math.floor((now.getTime() - 5 * 60_000) / 1000) * 1000);
    expect(new Date(leaf.validTo).getTime() - now.getTime()).toBeLessThanOrEqual(24 * 3600_000);
    const late = new Date(caCert.validTo);
    late.setTime(late.getTime() - 3600_000);
    const capped = new X509Certificate((await mintLeaf(ca, leafKey, { kind: "name", value: "a.example" }, late)).toString("pem"));
    expect(new Date(capped.validTo).getTime()).toBeLessThanOrEqual(new Date(caCert.validTo).getTime());
  });

  it("get fresh serials", async () => {
    const host = { kind: "name" as const, value: "a.example" };
    const [a, b] = await Promise.all([mintLeaf(ca, leafKey, host), mintLeaf(ca, leafKey, host)]);
    expect(a.serialNumber).not.toBe(b.serialNumber);
  });

  it("are cached per host", async () => {
    const cache = new LeafCache(ca, leafKey);
    const first = await cache.contextFor({ kind: "name", value: "cached.example" });
    expect(await cache.contextFor({ kind: "name", value: "cached.example" })).toBe(first);
    expect(await cache.contextFor({ kind: "name", value: "other.example" })).not.toBe(first);
  });

  it("refuse a CA key that is not ECDSA", async () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    await expect(loadSigningCa(bottleCa.certPem, rsa.privateKey.export({ type: "pkcs8", format: "pem" }) as string)).rejects.toThrow(
      /must be ECDSA P-256 or P-384 \(got rsa\)/,
    );
  });
});
