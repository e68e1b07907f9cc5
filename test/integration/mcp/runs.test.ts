import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { BottleRecord, RunRecord, RunResult } from "../../../src/engine/records.js";
import { runCli } from "../../support/cli.js";
import { describeWithDocker } from "../../support/docker.js";
import { connectStdio, useMcpTestHome } from "../../support/mcp-server.js";

// Background runs through the built server and a real bottle: a run outlives
// the server process that started it (SIGKILL, then a new server reads it
// whole), a cancel leaves no process of the run behind, a timeout is
// enforced inside the bottle, and the run's record cannot be forged by the
// agent.

const call = async (client: Client, name: string, args: Record<string, unknown>) => {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
  return result.structuredContent as Record<string, unknown>;
};

/** The processes inside the agent container, one `pid args` line each. */
const processes = async (bottle: BottleRecord) => (await execa("docker", ["exec", bottle.resources.agent, "ps", "-eo", "pid,args"])).stdout;

describeWithDocker("background runs (real bottle, real server)", () => {
  const home = useMcpTestHome();
  let server: Awaited<ReturnType<typeof connectStdio>>;
  let bottle: BottleRecord;

  beforeAll(async () => {
    server = await connectStdio(home.env);
    bottle = BottleRecord.parse(await call(server.client, "start_bottle", { agent: "worker" }));
  });

  afterAll(async () => {
    if (bottle) await call(server.client, "stop_bottle", { bottle_id: bottle.id }).catch(() => undefined);
    await server?.client.close();
  });

  it("a background run survives a SIGKILLed server: a new server waits for it and returns its whole output and exit code", async () => {
    const script = 'for i in $(seq 1 200); do echo "line $i of the run"; done; sleep 3; echo done >&2; exit 3';
    const started = await call(server.client, "exec_in_bottle", { bottle_id: bottle.id, command: script, background: true });
    expect(started).toMatchObject({ run_id: expect.stringMatching(/^run-[0-9a-f]{16}$/), exit_code: null });
    const runId = String(started.run_id);

    const pid = (server.client.transport as unknown as { pid: number | null }).pid!;
    process.kill(pid, "SIGKILL");
    server = await connectStdio(home.env);

    const listed = await call(server.client, "list_runs", { bottle_id: bottle.id });
    expect((listed.runs as RunRecord[]).map((r) => r.run_id)).toContain(runId);
    const waited = await call(server.client, "wait_for_runs", { run_ids: [runId], timeout_s: 50 });
    expect(waited).toMatchObject({ reason: "run_ended", runs: [{ run_id: runId, state: "exited", exit_code: 3 }] });

    const first = RunResult.parse(await call(server.client, "get_run", { run_id: runId, max_bytes: 1000 }));
    expect(first.stdout.text.startsWith("line 1 of the run\n")).toBe(true);
    expect(first.stdout.next_offset).toBe(1000);
    const rest = RunResult.parse(await call(server.client, "get_run", { run_id: runId, offset: first.stdout.next_offset, max_bytes: 1_000_000 }));
    const whole = first.stdout.text + rest.stdout.text;
    expect(whole.trim().split("\n")).toEqual(Array.from({ length: 200 }, (_, i) => `line ${i + 1} of the run`));
    expect(rest.stdout.next_offset).toBe(rest.stdout.size);
    expect(rest).toMatchObject({ state: "exited", exit_code: 3, stderr: { text: "done\n" } });
    expect(rest.duration_ms).toBeGreaterThanOrEqual(3000);
  });

  it("cancel_run leaves no process of the run in the bottle, even one that left its process group", async () => {
    const script = "setsid sleep 4101 & sleep 4102 & sleep 4103; echo never";
    const runId = String((await call(server.client, "exec_in_bottle", { bottle_id: bottle.id, command: script, background: true })).run_id);
    // All three sleeps run before the cancel, so their absence after it means the cancel killed them.
    const allThere = async () => {
      const ps = await processes(bottle);
      return ["4101", "4102", "4103"].every((n) => ps.includes(`sleep ${n}`));
    };
    for (let i = 0; i < 100 && !(await allThere()); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await allThere()).toBe(true);
    const cancelled = await call(server.client, "cancel_run", { run_id: runId });
    expect(cancelled).toMatchObject({ run_id: runId, state: "cancelled" });
    expect(await processes(bottle)).not.toMatch(/sleep 410[123]/);
    expect(await call(server.client, "cancel_run", { run_id: runId })).toMatchObject({ state: "cancelled" });
    const read = RunResult.parse(await call(server.client, "get_run", { run_id: runId }));
    expect(read.stdout.text).not.toContain("never");
  });

  it("reports progress while wait_for_runs waits", async () => {
    const runId = String((await call(server.client, "exec_in_bottle", { bottle_id: bottle.id, command: "sleep 3", background: true })).run_id);
    const progress: string[] = [];
    const result = await server.client.callTool({ name: "wait_for_runs", arguments: { run_ids: [runId], timeout_s: 30 } }, undefined, {
      onprogress: (p) => void progress.push(p.message ?? ""),
    });
    expect(result.structuredContent).toMatchObject({ reason: "run_ended" });
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]).toMatch(/^waiting on 1 run\(s\) in 1 bottle\(s\), \d+ s so far$/);
  });

  it("kills a background run inside the bottle at its timeout", async () => {
    const runId = String((await call(server.client, "exec_in_bottle", { bottle_id: bottle.id, command: "sleep 4200", background: true, timeout_s: 1 })).run_id);
    const waited = await call(server.client, "wait_for_runs", { run_ids: [runId], timeout_s: 30 });
    expect(waited).toMatchObject({ reason: "run_ended", runs: [{ run_id: runId, state: "timed_out" }] });
    expect(await processes(bottle)).not.toMatch(/sleep 4200/);
  });

  it("the agent user cannot forge a run's exit code or output: the run's files are root's", async () => {
    const runId = String((await call(server.client, "exec_in_bottle", { bottle_id: bottle.id, command: "echo honest; exit 5", background: true })).run_id);
    await call(server.client, "wait_for_runs", { run_ids: [runId], timeout_s: 30 });
    const forge =
      `d=/var/lib/bot-bottle/runs/${runId}; ` +
      `echo '{}' > $d/status.json; echo w=$?; echo forged > $d/stdout; echo o=$?; rm -f $d/status.json; echo r=$?; mv $d /tmp/x; echo m=$?`;
    const attempt = await call(server.client, "exec_in_bottle", { bottle_id: bottle.id, command: forge });
    expect(String(attempt.stdout)).toMatch(/w=[1-9][\s\S]*o=[1-9][\s\S]*r=[1-9][\s\S]*m=[1-9]/);
    expect(await call(server.client, "get_run", { run_id: runId })).toMatchObject({ state: "exited", exit_code: 5, stdout: { text: "honest\n" } });
  });

  it("the CLI has the same verbs: exec --background, wait, run, runs, cancel", async () => {
    const started = await runCli(["exec", bottle.id, "--background", "--", "sh", "-c", "echo from the cli; echo oops >&2; exit 4"], home.env);
    expect(started.exitCode, started.stderr).toBe(0);
    const runId = started.stdout.trim();
    expect(runId).toMatch(/^run-[0-9a-f]{16}$/);
    const waited = await runCli(["wait", runId, "--timeout", "30"], home.env);
    expect(waited.stdout.split("\n").slice(0, 2)).toEqual(["run ended", expect.stringContaining(`${runId}\t${bottle.id}\texited (exit 4)`)]);
    const shown = await runCli(["run", runId], home.env);
    expect(shown).toMatchObject({ exitCode: 4, stdout: "from the cli" });
    expect(shown.stderr).toContain("oops");
    expect((await runCli(["runs", "--bottle", bottle.id], home.env)).stdout).toContain(`${runId}\t${bottle.id}\texited (exit 4)`);
    const long = (await runCli(["exec", bottle.id, "--background", "--", "sleep", "4300"], home.env)).stdout.trim();
    expect((await runCli(["cancel", long], home.env)).stdout).toContain(`${long}\t${bottle.id}\tcancelled`);
  });

  it("waits for nothing when nothing runs, and says an unknown run does not exist", async () => {
    expect(await call(server.client, "wait_for_runs", { bottle_ids: [bottle.id], timeout_s: 5 })).toMatchObject({ reason: "nothing_to_wait_for", runs: [] });
    const unknown = (await server.client.callTool({ name: "get_run", arguments: { run_id: "run-0000000000000000" } })) as CallToolResult;
    expect(unknown.isError).toBe(true);
    expect(JSON.stringify(unknown.content)).toContain("no run run-0000000000000000");
  });
});
