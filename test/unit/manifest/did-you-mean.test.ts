import { describe, expect, it } from "vitest";
import { closestMatch, editDistance } from "../../../src/manifest/did-you-mean.js";

describe("editDistance", () => {
  it.each([
    ["", "", 0],
    ["abc", "", 3],
    ["tls_pasthrough", "tls_passthrough", 1],
    ["bsae", "base", 1],
    ["kitten", "sitting", 3],
  ])("%s -> %s is %d", (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
    expect(editDistance(b, a)).toBe(distance);
  });
});

describe("closestMatch", () => {
  it("suggests a near miss", () => {
    expect(closestMatch("egres", ["extends", "env", "egress"])).toBe("egress");
  });

  it("treats case and - versus _ as no difference", () => {
    expect(closestMatch("git_gate", ["git-gate", "env"])).toBe("git-gate");
    expect(closestMatch("bearer", ["Bearer", "token"])).toBe("Bearer");
  });

  it("suggests nothing for a word that is far from every candidate", () => {
    expect(closestMatch("colour", ["extends", "env", "egress", "supervise"])).toBeUndefined();
  });

  it("prefers the closest candidate", () => {
    expect(closestMatch("logs", ["log", "logger"])).toBe("log");
  });
});
