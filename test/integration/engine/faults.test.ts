import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot, runCli } from "../../support/cli.js";
import { baseImage, describeWithDocker, engineTestEnv } from "../../support/docker.js";

const fixtureHome = path.join(repoRoot, "test", "fixtures", "homes", "engine");
const claudeConfig = path.join(repoRoot, "test", "fixtures", "claude-config");

describe("without a Docker engine", () => {
  it("start, ls and gc say there is no engine and how to start one", async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), "bb-noengine-"));
    cpSync(fixtureHome, home, { recursive: true });
    const env = { BOT_BOTTLE_HOME: home, CLAUDE_CONFIG_DIR: claudeConfig, DOCKER_HOST: "unix:///nonexistent/docker.sock" };
    try {
      for (const args of [["start", "probe"], ["ls"], ["gc"]]) {
        const result = await runCli(args, env);
        expect(result.exitCode, args.join(" ")).toBe(1);
        expect(result.stderr).toMatch(/no Docker engine answers/);
        expect(result.stderr).toMatch(/docker-engine\.sh|dockerd|Docker Desktop/);
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describeWithDocker("a failing image build", () => {
  const home = mkdtempSync(path.join(os.tmpdir(), "bb-badbuild-"));
  afterAll(async () => {
    await runCli(["gc"], { BOT_BOTTLE_HOME: home });
    rmSync(home, { recursive: true, force: true });
  });

  it("reports the tail of the build log and leaves nothing running", async () => {
    cpSync(fixtureHome, home, { recursive: true });
    writeFileSync(
      path.join(home, "bottles", "broken-image.Dockerfile"),
      `ARG BASE_IMAGE\nFROM \${BASE_IMAGE}\nRUN echo "unmistakable-build-output-${process.pid}" && exit 3\n`,
    );
    writeFileSync(
      path.join(home, "bottles", "broken-image.md"),
      "---\nagent_provider:\n  template: claude\n  dockerfile: broken-image.Dockerfile\n---\n",
    );
    const env = { ...engineTestEnv(), BOT_BOTTLE_BASE_IMAGE: baseImage(), BOT_BOTTLE_HOME: home, CLAUDE_CONFIG_DIR: claudeConfig };
    const result = await runCli(["start", "probe", "--bottle", "broken-image"], env);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/building the claude image failed/);
    expect(result.stderr).toContain(`unmistakable-build-output-${process.pid}`);
    const ls = JSON.parse((await runCli(["ls", "--json"], env)).stdout) as { status: string }[];
    expect(ls.map((r) => r.status)).toEqual(["failed"]);
  });
});
