import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runCli, repoRoot } from "../../support/cli.js";
import { describeWithDocker, engineTestEnv } from "../../support/docker.js";

// The smolmachines backend's side of the smolvm CLI contract, checked against
// a STAND-IN smolvm (test/support/stand-in-smolvm.mjs): real smolvm needs
// /dev/kvm, which these machines lack. The stand-in refuses any command line
// outside smolvm's documented grammar (../shared/facts.md) and emulates each
// machine with a Docker container, so a whole bottle's life runs through the
// backend; every call is recorded, and the record is what this suite judges.

const STAND_IN = path.join(repoRoot, "test", "support", "stand-in-smolvm.mjs");
const fixtureHome = path.join(repoRoot, "test", "fixtures", "homes", "engine");
const claudeConfig = path.join(repoRoot, "test", "fixtures", "claude-config");

interface Call {
  argv: string[];
  exit: number;
  violation?: string;
}

describeWithDocker("the smolmachines backend against a stand-in smolvm (grammar-checked, emulated with Docker)", () => {
  const home = mkdtempSync(path.join(os.tmpdir(), "bb-smol-"));
  const smolState = mkdtempSync(path.join(os.tmpdir(), "bb-smolvm-state-"));
  const env: Record<string, string> = {
    ...engineTestEnv(),
    BOT_BOTTLE_HOME: home,
    CLAUDE_CONFIG_DIR: claudeConfig,
    BOT_BOTTLE_LOG: "warn",
    BOT_BOTTLE_SMOLVM: STAND_IN,
    STAND_IN_SMOLVM_STATE: smolState,
    // libkrun's exec channel can SIGKILL the first exec after a start; the stand-in does it every time.
    STAND_IN_SMOLVM_WARMUP_137: "1",
  };
  let id = "";
  let startOutput = "";
  const calls = (): Call[] =>
    readFileSync(path.join(smolState, "calls.jsonl"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Call);
  const machineCalls = (verb: string) => calls().filter((call) => call.argv[0] === "machine" && call.argv[1] === verb);

  beforeAll(async () => {
    cpSync(fixtureHome, home, { recursive: true });
    const started = await runCli(["start", "probe", "--backend", "smolmachines"], env);
    startOutput = started.stderr;
    expect(started.exitCode, started.stderr).toBe(0);
    id = started.stdout.trim();
  }, 900_000);

  afterAll(async () => {
    if (id) await runCli(["stop", id], env);
    await runCli(["gc"], env);
    rmSync(home, { recursive: true, force: true });
    rmSync(smolState, { recursive: true, force: true });
  });

  it("starts the bottle with every smolvm call inside the documented grammar", () => {
    expect(startOutput).toContain("creating and starting microVM");
    expect(calls().length).toBeGreaterThan(3);
    expect(calls().filter((call) => call.violation !== undefined)).toEqual([]);
  });

  it("creates the machine from a docker-save archive, with no network, the bundle's sockets mounted, the plan's env, labels and limits", () => {
    const [create] = machineCalls("create");
    const argv = create!.argv;
    const values = (flag: string) => argv.flatMap((arg, i) => (arg === flag ? [argv[i + 1]!] : []));
    expect(values("--name")).toEqual([`bot-bottle-${id}-agent`]);
    expect(values("--image")[0]).toMatch(new RegExp(`^${home}/cache/smolmachines/[0-9a-f]{16}\\.tar$`));
    for (const flag of ["--net", "--allow-cidr", "--allow-host", "-p", "--port", "--user"]) expect(argv, flag).not.toContain(flag);
    expect(values("--mount-socket")).toEqual(
      ["egress", "supervise"].map((daemon) => `${path.join(home, "state", id, "sockets", `${daemon}.sock`)}:/run/bot-bottle/${daemon}.sock`),
    );
    expect(values("-e")).toContain("PROBE_GREETING=hello from the bottle env");
    expect(values("--label")).toEqual(expect.arrayContaining([`bot-bottle.id=${id}`, "bot-bottle.role=agent"]));
    expect(values("--cpus")).toEqual(["2"]);
    expect(values("--mem")).toEqual(["4096"]);
  });

  it("retries an exec that libkrun killed (137) right after the start, once", () => {
    const execs = machineCalls("exec");
    const killed = execs.findIndex((call) => call.exit === 137);
    expect(killed).toBeGreaterThanOrEqual(0);
    expect(execs[killed + 1]!.argv).toEqual(execs[killed]!.argv.map((arg) => (arg.startsWith("BOT_BOTTLE_EXEC=") ? expect.stringMatching(/^BOT_BOTTLE_EXEC=/) : arg)));
    expect(execs[killed + 1]!.exit).toBe(0);
  });

  it("runs the agent user's commands through runuser with its HOME, never a --user flag", async () => {
    const before = machineCalls("exec").length;
    const result = await runCli(["exec", id, "--", "sh", "-c", 'echo "$(id -un) $HOME $PROBE_GREETING"; pwd'], env);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe("node /home/node hello from the bottle env\n/home/node/workspace");
    const [call] = machineCalls("exec").slice(before);
    const command = call!.argv.slice(call!.argv.indexOf("--") + 1);
    expect(command.slice(0, 4)).toEqual(["runuser", "-u", "node", "--"]);
    expect(call!.argv).toEqual(expect.arrayContaining(["-e", "HOME=/home/node", "-e", "USER=node", "-w", "/home/node/workspace"]));
    expect(calls().some((c) => c.argv.includes("--user"))).toBe(false);
    const asRoot = await runCli(["exec", "--user", "root", id, "--", "id", "-un"], env);
    expect(asRoot.stdout.trim()).toBe("root");
  });

  it("copies single files with machine cp and folders as tar through exec, both ways", async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), "bb-smol-cp-"));
    mkdirSync(path.join(folder, "in", "sub"), { recursive: true });
    writeFileSync(path.join(folder, "in", "sub", "a.txt"), "from the host\n");
    const { Engine } = await import("../../../src/engine/engine.js");
    const engine = new Engine({ home, cwd: home, env: { ...process.env, ...env } });
    const saved = { BOT_BOTTLE_SMOLVM: process.env.BOT_BOTTLE_SMOLVM, STAND_IN_SMOLVM_STATE: process.env.STAND_IN_SMOLVM_STATE };
    Object.assign(process.env, { BOT_BOTTLE_SMOLVM: STAND_IN, STAND_IN_SMOLVM_STATE: smolState });
    try {
      const { bottle } = engine.attach(id);
      const cps = machineCalls("cp").length;
      await bottle.cpIn(path.join(folder, "in"), "/tmp/copied");
      await bottle.cpIn(path.join(folder, "in", "sub", "a.txt"), "/tmp/single.txt");
      const listed = await bottle.exec(["sh", "-c", "stat -c '%U %n' /tmp/copied/sub/a.txt /tmp/single.txt; cat /tmp/copied/sub/a.txt"], { user: "root", cwd: "/" });
      expect(listed.stdout).toBe("root /tmp/copied/sub/a.txt\nroot /tmp/single.txt\nfrom the host\n");
      await bottle.cpOut("/tmp/copied", path.join(folder, "out"));
      await bottle.cpOut("/tmp/single.txt", path.join(folder, "single-out.txt"));
      expect(readFileSync(path.join(folder, "out", "sub", "a.txt"), "utf8")).toBe("from the host\n");
      expect(readFileSync(path.join(folder, "single-out.txt"), "utf8")).toBe("from the host\n");
      // Only the two single files went through machine cp; the folders travelled as tar.
      expect(machineCalls("cp").slice(cps).map((call) => call.argv.slice(2))).toEqual([
        [path.join(folder, "in", "sub", "a.txt"), `bot-bottle-${id}-agent:/tmp/single.txt`],
        [`bot-bottle-${id}-agent:/tmp/single.txt`, path.join(folder, "single-out.txt")],
      ]);
    } finally {
      Object.assign(process.env, saved);
      for (const [key, value] of Object.entries(saved)) if (value === undefined) delete process.env[key];
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it("is listed as running by a new process, found through machine ls --json", async () => {
    const listed = await runCli(["ls", "--json"], env);
    expect((JSON.parse(listed.stdout) as { id: string; status: string; backend: string }[]).find((b) => b.id === id)).toMatchObject({ status: "running", backend: "smolmachines" });
  });

  it("stops: machine stop, then delete with -f, and nothing of the bottle is left in smolvm or Docker", async () => {
    const stopped = await runCli(["stop", id], env);
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    const deletes = machineCalls("delete");
    expect(deletes.length).toBeGreaterThan(0);
    for (const call of deletes) expect(call.argv).toContain("-f");
    const stops = calls().findIndex((call) => call.argv[1] === "stop");
    expect(stops).toBeGreaterThanOrEqual(0);
    expect(stops).toBeLessThan(calls().findIndex((call) => call.argv[1] === "delete"));
    const machines = await execa(process.execPath, [STAND_IN, "machine", "ls", "--json"], { env: { ...process.env, STAND_IN_SMOLVM_STATE: smolState } });
    expect(JSON.parse(machines.stdout)).toEqual([]);
    const docker = await execa("docker", ["ps", "-a", "--filter", `label=bot-bottle.id=${id}`, "--format", "{{.Names}}"]);
    expect(docker.stdout).toBe("");
    const networks = await execa("docker", ["network", "ls", "--filter", `label=bot-bottle.id=${id}`, "--format", "{{.Name}}"]);
    expect(networks.stdout).toBe("");
    id = "";
  });
});
