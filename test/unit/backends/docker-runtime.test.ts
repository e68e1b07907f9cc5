import { describe, expect, it } from "vitest";
import { chooseAgentRuntime } from "../../../backends/docker/runtime.js";

describe("chooseAgentRuntime (gVisor decision)", () => {
  it("uses the default runtime when runsc is not installed, saying so", () => {
    const choice = chooseAgentRuntime({ Runtimes: { runc: { path: "runc" } } });
    expect(choice.runtime).toBeNull();
    expect(choice.reason).toMatch(/not installed/);
  });

  it("refuses runsc that cannot connect to host Unix sockets, and says how to fix it", () => {
    const choice = chooseAgentRuntime({ Runtimes: { runsc: { path: "/usr/bin/runsc", runtimeArgs: ["--network=none"] } } });
    expect(choice.runtime).toBeNull();
    expect(choice.reason).toMatch(/--host-uds=open/);
  });

  it.each(["--host-uds=open", "--host-uds=all"])("uses runsc configured with %s", (flag) => {
    const choice = chooseAgentRuntime({ Runtimes: { runsc: { path: "/usr/bin/runsc", runtimeArgs: [flag] } } });
    expect(choice.runtime).toBe("runsc");
  });

  it("does not take --host-uds=create alone as enough (it only allows creating sockets)", () => {
    expect(chooseAgentRuntime({ Runtimes: { runsc: { runtimeArgs: ["--host-uds=create"] } } }).runtime).toBeNull();
  });

  it("treats unreadable docker info as no runsc", () => {
    expect(chooseAgentRuntime("garbage").runtime).toBeNull();
  });
});
