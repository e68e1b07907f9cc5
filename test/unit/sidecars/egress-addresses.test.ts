import { describe, expect, it } from "vitest";
import { allowedNetworks, FORBIDDEN_ADDRESS, forbiddenAddressReason, guardedLookup } from "../../../sidecars/egress/addresses.js";

describe("forbiddenAddressReason", () => {
  it.each([
    "127.0.0.1",
    "127.255.0.9",
    "10.1.2.3",
    "172.17.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fd00:ec2::254",
    "fc00::5",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",
    "2002:a00:1::",
  ])("refuses %s", (address) => {
    expect(forbiddenAddressReason(address)).toMatch(/loopback, private, link-local or reserved/);
  });

  it.each(["93.184.216.34", "1.1.1.1", "172.32.0.1", "198.51.100.10", "2606:4700::6810:85e5", "::ffff:93.184.216.34", "64:ff9b::5db8:d822"])(
    "allows the public address %s",
    (address) => {
      expect(forbiddenAddressReason(address)).toBeNull();
    },
  );

  it("refuses what is not an address", () => {
    expect(forbiddenAddressReason("example.com")).toBe("not an IP address");
  });

  it("allows private addresses inside networks the operator named, and nothing else", () => {
    const allowed = allowedNetworks(" 10.20.0.0/16, fd12::/64 ");
    expect(forbiddenAddressReason("10.20.3.4", allowed)).toBeNull();
    expect(forbiddenAddressReason("fd12::7", allowed)).toBeNull();
    expect(forbiddenAddressReason("10.21.0.1", allowed)).not.toBeNull();
    expect(forbiddenAddressReason("169.254.169.254", allowed)).not.toBeNull();
    expect(forbiddenAddressReason("127.0.0.1", allowedNetworks(""))).not.toBeNull();
  });

  it.each(["10.0.0.0", "10.0.0.0/33", "example.com/8", "::1/129", "10.0.0.0/8;rm"])("refuses the malformed network %j", (entry) => {
    expect(() => allowedNetworks(entry)).toThrow(/is not a CIDR/);
  });
});

describe("guardedLookup", () => {
  const lookup = (host: string, all: boolean) =>
    new Promise<{ error: NodeJS.ErrnoException | null; result: unknown }>((resolve) =>
      guardedLookup(allowedNetworks(""))(host, { all } as never, (error: NodeJS.ErrnoException | null, result: unknown) => resolve({ error, result })),
    );

  it("refuses a name that resolves to loopback, naming the address", async () => {
    for (const all of [false, true]) {
      const { error } = await lookup("localhost", all);
      expect(error?.code).toBe(FORBIDDEN_ADDRESS);
      expect(error?.message).toMatch(/^localhost resolves to (127\.0\.0\.1|::1), a loopback/);
    }
  });

  it("lets a name resolve into an allowed network", async () => {
    const { error, result } = await new Promise<{ error: NodeJS.ErrnoException | null; result: unknown }>((resolve) =>
      guardedLookup(allowedNetworks("127.0.0.0/8,::1/128"))("localhost", { all: false } as never, (error: NodeJS.ErrnoException | null, result: unknown) =>
        resolve({ error, result }),
      ),
    );
    expect(error).toBeNull();
    expect(result).toMatch(/^(127\.0\.0\.1|::1)$/);
  });

  it("passes resolver errors through unchanged", async () => {
    const { error } = await lookup("does-not-exist.invalid", false);
    expect(error?.code).toMatch(/ENOTFOUND|EAI_AGAIN/);
  });
});
