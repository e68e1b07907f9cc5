import { statSync, readFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allowedHostnames } from "../../../src/mcp/host-header.js";
import { tools as registeredTools } from "../../../tools/registry.js";
import { runCli } from "../../support/cli.js";
import { describeWithDocker } from "../../support/docker.js";
import { connectHttp, startHttpServer, useMcpTestHome, type HttpServerProcess } from "../../support/mcp-server.js";
import { toolSuite } from "./tool-suite.js";

const initialize = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
});

/** A raw POST of an initialize request, with full control over Host and Authorization. */
function post(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: target.hostname, port: target.port, path: target.pathname, method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers } },
      (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end(initialize);
  });
}

describeWithDocker("the MCP server over Streamable HTTP (SDK client, real bottle)", () => {
  const fixture = useMcpTestHome();
  let server: HttpServerProcess;
  beforeAll(async () => {
    server = await startHttpServer(fixture.env);
  });
  afterAll(async () => {
    await server?.stop();
  });
  toolSuite({ connect: () => connectHttp(server.url, server.token) });
});

describe("the HTTP transport's guards", () => {
  const fixture = useMcpTestHome();
  let server: HttpServerProcess;
  let env: Record<string, string>;
  beforeAll(async () => {
    env = fixture.env;
    server = await startHttpServer(env);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("listens on loopback and keeps a new token in the home with mode 0600", () => {
    expect(new URL(server.url).hostname).toBe("127.0.0.1");
    const file = path.join(fixture.home, "mcp-token");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8").trim()).toBe(server.token);
    expect(server.token.length).toBeGreaterThanOrEqual(32);
  });

  it("refuses a request without a token, or with a wrong one, with 401", async () => {
    const none = await post(server.url, {});
    expect(none.status).toBe(401);
    expect(none.body).toMatch(/bearer token/);
    const wrong = await post(server.url, { authorization: `Bearer ${server.token}x` });
    expect(wrong.status).toBe(401);
    const scheme = await post(server.url, { authorization: `Basic ${server.token}` });
    expect(scheme.status).toBe(401);
  });

  it("refuses a foreign Host header with 403, even with the right token", async () => {
    const port = new URL(server.url).port;
    const foreign = await post(server.url, { host: `evil.example:${port}`, authorization: `Bearer ${server.token}` });
    expect(foreign.status).toBe(403);
    expect(foreign.body).toMatch(/evil\.example/);
    const rebound = await post(server.url, { host: `attacker.test`, authorization: `Bearer ${server.token}` });
    expect(rebound.status).toBe(403);
  });

  it("serves the right token under a loopback Host, in a session of its own", async () => {
    const port = new URL(server.url).port;
    const ok = await post(server.url, { host: `localhost:${port}`, authorization: `Bearer ${server.token}` });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatch(/"serverInfo":\{"name":"bot-bottle"/);
  });

  it("gives each client its own session and forgets a session the client ended", async () => {
    const first = await connectHttp(server.url, server.token);
    const second = await connectHttp(server.url, server.token);
    const firstTransport = first.transport as unknown as { sessionId?: string; terminateSession(): Promise<void> };
    const secondTransport = second.transport as unknown as { sessionId?: string };
    expect(firstTransport.sessionId).toBeTruthy();
    expect(firstTransport.sessionId).not.toBe(secondTransport.sessionId);
    const endedSession = firstTransport.sessionId!;
    await firstTransport.terminateSession();
    await first.close();
    expect((await second.listTools()).tools).toHaveLength(registeredTools.length);
    const stale = await post(server.url, { authorization: `Bearer ${server.token}`, "mcp-session-id": endedSession });
    expect(stale.status).toBe(404);
    await second.close();
  });

  it("uses the same token after a restart", async () => {
    const again = await startHttpServer(env);
    try {
      expect(again.token).toBe(server.token);
      expect(again.stderr()).toMatch(/bearer token \(from /);
    } finally {
      await again.stop();
    }
  });

  it("takes the token from --token-env, and refuses a missing or short one", async () => {
    const token = "a-token-from-the-environment-0123456789";
    const fromEnv = await startHttpServer({ ...env, MY_MCP_TOKEN: token }, ["--token-env", "MY_MCP_TOKEN"], token);
    try {
      expect(fromEnv.stderr()).not.toContain(token);
      const client = await connectHttp(fromEnv.url, token);
      expect((await client.listTools()).tools).toHaveLength(registeredTools.length);
      await client.close();
      expect((await post(fromEnv.url, { authorization: `Bearer ${server.token}` })).status).toBe(401);
    } finally {
      await fromEnv.stop();
    }
    const unset = await runCli(["mcp", "--http", "--token-env", "NOT_SET_ANYWHERE"], env);
    expect(unset.exitCode).toBe(2);
    expect(unset.stderr).toMatch(/NOT_SET_ANYWHERE: the variable is not set or empty/);
    const short = await runCli(["mcp", "--http", "--token-env", "SHORT"], { ...env, SHORT: "abc" });
    expect(short.exitCode).toBe(2);
    expect(short.stderr).toMatch(/at least 16 characters/);
  });

  it("refuses a non-loopback address without --allow-remote, and warns with it", async () => {
    const refused = await runCli(["mcp", "--http", "--host", "0.0.0.0", "--port", "0"], env);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/not a loopback address: add --allow-remote/);
    const remote = await startHttpServer(env, ["--host", "0.0.0.0", "--allow-remote"]);
    try {
      expect(remote.stderr()).toMatch(/WARNING: listening on 0\.0\.0\.0, reachable from other machines/);
      const port = new URL(remote.url).port;
      const lanAddress = allowedHostnames("0.0.0.0").find((name) => /^\d+\.\d+\.\d+\.\d+$/.test(name) && !name.startsWith("127."));
      const byAddress = await post(`http://127.0.0.1:${port}/mcp`, { host: `${lanAddress ?? os.hostname()}:${port}`, authorization: `Bearer ${remote.token}` });
      expect(byAddress.status).toBe(200);
      const foreign = await post(`http://127.0.0.1:${port}/mcp`, { host: `evil.example:${port}`, authorization: `Bearer ${remote.token}` });
      expect(foreign.status).toBe(403);
    } finally {
      await remote.stop();
    }
  });

  it("refuses HTTP-only options without --http", async () => {
    const result = await runCli(["mcp", "--port", "9000"], env);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/--port applies only with --http/);
  });
});
