import { describe, expect, it } from "vitest";
import { DEFAULT_RESOURCES, describeResources, Resources } from "../../../src/manifest/resources.js";

describe("the resources key", () => {
  it("reads memory sizes in binary units, as Docker does", () => {
    expect(Resources.parse({ memory: "512m" }).memory).toBe(512 * 1024 ** 2);
    expect(Resources.parse({ memory: "4G" }).memory).toBe(4 * 1024 ** 3);
    expect(Resources.parse({ memory: "1.5g" }).memory).toBe(1.5 * 1024 ** 3);
    expect(Resources.parse({ memory: "65536k" }).memory).toBe(64 * 1024 ** 2);
  });

  it.each([
    [{ memory: "lots" }, "must be a size with a unit"],
    [{ memory: "4gb" }, "must be a size with a unit"],
    [{ memory: "-1g" }, "must be a size with a unit"],
    [{ memory: "63m" }, "must be at least 64m"],
    [{ cpus: 0 }, "of at least 0.01"],
    [{ cpus: -2 }, "of at least 0.01"],
    [{ cpus: 0.001 }, "of at least 0.01"],
    [{ cpus: 1.234 }, "in steps of 0.01"],
    [{ pids: -1 }, "must be at least 64"],
    [{ pids: 0 }, "must be at least 64"],
  ])("refuses %j", (value, message) => {
    const result = Resources.safeParse(value);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.message).join("; ")).toContain(message);
  });

  it("has defaults a real agent can work with, within what it accepts", () => {
    expect(Resources.safeParse({ cpus: DEFAULT_RESOURCES.cpus, pids: DEFAULT_RESOURCES.pids }).success).toBe(true);
    expect(DEFAULT_RESOURCES.memory).toBeGreaterThanOrEqual(2 * 1024 ** 3);
    expect(DEFAULT_RESOURCES.pids).toBeGreaterThanOrEqual(1024);
  });

  it("describes limits for the preflight summary", () => {
    expect(describeResources({ memory: 4 * 1024 ** 3, cpus: 2, pids: 4096 })).toBe("memory 4 GiB, 2 CPUs (at most the host's), 4096 processes and threads");
    expect(describeResources({ memory: 1536 * 1024 ** 2, cpus: 1, pids: 64 })).toBe("memory 1536 MiB, 1 CPU (at most the host's), 64 processes and threads");
  });
});
