import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, expect, it } from "vitest";
import { homeLabel } from "../../../src/engine/prepare.js";
import { repoRoot, runCli } from "../../support/cli.js";
import { baseImage, describeWithDocker, engineTestEnv } from "../../support/docker.js";

// The engine over more than one backend, on a machine where only Docker can
// run bottles (no smolvm, no /dev/kvm): what it says about the other backend,
// and what it does with bottles of a backend that does not answer.

const fixtureHome = path.join(repoRoot, "test", "fixtures", "homes", "engine");
const claudeConfig = path.join(repoRoot, "test", "fixtures", "claude-config");

describeWithDocker("list, gc and start across backends (smolvm not available here)", () => {
  const home = mkdtempSync(path.join(os.tmpdir(), "bb-backends-"));
  // A path that is not smolvm, so the test means the same on a machine that has one.
  const env = { ...engineTestEnv(), BOT_BOTTLE_HOME: home, CLAUDE_CONFIG_DIR: claudeConfig, BOT_BOTTLE_SMOLVM: "/nonexistent/smolvm" };
  const made: string[] = [];

  /** A recorded running bottle of `backend`, with a labelled stand-in for its sidecar container. */
  async function recordedBottle(id: string, backend: "docker" | "smolmachines"): Promise<string> {
    const dir = path.join(home, "state", id);
    mkdirSync(dir, { recursive: true });
    const resources = { agent: `bot-bottle-${id}-agent`, bundle: `bot-bottle-${id}-bundle`, network: `bot-bottle-${id}`, volume: `bot-bottle-${id}-sockets` };
    writeFileSync(
      path.join(dir, "metadata.json"),
      JSON.stringify({
        id, agent: "probe", bottles: ["probe"], provider: "claude", backend, label: null, cwd: null, status: "running",
        started_at: new Date().toISOString(), stopped_at: null, resources, warnings: [], starter_pid: null,
      }),
    );
    const labels = ["--label", `bot-bottle.id=${id}`, "--label", `bot-bottle.home=${homeLabel(home)}`, "--label", "bot-bottle.role=bundle"];
    await execa("docker", ["run", "-d", "--name", resources.bundle, ...labels, "--network", "none", "--entrypoint", "sleep", baseImage(), "infinity"]);
    made.push(resources.bundle);
    return resources.bundle;
  }
  const exists = async (container: string) => (await execa("docker", ["inspect", container], { reject: false })).exitCode === 0;

  afterAll(async () => {
    for (const container of made) await execa("docker", ["rm", "-f", container], { reject: false });
    rmSync(home, { recursive: true, force: true });
  });

  it("start --backend smolmachines says what is missing and how to get it, in doctor's words", async () => {
    cpSync(fixtureHome, home, { recursive: true });
    const started = await runCli(["start", "probe", "--backend", "smolmachines"], env);
    expect(started.exitCode).toBe(1);
    expect(started.stderr).toContain("smolmachines cannot run bottles here: smolvm is not on PATH");
    expect(started.stderr).toContain("Fix: install smolvm");
    const doctor = await runCli(["doctor", "--json"], env);
    const check = (JSON.parse(doctor.stdout) as { checks: { id: string; fix: string | null }[] }).checks.find((c) => c.id === "smolvm");
    expect(started.stderr).toContain(check!.fix!.replace(/^optional: /, ""));
  });

  it("keeps a running bottle whose backend does not answer: ls shows it as recorded, gc leaves its sidecars and state", async () => {
    const bundle = await recordedBottle("vm-bottle-00000001", "smolmachines");
    const listed = await runCli(["ls", "--json"], env);
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as { id: string; status: string }[]).find((b) => b.id === "vm-bottle-00000001")?.status).toBe("running");
    const collected = await runCli(["gc"], env);
    expect(collected.exitCode, collected.stderr).toBe(0);
    expect(await exists(bundle)).toBe(true);
    expect(await runCli(["ls", "--json"], env).then((r) => r.stdout)).toContain("vm-bottle-00000001");
  });

  it("still collects a docker bottle whose agent is gone, in the same gc", async () => {
    const bundle = await recordedBottle("docker-bottle-00000002", "docker");
    const listed = await runCli(["ls", "--json"], env);
    expect((JSON.parse(listed.stdout) as { id: string; status: string }[]).find((b) => b.id === "docker-bottle-00000002")?.status).toBe("stopped");
    const collected = await runCli(["gc"], env);
    expect(collected.exitCode, collected.stderr).toBe(0);
    expect(await exists(bundle)).toBe(false);
    expect(await runCli(["ls", "--json"], env).then((r) => r.stdout)).not.toContain("docker-bottle-00000002");
  });
});
