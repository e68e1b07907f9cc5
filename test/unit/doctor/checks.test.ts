import { describe, expect, it } from "vitest";
import {
  baseImagesCheck,
  clientCheck,
  DISK_FAIL_BYTES,
  diskCheck,
  doctorReport,
  engineCheck,
  gvisorCheck,
  homeCheck,
  secretsCheck,
  smolvmCheck,
} from "../../../src/doctor/checks.js";
import type { DoctorFacts, EngineFacts, SecretFacts } from "../../../src/doctor/facts.js";
import { smolvmReadiness } from "../../../backends/smolmachines/readiness.js";

// The doctor's verdicts from facts written by hand: each check's failure and
// the one-line fix it gives.

const up = (over: Partial<Extract<EngineFacts, { state: "up" }>> = {}): EngineFacts => ({
  state: "up",
  cli: "docker",
  clientVersion: "Docker version 28.2.2, build e6534b4",
  serverVersion: "28.2.2",
  platform: "Docker Engine - Community",
  components: ["Engine", "containerd", "runc"],
  ...over,
});

const secret = (over: Partial<SecretFacts>): SecretFacts => ({ name: "GH_TOKEN", bottles: ["github"], environment: false, stored: false, storeProblem: null, ...over });

const healthy: DoctorFacts = {
  engine: up(),
  dockerHost: null,
  engineInfo: { Runtimes: { runc: { path: "runc" } }, DockerRootDir: "/var/lib/docker" },
  baseImages: { configured: null, images: [{ name: "node:24-bookworm", present: true }, { name: "node:24-bookworm-slim", present: true }], registry: { state: "not-asked" } },
  home: { home: "/h", exists: true, bottles: 2, agents: 2, issues: [], warnings: [] },
  secrets: [secret({ stored: true })],
  clients: [{ client: "claude", version: null, config: "", registrations: [], problem: null }],
  smolvm: { path: null, kvm: "missing", needsKvm: true },
  disk: { path: "/var/lib/docker", freeBytes: 50 * 1024 ** 3 },
};

