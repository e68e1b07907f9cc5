import os from "node:os";
import { describe, expect, it } from "vitest";
import { allowedHostnames, hostAllowed, isLoopback } from "../../../src/mcp/host-header.js";

describe("the HTTP transport's Host-header check", () => {
  it("accepts only loopback names for a loopback bind, on any port", () => {
    const allowed = allowedHostnames("127.0.0.1");
    expect(allowed.sort()).toEqual(["127.0.0.1", "[::1]", "localhost"]);
    for (const host of ["127.0.0.1:8642", "localhost:1", "LOCALHOST", "[::1]:80"]) expect(hostAllowed(host, allowed), host).toBe(true);
    for (const host of [undefined, "", "evil.example", "evil.example:8642", "127.0.0.1.evil.example", "localhost.:80", "user@evil.example"]) {
      expect(hostAllowed(host, allowed), String(host)).toBe(false);
    }
  });

  it("adds the bound address, and for a wildcard bind this machine's names and addresses", () => {
    expect(allowedHostnames("10.1.2.3")).toContain("10.1.2.3");
    expect(allowedHostnames("fd00::1")).toContain("[fd00::1]");
    const wildcard = allowedHostnames("0.0.0.0");
    expect(wildcard).toContain(os.hostname().toLowerCase());
    const addresses = Object.values(os.networkInterfaces()).flat().filter((a) => a?.family === "IPv4").map((a) => a!.address);
    for (const address of addresses) expect(hostAllowed(`${address}:8642`, wildcard)).toBe(true);
    expect(hostAllowed("evil.example", wildcard)).toBe(false);
  });

  it("knows loopback addresses", () => {
    for (const host of ["127.0.0.1", "127.5.0.1", "localhost", "::1", "[::1]"]) expect(isLoopback(host), host).toBe(true);
    for (const host of ["0.0.0.0", "::", "10.0.0.1", "localhost.evil.example", "128.0.0.1"]) expect(isLoopback(host), host).toBe(false);
  });
});
