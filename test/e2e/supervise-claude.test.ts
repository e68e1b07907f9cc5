import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { type CallToolResult, ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { waitUntil } from "../../src/wait-until.js";
import { readAudit } from "../../src/supervise/audit.js";
import { runCli } from "../support/cli.js";
import { describeWithDocker, engineTestEnv } from "../support/docker.js";
import { createTestInternet, createTestCa, type FakeModelContainer, type TestInternet, startFakeModelContainer, startGreeter } from "../support/fake-model-container.js";
import { connectStdio } from "../support/mcp-server.js";

// Real Claude Code inside a claude bottle asks for a route through the
// supervise server; its model API is a fake reachable only through a declared
// egress route. The test is the outer agent: an MCP SDK client of
// `bot-bottle mcp`, which sees the proposal (supervise_list and a resource
// update) and approves it; Claude Code's tool call comes back approved, and
// the host it asked for, refused before, answers after.

const BOTTLE = `
agent_provider:
  template: claude
env:
  ANTHROPIC_BASE_URL: https://api.fake.test
  ANTHROPIC_API_KEY: placeholder-key-egress-never-needs
  CLAUDE_CODE_MAX_RETRIES: 0
  ENABLE_TOOL_SEARCH: false
egress:
  routes:
    # matches make egress terminate the TLS (with the bottle CA the agent trusts)
    - host: api.fake.test
      matches: [{paths: [{type: prefix, value: /}]}]
supervise:
  timeout_s: 240
`;

const NETWORK = "bb-sv-claude-net";
const structured = <T>(result: unknown) => (result as CallToolResult).structuredContent as T;
type Exec = { exit_code: number; stdout: string; stderr: string };

/** Waits on a condition (bounded), polling as it goes. */
const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> =>
  waitUntil(what, async () => await probe(), { timeoutMs, intervalMs: 250 });

describeWithDocker("supervise: real Claude Code in a bottle asks, the outer agent approves", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "bb-supervise-claude-"));
  const home = path.join(root, "home");
  const tag = `${process.pid}`;
  let env: Record<string, string>;
  let outer: Client;
  let bottleId = "";
  let fake: FakeModelContainer | undefined;
  let network: TestInternet | undefined;
  let second: { remove(): Promise<void> } | undefined;
  const updates: string[] = [];

  const exec = async (command: string[], timeout_s = 60) =>
    structured<Exec>(await outer.callTool({ name: "exec_in_bottle", arguments: { bottle_id: bottleId, command, timeout_s } }, undefined, { timeout: (timeout_s + 30) * 1000 }));
  const curlSecond = (urlPath: string) => exec(["curl", "-sS", "-o", "/dev/stderr", "-w", "%{http_code}", "--max-time", "20", `http://second.fake.test${urlPath}`]);

  beforeAll(async () => {
    mkdirSync(path.join(home, "bottles"), { recursive: true });
    mkdirSync(path.join(home, "agents"), { recursive: true });
    writeFileSync(path.join(home, "bottles", "asking-claude.md"), `---${BOTTLE}---\n`);
    writeFileSync(path.join(home, "agents", "asker.md"), "---\nbottle: asking-claude\n---\nYou ask before you reach new hosts.\n");
    const ca = await createTestCa(root);
    network = await createTestInternet(`${NETWORK}-${process.pid}`);
    env = {
      ...engineTestEnv(),
      PATH: process.env.PATH ?? "",
      BOT_BOTTLE_HOME: home,
      BOT_BOTTLE_LOG: "info",
      BOT_BOTTLE_EGRESS_EXTRA_CA: ca.certFile,
      BOT_BOTTLE_EGRESS_ALLOW_NETWORKS: network.subnet,
    };
    ({ client: outer } = await connectStdio(env));
    outer.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));

    const started = await outer.callTool({ name: "start_bottle", arguments: { agent: "asker", label: "supervise-claude" } }, undefined, { timeout: 900_000 });
    const record = structured<{ id: string; warnings: string[] } | undefined>(started);
    expect(record?.warnings, JSON.stringify(started)).toEqual([]);
    bottleId = record!.id;
    await network.connect(`bot-bottle-${bottleId}-bundle`);
    fake = await startFakeModelContainer({
      name: `bb-fake-claude-api-${tag}`,
      network: network.name,
      host: "api.fake.test",
      dialect: "anthropic",
      steps: [{ tool: "mcp__supervise__egress-allow", input: { host: "second.fake.test", justification: "the test needs the second host" } }],
      ca,
    });
    second = await startGreeter({ name: `bb-second-${tag}`, network: network.name, host: "second.fake.test", greeting: "second says" });
  });

  afterAll(async () => {
    await fake?.remove();
    await second?.remove();
    await network?.remove();
    await outer?.close();
    if (bottleId) await runCli(["stop", bottleId], env);
    rmSync(root, { recursive: true, force: true });
  });

  it("registered the supervise server with Claude Code, which connects to it", async () => {
    const listed = await exec(["claude", "mcp", "list"]);
    expect(listed.stdout).toMatch(/^supervise: http:\/\/127\.0\.0\.1:9100\/mcp \(HTTP\) - ✔ Connected$/m);
  });

  it("the second host is refused before, Claude Code's egress-allow is approved by the outer agent, and the host answers after", async () => {
    const before = await curlSecond("/before");
    expect(before.stdout).toBe("403");

    const uri = `bottle://${bottleId}/supervise`;
    await outer.subscribeResource({ uri });
    const run = exec(["claude", "-p", "Reach second.fake.test.", "--output-format", "json", "--allowedTools", "mcp__supervise__egress-allow"], 240);

    const proposal = await until("the proposal in supervise_list", async () => {
      const listed = structured<{ proposals: { id: string; bottle: string; kind: string; payload: { host: string } }[] }>(
        await outer.callTool({ name: "supervise_list", arguments: { bottle_id: bottleId } }),
      );
      return listed.proposals[0];
    });
    expect(proposal).toMatchObject({ bottle: bottleId, kind: "egress-allow", payload: { host: "second.fake.test", justification: "the test needs the second host" } });
    await until("a resource update", async () => (updates.includes(uri) ? true : undefined), 10_000);

    await outer.callTool({ name: "supervise_approve", arguments: { request_id: proposal.id, decision: "approve", notes: "approved for the e2e test" } });
    const claude = await run;
    expect(claude.exit_code, claude.stderr).toBe(0);
    const answer = JSON.parse(claude.stdout) as { result: string; is_error: boolean };
    expect(answer.is_error).toBe(false);
    expect(answer.result).toContain("Approved by the outer agent (supervise_approve): the route for second.fake.test is added to egress and live now.");
    expect(await fake!.toolResults()).toEqual([expect.stringContaining('"status":"approved"')]);

    const after = await curlSecond("/after");
    expect(after).toMatchObject({ stdout: "200", stderr: "second says /after" });

    const audit = readAudit(home, bottleId).filter((r) => r.id === proposal.id);
    expect(audit.map((r) => r.event)).toEqual(["proposal", "decision"]);
    expect(audit[1]).toMatchObject({ decision: "approve", decided_by: "the outer agent (supervise_approve)", notes: "approved for the e2e test" });
  });
});
