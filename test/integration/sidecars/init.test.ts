import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RoutesFile } from "../../../sidecars/egress/routes.js";
import { DaemonProcess } from "./daemon-process.js";
import { get } from "./raw-http.js";

// The bundle's init supervising the bundled daemons: it relays them, forwards
// signals, and turns any daemon exit into a loud container exit.

describe("bundle init", () => {
  let dir: string;
  let env: Record<string, string>;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "bot-bottle-init-"));
    const routes: RoutesFile = { version: 1, log: 2, routes: [] };
    writeFileSync(join(dir, "routes.json"), JSON.stringify(routes));
    env = { BOT_BOTTLE_DAEMONS: "egress", EGRESS_ROUTES: join(dir, "routes.json"), EGRESS_SOCKET: join(dir, "egress.sock") };
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("relays its daemons' output, forwards SIGHUP to egress, and exits 0 on SIGTERM", async () => {
    const init = new DaemonProcess("init", { env });
    await init.waitForLine("stderr", /^\[egress\] egress: ready on unix:/);
    expect((await get({ path: env.EGRESS_SOCKET! }, "/__bot-bottle/health")).status).toBe(200);
    init.child.kill("SIGHUP");
    await init.waitForLine("stderr", /^\[egress\] egress: routes reloaded/);
    expect(await init.stop()).toEqual({ code: 0, signal: null });
    expect(init.lines.stderr).toContain("[init] all daemons stopped");
  });

  it("reports a daemon that fails, with its exit status and last stderr lines, and exits non-zero", async () => {
    const init = new DaemonProcess("init", { env: { ...env, EGRESS_ROUTES: join(dir, "missing.json") } });
    expect(await init.exited).toEqual({ code: 1, signal: null });
    const report = init.lines.stderr.find((line) => line.startsWith("[init] daemon egress exited"));
    expect(report).toMatch(/^\[init\] daemon egress exited with code 1 \/ signal none: egress: cannot load routes from .*missing\.json: ENOENT/);
  });

  it("reports a daemon killed by a signal", async () => {
    const init = new DaemonProcess("init", { env });
    const started = await init.waitForLine("stderr", /^\[init\] started egress \(pid \d+\)/);
    await init.waitForLine("stderr", /egress: ready on/);
    process.kill(Number(/pid (\d+)/.exec(started)![1]), "SIGKILL");
    expect(await init.exited).toEqual({ code: 1, signal: null });
    expect(init.lines.stderr).toContainEqual(expect.stringMatching(/^\[init\] daemon egress exited with code none \/ signal SIGKILL:/));
  });

  it("fails fast on an unknown or empty daemon list", async () => {
    const unknown = new DaemonProcess("init", { env: { ...env, BOT_BOTTLE_DAEMONS: "egress,pipelock" } });
    expect(await unknown.exited).toEqual({ code: 2, signal: null });
    expect(unknown.lines.stderr.join("\n")).toContain('unknown daemon "pipelock" in BOT_BOTTLE_DAEMONS (known: egress, supervise, git-gate)');
    expect(unknown.lines.stderr.join("\n")).not.toContain("started");

    const empty = new DaemonProcess("init", { env: { ...env, BOT_BOTTLE_DAEMONS: " " } });
    expect(await empty.exited).toEqual({ code: 2, signal: null });
    expect(empty.lines.stderr.join("\n")).toContain("BOT_BOTTLE_DAEMONS is empty");
  });
});
