import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runCli } from "../../support/cli.js";
import { describeWithDocker, engineTestEnv } from "../../support/docker.js";

// The supervise step of a real start, with a provider plugin whose MCP
// registration command fails: the bottle still runs and the failure is in
// the start result's warnings and the log. And `supervise: false` turns the
// whole channel off: no daemon, no socket, no port, no registration.

const PLUGIN = `
export const provider = {
  headless: { argv: (request) => ["echo", request.prompt] },
  mcpRegistration: (name, url) => [["sh", "-c", "echo registering " + name + " at " + url + " is refused >&2; exit 3"]],
};
`;

const DOCKERFILE = `ARG BASE_IMAGE
FROM \${BASE_IMAGE}
COPY build-ca.pem /tmp/build-ca.pem
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
`;

/** Exits 0 when something answers HTTP on the agent's supervise port. */
const PROBE = "require('http').get('http://127.0.0.1:9100/mcp',()=>process.exit(0)).on('error',e=>{console.log(e.code);process.exit(1)})";

describeWithDocker("supervise registration in a real start", () => {
  const home = mkdtempSync(path.join(os.tmpdir(), "bb-supervise-reg-"));
  const env = { ...engineTestEnv(), BOT_BOTTLE_HOME: home, BOT_BOTTLE_LOG: "warn" };
  const ids: string[] = [];

  const start = async (agent: string) => {
    const started = await runCli(["start", agent, "--json"], env);
    expect(started.exitCode, started.stderr).toBe(0);
    const record = JSON.parse(started.stdout) as { id: string; status: string; warnings: string[] };
    ids.push(record.id);
    return { record, stderr: started.stderr };
  };
  const exec = (id: string, script: string) => runCli(["exec", id, "--", "node", "-e", script], env);

  beforeAll(() => {
    const contrib = path.join(home, "contrib", "refuser");
    for (const dir of [contrib, path.join(home, "bottles"), path.join(home, "agents")]) mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(contrib, "provider.mjs"), PLUGIN);
    writeFileSync(path.join(contrib, "Dockerfile"), DOCKERFILE);
    writeFileSync(path.join(home, "bottles", "refusing.md"), "---\nagent_provider:\n  template: refuser\n---\n");
    writeFileSync(path.join(home, "bottles", "unsupervised.md"), "---\nagent_provider:\n  template: refuser\nsupervise: false\n---\n");
    writeFileSync(path.join(home, "agents", "refused.md"), "---\nbottle: refusing\n---\n");
    writeFileSync(path.join(home, "agents", "alone.md"), "---\nbottle: unsupervised\n---\n");
  });
  afterAll(async () => {
    for (const id of ids) await runCli(["stop", id], env);
    rmSync(home, { recursive: true, force: true });
  });

  it("the preflight summary says whether the agent can ask, and how long a request waits", async () => {
    const on = await runCli(["start", "refused", "--dry-run"], env);
    expect(on.stdout).toMatch(/^ {2}backend: {3}docker; agent has no network, sidecars: egress, supervise$/m);
    expect(on.stdout).toMatch(/^ {2}supervise: the agent asks at http:\/\/127\.0\.0\.1:9100\/mcp; one request waits 30 s for an answer$/m);
    const off = await runCli(["start", "alone", "--dry-run"], env);
    expect(off.stdout).toMatch(/^ {2}supervise: off$/m);
    expect(off.stdout).toMatch(/sidecars: egress$/m);
  });

  it("a failed registration is a warning of the start (result and log), and the bottle runs with its supervise server up", async () => {
    const { record, stderr } = await start("refused");
    const expected = "supervise: registering with the agent failed: `sh -c echo registering supervise at http://127.0.0.1:9100/mcp is refused >&2; exit 3` exited 3: registering supervise at http://127.0.0.1:9100/mcp is refused";
    expect(record.status).toBe("running");
    expect(record.warnings).toEqual([expected]);
    expect(stderr).toContain(expected.replaceAll('"', '\\"'));
    expect((await exec(record.id, PROBE)).exitCode).toBe(0);
  });

  it("supervise: false starts no daemon, serves no socket or port, and registers nothing", async () => {
    const { record } = await start("alone");
    expect(record.warnings).toEqual([]);
    const probe = await exec(record.id, PROBE);
    expect(probe.exitCode).toBe(1);
    expect(probe.stdout.trim()).toBe("ECONNREFUSED");
    // Listed as root: the agent user may not even look into the socket volume.
    const sockets = await runCli(["exec", "--user", "root", record.id, "--", "ls", "/run/bot-bottle"], env);
    expect(sockets.stdout.trim().split("\n")).toEqual(["egress.sock"]);
    const bundleEnv = await execa("docker", ["inspect", "--format", "{{join .Config.Env \"\\n\"}}", `bot-bottle-${record.id}-bundle`]);
    expect(bundleEnv.stdout).toContain("BOT_BOTTLE_DAEMONS=egress\n");
    expect(bundleEnv.stdout).not.toContain("SUPERVISE_");
  });
});
