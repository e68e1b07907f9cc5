import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { readAudit } from "../../src/supervise/audit.js";
import { describeWithDocker } from "../support/docker.js";
import { type FakeModelContainer, startFakeModelContainer } from "../support/fake-model-container.js";
import { type SupervisedBottle, startSupervisedBottle, structured, until } from "../support/supervised-bottle.js";

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


describeWithDocker("supervise: real Codex in a bottle asks, the outer agent rejects with notes", () => {
  let world: SupervisedBottle;
  let fake: FakeModelContainer | undefined;
  const logs: string[] = [];

  beforeAll(async () => {
    world = await startSupervisedBottle({
      root: mkdtempSync(path.join(os.tmpdir(), "bb-supervise-codex-")),
      bottle: BOTTLE,
      prompt: "Ask before you do anything risky.",
      label: "supervise-codex",
      onClient: (client) => client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(String(n.params.data))),
    });
    fake = await startFakeModelContainer({
      name: `bb-fake-codex-api-${process.pid}`,
      network: world.internet.name,
      host: "api.fake.test",
      dialect: "openai",
      // Codex names an MCP server's tools in a namespace per server, `-` made `_`.
      steps: [{ tool: "mcp__supervise/request_approval", input: { summary: "drop the users table", justification: "it is in the way", details: "DROP TABLE users;" } }],
      ca: world.ca,
    });
  });

  afterAll(async () => {
    await fake?.remove();
    await world?.remove();
  });

  it("registered the supervise server with Codex, its tools approved for codex exec and its calls allowed to outlast the bottle's wait", async () => {
    const listed = await world.exec(["codex", "mcp", "list"]);
    expect(listed.stdout).toMatch(/^supervise\s+http:\/\/127\.0\.0\.1:9100\/mcp\s.*\senabled\s/m);
    const entry = await world.exec(["codex", "mcp", "get", "supervise"]);
    expect(entry.stdout).toMatch(/default_tools_approval_mode: approve/);
    // The bottle's supervise timeout_s is 45: Codex must wait longer than the server does before giving up on a call.
    expect(entry.stdout).toMatch(/tool_timeout_sec: 75/);
    expect(entry.stdout).toMatch(/startup_timeout_sec: 60/);
  });

  it("Codex's request-approval reaches the outer agent, which rejects it; the notes reach Codex", async () => {
    const run = world.exec(["timeout", "150", "codex", "exec", "--json", "--skip-git-repo-check", "Drop the users table."], 180);

    const proposal = await until("the proposal in supervise_list", async () => {
      const listed = structured<{ proposals: { id: string; kind: string; summary: string; payload: Record<string, unknown> }[] }>(
        await world.outer.callTool({ name: "supervise_list", arguments: {} }),
      );
      return listed.proposals[0];
    });
    expect(proposal).toMatchObject({ kind: "request-approval", summary: "drop the users table", payload: { justification: "it is in the way", details: "DROP TABLE users;" } });
    // The notification comes from the server's queue watcher, a path of its own: it may trail the listing.
    const said = `bottle ${world.bottleId} asks (request-approval): drop the users table [request ${proposal.id}]`;
    await until("the log notification", async () => (logs.some((line) => line.includes(said)) ? true : undefined));

    const rejected = await world.outer.callTool({ name: "supervise_approve", arguments: { request_id: proposal.id, decision: "reject", notes: NOTES } });
    expect(structured<{ decision: string }>(rejected).decision).toBe("reject");

    const codex = await run;
    expect(codex.exit_code, codex.stderr).toBe(0);
    // The fake model's log reaches `docker logs` on a path of its own.
    const [toolResult] = await until("the fake model to log the tool result", async () => {
      const results = await fake!.toolResults();
      return results.length > 0 ? results : undefined;
    });
    expect(JSON.parse(toolResult!.slice(toolResult!.indexOf("{")))).toMatchObject({ request_id: proposal.id, status: "rejected", notes: NOTES });
    expect(codex.stdout).toContain(NOTES);

    const audit = readAudit(world.home, world.bottleId).filter((r) => r.id === proposal.id);
    expect(audit.map((r) => r.event)).toEqual(["proposal", "decision"]);
    expect(audit[1]).toMatchObject({ decision: "reject", notes: NOTES, decided_by: "the outer agent (supervise_approve)" });
  });
});
