import { writeFileSync } from "node:fs";
import path from "node:path";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { writeDemoManifests } from "../../../src/demo/home.js";
import { DoctorReport } from "../../../src/doctor/checks.js";
import { runCli } from "../../support/cli.js";
import { describeWithDocker, engineTestEnv } from "../../support/docker.js";
import { connectStdio } from "../../support/mcp-server.js";
import { useTempDir } from "../../support/temp-dir.js";

// `bot-bottle doctor` as a newcomer runs it (the built CLI), on homes made
// for each case, and `start` / `start_bottle` pointing at it when there is
// no engine. The engine is "stopped" with a DOCKER_HOST of the test's own
// that nothing listens on.

const TOKEN = "BB_DOCTOR_TEST_TOKEN";
const VALUE = "doctor-test-value-that-must-never-be-printed-123456";

describe("bot-bottle doctor", () => {
  const tmp = useTempDir("bb-doctor-");
  /** A home with the demo agent, and (when asked) a bottle whose route injects a token from TOKEN. */
  const makeHome = (name: string, extra: Record<string, string> = {}) => {
    const home = path.join(tmp.path, name);
    writeDemoManifests(home);
    for (const [file, text] of Object.entries(extra)) writeFileSync(path.join(home, file), text);
    return home;
  };
  const noEngine = () => ({ DOCKER_HOST: `unix://${path.join(tmp.path, "none.sock")}` });
  const doctor = (home: string, env: Record<string, string | undefined>, args: string[] = []) => runCli(["doctor", ...args], { BOT_BOTTLE_HOME: home, [TOKEN]: undefined, ...env });
  const reportOf = (stdout: string) => DoctorReport.parse(JSON.parse(stdout));

  it("with the engine stopped: fails on the engine, says how to start one and that DOCKER_HOST points at nothing", async () => {
    const env = noEngine();
    const result = await doctor(makeHome("stopped"), env);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain(`FAIL  container engine: \`docker\` is there, but no engine answers it (Cannot connect to the Docker daemon at ${env.DOCKER_HOST}`);
    expect(result.stdout).toContain(
      `      fix: Start one (Docker Desktop, colima, or \`sudo dockerd\`; on Debian: bash scripts/docker-engine.sh); DOCKER_HOST is ${env.DOCKER_HOST}: unset it, or point it at the engine that runs`,
    );
    expect(result.stdout).toContain("info  base images: cannot tell without a container engine");
    expect(result.stdout.trimEnd().split("\n").pop()).toBe("bottles cannot start yet: fix the FAIL lines above, then run `bot-bottle doctor` again");

    const json = await doctor(makeHome("stopped-json"), env, ["--json"]);
    expect(json.exitCode).toBe(1);
    const report = reportOf(json.stdout);
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.id === "engine")).toMatchObject({ status: "fail", fix: expect.stringContaining("DOCKER_HOST is") });
  });

  it("a missing token variable: fails naming it and its bottle, with the command that stores it; once set, never prints its value", async () => {
    const bottle = `---\negress:\n  routes:\n    - host: api.example.com\n      auth: {scheme: Bearer, token_ref: ${TOKEN}}\n---\n`;
    const home = makeHome("token", {});
    writeFileSync(path.join(home, "bottles", "tokened.md"), bottle);
    const missing = await doctor(home, noEngine());
    expect(missing.exitCode).toBe(1);
    expect(missing.stdout).toContain(`FAIL  secrets bottles name: not set, in the environment or in bot-bottle's secret store: ${TOKEN} (bottle tokened)`);
    expect(missing.stdout).toContain(`      fix: bot-bottle secret set ${TOKEN} (one per name; reads the value from stdin or a hidden prompt)`);

    const set = await doctor(home, { ...noEngine(), [TOKEN]: VALUE }, ["--json"]);
    expect(reportOf(set.stdout).checks.find((c) => c.id === "secrets")).toMatchObject({ status: "warn", detail: expect.stringContaining(`found only in this shell's environment: ${TOKEN} (bottle tokened)`) });
    expect(set.stdout + set.stderr).not.toContain(VALUE);
  });

  it("a broken home: fails with each problem as validate prints it (file, line, key, hint)", async () => {
    const home = makeHome("broken");
    writeFileSync(path.join(home, "bottles", "typo.md"), "---\negres:\n  routes: []\n---\n");
    const result = await doctor(home, noEngine());
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(new RegExp(`FAIL  home: 1 problem in ${home}: ${path.join(home, "bottles", "typo.md")}:2: egres: .*egress`));
    expect(result.stdout).toContain("      fix: fix the files named above; `bot-bottle validate` lists every problem with its line");
  });

  it("a home that does not exist: fails, pointing at init", async () => {
    const result = await doctor(path.join(tmp.path, "nowhere"), noEngine());
    expect(result.stdout).toContain(`FAIL  home: ${path.join(tmp.path, "nowhere")} does not exist`);
    expect(result.stdout).toContain("fix: run `bot-bottle init`");
  });

  it("start and start_bottle point at doctor when no engine answers", async () => {
    const home = makeHome("start");
    const started = await runCli(["start", "demo"], { BOT_BOTTLE_HOME: home, ...noEngine() });
    expect(started.exitCode).toBe(1);
    expect(started.stderr).toMatch(/no Docker engine answers .* and retry; `bot-bottle doctor` checks everything else bottles need/);

    const { client } = await connectStdio({ PATH: process.env.PATH ?? "", BOT_BOTTLE_HOME: home, BOT_BOTTLE_LOG: "error", ...noEngine() });
    try {
      const result = (await client.callTool({ name: "start_bottle", arguments: { agent: "demo" } })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect((result.content[0] as { text: string }).text).toContain("`bot-bottle doctor` checks everything else bottles need");
    } finally {
      await client.close();
    }
  });
});

describeWithDocker("bot-bottle doctor with a running engine", () => {
  const tmp = useTempDir("bb-doctor-engine-");

  it("passes (exit 0) when the default path works: engine, base image, home, secrets", async () => {
    const home = path.join(tmp.path, "home");
    writeDemoManifests(home);
    // The test machine has no registry: the locally built base image stands in (engineTestEnv names it).
    const env: Record<string, string> = { ...engineTestEnv(), BOT_BOTTLE_HOME: home };
    expect(env.BOT_BOTTLE_BASE_IMAGE, "scripts/base-image.sh builds the local base image").toBeDefined();
    const result = await runCli(["doctor", "--json"], env);
    const report = DoctorReport.parse(JSON.parse(result.stdout));
    expect(report.checks.filter((c) => c.status === "fail"), result.stdout).toEqual([]);
    expect(result.exitCode).toBe(0);
    expect(report.checks.find((c) => c.id === "engine")?.detail).toMatch(/^(Docker Engine|Docker Desktop|Podman \(through its docker command\)) \S+ answers/);
    expect(report.checks.find((c) => c.id === "base-images")).toMatchObject({ status: "ok", detail: `${env.BOT_BOTTLE_BASE_IMAGE} is in the engine` });
  });
});
