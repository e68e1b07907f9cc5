import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { parse as parseToml } from "smol-toml";
import { afterAll, beforeAll, expect, it } from "vitest";
import { claudeServerJson } from "../../../src/providers/claude/mcp-server-json.js";
import { runCli } from "../../support/cli.js";
import { describeWithDocker, engineTestEnv } from "../../support/docker.js";

// The supervise step of a real start, with a provider plugin whose MCP
// registration command fails: the bottle still runs and the failure is in
// the start result's warnings and the log. And `supervise: false` turns the
// whole channel off: no daemon, no socket, no port, no registration. For
// Claude Code and Codex the step writes their config files without booting
// them: the real clients inside the bottle must still see the server, and
// their own commands must write the same entry.

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
    writeFileSync(path.join(home, "bottles", "claude.md"), "---\nagent_provider:\n  template: claude\n---\n");
    // Settings, so that the registration lands in a config.toml that already has something in it.
    writeFileSync(path.join(home, "bottles", "codex.md"), "---\nagent_provider:\n  template: codex\n  settings:\n    model: fake-model\n---\n");
    writeFileSync(path.join(home, "agents", "claude-agent.md"), "---\nbottle: claude\n---\n");
    writeFileSync(path.join(home, "agents", "codex-agent.md"), "---\nbottle: codex\n---\n");
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

  const sh = (id: string, script: string, ...args: string[]) => runCli(["exec", id, "--", "sh", "-c", script, "sh", ...args], env);

  it("Claude Code in the bottle sees and reaches the supervise server, registered as `claude mcp add-json` would", async () => {
    const { record } = await start("claude-agent");
    expect(record.warnings).toEqual([]);
    // `claude mcp list` connects to each server (initialize + tools/list); it exits 0 either way.
    const listed = await sh(record.id, "MCP_TIMEOUT=20000 claude mcp list");
    expect(listed.stdout).toMatch(/^supervise: http:\/\/127\.0\.0\.1:9100\/mcp \(HTTP\) - ✔ Connected$/m);
    // The client's own command, in a config folder of its own, writes the same entry.
    const own = await sh(
      record.id,
      'd=$(mktemp -d) && CLAUDE_CONFIG_DIR=$d claude mcp add-json supervise "$1" --scope user >/dev/null && cat $d/.claude.json',
      claudeServerJson({ type: "http", url: "http://127.0.0.1:9100/mcp" }),
    );
    expect(own.exitCode, own.stderr).toBe(0);
    const ours = await sh(record.id, "cat ~/.claude.json");
    const clientWrote = (JSON.parse(own.stdout) as { mcpServers: unknown }).mcpServers;
    expect((JSON.parse(ours.stdout) as { mcpServers: unknown }).mcpServers).toEqual(clientWrote);
    expect(clientWrote).toEqual({ supervise: { type: "http", url: "http://127.0.0.1:9100/mcp", alwaysLoad: true } });
  });

  it("Codex in the bottle lists the supervise server, registered as `codex mcp add` would, with the settings codex exec needs", async () => {
    const { record } = await start("codex-agent");
    expect(record.warnings).toEqual([]);
    const listed = await sh(record.id, "codex mcp list");
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^supervise\s+http:\/\/127\.0\.0\.1:9100\/mcp\s/m);
    const own = await sh(record.id, 'd=$(mktemp -d) && CODEX_HOME=$d codex mcp add supervise --url "$1" >/dev/null && cat $d/config.toml', "http://127.0.0.1:9100/mcp");
    expect(own.exitCode, own.stderr).toBe(0);
    const clientWrote = (parseToml(own.stdout) as { mcp_servers: Record<string, object> }).mcp_servers;
    const ours = parseToml((await sh(record.id, "cat ~/.codex/config.toml")).stdout) as { model: string; mcp_servers: Record<string, object> };
    expect(ours.model).toBe("fake-model");
    expect(ours.mcp_servers).toEqual({
      supervise: { ...clientWrote.supervise, default_tools_approval_mode: "approve", required: true, startup_timeout_sec: 60, tool_timeout_sec: 60 },
    });
    expect(clientWrote).toEqual({ supervise: { url: "http://127.0.0.1:9100/mcp" } });
  });
});
