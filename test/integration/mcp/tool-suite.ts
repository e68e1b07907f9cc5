import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult, Progress } from "@modelcontextprotocol/sdk/types.js";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { BottleRecord, ExecResult, StopResult } from "../../../src/engine/records.js";
import { waitUntil } from "../../../src/wait-until.js";
import { tools as registeredTools } from "../../../tools/registry.js";
import { resultText } from "../../support/mcp-server.js";

// Every tool through a real SDK client, against one real bottle. Shared by the
// stdio and HTTP suites, so both transports answer the same way.

export interface ToolSuiteTarget {
  /** A connected client; called once per suite (and again for a second, independent client). */
  connect(): Promise<Client>;
}

const call = (client: Client, name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args }) as Promise<CallToolResult>;

/** Processes inside a container, one command line each. */
const processesIn = async (container: string) => (await execa("docker", ["exec", container, "ps", "-eo", "args"])).stdout;

const dockerResources = async (id: string) => {
  const filter = ["--filter", `label=bot-bottle.id=${id}`];
  const lists = await Promise.all([
    execa("docker", ["ps", "-aq", ...filter]),
    execa("docker", ["network", "ls", "-q", ...filter]),
    execa("docker", ["volume", "ls", "-q", ...filter]),
  ]);
  return lists.map((l) => l.stdout.trim()).filter(Boolean);
};

