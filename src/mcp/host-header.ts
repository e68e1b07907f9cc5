import os from "node:os";

// DNS-rebinding protection for the HTTP transport: a page in a browser can make
// it send requests to 127.0.0.1 under an attacker's host name, so only requests
// whose Host names this machine are served.

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];
const WILDCARDS = new Set(["0.0.0.0", "::", "[::]"]);

export const isLoopback = (host: string) => ["localhost", "::1", "[::1]"].includes(host) || /^127\.\d+\.\d+\.\d+$/.test(host);

const bracketed = (address: string) => (address.includes(":") && !address.startsWith("[") ? `[${address}]` : address);

/** Host names (as they appear in a Host header, without the port) a server bound to `bindHost` answers to. */
export function allowedHostnames(bindHost: string): string[] {
  const names = new Set(LOOPBACK_NAMES);
  if (WILDCARDS.has(bindHost)) {
    names.add(os.hostname().toLowerCase());
    for (const address of Object.values(os.networkInterfaces()).flat()) {
      if (address) names.add(bracketed(address.address));
    }
  } else {
    names.add(bracketed(bindHost));
  }
  return [...names];
}

/** Whether a Host header names one of the allowed hosts (any port). */
export function hostAllowed(hostHeader: string | undefined, allowed: readonly string[]): boolean {
  if (!hostHeader) return false;
  try {
    return allowed.includes(new URL(`http://${hostHeader}`).hostname);
  } catch {
    return false;
  }
}
