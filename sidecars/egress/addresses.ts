import dns from "node:dns";
import net, { type LookupFunction } from "node:net";

// Where a declared NAME may lead. The bundle sits on a bridge network whose
// gateway is the host: a name that resolves to a loopback, private, link-local
// (cloud metadata) or other special-purpose address would let the agent reach
// host services or the metadata endpoint through a route meant for the
// internet (a DNS answer is not under the user's control; DNS rebinding makes
// it the attacker's). Such answers are refused. A route that declares an IP
// literal is a deliberate choice of address and is not checked here: the
// policy only lets a literal through when a route names exactly it. The
// operator may also name networks that declared names may resolve into
// (internal services on a private network): `allowedNetworks`.

const SPECIAL_RANGES: [string, number, "ipv4" | "ipv6"][] = [
  ["0.0.0.0", 8, "ipv4"], // "this network"
  ["10.0.0.0", 8, "ipv4"], // private
  ["100.64.0.0", 10, "ipv4"], // carrier-grade NAT
  ["127.0.0.0", 8, "ipv4"], // loopback
  ["169.254.0.0", 16, "ipv4"], // link-local, cloud metadata (169.254.169.254)
  ["172.16.0.0", 12, "ipv4"], // private (Docker's default bridges)
  ["192.0.0.0", 24, "ipv4"], // IETF protocol assignments
  ["192.168.0.0", 16, "ipv4"], // private
  ["198.18.0.0", 15, "ipv4"], // benchmarking
  ["224.0.0.0", 4, "ipv4"], // multicast
  ["240.0.0.0", 4, "ipv4"], // reserved, broadcast
  ["::", 128, "ipv6"], // unspecified
  ["::1", 128, "ipv6"], // loopback
  ["fc00::", 7, "ipv6"], // unique local (includes AWS's fd00:ec2::254 metadata)
  ["fe80::", 10, "ipv6"], // link-local
  ["ff00::", 8, "ipv6"], // multicast
];

const special = new net.BlockList();
for (const [address, prefix, type] of SPECIAL_RANGES) special.addSubnet(address, prefix, type);

/** IPv6 forms that carry an IPv4 address: mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96), 6to4 (2002::/16). */
function embeddedIPv4(address: string): string | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  const expanded = expandIPv6(address);
  if (!expanded) return null;
  const words = expanded.map((word) => parseInt(word, 16));
  const quad = (hi: number, lo: number) => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) return quad(words[6]!, words[7]!);
  if (words[0] === 0x64 && words[1] === 0xff9b && words.slice(2, 6).every((w) => w === 0)) return quad(words[6]!, words[7]!);
  if (words[0] === 0x2002) return quad(words[1]!, words[2]!);
  return null;
}

function expandIPv6(address: string): string[] | null {
  if (!net.isIPv6(address) || address.includes(".")) return null;
  const [head, tail] = address.split("::") as [string, string | undefined];
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const missing = 8 - left.length - right.length;
  if (tail === undefined && missing !== 0) return null;
  return [...left, ...Array<string>(missing).fill("0"), ...right];
}

const CIDR = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/;

/** Networks (comma-separated CIDRs) that names may resolve into although they are private; throws on a malformed entry. */
export function allowedNetworks(text: string): net.BlockList {
  const list = new net.BlockList();
  for (const entry of text.split(",").map((e) => e.trim()).filter((e) => e !== "")) {
    const match = CIDR.exec(entry);
    const family = match ? (net.isIPv4(match[1]!) ? "ipv4" : net.isIPv6(match[1]!) ? "ipv6" : null) : null;
    const prefix = Number(match?.[2]);
    if (!match || family === null || prefix > (family === "ipv4" ? 32 : 128)) throw new Error(`${JSON.stringify(entry)} is not a CIDR such as 10.20.0.0/16`);
    list.addSubnet(match[1]!, prefix, family);
  }
  return list;
}

/** Why a resolved address must not be connected to, or null when it may. */
export function forbiddenAddressReason(address: string, allowed: net.BlockList = new net.BlockList()): string | null {
  const family = net.isIPv4(address) ? "ipv4" : net.isIPv6(address) ? "ipv6" : null;
  if (family === null) return "not an IP address";
  if (allowed.check(address, family)) return null;
  if (special.check(address, family)) return "a loopback, private, link-local or reserved address";
  const inner = family === "ipv6" ? embeddedIPv4(address) : null;
  if (inner !== null && special.check(inner, "ipv4")) return `an IPv6 form of ${inner}, a loopback, private, link-local or reserved address`;
  return null;
}

/** Error code of a connection refused because its name resolved to a forbidden address. */
export const FORBIDDEN_ADDRESS = "EGRESS_FORBIDDEN_ADDRESS";

/**
 * A `lookup` for net/http/https connects: resolves as usual, then refuses the
 * whole answer if any address in it is forbidden (a mixed answer is a classic
 * rebinding trick). The connection then goes to an address that was checked,
 * with no second resolution in between.
 */
export const guardedLookup = (allowed: net.BlockList): LookupFunction => (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) {
      callback(error, "", 4);
      return;
    }
    for (const { address } of addresses) {
      const reason = forbiddenAddressReason(address, allowed);
      if (reason !== null) {
        const refusal: NodeJS.ErrnoException = new Error(`${hostname} resolves to ${address}, ${reason}`);
        refusal.code = FORBIDDEN_ADDRESS;
        callback(refusal, "", 4);
        return;
      }
    }
    if (options.all) {
      (callback as unknown as (error: null, addresses: dns.LookupAddress[]) => void)(null, addresses);
      return;
    }
    const first = addresses[0];
    if (!first) {
      const none: NodeJS.ErrnoException = new Error(`${hostname} has no addresses`);
      none.code = "ENOTFOUND";
      callback(none, "", 4);
      return;
    }
    callback(null, first.address, first.family);
  });
};
