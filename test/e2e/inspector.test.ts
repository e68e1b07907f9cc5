import os from "node:os";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { tools } from "../../tools/registry.js";
import { cliPath } from "../support/cli.js";
import { clientPath, describeWithE2eTools, e2eTool, serverNode } from "../support/e2e-tools.js";
import { startHttpServer, useMcpTestHome, type HttpServerProcess } from "../support/mcp-server.js";

// The MCP Inspector's CLI, a client written by the protocol's authors, against
// the built server over stdio and over Streamable HTTP.

const TOOL_NAMES = tools.map((tool) => tool.name);

describeWithE2eTools("the MCP Inspector CLI drives the server", ["mcp-inspector", "node"], () => {
  const fixture = useMcpTestHome();
  let server: HttpServerProcess;
  // The Inspector (which requires Node >= 22) runs on the pinned Node 24; the server it starts on the tests' own Node.
  const inspector = (args: string[]) =>
    execa(e2eTool("mcp-inspector"), ["--cli", ...args], { env: { PATH: clientPath() }, reject: false, cwd: os.tmpdir(), timeout: 60_000 });
  const overStdio = (args: string[]) => inspector(["-e", `BOT_BOTTLE_HOME=${fixture.home}`, serverNode, cliPath, "mcp", ...args]);

  beforeAll(async () => {
    server = await startHttpServer(fixture.env);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("lists the tools over stdio", async () => {
    const result = await overStdio(["--method", "tools/list"]);
    expect(result.exitCode, result.stderr).toBe(0);
    const listed = (JSON.parse(result.stdout) as { tools: { name: string; annotations?: { readOnlyHint?: boolean } }[] }).tools;
    expect(listed.map((t) => t.name)).toEqual(TOOL_NAMES);
    expect(listed.map((t) => t.name)).toEqual(expect.arrayContaining(["list_agents", "list_bottles", "start_bottle", "exec_in_bottle", "stop_bottle"]));
    expect(listed[0]!.annotations?.readOnlyHint).toBe(true);
  });

  it("calls list_agents over stdio and gets the agents and the broken manifest", async () => {
    const result = await overStdio(["--method", "tools/call", "--tool-name", "list_agents"]);
    expect(result.exitCode, result.stderr).toBe(0);
    const answer = JSON.parse(result.stdout) as { isError?: boolean; structuredContent: { agents: { name: string }[]; broken: { name: string }[] } };
    expect(answer.isError).toBeFalsy();
    expect(answer.structuredContent.agents.map((a) => a.name)).toEqual(["worker"]);
    expect(answer.structuredContent.broken.map((b) => b.name)).toEqual(["broken"]);
  });

  it("lists the tools and calls list_agents over HTTP with the bearer token", async () => {
    const auth = ["--transport", "http", "--header", `Authorization: Bearer ${server.token}`];
    const list = await inspector([server.url, ...auth, "--method", "tools/list"]);
    expect(list.exitCode, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { tools: { name: string }[] }).tools.map((t) => t.name)).toEqual(TOOL_NAMES);
    const call = await inspector([server.url, ...auth, "--method", "tools/call", "--tool-name", "list_agents"]);
    expect(call.exitCode, call.stderr).toBe(0);
    expect(call.stdout).toContain('"name": "worker"');
  });

  it("is refused over HTTP without the token", async () => {
    const result = await inspector([server.url, "--transport", "http", "--method", "tools/list"]);
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout).not.toContain("list_agents");
    expect(result.stdout + result.stderr).toMatch(/auth/i);
  });
});
