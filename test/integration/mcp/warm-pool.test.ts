import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { homeLabel } from "../../../src/engine/prepare.js";
import { StateStore } from "../../../src/engine/state.js";
import { runCli } from "../../support/cli.js";
import { describeWithDocker } from "../../support/docker.js";
import { connectStdio, useMcpTestHome } from "../../support/mcp-server.js";
import { waitUntil } from "../../../src/wait-until.js";

// `bot-bottle mcp --warm AGENT=N` through a real SDK client: the server fills
// the pool, start_bottle claims a warm bottle, the pool refills, and closing
// the server removes what is still waiting.

interface Listed {
  id: string;
  status: string;
  label: string | null;
}

describeWithDocker("mcp --warm (SDK client over stdio, real bottles)", () => {
  const test = useMcpTestHome();
  let client: Client;
  let claimed = "";

  const bottles = async () => ((await client.callTool({ name: "list_bottles", arguments: {} })).structuredContent as { bottles: Listed[] }).bottles;
  const pooled = async () => {
    const waiting = (await bottles()).filter((b) => b.status === "pooled" && b.id !== claimed);
    return waiting.length > 0 ? waiting : undefined;
  };

  beforeAll(async () => {
    ({ client } = await connectStdio(test.env, ["--warm", "worker=1"]));
  });

  afterAll(async () => {
    await client?.close();
    if (claimed) await runCli(["stop", claimed], test.env);
    await runCli(["gc"], test.env);
  });

  it("fills the pool, and start_bottle claims the warm bottle with the start's label", async () => {
    const [warm] = await waitUntil("a warm bottle", pooled, { timeoutMs: 600_000 });
    const result = await client.callTool({ name: "start_bottle", arguments: { agent: "worker", label: "claimed" } });
    expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
    const record = result.structuredContent as Listed;
    claimed = record.id;
    expect(record).toMatchObject({ id: warm!.id, status: "running", label: "claimed" });
    const ran = await client.callTool({ name: "exec_in_bottle", arguments: { bottle_id: claimed, command: "echo warm" } });
    expect(JSON.stringify(ran.structuredContent)).toContain("warm\\n");
  }, 700_000);

  it("refills after a claim, and removes the waiting bottle when the server closes", async () => {
    const [refill] = await waitUntil("the pool to refill", pooled, { timeoutMs: 600_000 });
    expect(refill!.id).not.toBe(claimed);
    await client.close();
    const state = new StateStore(test.home);
    await waitUntil("the server to remove its waiting bottle", async () => (state.readMetadata(refill!.id)?.status === "stopped" ? true : undefined), { timeoutMs: 60_000 });
    expect(state.readMetadata(claimed)?.status).toBe("running");
  }, 700_000);

  it("closed while it refills, leaves no warm bottle behind: the launch in flight is cancelled and cleaned up", async () => {
    ({ client } = await connectStdio(test.env, ["--warm", "worker=1"]));
    const [warm] = await waitUntil("a warm bottle", pooled, { timeoutMs: 600_000 });
    const result = await client.callTool({ name: "start_bottle", arguments: { agent: "worker", label: "second" } });
    const second = (result.structuredContent as Listed).id;
    expect(second).toBe(warm!.id);
    // The refill starts at the claim; the server is closed while it launches.
    await client.close();
    const state = new StateStore(test.home);
    const leftovers = () => state.ids().filter((id) => !["running", "stopped", "failed"].includes(state.readMetadata(id)?.status ?? "stopped"));
    await waitUntil("no warm or starting bottle in the home", async () => (leftovers().length === 0 ? true : undefined), { timeoutMs: 120_000 });
    // A docker command the aborted refill had under way may still land (and be removed) after its record says failed.
    const bottlesWithContainers = async () =>
      new Set((await execa("docker", ["ps", "-a", "--filter", `label=bot-bottle.home=${homeLabel(test.home)}`, "--format", "{{.Label \"bot-bottle.id\"}}"])).stdout.split("\n").filter(Boolean));
    const expected = new Set([claimed, second]);
    const left = await waitUntil("only the two claimed bottles' containers", async () => {
      const found = await bottlesWithContainers();
      return [...found].every((id) => expected.has(id)) ? found : undefined;
    }, { timeoutMs: 120_000 });
    expect(left).toEqual(expected);
    await runCli(["stop", second], test.env);
  }, 700_000);
});
