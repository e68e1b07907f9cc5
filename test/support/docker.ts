import { existsSync } from "node:fs";
import { execa } from "execa";
import { describe, it } from "vitest";

// Suites that need a real Docker engine. In CI a missing engine fails loudly;
// locally the suite is skipped with a name that says why and how to fix it.

/** scripts/base-image.sh builds it: Debian bookworm with Node 24, standing in for node:24-bookworm. */
const LOCAL_BASE_IMAGE = "bot-bottle/base:node24-bookworm";

async function probeEngine(): Promise<{ ok: boolean; reason: string }> {
  const result = await execa("docker", ["info", "--format", "{{.ServerVersion}}"], { reject: false });
  if (result.exitCode === 0) return { ok: true, reason: `Docker ${result.stdout}` };
  return { ok: false, reason: String(result.stderr || result.message).split("\n")[0] ?? "docker info failed" };
}

export const engine = await probeEngine();

const localBaseExists =
  engine.ok && (await execa("docker", ["image", "inspect", LOCAL_BASE_IMAGE], { reject: false })).exitCode === 0;

/**
 * The environment integration tests give the engine: the locally built base
 * image when there is one (no registry here) and the host's CA bundle for
 * image builds behind this machine's TLS-inspecting proxy.
 */
export function engineTestEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  if (!process.env.BOT_BOTTLE_BASE_IMAGE && localBaseExists) env.BOT_BOTTLE_BASE_IMAGE = LOCAL_BASE_IMAGE;
  if (!process.env.BOT_BOTTLE_BUILD_CA && existsSync("/etc/ssl/certs/ca-certificates.crt")) {
    env.BOT_BOTTLE_BUILD_CA = "/etc/ssl/certs/ca-certificates.crt";
  }
  return env;
}

export const baseImage = () => process.env.BOT_BOTTLE_BASE_IMAGE ?? (localBaseExists ? LOCAL_BASE_IMAGE : "node:24-bookworm");

export function describeWithDocker(name: string, body: () => void): void {
  if (engine.ok) {
    describe(name, body);
  } else if (process.env.CI) {
    describe(name, () => {
      it("has a Docker engine (required in CI)", () => {
        throw new Error(`CI=true but no Docker engine answers: ${engine.reason}. .ci/run must start one (scripts/docker-engine.sh).`);
      });
    });
  } else {
    process.stderr.write(`SKIPPED "${name}": no Docker engine (${engine.reason}); start one with: sudo bash scripts/docker-engine.sh\n`);
    describe.skip(`${name} [skipped: no Docker engine (${engine.reason}); start one with: sudo bash scripts/docker-engine.sh]`, body);
  }
}