export function toolSuite(target: ToolSuiteTarget): void {
  let client: Client;
  let bottle: BottleRecord | undefined;

  beforeAll(async () => {
    client = await target.connect();
  });

  afterAll(async () => {
    if (bottle) await call(client, "stop_bottle", { bottle_id: bottle.id }).catch(() => undefined);
    await client?.close();
  });

  it("lists every registered tool, the bottle lifecycle first, with schemas, honest annotations and instructions that teach the workflow", async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(registeredTools.map((t) => t.name));
    expect(tools.slice(0, 5).map((t) => t.name)).toEqual(["list_agents", "list_bottles", "start_bottle", "exec_in_bottle", "stop_bottle"]);
    for (const tool of tools) {
      expect(tool.annotations?.openWorldHint).toBe(false);
      expect(tool.outputSchema?.type).toBe("object");
      expect(tool.description!.length).toBeGreaterThan(100);
    }
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(byName.list_agents!.annotations?.readOnlyHint).toBe(true);
    expect(byName.list_bottles!.annotations?.readOnlyHint).toBe(true);
    expect(byName.stop_bottle!.annotations?.destructiveHint).toBe(true);
    expect(byName.start_bottle!.annotations?.readOnlyHint).toBe(false);
    expect(byName.exec_in_bottle!.inputSchema.required).toEqual(["bottle_id"]);
    expect(Object.keys(byName.exec_in_bottle!.inputSchema.properties ?? {})).toEqual(expect.arrayContaining(["command", "prompt"]));
    const instructions = client.getInstructions() ?? "";
    const order = ["list_agents", "start_bottle", "exec_in_bottle", "wait_for_runs", "supervise_approve", "get_run", "stop_bottle"].map((name) => instructions.indexOf(name));
    expect(order.every((at, i) => at >= 0 && (i === 0 || at > order[i - 1]!))).toBe(true);
  });

  it("list_agents returns the agents and the broken manifests with their errors", async () => {
    const result = await call(client, "list_agents", {});
    expect(result.isError).toBeFalsy();
    const listing = result.structuredContent as { agents: { name: string; provider: string; bottles: string[] }[]; broken: { name: string; error: string }[] };
    expect(listing.agents).toEqual([expect.objectContaining({ name: "worker", provider: "claude", bottles: ["sandbox"] })]);
    expect(listing.broken).toEqual([expect.objectContaining({ name: "broken", error: expect.stringMatching(/colour: unknown key.*did you mean "color"/) })]);
    expect(resultText(result)).toMatch(/worker/);
  });

  it("answers bad arguments with isError results that name the problem, and keeps serving", async () => {
    const missingAgent = await call(client, "start_bottle", {});
    expect(missingAgent.isError).toBe(true);
    expect(resultText(missingAgent)).toMatch(/agent/);
    const noCommand = await call(client, "exec_in_bottle", { bottle_id: "x" });
    expect(noCommand.isError).toBe(true);
    expect(resultText(noCommand)).toMatch(/exactly one of command .* or prompt/);
    const badTimeout = await call(client, "exec_in_bottle", { bottle_id: "x", command: "true", timeout_s: -1 });
    expect(badTimeout.isError).toBe(true);
    expect(resultText(badTimeout)).toMatch(/timeout_s/);
    const badEnv = await call(client, "exec_in_bottle", { bottle_id: "x", command: "true", env: { "A=B": "c" } });
    expect(badEnv.isError).toBe(true);
    expect(resultText(badEnv)).toMatch(/env/);
    const unknownTool = await call(client, "make_coffee", {});
    expect(unknownTool.isError).toBe(true);
    expect(resultText(unknownTool)).toMatch(/make_coffee not found/);
    expect((await call(client, "list_bottles", {})).isError).toBeFalsy();
  });

  it("answers unknown agents and bottle ids with what exists and what to do", async () => {
    const agent = await call(client, "start_bottle", { agent: "wroker" });
    expect(agent.isError).toBe(true);
    expect(resultText(agent)).toMatch(/no agent named "wroker".*worker.*did you mean "worker"/);
    const exec = await call(client, "exec_in_bottle", { bottle_id: "no-such-bottle", command: "true" });
    expect(exec.isError).toBe(true);
    expect(resultText(exec)).toMatch(/no bottle with id "no-such-bottle".*list_bottles/);
    const stop = await call(client, "stop_bottle", { bottle_id: "no-such-bottle" });
    expect(stop.isError).toBe(true);
    expect(resultText(stop)).toMatch(/no bottle with id "no-such-bottle"/);
  });

  it("start_bottle starts a bottle and reports each phase as progress", async () => {
    const progress: Progress[] = [];
    const result = (await client.callTool({ name: "start_bottle", arguments: { agent: "worker", label: "mcp-suite" } }, undefined, {
      onprogress: (p) => progress.push(p),
    })) as CallToolResult;
    expect(result.isError, resultText(result)).toBeFalsy();
    bottle = BottleRecord.parse(result.structuredContent);
    expect(bottle).toMatchObject({ agent: "worker", agent_origin: "home", status: "running", label: "mcp-suite", bottles: ["sandbox"] });
    expect(resultText(result)).toContain(bottle.id);
    const phases = progress.map((p) => p.message?.split(": ")[0]);
    for (const phase of ["ca", "images", "network", "sidecars", "agent", "ready", "provision:ca", "provision:workspace", "provision:prompt"]) {
      expect(phases).toContain(phase);
    }
    const steps = progress.map((p) => p.progress);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(new Set(steps).size).toBe(steps.length);
  });

  it("list_bottles shows the running bottle", async () => {
    const result = await call(client, "list_bottles", {});
    const { bottles } = result.structuredContent as { bottles: BottleRecord[] };
    expect(bottles.find((b) => b.id === bottle!.id)).toMatchObject({ status: "running", agent: "worker", label: "mcp-suite" });
  });

  it("exec_in_bottle runs a shell line and an argv array as the agent user, in the workspace, with the bottle env", async () => {
    const shell = await call(client, "exec_in_bottle", { bottle_id: bottle!.id, command: "id -un; pwd; echo $MCP_TEST_GREETING | tr a-z A-Z" });
    expect(shell.isError).toBeFalsy();
    expect(ExecResult.parse(shell.structuredContent)).toMatchObject({
      exit_code: 0,
      stdout: "node\n/home/node/workspace\nHELLO FROM THE SANDBOX BOTTLE\n",
      stderr: "",
      truncated: false,
      timed_out: false,
    });
    expect(resultText(shell)).toContain("HELLO FROM THE SANDBOX BOTTLE");
    const argv = await call(client, "exec_in_bottle", { bottle_id: bottle!.id, command: ["printf", "%s|", "a b", "$HOME", ";"] });
    expect((argv.structuredContent as ExecResult).stdout).toBe("a b|$HOME|;|");
  });

  it("exec_in_bottle passes user, cwd and env, and returns a non-zero exit as a normal result", async () => {
    const result = await call(client, "exec_in_bottle", {
      bottle_id: bottle!.id,
      command: 'id -un; pwd; echo "$EXTRA"; echo to-stderr >&2; exit 3',
      user: "root",
      cwd: "/tmp",
      env: { EXTRA: "extra value" },
    });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ exit_code: 3, stdout: "root\n/tmp\nextra value\n", stderr: "to-stderr\n" });
    expect(resultText(result)).toMatch(/exit code 3/);
  });

  it("exec_in_bottle cuts output past max_output_bytes and says so", async () => {
    const result = await call(client, "exec_in_bottle", { bottle_id: bottle!.id, command: "head -c 5000 /dev/zero | tr '\\0' x", max_output_bytes: 1000 });
    const exec = ExecResult.parse(result.structuredContent);
    expect(exec.stdout).toBe("x".repeat(1000));
    expect(exec.truncated).toBe(true);
  });

  it("exec_in_bottle reports output as progress while the command runs, stderr marked", async () => {
    const container = bottle!.resources.agent;
    const seen: string[] = [];
    const waitFor = (file: string) => `while [ ! -e /tmp/${file} ]; do sleep 0.1; done`;
    const result = (await client.callTool(
      {
        name: "exec_in_bottle",
        // Each step waits for a file the test creates only once it saw the step before as progress:
        // the command cannot finish unless its output arrives while it runs.
        arguments: { bottle_id: bottle!.id, command: `echo first; ${waitFor("go-1")}; echo second >&2; ${waitFor("go-2")}; echo third` },
      },
      undefined,
      {
        onprogress: (p) => {
          seen.push(p.message ?? "");
          if (p.message === "first\n") void execa("docker", ["exec", container, "touch", "/tmp/go-1"]);
          if (p.message === "[stderr] second\n") void execa("docker", ["exec", container, "touch", "/tmp/go-2"]);
        },
      },
    )) as CallToolResult;
    expect(seen.slice(0, 2)).toEqual(["first\n", "[stderr] second\n"]);
    expect(result.structuredContent).toMatchObject({ exit_code: 0, stdout: "first\nthird\n", stderr: "second\n" });
  });

  it("exec_in_bottle kills a command that outlives timeout_s inside the bottle", async () => {
    const result = await call(client, "exec_in_bottle", { bottle_id: bottle!.id, command: "sleep 301", timeout_s: 1 });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ timed_out: true });
    expect((result.structuredContent as ExecResult).exit_code).not.toBe(0);
    expect(resultText(result)).toMatch(/timed out after 1 s/);
    expect(await processesIn(bottle!.resources.agent)).not.toMatch(/sleep 301/);
  });

  it("a cancelled exec_in_bottle leaves no process behind inside the bottle", async () => {
    const controller = new AbortController();
    const container = bottle!.resources.agent;
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const pending = client.callTool({ name: "exec_in_bottle", arguments: { bottle_id: bottle!.id, command: "echo started; sleep 302" } }, undefined, {
      signal: controller.signal,
      onprogress: (p) => {
        if (p.message?.includes("started")) started();
      },
    });
    await running;
    // It really runs, so its absence afterwards means the cancel killed it.
    await waitUntil("the command to run in the bottle", async () => ((await processesIn(container)).includes("sleep 302") ? true : undefined), { timeoutMs: 20_000 });
    controller.abort("the test cancels");
    await expect(pending).rejects.toThrow();
    await waitUntil("the cancelled command to be gone from the bottle", async () => ((await processesIn(container)).includes("sleep 302") ? undefined : true), {
      timeoutMs: 20_000,
    });
    const after = await call(client, "exec_in_bottle", { bottle_id: bottle!.id, command: "echo still serving" });
    expect((after.structuredContent as ExecResult).stdout).toBe("still serving\n");
  });

  it("a second client sees the same bottles", async () => {
    const other = await target.connect();
    try {
      const { bottles } = (await call(other, "list_bottles", {})).structuredContent as { bottles: BottleRecord[] };
      expect(bottles.map((b) => b.id)).toContain(bottle!.id);
    } finally {
      await other.close();
    }
  });

  it("stop_bottle removes the bottle's containers, network and volume", async () => {
    const id = bottle!.id;
    const result = await call(client, "stop_bottle", { bottle_id: id });
    expect(result.isError).toBeFalsy();
    const stopped = StopResult.parse(result.structuredContent);
    expect(stopped.removed).toEqual(expect.arrayContaining([`container ${bottle!.resources.agent}`, `network ${bottle!.resources.network}`]));
    expect(await dockerResources(id)).toEqual([]);
    bottle = undefined;
    const exec = await call(client, "exec_in_bottle", { bottle_id: id, command: "true" });
    expect(exec.isError).toBe(true);
    expect(resultText(exec)).toMatch(/is stopped, not running/);
    const { bottles } = (await call(client, "list_bottles", {})).structuredContent as { bottles: BottleRecord[] };
    expect(bottles.find((b) => b.id === id)?.status).toBe("stopped");
  });

  it("a cancelled start_bottle removes what it had created", async () => {
    const controller = new AbortController();
    const start = client.callTool({ name: "start_bottle", arguments: { agent: "worker", label: "cancelled" } }, undefined, {
      signal: controller.signal,
      onprogress: (p) => {
        if (p.message?.startsWith("sidecars:")) controller.abort("the test cancels");
      },
    });
    await expect(start).rejects.toThrow();
    const cancelled = await waitUntil(
      "the cancelled start to be recorded as failed",
      async () => {
        const { bottles } = (await call(client, "list_bottles", {})).structuredContent as { bottles: BottleRecord[] };
        return bottles.find((b) => b.label === "cancelled" && b.status === "failed");
      },
      { timeoutMs: 60_000 },
    );
    await waitUntil("its containers, network and volume to be removed", async () => ((await dockerResources(cancelled.id)).length === 0 ? true : undefined), {
      timeoutMs: 60_000,
    });
  });
}
