import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { GUEST_PATHS, GUEST_PORTS, SOCKET_DIR } from "../../../sidecars/contract.js";
import { Engine } from "../../../src/engine/engine.js";
import type { BottlePlan } from "../../../src/engine/plan-schema.js";
import type { ExecResult } from "../../../src/engine/records.js";
import { waitUntil } from "../../../src/wait-until.js";
import { backendTargets, describeOnTarget } from "../../support/backend-targets.js";
import { repoRoot } from "../../support/cli.js";
import { baseImage, engineTestEnv } from "../../support/docker.js";
import { createTestInternet, type TestInternet } from "../../support/fake-model-container.js";

// The escape suite (design.md section 8, invariants 1 and 3), against every
// backend: the bottled agent, as its own user, attacks from inside a real
// bottle. Each attack is one that works without the boundary: the targets are
// test-owned listeners (an HTTP server on the host on every interface, an
// upstream on a stand-in internet that the bottle's bundle joins, a bystander
// container on a network of its own) that log what reaches them, and a
// control container with ordinary Docker networking reaches them with the same
// probe. The assertion is that the attack's request never arrived, not only
// that a command failed.
//
// Targets as in test/support/backend-targets.ts: docker; smolmachines with
// the real smolvm (skipped, with the reason, where it cannot run); and
// smolmachines through the stand-in smolvm (Docker containers posing as
// microVMs: it checks the backend's wiring, not libkrun's isolation).

const claudeConfig = path.join(repoRoot, "test", "fixtures", "claude-config");

const BOTTLE = `---
agent_provider:
  template: claude
egress:
  log: 2
  routes:
    # Plain http on port 80, the bottle's only way out. Egress holds a secret
    # for it (a DLP known secret) that the agent must never find.
    - host: declared.test:80
      dlp:
        outbound_on_match: block
        known_secret_env: [BB_ESCAPE_TOKEN]
---
The escape suite's bottle.
`;
const AGENT = "---\nbottle: escape\n---\nYou are the attacker.\n";

/** One raw TCP exchange: each chunk is sent once the answer to the previous one has its headers. */
interface Attempt {
  id: string;
  host: string;
  port: number;
  chunks: string[];
}
interface Outcome {
  id: string;
  /** "answered" (whole answer), "closed", "timeout" or "error CODE". */
  how: string;
  /** Everything the other side sent. */
  text: string;
}

/**
 * A Node script (fed on stdin, so nothing shows in an argv) that runs the
 * attempts in parallel and prints their outcomes as JSON. Each attempt is
 * bounded by a deadline; none waits on a fixed delay.
 */
function attemptsScript(attempts: Attempt[]): string {
  return `
    const net = require("net");
    const attempt = (a) => new Promise((done) => {
      let all = "", since = "", next = 1, over = false;
      const s = net.connect({ host: a.host, port: a.port });
      const end = (how) => { if (over) return; over = true; clearTimeout(timer); s.destroy(); done({ id: a.id, how, text: all }); };
      const timer = setTimeout(() => end("timeout"), 8000);
      s.on("connect", () => s.write(a.chunks[0]));
      s.on("data", (d) => {
        all += d; since += d;
        const head = since.indexOf("\\r\\n\\r\\n");
        if (head === -1) return;
        if (next < a.chunks.length) { s.write(a.chunks[next++]); since = ""; return; }
        const length = /content-length: *(\\d+)/i.exec(since.slice(0, head));
        if (length && since.length - head - 4 >= Number(length[1])) end("answered");
      });
      s.on("end", () => end("closed"));
      s.on("error", (e) => end("error " + e.code));
    });
    Promise.all(${JSON.stringify(attempts)}.map(attempt)).then((r) => console.log(JSON.stringify(r)));`;
}

/**
 * Searches everything the agent user can read (files outside /proc, /sys and
 * /dev; every process's environment and argv) for the patterns given as JSON
 * on stdin, and prints the hits as JSON.
 */