describe("doctor checks", () => {
  it("a healthy machine passes, and optional parts missing do not fail it", () => {
    const report = doctorReport(healthy);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ["engine", "ok"],
      ["base-images", "ok"],
      ["home", "ok"],
      ["secrets", "ok"],
      ["client-claude", "info"],
      ["gvisor", "info"],
      ["smolvm", "info"],
      ["disk", "ok"],
    ]);
  });

  describe("the container engine", () => {
    it("names which engine answers: Docker Engine, Docker Desktop, Podman's shim", () => {
      expect(engineCheck(up(), null).detail).toBe("Docker Engine 28.2.2 answers (Docker version 28.2.2, build e6534b4)");
      expect(engineCheck(up({ platform: "Docker Desktop 4.41.2 (191736)" }), null).detail).toMatch(/^Docker Desktop 28\.2\.2 answers/);
      expect(engineCheck(up({ clientVersion: "podman version 4.3.1" }), null).detail).toMatch(/^Podman \(through its docker command\)/);
      expect(engineCheck(up({ components: ["Podman Engine", "Conmon"] }), null).detail).toMatch(/^Podman/);
    });

    it("fails when no engine answers, saying how to start one and that DOCKER_HOST points elsewhere", () => {
      const down = engineCheck({ state: "down", cli: "docker", error: "Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?" }, "unix:///x.sock");
      expect(down).toMatchObject({ status: "fail", detail: "`docker` is there, but no engine answers it (Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?)" });
      expect(down.fix).toBe("Start one (Docker Desktop, colima, or `sudo dockerd`; on Debian: bash scripts/docker-engine.sh); DOCKER_HOST is unix:///x.sock: unset it, or point it at the engine that runs");
    });

    it("fails when the docker command is missing", () => {
      expect(engineCheck({ state: "missing-cli", cli: "docker" }, null)).toMatchObject({
        status: "fail",
        detail: "the `docker` command was not found on PATH",
        fix: expect.stringMatching(/^install Docker .*set BOT_BOTTLE_DOCKER/),
      });
    });

    it("without an engine, the checks that need one say they cannot tell, without failing twice", () => {
      const report = doctorReport({ ...healthy, engine: { state: "down", cli: "docker", error: "no" }, engineInfo: null, baseImages: null, disk: null });
      expect(report.ok).toBe(false);
      expect(report.checks.filter((c) => c.status === "fail").map((c) => c.id)).toEqual(["engine"]);
      expect(report.checks.find((c) => c.id === "base-images")?.detail).toBe("cannot tell without a container engine");
    });
  });

  describe("base images", () => {
    const missing = { configured: null, images: [{ name: "node:24-bookworm", present: false }, { name: "node:24-bookworm-slim", present: true }] };

    it("passes when a missing image can be pulled", () => {
      expect(baseImagesCheck({ ...missing, registry: { state: "reachable" } })).toMatchObject({ status: "ok", detail: "node:24-bookworm will be pulled from the registry at the first start (it answers)" });
    });

    it("fails when a missing image cannot be pulled, pointing at BOT_BOTTLE_BASE_IMAGE", () => {
      const check = baseImagesCheck({ ...missing, registry: { state: "unreachable", error: "lookup registry-1.docker.io: no such host" } });
      expect(check.status).toBe("fail");
      expect(check.detail).toBe("node:24-bookworm is not in the engine and its registry cannot be reached (lookup registry-1.docker.io: no such host)");
      expect(check.fix).toMatch(/set BOT_BOTTLE_BASE_IMAGE to it \(scripts\/base-image\.sh does\)$/);
    });

    it("fails on a configured BOT_BOTTLE_BASE_IMAGE the engine does not have", () => {
      const check = baseImagesCheck({ configured: "local/base:1", images: [{ name: "local/base:1", present: false }], registry: { state: "unreachable", error: "denied" } });
      expect(check.fix).toBe("make local/base:1 available to the engine (docker pull, or docker load / docker import of a local build), or unset BOT_BOTTLE_BASE_IMAGE");
    });
  });

  describe("the home", () => {
    it("fails on a missing home, pointing at init", () => {
      expect(homeCheck({ ...healthy.home, exists: false })).toMatchObject({ status: "fail", fix: "run `bot-bottle init` to make a home with a claude and a codex bottle (or set BOT_BOTTLE_HOME)" });
    });

    it("fails on problems, listing the first ones as validate prints them", () => {
      const issues = Array.from({ length: 7 }, (_, i) => `/h/bottles/b${i}.md:2: egres: unknown key (did you mean "egress"?)`);
      const check = homeCheck({ ...healthy.home, issues });
      expect(check.status).toBe("fail");
      expect(check.detail).toMatch(/^7 problems in \/h: \/h\/bottles\/b0\.md:2: egres: unknown key \(did you mean "egress"\?\);.*; and 2 more$/);
      expect(check.fix).toBe("fix the files named above; `bot-bottle validate` lists every problem with its line");
    });

    it("fails with no agents", () => {
      expect(homeCheck({ ...healthy.home, agents: 0 }).status).toBe("fail");
    });
  });

  describe("secrets bottles name (names only)", () => {
    it("fails on a secret found nowhere, naming it and its bottle, with the command that stores it", () => {
      const check = secretsCheck([secret({}), secret({ name: "OTHER", stored: true })]);
      expect(check).toMatchObject({
        status: "fail",
        detail: "not set, in the environment or in bot-bottle's secret store: GH_TOKEN (bottle github)",
        fix: "bot-bottle secret set GH_TOKEN (one per name; reads the value from stdin or a hidden prompt)",
      });
    });

    it("fails on a store file the store refuses", () => {
      const check = secretsCheck([secret({ storeProblem: "/h/secrets/GH_TOKEN can be read by other users" })]);
      expect(check.status).toBe("fail");
      expect(check.detail).toContain("GH_TOKEN: /h/secrets/GH_TOKEN can be read by other users");
    });

    it("warns about a secret only in this shell's environment: an MCP client may not pass it on", () => {
      const check = secretsCheck([secret({ environment: true })]);
      expect(check).toMatchObject({ status: "warn", fix: "bot-bottle secret set GH_TOKEN, so the server finds it whatever environment the client gives it" });
    });
  });

  describe("MCP clients", () => {
    const claude = { client: "claude" as const, version: "2.1.332 (Claude Code)", config: "/u/.claude.json, /p/.mcp.json", registrations: [], problem: null };

    it("warns when the client is installed but bot-bottle is not registered", () => {
      expect(clientCheck(claude)).toMatchObject({ status: "warn", fix: "bot-bottle mcp install claude" });
    });

    it("warns when a registration lacks the mark that makes headless runs wait for it", () => {
      const check = clientCheck({ ...claude, registrations: [{ scope: "user", marked: false }] });
      expect(check.status).toBe("warn");
      expect(check.detail).toContain("not marked to load before the first turn (alwaysLoad) in user");
      const codex = clientCheck({ ...claude, client: "codex", registrations: [{ scope: "user", marked: false }] });
      expect(codex.detail).toContain("(required = true)");
      expect(codex.fix).toBe("bot-bottle mcp install codex (it replaces the registration with a marked one)");
    });

    it("passes a marked registration, and says nothing is needed when the client is absent", () => {
      expect(clientCheck({ ...claude, registrations: [{ scope: "user", marked: true }] }).status).toBe("ok");
      expect(clientCheck({ ...claude, version: null })).toMatchObject({ status: "info", fix: null });
    });
  });

  describe("optional backends and disk", () => {
    it("gVisor: used when runsc may connect host sockets, a warning with the fix when it may not", () => {
      expect(gvisorCheck({ Runtimes: { runsc: { path: "runsc", runtimeArgs: ["--host-uds=open"] } } }).status).toBe("ok");
      const notConfigured = gvisorCheck({ Runtimes: { runsc: { path: "runsc" } } });
      expect(notConfigured.status).toBe("warn");
      expect(notConfigured.detail).toMatch(/add "--host-uds=open" to its runtimeArgs/);
    });

    it("smolvm: needs the command and, on Linux, a usable /dev/kvm; says what to do in the backend's own words", () => {
      expect(smolvmCheck({ path: "/usr/local/bin/smolvm", kvm: "usable", needsKvm: true }).status).toBe("ok");
      expect(smolvmCheck({ path: "/usr/local/bin/smolvm", kvm: "missing", needsKvm: false }).status).toBe("ok");
      expect(smolvmCheck({ path: "/usr/local/bin/smolvm", kvm: "no-access", needsKvm: true })).toMatchObject({ status: "info", fix: expect.stringMatching(/usermod -aG kvm/) });
      expect(smolvmCheck({ path: null, kvm: "usable", needsKvm: true })).toMatchObject({ status: "info", fix: expect.stringMatching(/install smolvm .*BOT_BOTTLE_SMOLVM/) });
      const missing = smolvmCheck({ path: "/usr/local/bin/smolvm", kvm: "missing", needsKvm: true });
      expect(missing.fix).toBe(`optional: ${(smolvmReadiness({ path: "/usr/local/bin/smolvm", kvm: "missing", needsKvm: true }) as { fix: string }).fix}`);
    });

    it("disk: fails when a first image would not fit", () => {
      expect(diskCheck({ path: "/var/lib/docker", freeBytes: DISK_FAIL_BYTES - 1 }, true)).toMatchObject({ status: "fail", fix: expect.stringMatching(/docker image prune/) });
      expect(diskCheck(null, true).status).toBe("info");
    });
  });
});
