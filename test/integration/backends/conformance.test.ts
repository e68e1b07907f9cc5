import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { LABELS } from "../../../backends/labels.js";
import { GUEST_PATHS, SOCKET_DIR } from "../../../sidecars/contract.js";
import { Engine } from "../../../src/engine/engine.js";
import type { BottlePlan } from "../../../src/engine/plan-schema.js";
import { homeLabel } from "../../../src/engine/prepare.js";
import type { BottleRecord } from "../../../src/engine/records.js";
import { waitUntil } from "../../../src/wait-until.js";
import { backendTargets, describeOnTarget, type BackendTarget } from "../../support/backend-targets.js";
import { repoRoot } from "../../support/cli.js";
import { crashCli, startCliInSession } from "../../support/reliability.js";
import { engineTestEnv } from "../../support/docker.js";

// The backend conformance suite: the same cases against every backend, through
// the engine (plan -> launch -> provision, then the Bottle handle), so that a
// backend passes only if the engine can really use it. One bottle per target
// is shared by the read-only cases; re-discovery, stop and gc come last.
//
// Targets (test/support/backend-targets.ts): docker; smolmachines with the
// real smolvm (skipped, with the reason, where smolvm or /dev/kvm is missing);
// and smolmachines through the stand-in smolvm, Docker containers posing as
// microVMs: a pass there checks the backend's use of the documented smolvm
// CLI, not libkrun.

const fixtureHome = path.join(repoRoot, "test", "fixtures", "homes", "engine");
const claudeConfig = path.join(repoRoot, "test", "fixtures", "claude-config");

/** Docker resources labelled with the bottle id, and the target's own (machines). */
async function leftovers(target: BackendTarget, id: string): Promise<string[]> {
  const filter = ["--filter", `label=${LABELS.id}=${id}`];
  const [containers, networks, volumes] = await Promise.all([
    execa("docker", ["ps", "-a", "--format", "{{.Names}}", ...filter]),
    execa("docker", ["network", "ls", "--format", "{{.Name}}", ...filter]),
    execa("docker", ["volume", "ls", "--format", "{{.Name}}", ...filter]),
  ]);
  return [
    ...containers.stdout.split("\n").filter(Boolean).map((n) => `container ${n}`),
    ...networks.stdout.split("\n").filter(Boolean).map((n) => `network ${n}`),
    ...volumes.stdout.split("\n").filter(Boolean).map((n) => `volume ${n}`),
    ...(await target.machinesOf(id)),
  ];
}