const SECRET_SEARCH = `
  const fs = require("fs"), path = require("path");
  const { secrets, canary } = JSON.parse(fs.readFileSync(0, "utf8"));
  const patterns = [...secrets.map((value, i) => ["secret " + i, value]), ["canary", canary]];
  const hits = [];
  const check = (where, bytes) => { for (const [name, value] of patterns) if (bytes.includes(value)) hits.push({ where, pattern: name }); };
  const walk = (dir) => {
    let entries;
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const entry of entries) {
      const file = path.join(dir, entry.name);
      if (["/proc", "/sys", "/dev"].includes(file)) continue;
      if (entry.isDirectory()) walk(file);
      else if (entry.isFile()) { try { check(file, fs.readFileSync(file)); } catch {} }
    }
  };
  walk("/");
  for (const pid of fs.readdirSync("/proc").filter((name) => /^\\d+$/.test(name))) {
    for (const part of ["environ", "cmdline"]) { try { check("/proc/" + pid + "/" + part, fs.readFileSync("/proc/" + pid + "/" + part)); } catch {} }
  }
  console.log(JSON.stringify(hits));`;

const get = (url: string, host: string, extra = "") => `GET ${url} HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`;
const statusOf = (text: string) => /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? "none";
const lastStatus = (text: string) => [...text.matchAll(/^HTTP\/1\.[01] (\d{3})/gm)].map((m) => m[1]).pop() ?? "none";

