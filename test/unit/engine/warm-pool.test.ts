import { mkdirSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { canClaim, parseWarmTarget, poolKey } from "../../../src/engine/warm-pool.js";

describe("warm pools", () => {
  it("reads --warm AGENT=N, refusing anything else with the flag's name", () => {
    expect(parseWarmTarget("probe=2")).toEqual(["probe", 2]);
    expect(parseWarmTarget("my-agent=0")).toEqual(["my-agent", 0]);
    for (const bad of ["probe", "probe=", "=2", "probe=-1", "probe=1.5", "probe=17", "a b=1"]) {
      expect(() => parseWarmTarget(bad), bad).toThrow(`--warm ${bad}: expected AGENT=N with N from 0 to 16`);
    }
  });

  it("serves a start with the same agent, bottles and backend; the label and cwd are applied at claim", () => {
    const key = poolKey({ agent: "probe" });
    expect(poolKey({ agent: "probe", label: "x", cwd: "/somewhere" } as never)).toBe(key);
    expect(poolKey({ agent: "probe", bottles: ["other"] })).not.toBe(key);
    expect(poolKey({ agent: "probe", backend: "smolmachines" })).not.toBe(key);
    expect(poolKey({ agent: "other" })).not.toBe(key);
  });

  it("is not claimed by a start with its own Dockerfile, or whose cwd is a git repository (its origin is set up at launch)", () => {
    const plain = mkdtempSync(path.join(os.tmpdir(), "bb-pool-plain-"));
    const repo = mkdtempSync(path.join(os.tmpdir(), "bb-pool-repo-"));
    mkdirSync(path.join(repo, ".git"));
    expect(canClaim({ agent: "probe" }, null)).toBe(true);
    expect(canClaim({ agent: "probe", cwd: plain }, plain)).toBe(true);
    expect(canClaim({ agent: "probe", dockerfile: "x.Dockerfile" }, null)).toBe(false);
    expect(canClaim({ agent: "probe", cwd: repo }, repo)).toBe(false);
  });
});
