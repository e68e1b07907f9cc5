import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, expect, it } from "vitest";
import { waitUntil } from "../../../src/wait-until.js";
import { cliPath, repoRoot } from "../../support/cli.js";
import { describeWithDocker } from "../../support/docker.js";
import { useMcpTestHome } from "../../support/mcp-server.js";

// Stdout is the protocol channel of `bot-bottle mcp`: a raw JSON-RPC client
// reads every byte the server writes there, through a start that builds an
// image (the noisiest thing the server does) with debug logging on.

describeWithDocker("the stdio server's stdout carries nothing but JSON-RPC", () => {
  const fixture = useMcpTestHome();
  let builtImage: string | undefined;

  afterAll(async () => {
    if (builtImage) await execa("docker", ["rmi", "-f", builtImage], { reject: false });
  });

  it("stays pure through initialize, tool errors, a start with an image build, exec and stop", async () => {
    const { home, env } = fixture;
    // A Dockerfile no image was built from yet: the provider's, plus a label unique to this run.
    const dockerfile = readFileSync(path.join(repoRoot, "src", "providers", "claude", "Dockerfile"), "utf8") + `LABEL bot-bottle.test-run="${randomUUID()}"\n`;
    writeFileSync(path.join(home, "bottles", "rebuild.Dockerfile"), dockerfile);
    writeFileSync(path.join(home, "bottles", "rebuild.md"), "---\nextends: sandbox\nagent_provider:\n  dockerfile: rebuild.Dockerfile\n---\n");
    writeFileSync(path.join(home, "agents", "rebuild.md"), "---\nbottle: rebuild\n---\nThe agent whose image is always rebuilt.\n");

    const child = execa("node", [cliPath, "mcp"], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, BOT_BOTTLE_LOG: "debug" }, extendEnv: false, cwd: os.tmpdir(), reject: false, buffer: false });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const messages = () =>
      stdout
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as { jsonrpc: string; id?: number; method?: string; result?: Record<string, unknown>; params?: { message?: string } });
    const send = (message: object) => child.stdin!.write(JSON.stringify({ jsonrpc: "2.0", ...message }) + "\n");
    const request = async (id: number, method: string, params: object, timeoutMs = 60_000) => {
      send({ id, method, params });
      return waitUntil(`the response to request ${id} (${method})`, async () => messages().find((m) => m.id === id)?.result, { timeoutMs });
    };

    await request(1, "initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } });
    send({ method: "notifications/initialized" });
    expect((await request(2, "tools/call", { name: "exec_in_bottle", arguments: { bottle_id: "nope", command: "true" } })).isError).toBe(true);
    expect((await request(3, "tools/call", { name: "start_bottle", arguments: { agent: 42 } })).isError).toBe(true);
    const started = await request(4, "tools/call", { name: "start_bottle", arguments: { agent: "rebuild" }, _meta: { progressToken: "start" } }, 600_000);
    expect(started.isError, JSON.stringify(started)).toBeFalsy();
    const id = (started.structuredContent as { id: string }).id;
    const exec = await request(5, "tools/call", { name: "exec_in_bottle", arguments: { bottle_id: id, command: "echo out; echo err >&2" }, _meta: { progressToken: "exec" } });
    expect(exec.structuredContent).toMatchObject({ stdout: "out\n", stderr: "err\n" });
    expect((await request(6, "tools/call", { name: "stop_bottle", arguments: { bottle_id: id } })).isError).toBeFalsy();
    child.stdin!.end();
    const exit = await child;
    expect(exit.exitCode).toBe(0);

    // Every line of stdout is one JSON-RPC 2.0 message, and nothing else was written.
    expect(stdout.endsWith("\n")).toBe(true);
    for (const line of stdout.split("\n").slice(0, -1)) {
      expect(() => JSON.parse(line), line).not.toThrow();
      expect((JSON.parse(line) as { jsonrpc: string }).jsonrpc).toBe("2.0");
    }
    // The start did build an image, with its output logged (to stderr).
    const progress = messages().filter((m) => m.method === "notifications/progress").map((m) => m.params?.message ?? "");
    builtImage = /building (bot-bottle\/claude:[0-9a-f]+)/.exec(progress.join("\n"))?.[1];
    expect(builtImage).toBeDefined();
    expect(progress.some((m) => /Step \d+\/\d+ : LABEL bot-bottle.test-run/.test(m))).toBe(true);
    expect(stderr).toMatch(/Step \d+\/\d+ : RUN/);
    expect(stderr).toMatch(/bottle is running/);
  });
});