for (const target of backendTargets()) {
  describeOnTarget("escape suite (invariants 1 and 3)", target, () => {
    const suffix = `${process.pid}-${randomBytes(3).toString("hex")}`;
    const names = { upstream: `bb-esc-upstream-${suffix}`, bystander: `bb-esc-bystander-${suffix}`, bystanderNet: `bb-esc-bystander-${suffix}`, control: `bb-esc-control-${suffix}` };
    const marker = (what: string) => `/esc-${suffix}-${what}`;
    const token = `bbesc-${randomBytes(24).toString("hex")}`;
    let home = "";
    let engine: Engine;
    let id = "";
    let plan: BottlePlan;
    let internet: TestInternet | undefined;
    let hostServer: http.Server | undefined;
    let hostPort = 0;
    const hostSaw: string[] = [];
    let upstreamIp = "";
    let bystanderIp = "";

    const docker = (args: string[], input?: string) => execa("docker", args, { input });
    /** The attacker: the agent user in the bottle, with a Node script on stdin. */
    const asAgent = (script: string, user?: string): Promise<ExecResult> => engine.exec(id, ["node", "-"], { stdin: script, user, timeoutMs: 60_000 });
    const sh = (script: string, user?: string) => engine.exec(id, ["/bin/sh", "-c", script], { user, timeoutMs: 60_000 });
    const fromBottle = async (attempts: Attempt[]) => {
      const result = await asAgent(attemptsScript(attempts));
      expect(result.exit_code, result.stderr).toBe(0);
      return Object.fromEntries((JSON.parse(result.stdout) as Outcome[]).map((o) => [o.id, o]));
    };
    /** The same probe from a container with ordinary networking: what the attack reaches without the boundary. */
    const fromControl = async (attempts: Attempt[]) => {
      const result = await docker(["exec", "-i", names.control, "node", "-"], attemptsScript(attempts));
      return Object.fromEntries((JSON.parse(result.stdout) as Outcome[]).map((o) => [o.id, o]));
    };
    const seenBy = async (container: string) =>
      (await docker(["logs", container])).stdout
        .split("\n")
        .filter((line) => line.startsWith("saw "))
        .map((line) => JSON.parse(line.slice(4)) as { host: string; url: string; auth: string | null });
    /**
     * What the upstream saw, once a final declared request has arrived: the
     * upstream answers in order, so anything an attack delivered is logged by then.
     */
    const upstreamSawAll = async (tag: string) => {
      const last = marker(`last-${tag}`);
      const done = await fromBottle([{ id: "last", host: "127.0.0.1", port: GUEST_PORTS.egress, chunks: [get(`http://declared.test${last}`, "declared.test")] }]);
      expect(statusOf(done.last!.text), done.last!.text).toBe("200");
      return waitUntil("the upstream to log the last request", async () => {
        const seen = await seenBy(names.upstream);
        return seen.some((r) => r.url === last) ? seen : undefined;
      }, { timeoutMs: 30_000 });
    };
    const serve = (greeting: string) =>
      `require('http').createServer((q,s)=>{console.log('saw '+JSON.stringify({host:q.headers.host||'',url:q.url,auth:q.headers.authorization||null}));s.end('${greeting} '+q.url)}).listen(80,()=>console.log('listening'))`;
    const ipOn = async (container: string, network: string) =>
      (await docker(["inspect", "--format", `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, container])).stdout.trim();

    beforeAll(async () => {
      target.enter();
      home = mkdtempSync(path.join(os.tmpdir(), "bb-escape-"));
      mkdirSync(path.join(home, "bottles"), { recursive: true });
      mkdirSync(path.join(home, "agents"), { recursive: true });
      writeFileSync(path.join(home, "bottles", "escape.md"), BOTTLE);
      writeFileSync(path.join(home, "agents", "attacker.md"), AGENT);

      // A host service on every interface.
      hostServer = http.createServer((req, res) => {
        hostSaw.push(req.url ?? "");
        res.end("host secret page");
      });
      await new Promise<void>((resolve) => hostServer!.listen(0, "0.0.0.0", resolve));
      hostPort = (hostServer.address() as AddressInfo).port;

      // The stand-in internet (only the bundle joins it) with the upstream, answering to every name the attacks use.
      internet = await createTestInternet(`bb-esc-internet-${suffix}`);
      await docker(["run", "-d", "--name", names.upstream, "--network", internet.name, ...["declared.test", "undeclared.test", "doh.test"].flatMap((a) => ["--network-alias", a]), baseImage(), "node", "-e", serve("upstream says")]);
      // A bystander on a network of its own.
      await docker(["network", "create", names.bystanderNet]);
      await docker(["run", "-d", "--name", names.bystander, "--network", names.bystanderNet, baseImage(), "node", "-e", serve("bystander says")]);
      // The control: ordinary networking on all three (and the default bridge, which leads to the host).
      await docker(["run", "-d", "--name", names.control, "--network", internet.name, baseImage(), "sleep", "infinity"]);
      await docker(["network", "connect", names.bystanderNet, names.control]);
      await docker(["network", "connect", "bridge", names.control]);
      for (const name of [names.upstream, names.bystander]) {
        await waitUntil(`${name} to listen`, async () => ((await docker(["logs", name])).stdout.includes("listening") ? true : undefined), { timeoutMs: 60_000 });
      }
      upstreamIp = await ipOn(names.upstream, internet.name);
      bystanderIp = await ipOn(names.bystander, names.bystanderNet);

      const env = {
        ...process.env,
        ...engineTestEnv(),
        BOT_BOTTLE_HOME: home,
        CLAUDE_CONFIG_DIR: claudeConfig,
        BOT_BOTTLE_LOG: "warn",
        BOT_BOTTLE_EGRESS_ALLOW_NETWORKS: internet.subnet,
        BB_ESCAPE_TOKEN: token,
      };
      engine = new Engine({ home, cwd: home, env });
      const record = await engine.start({ agent: "attacker", backend: target.backend, label: "escape" });
      id = record.id;
      plan = engine.attach(id).plan;
      await internet.connect(plan.resources.bundle);
    });

    afterAll(async () => {
      try {
        if (engine) {
          for (const bottle of engine.state.ids()) await engine.stop(bottle).catch(() => undefined);
          await engine.gc().catch(() => undefined);
        }
        await execa("docker", ["rm", "-f", names.upstream, names.bystander, names.control], { reject: false });
        await internet?.remove();
        await execa("docker", ["network", "rm", names.bystanderNet], { reject: false });
        hostServer?.close();
      } finally {
        await target.leave();
        if (home) rmSync(home, { recursive: true, force: true });
      }
    });

    it("control: a declared request goes out through egress and reaches the upstream", async () => {
      const out = await fromBottle([{ id: "ok", host: "127.0.0.1", port: GUEST_PORTS.egress, chunks: [get(`http://declared.test${marker("declared")}`, "declared.test")] }]);
      expect(out.ok!.text).toContain(`upstream says ${marker("declared")}`);
      const seen = await upstreamSawAll("control");
      expect(seen.find((r) => r.url === marker("declared"))).toMatchObject({ host: "declared.test" });
    });

    invariantOneCases();
    invariantThreeCases();

    function invariantOneCases() {
      it("invariant 1: has no network interface but loopback, no route anywhere, and no name resolution", async () => {
        const links = await sh("ls /sys/class/net; cat /proc/net/route | tail -n +2 | wc -l");
        expect(links.stdout.trim().split(/\s+/)).toEqual(["lo", "0"]);
        const lookup = await asAgent("require('dns').lookup('declared.test',(e,a)=>console.log(e?'fail '+e.code:'resolved '+a))");
        expect(lookup.stdout.trim()).toMatch(/^fail /);
      });

      it("invariant 1: cannot reach a host service bound to every interface, which an ordinary container reaches", async () => {
        const gateways = (await docker(["network", "inspect", "--format", "{{range .IPAM.Config}}{{.Gateway}} {{end}}", plan.resources.network, internet!.name, names.bystanderNet, "bridge"])).stdout
          .split(/\s+/)
          .filter(Boolean);
        const hostAddresses = Object.values(os.networkInterfaces())
          .flat()
          .filter((a) => a && a.family === "IPv4" && !a.internal)
          .map((a) => a!.address);
        const addresses = [...new Set([...gateways, ...hostAddresses])];
        const attempts = addresses.map((ip, i) => ({ id: ip, host: ip, port: hostPort, chunks: [get(marker(`host-${i}`), `${ip}:${hostPort}`)] }));
        const control = await fromControl([{ id: "control", host: "172.17.0.1", port: hostPort, chunks: [get(marker("host-control"), "host")] }]);
        expect(control.control!.text).toContain("host secret page");
        const attack = await fromBottle(attempts);
        for (const ip of addresses) expect(attack[ip]!.how, ip).toMatch(/^error (ENETUNREACH|EHOSTUNREACH)$/);
        // Loopback in the bottle is the bottle's own, not the host's.
        const loop = await fromBottle([{ id: "lo", host: "127.0.0.1", port: hostPort, chunks: [get(marker("host-lo"), "localhost")] }]);
        expect(loop.lo!.how).toBe("error ECONNREFUSED");
        expect(hostSaw).toContain(marker("host-control"));
        expect(hostSaw.filter((url) => url !== marker("host-control"))).toEqual([]);
      });

      it("invariant 1: cannot reach another container, the upstream, the bundle or the metadata address directly", async () => {
        const bundleIp = await ipOn(plan.resources.bundle, plan.resources.network);
        const control = await fromControl([
          { id: "bystander", host: bystanderIp, port: 80, chunks: [get(marker("bystander-control"), "bystander")] },
          { id: "upstream", host: upstreamIp, port: 80, chunks: [get(marker("ip-control"), "declared.test")] },
        ]);
        expect(control.bystander!.text).toContain("bystander says");
        expect(control.upstream!.text).toContain("upstream says");
        const attack = await fromBottle([
          { id: "bystander", host: bystanderIp, port: 80, chunks: [get(marker("bystander"), "bystander")] },
          { id: "upstream", host: upstreamIp, port: 80, chunks: [get(marker("ip-direct"), "declared.test")] },
          { id: "bundle", host: bundleIp, port: 80, chunks: [get("/", "bundle")] },
          { id: "metadata", host: "169.254.169.254", port: 80, chunks: [get("/latest/meta-data/", "169.254.169.254")] },
        ]);
        for (const outcome of Object.values(attack)) expect(outcome.how, outcome.id).toMatch(/^error (ENETUNREACH|EHOSTUNREACH)$/);
        // The bystander logs its control request on a path of its own; the attacks, had they reached it, came before the wait ends.
        const bystanderSaw = await waitUntil("the bystander to log the control request", async () => {
          const urls = (await seenBy(names.bystander)).map((r) => r.url);
          return urls.includes(marker("bystander-control")) ? urls : undefined;
        }, { timeoutMs: 30_000 });
        expect(bystanderSaw).toEqual([marker("bystander-control")]);
        const seen = await upstreamSawAll("direct");
        expect(seen.map((r) => r.url)).toContain(marker("ip-control"));
        expect(seen.map((r) => r.url)).not.toContain(marker("ip-direct"));
      });

      it("invariant 1: has no engine socket: no Unix socket in the guest but the sidecars', no DOCKER_HOST", async () => {
        // A socket mounted on its own shows in its folder as the (empty) file it was mounted on, so those are tested one by one.
        const sockets = await sh(
          'find / \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o \\( -type s -o -type f -size 0 \\) -print 2>/dev/null | while read -r f; do [ -S "$f" ] && echo "$f"; done; echo DOCKER_HOST=$DOCKER_HOST',
          "root",
        );
        const found = sockets.stdout.trim().split("\n").filter((line) => !line.startsWith("DOCKER_HOST="));
        expect(found.sort()).toEqual(plan.sidecars.daemons.map((daemon) => `${SOCKET_DIR}/${daemon}.sock`).sort());
        expect(sockets.stdout).toContain("DOCKER_HOST=\n");
      });

      it("invariant 1: cannot find the bundle's secrets or the CA key anywhere it can read, though the bundle holds the secret", async () => {
        const caKey = readFileSync(plan.ca.key, "utf8").split("\n").find((line) => line.length > 40 && !line.startsWith("-----"))!;
        const canary = `bbesc-canary-${randomBytes(12).toString("hex")}`;
        // Proof that the search finds what is there: the canary in a file, and in the search's own environment.
        await engine.exec(id, ["/bin/sh", "-c", "cat > /tmp/esc-canary.txt"], { stdin: canary });
        // The patterns come on stdin (read from fd 0, never reopened): nothing in the bottle holds them in an argv, an environment or a file.
        const search = await engine.exec(id, ["node", "-e", SECRET_SEARCH], {
          stdin: JSON.stringify({ secrets: [token, caKey], canary }),
          env: { ESC_CANARY: canary },
          timeoutMs: 240_000,
        });
        expect(search.exit_code, search.stderr).toBe(0);
        const hits = JSON.parse(search.stdout) as { where: string; pattern: string }[];
        expect(hits.filter((hit) => hit.pattern !== "canary")).toEqual([]);
        const canaryHits = hits.filter((hit) => hit.pattern === "canary").map((hit) => hit.where);
        expect(canaryHits).toContain("/tmp/esc-canary.txt");
        expect(canaryHits.some((where) => /^\/proc\/\d+\/environ$/.test(where))).toBe(true);
        // Without the boundary it is right there: the bundle holds it.
        const inBundle = await docker(["exec", plan.resources.bundle, "grep", "-rlF", token, "/run/bot-bottle-private"]);
        expect(inBundle.stdout.trim()).not.toBe("");
      });

      it("invariant 1: the agent user gains no capabilities: none held, no mount, no raw socket (which an ordinary container's root opens)", async () => {
        const status = await sh("grep -E '^(CapEff|CapPrm|CapAmb):' /proc/self/status");
        for (const field of ["CapEff", "CapPrm", "CapAmb"]) expect(status.stdout).toMatch(new RegExp(`${field}:\\s*0+\\n`));
        const mount = await sh("mkdir -p /tmp/esc-mnt && mount -t tmpfs none /tmp/esc-mnt; echo mount=$?; grep -c esc-mnt /proc/mounts");
        expect(mount.stdout).not.toMatch(/mount=0/);
        expect(mount.stdout.trim().split("\n").at(-1)).toBe("0");
        const raw = "use Socket; if (socket(my $s, PF_INET, SOCK_RAW, 1)) { print \"raw=open\\n\" } else { print \"raw=$!\\n\" }";
        const control = await docker(["exec", names.control, "perl", "-e", raw]).catch((error: { stdout: string }) => error);
        expect(control.stdout).toContain("raw=open");
        const attack = await engine.exec(id, ["perl", "-e", raw]);
        expect(attack.stdout).toMatch(/raw=Operation not permitted/);
        const root = await sh("sudo -n id -u 2>&1; su -c 'id -u' root < /dev/null 2>&1; true");
        expect(root.stdout.split("\n")).not.toContain("0");
      });

      it("invariant 1: cannot kill the forwarder, take its port, or remove, replace or add sidecar sockets; egress still works", async () => {
        const kill = await sh(`pid=$(pgrep -u root -f '${GUEST_PATHS.forwarder}' | head -n1); echo pid=$pid; kill -9 $pid; echo kill=$?; pkill -9 -f forwarder.js; echo pkill=$?`);
        expect(kill.stdout).toMatch(/pid=\d+\n/);
        expect(kill.stdout).toMatch(/kill=1/);
        expect(kill.stdout).not.toMatch(/pkill=0/);
        const port = await asAgent(`require('net').createServer().listen(${GUEST_PORTS.egress},'127.0.0.1',()=>console.log('listening')).on('error',e=>console.log(e.code))`);
        expect(port.stdout.trim()).toBe("EADDRINUSE");
        const sockets = await sh(
          `rm -f ${SOCKET_DIR}/egress.sock; echo rm=$?; mv ${SOCKET_DIR}/egress.sock /tmp/x 2>/dev/null; echo mv=$?; ln -sf /tmp/evil.sock ${SOCKET_DIR}/egress.sock 2>/dev/null; echo ln=$?; touch ${SOCKET_DIR}/fake.sock 2>/dev/null; echo touch=$?; chmod 777 ${SOCKET_DIR} 2>/dev/null; echo chmod=$?`,
        );
        for (const op of ["rm", "mv", "ln", "touch", "chmod"]) expect(sockets.stdout).toMatch(new RegExp(`${op}=1`));
        const present = await sh(`test -S ${SOCKET_DIR}/egress.sock && ! test -L ${SOCKET_DIR}/egress.sock; echo present=$?; ls ${SOCKET_DIR}`, "root");
        expect(present.stdout).toMatch(/present=0/);
        expect(present.stdout).not.toContain("fake.sock");
        const after = await fromBottle([{ id: "after", host: "127.0.0.1", port: GUEST_PORTS.egress, chunks: [get(`http://declared.test${marker("after-kill")}`, "declared.test")] }]);
        expect(after.after!.text).toContain(`upstream says ${marker("after-kill")}`);
      });
    }

    function invariantThreeCases() {
      it("invariant 3: every way around the egress policy is refused, and none of it reaches the upstream, which answers to all those names", async () => {
        const proxy = { host: "127.0.0.1", port: GUEST_PORTS.egress };
        const dnsQuery = "AAABAAABAAAAAAAAB2V4YW1wbGUDY29tAAABAAE";
        // Without the boundary, each of these reaches the upstream: the control container sends them straight to it.
        const straight = await fromControl([
          { id: "undeclared", host: upstreamIp, port: 80, chunks: [get(marker("undeclared-control"), "undeclared.test")] },
          { id: "doh", host: upstreamIp, port: 80, chunks: [get(`${marker("doh-control")}?dns=${dnsQuery}`, "doh.test")] },
        ]);
        for (const outcome of Object.values(straight)) expect(outcome.text, outcome.id).toContain("upstream says");
        const attack = await fromBottle([
          { id: "undeclared", ...proxy, chunks: [get(`http://undeclared.test${marker("undeclared")}`, "undeclared.test")] },
          { id: "undeclared-connect", ...proxy, chunks: ["CONNECT undeclared.test:443 HTTP/1.1\r\nHost: undeclared.test:443\r\n\r\n"] },
          { id: "spoofed-host", ...proxy, chunks: [get(`http://declared.test${marker("spoofed")}`, "undeclared.test")] },
          { id: "doh-declared", ...proxy, chunks: [`POST http://declared.test${marker("doh-declared")} HTTP/1.1\r\nHost: declared.test\r\ncontent-type: application/dns-message\r\ncontent-length: 1\r\nConnection: close\r\n\r\nx`] },
          { id: "doh-get", ...proxy, chunks: [get(`http://declared.test${marker("doh-get")}?dns=${dnsQuery}`, "declared.test", "accept: application/dns-message\r\n")] },
          { id: "doh-undeclared", ...proxy, chunks: [get(`http://doh.test${marker("doh")}?dns=${dnsQuery}`, "doh.test")] },
          {
            id: "tunnel",
            ...proxy,
            chunks: ["CONNECT declared.test:80 HTTP/1.1\r\nHost: declared.test:80\r\n\r\n", get(marker("tunnel"), "undeclared.test")],
          },
          { id: "ip-literal", ...proxy, chunks: [get(`http://${upstreamIp}${marker("ip-literal")}`, upstreamIp)] },
          { id: "ip-connect", ...proxy, chunks: [`CONNECT ${upstreamIp}:80 HTTP/1.1\r\nHost: ${upstreamIp}:80\r\n\r\n`, get(marker("ip-connect"), "declared.test")] },
        ]);
        const refusal = (id: string) => {
          const outcome = attack[id]!;
          return { id, status: lastStatus(outcome.text), reason: /x-bot-bottle-reason: *([^\r\n]*)/i.exec(outcome.text)?.[1] ?? outcome.how };
        };
        expect(refusal("undeclared")).toMatchObject({ status: "403", reason: expect.stringMatching(/undeclared\.test.*not declared/i) });
        expect(refusal("undeclared-connect")).toMatchObject({ status: "403", reason: expect.stringMatching(/undeclared\.test.*not declared/i) });
        expect(refusal("spoofed-host")).toMatchObject({ status: "403", reason: expect.stringMatching(/Host header/i) });
        expect(refusal("doh-declared")).toMatchObject({ status: "403", reason: expect.stringMatching(/DNS-over-HTTPS/i) });
        expect(refusal("doh-get")).toMatchObject({ status: "403", reason: expect.stringMatching(/DNS-over-HTTPS/i) });
        expect(refusal("doh-undeclared")).toMatchObject({ status: "403", reason: expect.stringMatching(/doh\.test.*not declared/i) });
        // The tunnel is opened to the declared host, but plain HTTP inside it is refused: egress could not check its Host.
        expect(attack.tunnel!.text).toMatch(/^HTTP\/1\.1 200/);
        expect(refusal("tunnel")).toMatchObject({ status: "403", reason: expect.stringMatching(/only TLS passes through a CONNECT tunnel|plain HTTP inside a CONNECT tunnel/i) });
        expect(refusal("ip-literal")).toMatchObject({ status: "403", reason: expect.stringMatching(/IP literal/i) });
        expect(refusal("ip-connect")).toMatchObject({ status: "403", reason: expect.stringMatching(/IP literal/i) });

        const seen = (await upstreamSawAll("policy")).map((r) => r.url.split("?")[0] ?? "");
        expect(seen).toEqual(expect.arrayContaining([marker("undeclared-control"), marker("doh-control")]));
        const attacks = ["undeclared", "spoofed", "doh-declared", "doh-get", "doh", "tunnel", "ip-literal", "ip-connect"].map(marker);
        expect(seen.filter((url) => attacks.includes(url))).toEqual([]);
      });
    }
  });
}
