import { describe, expect, it } from "vitest";
import { agentCpuShare } from "../../../backends/docker/cpu-share.js";

describe("agentCpuShare (the agent container's --cpus)", () => {
  it("gives the bottle's share when the host has that many CPUs", () => {
    expect(agentCpuShare(1.5, { NCPU: 2 })).toEqual({ cpus: 1.5, reason: "1.5 CPUs" });
    expect(agentCpuShare(2, { NCPU: 2 }).cpus).toBe(2);
  });

  it("lowers a share above the host's CPU count to that count (Docker would refuse it), saying why", () => {
    const share = agentCpuShare(8, { NCPU: 2 });
    expect(share.cpus).toBe(2);
    expect(share.reason).toBe("2 CPUs: the bottle asks for 8, this host has 2");
  });

  it("keeps the bottle's share when the engine does not say how many CPUs it has", () => {
    expect(agentCpuShare(4, {}).cpus).toBe(4);
    expect(agentCpuShare(4, { NCPU: "many" }).cpus).toBe(4);
  });
});