for (const target of backendTargets()) {
  describeOnTarget("backend conformance", target, () => {
    let home = "";
    let env: NodeJS.ProcessEnv = {};
    let engine: Engine;
    let record: BottleRecord;
    let plan: BottlePlan;
    let scratch = "";

    const exec = (command: string | string[], options: Parameters<Engine["exec"]>[2] = {}) => engine.exec(record.id, command, options);
    const sh = (script: string, user?: string) => exec(["/bin/sh", "-c", script], user ? { user } : {});
    const bottle = () => engine.attach(record.id).bottle;

    beforeAll(async () => {
      target.enter();
      home = mkdtempSync(path.join(os.tmpdir(), "bb-conf-"));
      scratch = mkdtempSync(path.join(os.tmpdir(), "bb-conf-files-"));
      cpSync(fixtureHome, home, { recursive: true });
      env = { ...process.env, ...engineTestEnv(), BOT_BOTTLE_HOME: home, CLAUDE_CONFIG_DIR: claudeConfig, BOT_BOTTLE_LOG: "warn" };
      engine = new Engine({ home, cwd: home, env });
      record = await engine.start({ agent: "probe", backend: target.backend, label: "conformance" });
      plan = engine.attach(record.id).plan;
    });

    afterAll(async () => {
      try {
        if (home) {
          const cleanup = new Engine({ home, cwd: home, env });
          for (const id of cleanup.state.ids()) await cleanup.stop(id).catch(() => undefined);
          await cleanup.gc().catch(() => undefined);
        }
      } finally {
        await target.leave();
        if (home) rmSync(home, { recursive: true, force: true });
        if (scratch) rmSync(scratch, { recursive: true, force: true });
      }
    });

    it("starts: the bottle is recorded running on this backend, provisioned without warnings", async () => {
      expect(record).toMatchObject({ status: "running", backend: target.backend, label: "conformance" });
      expect(record.warnings).toEqual([]);
      const listed = (await engine.list()).find((r) => r.id === record.id);
      expect(listed?.status).toBe("running");
    });

    it("runs commands as the agent user by default, with its HOME, in the workspace", async () => {
      const result = await sh('id -un; echo "$HOME"; pwd; id -u');
      expect(result.exit_code, result.stderr).toBe(0);
      const [user, homeDir, cwd, uid] = result.stdout.trim().split("\n");
      expect(user).toBe("node");
      expect(homeDir).toBe(plan.guest.home);
      expect(cwd).toBe(plan.guest.workspace);
      expect(uid).not.toBe("0");
    });

    it("runs commands as root when asked", async () => {
      const result = await sh('id -u; id -un; echo "$HOME"', "root");
      expect(result.stdout.trim().split("\n")).toEqual(["0", "root", "/root"]);
    });

    it("passes the exit code and stderr through, and runs an argv as is (no shell)", async () => {
      const failed = await sh("echo oops >&2; exit 7");
      expect(failed.exit_code).toBe(7);
      expect(failed.stderr).toContain("oops");
      const argv = await exec(["printf", "%s|", "a b", "$HOME", "*"]);
      expect(argv.stdout).toBe("a b|$HOME|*|");
    });

    it("gives commands the bottle's env, the proxy settings, and the env of the call", async () => {
      const result = await exec(["/bin/sh", "-c", 'echo "$PROBE_GREETING"; echo "$HTTPS_PROXY"; echo "$CALL_VAR"'], { env: { CALL_VAR: "from the call = with spaces" } });
      expect(result.stdout.trim().split("\n")).toEqual(["hello from the bottle env", "http://127.0.0.1:9099", "from the call = with spaces"]);
    });

    it("runs in the cwd it is given, for the agent user and for root", async () => {
      expect((await exec(["pwd"], { cwd: "/tmp" })).stdout.trim()).toBe("/tmp");
      expect((await exec(["pwd"], { cwd: "/etc", user: "root" })).stdout.trim()).toBe("/etc");
    });

    it("a timeout kills the command inside the bottle, not only the client", async () => {
      const pidFile = `/tmp/conf-timeout-${process.pid}.pid`;
      const result = await exec(["/bin/sh", "-c", `echo $$ > ${pidFile}; exec sleep 3000`], { timeoutMs: 5_000 });
      expect(result.timed_out).toBe(true);
      const pid = (await exec(["cat", pidFile])).stdout.trim();
      expect(pid).toMatch(/^\d+$/);
      // Gone, or at most a zombie waiting to be reaped: /proc/PID/cmdline is empty either way.
      const left = await exec(["/bin/sh", "-c", `cat /proc/${pid}/cmdline 2>/dev/null | tr '\\0' ' '`], { user: "root" });
      expect(left.stdout).not.toContain("sleep 3000");
      const sleepers = await exec(["/bin/sh", "-c", "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done"], { user: "root" });
      expect(sleepers.stdout).not.toMatch(/^sleep 3000/m);
    });

    it("an abort kills the command inside the bottle too", async () => {
      const pidFile = `/tmp/conf-abort-${process.pid}.pid`;
      const controller = new AbortController();
      const running = exec(["/bin/sh", "-c", `echo $$ > ${pidFile}; exec sleep 3001`], { signal: controller.signal });
      await waitUntil("the command to start", async () => ((await exec(["cat", pidFile])).exit_code === 0 ? true : undefined), { timeoutMs: 60_000 });
      controller.abort();
      const result = await running;
      expect(result.exit_code).not.toBe(0);
      const sleepers = await exec(["/bin/sh", "-c", "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done"], { user: "root" });
      expect(sleepers.stdout).not.toMatch(/^sleep 3001/m);
    });

    it("feeds stdin to the command", async () => {
      const input = "first line\nsecond line with ünïcode\n";
      const result = await exec(["cat"], { stdin: input });
      expect(result.stdout).toBe(input);
      const counted = await exec(["wc", "-c"], { stdin: "x".repeat(200_000) });
      expect(counted.stdout.trim()).toBe("200000");
    });

    it("caps output per stream and says so; output under the cap is whole and not flagged", async () => {
      const capped = await exec(["/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' a; head -c 50 /dev/zero | tr '\\0' b >&2"], { maxOutputBytes: 1_000 });
      expect(capped.stdout).toBe("a".repeat(1_000));
      expect(capped.stderr).toBe("b".repeat(50));
      expect(capped.truncated).toBe(true);
      const whole = await exec(["/bin/sh", "-c", "head -c 1000 /dev/zero | tr '\\0' a"], { maxOutputBytes: 1_000 });
      expect(whole.stdout).toBe("a".repeat(1_000));
      expect(whole.truncated).toBe(false);
    });

    it("copies a file and a folder in, landing owned by root with their content", async () => {
      const file = path.join(scratch, "in-file.txt");
      writeFileSync(file, "file content\n");
      const folder = path.join(scratch, "in-folder");
      mkdirSync(path.join(folder, "sub"), { recursive: true });
      writeFileSync(path.join(folder, "top.txt"), "top\n");
      writeFileSync(path.join(folder, "sub", "deep.txt"), "deep\n");
      await bottle().cpIn(file, "/tmp/conf-in-file.txt");
      await bottle().cpIn(folder, "/tmp/conf-in-folder");
      const seen = await sh(
        "cat /tmp/conf-in-file.txt /tmp/conf-in-folder/top.txt /tmp/conf-in-folder/sub/deep.txt; stat -c '%U %n' /tmp/conf-in-file.txt /tmp/conf-in-folder/top.txt /tmp/conf-in-folder/sub /tmp/conf-in-folder/sub/deep.txt",
        "root",
      );
      expect(seen.stdout.trim().split("\n")).toEqual([
        "file content",
        "top",
        "deep",
        "root /tmp/conf-in-file.txt",
        "root /tmp/conf-in-folder/top.txt",
        "root /tmp/conf-in-folder/sub",
        "root /tmp/conf-in-folder/sub/deep.txt",
      ]);
    });

    it("copies a file and a folder out with their content", async () => {
      await sh("mkdir -p /tmp/conf-out/sub && printf one > /tmp/conf-out/one.txt && printf two > /tmp/conf-out/sub/two.txt && printf single > /tmp/conf-out-file.txt");
      const fileOut = path.join(scratch, "out-file.txt");
      const folderOut = path.join(scratch, "out-folder");
      await bottle().cpOut("/tmp/conf-out-file.txt", fileOut);
      await bottle().cpOut("/tmp/conf-out", folderOut);
      expect(readFileSync(fileOut, "utf8")).toBe("single");
      expect(readFileSync(path.join(folderOut, "one.txt"), "utf8")).toBe("one");
      expect(readFileSync(path.join(folderOut, "sub", "two.txt"), "utf8")).toBe("two");
    });

    it("provisioning landed: the egress CA is in the system trust store, which verifies it", async () => {
      const pem = readFileSync(plan.ca.cert, "utf8");
      const body = pem.replace(/-----[^-]+-----|\s/g, "");
      const store = await exec(["cat", GUEST_PATHS.systemCaBundle]);
      expect(body.length).toBeGreaterThan(100);
      expect(store.stdout.replace(/\s/g, "")).toContain(body);
      // openssl checks the chain against the system store alone.
      const verify = await exec(["openssl", "verify", "-CAfile", GUEST_PATHS.systemCaBundle, plan.ca.guestCert]);
      expect(verify.stdout).toMatch(/: OK/);
    });

    it("provisioning landed: the prompt file (0600, the agent's) and the skills (the agent's)", async () => {
      const prompt = await sh(`stat -c '%a %U' ${plan.prompt.guest} && cat ${plan.prompt.guest}`);
      expect(prompt.stdout).toContain("600 node");
      expect(prompt.stdout).toContain("You are the probe agent. Line two of the prompt.");
      const skill = await sh("stat -c '%U' ~/.claude/skills/demo-skill/SKILL.md && cat ~/.claude/skills/demo-skill/SKILL.md");
      expect(skill.stdout).toContain("node");
      expect(skill.stdout).toContain('Say "demo skill loaded".');
    });

    it("provisioning landed: supervise is registered with the provider's client, which connects to it", async () => {
      const listed = await exec(["claude", "mcp", "list"], { env: { MCP_TIMEOUT: "20000" }, cwd: plan.guest.home });
      expect(listed.stdout, listed.stderr).toMatch(/supervise: http:\/\/127\.0\.0\.1:9100\/mcp \(HTTP\) - ✔ Connected/);
    });

    it("invariant 1: no network interface but loopback, and no name lookups", async () => {
      const links = await exec(["ls", "/sys/class/net"]);
      expect(links.stdout.trim().split(/\s+/)).toEqual(["lo"]);
      const lookup = await exec(["node", "-e", "require('dns').lookup('example.com',(e,a)=>console.log(e?'fail':'resolved '+a))"]);
      expect(lookup.stdout.trim()).toBe("fail");
    });

    it("invariant 1: cannot connect to the host, the bundle or the metadata address directly", async () => {
      const bundleIp = (await execa("docker", ["inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", plan.resources.bundle])).stdout.trim().split(" ")[0]!;
      const hostAddresses = Object.values(os.networkInterfaces())
        .flat()
        .filter((a) => a && a.family === "IPv4" && !a.internal)
        .map((a) => a!.address);
      const targets = [...hostAddresses.map((ip) => `${ip}:22`), `${bundleIp}:80`, "172.17.0.1:2375", "169.254.169.254:80"];
      const probe = `
        const net = require('net');
        Promise.all(${JSON.stringify(targets)}.map(t => new Promise(done => {
          const [host, port] = t.split(':');
          const s = net.connect({host, port: Number(port), timeout: 3000});
          s.on('connect', () => { s.destroy(); done(t + ' CONNECTED'); });
          s.on('timeout', () => { s.destroy(); done(t + ' timeout'); });
          s.on('error', e => done(t + ' ' + e.code));
        }))).then(r => console.log(r.join('\\n')));`;
      const result = await exec(["node", "-e", probe]);
      const lines = result.stdout.trim().split("\n");
      expect(lines).toHaveLength(targets.length);
      for (const line of lines) expect(line).toMatch(/ (ENETUNREACH|EHOSTUNREACH|EADDRNOTAVAIL|timeout)$/);
      for (const line of lines) expect(line).not.toMatch(/CONNECTED/);
    });

    it("invariant 1: no Docker socket, and the agent user cannot remove or add sidecar sockets", async () => {
      const docker = await sh("ls /var/run/docker.sock /run/docker.sock 2>&1; echo DOCKER_HOST=$DOCKER_HOST");
      expect(docker.stdout).toMatch(/No such file/);
      expect(docker.stdout).toContain("DOCKER_HOST=\n");
      const attempts = await sh(`rm -f ${SOCKET_DIR}/egress.sock; echo rm=$?; mv ${SOCKET_DIR}/egress.sock /tmp/x 2>/dev/null; echo mv=$?; touch ${SOCKET_DIR}/fake.sock 2>/dev/null; echo touch=$?`);
      expect(attempts.stdout).toMatch(/rm=1/);
      expect(attempts.stdout).toMatch(/mv=1/);
      expect(attempts.stdout).toMatch(/touch=1/);
      const present = await sh(`test -S ${SOCKET_DIR}/egress.sock; echo present=$?; ls ${SOCKET_DIR}`, "root");
      expect(present.stdout).toMatch(/present=0/);
      expect(present.stdout).not.toContain("fake.sock");
    });

    it("invariant 1: the agent user holds no capabilities and cannot kill the forwarder; egress answers afterwards", async () => {
      const caps = await sh("grep -E '^Cap(Eff|Prm):' /proc/self/status");
      expect(caps.stdout).toMatch(/CapEff:\s*0+\n/);
      expect(caps.stdout).toMatch(/CapPrm:\s*0+\n/);
      const kill = await sh(`pid=$(pgrep -u root -f '${GUEST_PATHS.forwarder}' | head -n1); echo pid=$pid; kill -9 $pid; echo kill=$?`);
      expect(kill.stdout).toMatch(/pid=\d+\n/);
      expect(kill.stdout).toMatch(/kill=1/);
      const health = await exec(["node", "-e", "require('http').get('http://127.0.0.1:9099/__bot-bottle/health',r=>console.log(r.statusCode)).on('error',e=>console.log(e.code))"]);
      expect(health.stdout.trim()).toBe("200");
    });

    it("is re-discovered by a new engine (as after a restart): listed running, and exec works through it", async () => {
      const restarted = new Engine({ home, cwd: home, env });
      expect((await restarted.list()).find((r) => r.id === record.id)?.status).toBe("running");
      const result = await restarted.exec(record.id, ["id", "-un"]);
      expect(result.stdout.trim()).toBe("node");
    });

    it("stop leaves nothing: no container, network, volume or machine carries the bottle's label", async () => {
      expect(await leftovers(target, record.id)).not.toEqual([]);
      const stopped = await engine.stop(record.id);
      expect(stopped.removed.length).toBeGreaterThan(0);
      expect(await leftovers(target, record.id)).toEqual([]);
      expect((await engine.list()).find((r) => r.id === record.id)?.status).toBe("stopped");
      await expect(engine.exec(record.id, ["true"])).rejects.toThrow(/not running/);
    });

    it("gc removes a half-made bottle whose start was killed mid-way, leaving nothing", async () => {
      const label = homeLabel(home);
      const child = startCliInSession(["start", "probe", "--backend", target.backend, "--label", "half-made"], env);
      // Killed once its agent exists (container or machine, in whatever state): the bundle and network exist by then.
      await waitUntil("the half-made bottle's agent", async () => ((await target.agentExists(label)) ? true : undefined), { timeoutMs: 600_000, intervalMs: 50 });
      await crashCli(child);
      const halfMade = new Engine({ home, cwd: home, env }).state.ids().filter((id) => id !== record.id);
      expect(halfMade).toHaveLength(1);
      expect(await leftovers(target, halfMade[0]!)).not.toEqual([]);

      const gc = await new Engine({ home, cwd: home, env }).gc();
      expect(gc.failures).toEqual([]);
      expect(gc.removed).toContain(`state ${halfMade[0]}`);
      expect(await leftovers(target, halfMade[0]!)).toEqual([]);
      const after = new Engine({ home, cwd: home, env });
      expect(after.state.ids()).toEqual([]);
      expect((await after.gc()).removed).toEqual([]);
    });
  });
}
