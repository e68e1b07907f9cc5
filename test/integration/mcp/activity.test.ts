import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Activity } from "../../../src/activity/bottle-activity.js";
import { BottleRecord } from "../../../src/engine/records.js";
import { waitUntil } from "../../../src/wait-until.js";
import { runCli } from "../../support/cli.js";
import { describeWithDocker } from "../../support/docker.js";
import { connectStdio, useMcpTestHome } from "../../support/mcp-server.js";

// bottle_activity through the built server and a real bottle: what the agent
// did at its boundary (a refused CONNECT, a supervise request answered by the
// outer agent) shows up, with reasons and who decided.

const ok = async (client: Client, name: string, args: Record<string, unknown>) => {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
  return result.structuredContent as Record<string, unknown>;
};

/** A request-approval call to the bottle's supervise server, from inside the bottle, as the bottled agent makes it. */
const ASK = `node -e '
const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "request-approval", arguments: { summary: "delete the build cache", justification: "it is stale" } } });
fetch("http://127.0.0.1:9100/mcp", { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body })
  .then((r) => r.text()).then((t) => console.log(t));'`;

describeWithDocker("bottle activity (real bottle, real server)", () => {
  const home = useMcpTestHome();
  let client: Client;
  let bottle: BottleRecord;

  beforeAll(async () => {
    client = (await connectStdio(home.env)).client;
    bottle = BottleRecord.parse(await ok(client, "start_bottle", { agent: "worker" }));
  });

  afterAll(async () => {
    if (bottle) await client.callTool({ name: "stop_bottle", arguments: { bottle_id: bottle.id } }).catch(() => undefined);
    await client?.close();
  });

  it("shows a refused CONNECT with its reason and an approved supervise request with who approved it", async () => {
    await ok(client, "exec_in_bottle", { bottle_id: bottle.id, command: "curl -sS --max-time 10 https://undeclared.example.test/ || true" });
    const asked = await ok(client, "exec_in_bottle", { bottle_id: bottle.id, command: ASK, background: true });
    const pending = await waitUntil(
      "the request to be pending",
      async () => {
        const waited = await ok(client, "wait_for_runs", { run_ids: [asked.run_id], timeout_s: 5 });
        return (waited.pending as { id: string }[])[0];
      },
      { timeoutMs: 60_000 },
    );
    await ok(client, "supervise_approve", { request_id: pending.id, decision: "approve", notes: "go ahead" });
    const answered = await ok(client, "wait_for_runs", { run_ids: [asked.run_id], timeout_s: 50 });
    expect(answered).toMatchObject({ reason: "run_ended", runs: [{ state: "exited", exit_code: 0 }] });
    // The bottled side got the answer, notes included.
    const answer = (await ok(client, "get_run", { run_id: asked.run_id })) as { stdout: { text: string } };
    expect(answer.stdout.text).toMatch(/Approved by .*go ahead/);

    const activity = Activity.parse(await ok(client, "bottle_activity", { bottle_id: bottle.id }));
    expect(activity.events).toContainEqual(
      expect.objectContaining({ source: "egress", decision: "deny", method: "CONNECT", host: "undeclared.example.test", reason: "host undeclared.example.test is not declared" }),
    );
    expect(activity.events).toContainEqual(expect.objectContaining({ source: "supervise", event: "request", request_id: pending.id, kind: "request-approval", summary: "delete the build cache" }));
    expect(activity.events).toContainEqual(
      expect.objectContaining({ source: "supervise", event: "decision", request_id: pending.id, decision: "approve", notes: "go ahead", decided_by: expect.stringContaining("supervise_approve") }),
    );
    const times = activity.events.map((e) => e.time);
    expect([...times].sort()).toEqual(times);

    const later = Activity.parse(await ok(client, "bottle_activity", { bottle_id: bottle.id, since: times.at(-1) }));
    expect(later.events).toEqual([]);
    const resource = await client.readResource({ uri: `bottle://${bottle.id}/activity` });
    const content = resource.contents[0]!;
    expect("text" in content && Activity.parse(JSON.parse(content.text)).events.length).toBe(activity.events.length);
    const cli = await runCli(["activity", bottle.id], home.env);
    expect(cli.stdout).toMatch(/egress\tdeny\tCONNECT undeclared\.example\.test:443\thost undeclared\.example\.test is not declared/);
    expect(cli.stdout).toMatch(/supervise\tapprove\t[0-9a-f]{32} request-approval\tby .*: go ahead/);
  });
});
