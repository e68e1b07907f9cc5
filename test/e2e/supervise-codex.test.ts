import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { type CallToolResult, LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { waitUntil } from "../../src/wait-until.js";
import { readAudit } from "../../src/supervise/audit.js";
import { runCli } from "../support/cli.js";
import { describeWithDocker, engineTestEnv } from "../support/docker.js";
import { createTestInternet, createTestCa, type FakeModelContainer, type TestInternet, startFakeModelContainer } from "../support/fake-model-container.js";
import { connectStdio } from "../support/mcp-server.js";

// Real Codex inside a codex bottle asks for approval (request-approval)
// through the supervise server; its model API is a fake reachable only
// through a declared egress route. The outer agent (an MCP SDK client of
// `bot-bottle mcp`) hears of it by a log notification and rejects it with
// notes, and the notes reach the bottled agent.

const BOTTLE = `
agent_provider:
  template: codex
  settings:
    model: fake-model
    model_provider: fake
    model_providers:
      fake:
        name: fake
        base_url: https://api.fake.test/v1
        wire_api: responses
        env_key: FAKE_API_KEY
env:
  FAKE_API_KEY: placeholder-key-egress-never-needs
egress:
  routes:
    - host: api.fake.test
      matches: [{paths: [{type: prefix, value: /}]}]
supervise:
  timeout_s: 45
`;

const NOTES = "no: write a migration instead of dropping the table";
const NETWORK = "bb-sv-codex-net";
const structured = <T>(result: unknown) => (result as CallToolResult).structuredContent as T;
type Exec = { exit_code: number; stdout: string; stderr: string };

/** Waits on a condition (bounded), polling as it goes. */
const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> =>
  waitUntil(what, async () => await probe(), { timeoutMs, intervalMs: 250 });

describeWithDocker("supervise: real Codex in a bottle asks, the outer agent rejects with notes", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "bb-supervise-codex-"));
  const home = path.join(root, "home");
  let env: Record<string, string>;
  let outer: Client;
  let bottleId = "";
  let fake: FakeModelContainer | undefined;
  let network: TestInternet | undefined;
  const logs: string[] = [];

  const exec = async (command: string[], timeout_s = 60) =>
    structured<Exec>(await outer.callTool({ name: "exec_in_bottle", arguments: { bottle_id: bottleId, command, timeout_s } }, undefined, { timeout: (timeout_s + 30) * 1000 }));

  beforeAll(async () => {
    mkdirSync(path.join(home, "bottles"), { recursive: true });
    mkdirSync(path.join(home, "agents"), { recursive: true });
    writeFileSync(path.join(home, "bottles", "asking-codex.md"), `---${BOTTLE}---\n`);
    writeFileSync(path.join(home, "agents", "asker.md"), "---\nbottle: asking-codex\n---\nAsk before you do anything risky.\n");
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
    outer.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(String(n.params.data)));

    const started = await outer.callTool({ name: "start_bottle", arguments: { agent: "asker", label: "supervise-codex" } }, undefined, { timeout: 900_000 });
    const record = structured<{ id: string; warnings: string[] } | undefined>(started);
    expect(record?.warnings, JSON.stringify(started)).toEqual([]);
    bottleId = record!.id;
    await network.connect(`bot-bottle-${bottleId}-bundle`);
    fake = await startFakeModelContainer({
      name: `bb-fake-codex-api-${process.pid}`,
      network: network.name,
      host: "api.fake.test",
      dialect: "openai",
      // Codex names an MCP server's tools in a namespace per server, `-` made `_`.
      steps: [{ tool: "mcp__supervise/request_approval", input: { summary: "drop the users table", justification: "it is in the way", details: "DROP TABLE users;" } }],
      ca,
    });
  });

  afterAll(async () => {
    await fake?.remove();
    await network?.remove();
    await outer?.close();
    if (bottleId) await runCli(["stop", bottleId], env);
    rmSync(root, { recursive: true, force: true });
  });

  it("registered the supervise server with Codex, with its tools approved for codex exec", async () => {
    const listed = await exec(["codex", "mcp", "list"]);
    expect(listed.stdout).toMatch(/^supervise\s+http:\/\/127\.0\.0\.1:9100\/mcp\s.*\senabled\s/m);
    const entry = await exec(["codex", "mcp", "get", "supervise"]);
    expect(entry.stdout).toMatch(/default_tools_approval_mode: approve/);
  });

  it("Codex's request-approval reaches the outer agent, which rejects it; the notes reach Codex", async () => {
    const run = exec(["timeout", "150", "codex", "exec", "--json", "--skip-git-repo-check", "Drop the users table."], 180);

    const proposal = await until("the proposal in supervise_list", async () => {
      const listed = structured<{ proposals: { id: string; kind: string; summary: string; payload: Record<string, unknown> }[] }>(
        await outer.callTool({ name: "supervise_list", arguments: {} }),
      );
      return listed.proposals[0];
    });
    expect(proposal).toMatchObject({ kind: "request-approval", summary: "drop the users table", payload: { justification: "it is in the way", details: "DROP TABLE users;" } });
    expect(logs.some((line) => line.includes(`bottle ${bottleId} asks (request-approval): drop the users table [request ${proposal.id}]`))).toBe(true);

    const rejected = await outer.callTool({ name: "supervise_approve", arguments: { request_id: proposal.id, decision: "reject", notes: NOTES } });
    expect(structured<{ decision: string }>(rejected).decision).toBe("reject");

    const codex = await run;
    expect(codex.exit_code, codex.stderr).toBe(0);
    const [toolResult] = await fake!.toolResults();
    expect(JSON.parse(toolResult!.slice(toolResult!.indexOf("{")))).toMatchObject({ request_id: proposal.id, status: "rejected", notes: NOTES });
    expect(codex.stdout).toContain(NOTES);

    const audit = readAudit(home, bottleId).filter((r) => r.id === proposal.id);
    expect(audit.map((r) => r.event)).toEqual(["proposal", "decision"]);
    expect(audit[1]).toMatchObject({ decision: "reject", notes: NOTES, decided_by: "the outer agent (supervise_approve)" });
  });
});
