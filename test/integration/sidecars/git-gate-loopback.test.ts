import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GateConfig } from "../../../sidecars/git-gate/config.js";
import { waitUntil } from "../../../src/wait-until.js";
import { DaemonProcess } from "./daemon-process.js";
import { unusedPort } from "./fake-upstream.js";

// The bundled git gate as a plain process on loopback, in front of an
// upstream served by `git daemon` on loopback (git:// with receive-pack: the
// SSH leg, keys and host keys have their own suite against a real sshd). A
// real git client clones, fetches and pushes through the gate's smart HTTP,
// as the agent's git does through its forwarder.

describe("git gate (loopback)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "bb-git-gate-"));
  const upstream = path.join(dir, "upstream", "widgets.git");
  const canary = `canary-${randomBytes(12).toString("hex")}`;
  let gate: DaemonProcess;
  let daemon: ReturnType<typeof execa>;
  let base = "";
  let work = 0;
  const git = (args: string[], cwd: string) => execa("git", ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "protocol.version=2", ...args], { cwd, reject: false });
  const upstreamRefs = async () => (await git(["for-each-ref", "--format=%(refname) %(objectname)"], upstream)).stdout;
  const clone = async () => {
    const into = path.join(dir, `work-${++work}`);
    const cloned = await git(["clone", `${base}/widgets.git`, into], dir);
    expect(cloned.exitCode, cloned.stderr).toBe(0);
    return into;
  };
  const commitFile = async (cwd: string, file: string, content: string, message = `add ${file}`) => {
    writeFileSync(path.join(cwd, file), content);
    await git(["add", file], cwd);
    await git(["commit", "-q", "-m", message], cwd);
  };

  beforeAll(async () => {
    // The upstream's default branch is not master.
    const seed = path.join(dir, "seed");
    mkdirSync(seed);
    await git(["init", "-q", "-b", "trunk"], seed);
    await commitFile(seed, "README.md", "widgets\n", "first");
    mkdirSync(path.dirname(upstream));
    await git(["clone", "-q", "--bare", seed, upstream], dir);
    const port = await unusedPort();
    daemon = execa("git", ["daemon", "--reuseaddr", "--listen=127.0.0.1", `--port=${port}`, `--base-path=${path.dirname(upstream)}`, "--export-all", "--enable=receive-pack", "--informative-errors"], {
      reject: false,
    });
    await waitUntil("git daemon to listen", async () => ((await git(["ls-remote", `git://127.0.0.1:${port}/widgets.git`], dir)).exitCode === 0 ? true : undefined), { timeoutMs: 15_000 });
    const config: GateConfig = {
      version: 1,
      repos: [{ name: "widgets", upstream: { url: `git://127.0.0.1:${port}/widgets.git`, host_key: "unused ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBBB", key: "GIT_GATE_KEY_0" } }],
    };
    writeFileSync(path.join(dir, "gate.json"), JSON.stringify(config));
    writeFileSync(path.join(dir, "secrets.json"), JSON.stringify({ EGRESS_SECRET_CANARY: canary }), { mode: 0o600 });
    mkdirSync(path.join(dir, "keys"), { mode: 0o700 });
    gate = new DaemonProcess("git-gate", {
      env: {
        GIT_GATE_CONFIG: path.join(dir, "gate.json"),
        GIT_GATE_MIRRORS: path.join(dir, "mirrors"),
        GIT_GATE_KEYS_DIR: path.join(dir, "keys"),
        GIT_GATE_SECRETS_FILE: path.join(dir, "secrets.json"),
        GIT_GATE_SOCKET: path.join(dir, "git-gate.sock"),
        GIT_GATE_LISTEN: "127.0.0.1:0",
        BOT_BOTTLE_ID: "gate-loopback",
      },
    });
    const ready = await gate.waitForLine("stderr", /git-gate: ready on .*tcp:127\.0\.0\.1:(\d+)/);
    base = `http://127.0.0.1:${/tcp:127\.0\.0\.1:(\d+)/.exec(ready)![1]}`;
  });

  afterAll(async () => {
    await gate?.stop();
    daemon?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it("clones through the gate, on the upstream's default branch (trunk, not master)", async () => {
    const cwd = await clone();
    expect((await git(["rev-parse", "--abbrev-ref", "HEAD"], cwd)).stdout).toBe("trunk");
    expect((await git(["log", "--format=%s"], cwd)).stdout).toBe("first");
  });

  it("fetches what the upstream has now: the mirror is refreshed before it is served", async () => {
    const cwd = await clone();
    const elsewhere = path.join(dir, "elsewhere");
    await git(["clone", "-q", upstream, elsewhere], dir);
    await commitFile(elsewhere, "later.txt", "later\n", "pushed upstream directly");
    expect((await git(["push", "-q", "origin", "trunk"], elsewhere)).exitCode).toBe(0);
    const pulled = await git(["pull", "-q"], cwd);
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    expect((await git(["log", "-1", "--format=%s"], cwd)).stdout).toBe("pushed upstream directly");
  });

  it("forwards a clean push upstream, to an existing and to a new branch", async () => {
    const cwd = await clone();
    await commitFile(cwd, "clean.txt", "nothing secret here\n");
    const pushed = await git(["push", "origin", "trunk", "trunk:feature/new"], cwd);
    expect(pushed.exitCode, pushed.stderr).toBe(0);
    const head = (await git(["rev-parse", "HEAD"], cwd)).stdout;
    expect(await upstreamRefs()).toContain(`refs/heads/trunk ${head}`);
    expect(await upstreamRefs()).toContain(`refs/heads/feature/new ${head}`);
  });

  it("refuses a push that carries a declared secret, before the upstream is contacted, and says where it is without the value", async () => {
    const cwd = await clone();
    const before = await upstreamRefs();
    await commitFile(cwd, "config.env", `TOKEN=${canary}\n`);
    const pushed = await git(["push", "origin", "trunk"], cwd);
    expect(pushed.exitCode).not.toBe(0);
    expect(pushed.stderr).toMatch(/remote: git-gate: push refused: it would send 1 secret\(s\) out of the bottle/);
    expect(pushed.stderr).toMatch(/config\.env:1/);
    expect(pushed.stderr).not.toContain(canary);
    expect(await upstreamRefs()).toBe(before);
  });

  it("fails closed with a clear error when the upstream cannot be reached, and serves an undeclared repository not at all", async () => {
    const cwd = await clone();
    renameSync(upstream, `${upstream}.away`);
    try {
      const fetched = await git(["fetch"], cwd);
      expect(fetched.exitCode).not.toBe(0);
      expect(fetched.stderr).toMatch(/fatal: remote error: git-gate: cannot reach the upstream of widgets/);
    } finally {
      renameSync(`${upstream}.away`, upstream);
    }
    const undeclared = await git(["clone", `${base}/secrets.git`, path.join(dir, "nope")], dir);
    expect(undeclared.exitCode).not.toBe(0);
    expect(undeclared.stderr).toMatch(/not found|404/);
  });
});
