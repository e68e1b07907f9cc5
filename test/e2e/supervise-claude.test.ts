import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { readAudit } from "../../src/supervise/audit.js";
import { describeWithDocker } from "../support/docker.js";
import { type FakeModelContainer, startFakeModelContainer, startGreeter } from "../support/fake-model-container.js";
import { type SupervisedBottle, startSupervisedBottle, structured, until } from "../support/supervised-bottle.js";

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



describeWithDocker("supervise: real Claude Code in a bottle asks, the outer agent approves", () => {
  const tag = `${process.pid}`;
  let world: SupervisedBottle;
  let fake: FakeModelContainer | undefined;
  let second: { remove(): Promise<void> } | undefined;
  const updates: string[] = [];
  const curlSecond = (urlPath: string) => world.exec(["curl", "-sS", "-o", "/dev/stderr", "-w", "%{http_code}", "--max-time", "20", `http://second.fake.test${urlPath}`]);

  beforeAll(async () => {
    world = await startSupervisedBottle({
      root: mkdtempSync(path.join(os.tmpdir(), "bb-supervise-claude-")),
      bottle: BOTTLE,
      prompt: "You ask before you reach new hosts.",
      label: "supervise-claude",
      onClient: (client) => client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri)),
    });
    fake = await startFakeModelContainer({
      name: `bb-fake-claude-api-${tag}`,
      network: world.internet.name,
      host: "api.fake.test",
      dialect: "anthropic",
      // The greeter speaks plain http, so the route names port 80 (a route without a port is https only).
      steps: [{ tool: "mcp__supervise__egress-allow", input: { host: "second.fake.test", port: 80, justification: "the test needs the second host" } }],
      ca: world.ca,
    });
    second = await startGreeter({ name: `bb-second-${tag}`, network: world.internet.name, host: "second.fake.test", greeting: "second says" });
  });

  afterAll(async () => {
    await fake?.remove();
    await second?.remove();
    await world?.remove();
  });

  it("registered the supervise server with Claude Code, which connects to it and waits for it before a turn", async () => {
    const listed = await world.exec(["claude", "mcp", "list"]);
    expect(listed.stdout).toMatch(/^supervise: http:\/\/127\.0\.0\.1:9100\/mcp \(HTTP\) - ✔ Connected$/m);
    const config = JSON.parse((await world.exec(["cat", "/home/node/.claude.json"])).stdout) as { mcpServers: Record<string, unknown> };
    expect(config.mcpServers.supervise).toEqual({ type: "http", url: "http://127.0.0.1:9100/mcp", alwaysLoad: true });
  });

  it("the second host is refused before, Claude Code's egress-allow is approved by the outer agent, and the host answers after", async () => {
    const before = await curlSecond("/before");
    expect(before.stdout).toBe("403");

    const uri = `bottle://${world.bottleId}/supervise`;
    await world.outer.subscribeResource({ uri });
    const run = world.exec(["claude", "-p", "Reach second.fake.test.", "--output-format", "json", "--allowedTools", "mcp__supervise__egress-allow"], 240);

    const proposal = await until("the proposal in supervise_list", async () => {
      const listed = structured<{ proposals: { id: string; bottle: string; kind: string; payload: { host: string } }[] }>(
        await world.outer.callTool({ name: "supervise_list", arguments: { bottle_id: world.bottleId } }),
      );
      return listed.proposals[0];
    });
    expect(proposal).toMatchObject({ bottle: world.bottleId, kind: "egress-allow", payload: { host: "second.fake.test", port: 80, justification: "the test needs the second host" } });
    await until("a resource update", async () => (updates.includes(uri) ? true : undefined), 10_000);

    await world.outer.callTool({ name: "supervise_approve", arguments: { request_id: proposal.id, decision: "approve", notes: "approved for the e2e test" } });
    const claude = await run;
    expect(claude.exit_code, claude.stderr).toBe(0);
    const answer = JSON.parse(claude.stdout) as { result: string; is_error: boolean };
    expect(answer.is_error).toBe(false);
    expect(answer.result).toContain("Approved by the outer agent (supervise_approve): the route for second.fake.test is added to egress and live now.");
    // The fake model's log reaches `docker logs` on a path of its own.
    const toolResults = await until("the fake model to log the tool result", async () => {
      const results = await fake!.toolResults();
      return results.length > 0 ? results : undefined;
    });
    expect(toolResults).toEqual([expect.stringContaining('"status":"approved"')]);

    const after = await curlSecond("/after");
    expect(after).toMatchObject({ stdout: "200", stderr: "second says /after" });

    const audit = readAudit(world.home, world.bottleId).filter((r) => r.id === proposal.id);
    expect(audit.map((r) => r.event)).toEqual(["proposal", "decision"]);
    expect(audit[1]).toMatchObject({ decision: "approve", decided_by: "the outer agent (supervise_approve)", notes: "approved for the e2e test" });
  });
});
