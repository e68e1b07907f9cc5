import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type CallToolResult, ElicitRequestSchema, LoggingMessageNotificationSchema, ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPki } from "../../../bench/egress-fixtures.js";
import { createBottleCa } from "../../../src/engine/ca.js";
import { waitUntil } from "../../../src/wait-until.js";
import type { RoutesFile } from "../../../sidecars/egress/routes.js";
import { homePaths } from "../../../src/home.js";
import { readAudit } from "../../../src/supervise/audit.js";
import { cliPath } from "../../support/cli.js";
import { placeRawAnswer } from "../../support/raw-answer.js";
import { openTunnel } from "../egress/tunnel-client.js";
import { DaemonProcess } from "../sidecars/daemon-process.js";
import { FakeUpstream, unusedPort } from "../sidecars/fake-upstream.js";

// The whole supervise loop on this machine, with the real programs: the
// bundle's init running egress and supervise, the agent's forwarder in front
// of the supervise socket, an MCP SDK client in the agent's place, and
// `bot-bottle mcp` (stdio) with an SDK client as the outer agent. The queue is
// a bottle's folder in a real home. Nothing leaves 127.0.0.1: the fake
// upstreams are reached as `localhost` (an approval never opens a loopback IP
// literal), which egress may resolve into loopback here because the test
// allows that network.

const BOTTLE = "looptest-0a1b2c3d";
const TOKEN_VALUE = "tok-value-that-must-never-be-shown-0123456789";
const WAIT_MS = 1_500;

type Decision = { request_id: string | null; status: string; decided_by: string | null; notes: string | null; route: { host: string; port: number | null; auth: unknown } | null; message: string };

const structured = <T>(result: unknown) => (result as CallToolResult).structuredContent as T;
const text = (result: unknown) => ((result as CallToolResult).content[0] as { text: string }).text;

/** GET http://localhost:PORT/PATH through egress as an absolute-form proxy request. */
function viaEgress(egressPort: number, upstreamPort: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const target = `localhost:${upstreamPort}`;
    const request = http.request({ host: "127.0.0.1", port: egressPort, method: "GET", path: `http://${target}${urlPath}`, headers: { host: target } }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on("error", reject);
    request.end();
  });
}

/** An HTTPS upstream with a test CA of its own, recording the Authorization each request arrived with. */
async function credentialedUpstream(): Promise<{ server: https.Server; port: number; caPem: string; seen: { url: string; authorization: string }[] }> {
  const pki = await createTestPki(["localhost"]);
  const seen: { url: string; authorization: string }[] = [];
  const server = https.createServer({ key: pki.serverKeyPem, cert: pki.serverCertPem }, (req, res) => {
    seen.push({ url: req.url ?? "", authorization: req.headers.authorization ?? "no credential" });
    res.end(`upstream saw ${req.method} ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, caPem: pki.caPem, seen };
}

/** Waits on a condition (bounded), polling as it goes. */
const until = <T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> =>
  waitUntil(what, async () => await probe(), { timeoutMs, intervalMs: 25 });

describe("the supervise loop (bundle daemons, forwarder, bot-bottle mcp)", () => {
  const home = mkdtempSync(path.join(os.tmpdir(), "bb-supervise-loop-"));
  const queue = homePaths(home).queueOf(BOTTLE);
  const run = path.join(home, "run");
  const routesFile = path.join(run, "routes.json");
  let upstream: FakeUpstream;
  /** Reached with the token on /repos/x only, as a bottle's manifest would declare it: credentials travel over TLS only. */
  let credentialed: Awaited<ReturnType<typeof credentialedUpstream>>;
  let bottleCaPem = "";
  let bundle: DaemonProcess;
  let forwarder: DaemonProcess;
  let egressPort = 0;
  let agent: Client;
  let agentUrl: URL;

  const startBundle = async () => {
    bundle = new DaemonProcess("init", {
      env: {
        BOT_BOTTLE_DAEMONS: "egress,supervise",
        BOT_BOTTLE_ID: BOTTLE,
        EGRESS_ROUTES: routesFile,
        EGRESS_SOCKET: path.join(run, "egress.sock"),
        EGRESS_LISTEN: "127.0.0.1:0",
        EGRESS_ALLOW_NETWORKS: "127.0.0.0/8",
        EGRESS_CA_CERT: path.join(run, "ca.pem"),
        EGRESS_CA_KEY: path.join(run, "ca-key.pem"),
        EGRESS_EXTRA_CA: path.join(run, "upstream-ca.pem"),
        EGRESS_SECRETS_FILE: path.join(run, "secrets.json"),
        SUPERVISE_SOCKET: path.join(run, "supervise.sock"),
        SUPERVISE_QUEUE_DIR: queue,
        SUPERVISE_TIMEOUT_MS: String(WAIT_MS),
      },
    });
    const ready = await bundle.waitForLine("stderr", /\[egress\] egress: ready on/);
    egressPort = Number(/tcp:127\.0\.0\.1:(\d+)/.exec(ready)?.[1]);
    await bundle.waitForLine("stderr", /\[supervise\] supervise: ready on/);
  };

  const connectAgent = async () => {
    const client = new Client({ name: "bottled-agent", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(agentUrl));
    return client;
  };

  /** `bot-bottle mcp` on this home, with an SDK client that records notifications (and answers elicitations when given a handler). */
  const startOuter = async (options: { elicit?: (message: string) => { action: "accept" | "decline"; content?: Record<string, string> } } = {}) => {
    const transport = new StdioClientTransport({
      command: "node",
      args: [cliPath, "mcp", ...(options.elicit ? ["--elicit"] : [])],
      env: { PATH: process.env.PATH ?? "", BOT_BOTTLE_HOME: home, BOT_BOTTLE_LOG: "warn" },
      stderr: "pipe",
    });
    const client = new Client({ name: "outer-agent", version: "1.0.0" }, { capabilities: options.elicit ? { elicitation: { form: {} } } : {} });
    const updates: string[] = [];
    const logs: string[] = [];
    const elicited: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(String(n.params.data)));
    if (options.elicit) {
      const answer = options.elicit;
      client.setRequestHandler(ElicitRequestSchema, (request) => {
        elicited.push(request.params.message);
        return answer(request.params.message);
      });
    }
    await client.connect(transport);
    return { client, updates, logs, elicited, pid: transport.pid! };
  };

  /**
   * The agent's final answer to a call made before the decision: a slow
   * machine can pass the wait bound first, and then the agent asks again with
   * await-decision, as its tool description tells it to.
   */
  const decided = async (call: Promise<unknown>): Promise<Decision> => {
    let answer = structured<Decision>(await call);
    for (let attempt = 0; answer.status === "pending" && attempt < 20; attempt++) {
      answer = structured<Decision>(await agent.callTool({ name: "await-decision", arguments: { request_id: answer.request_id } }));
    }
    return answer;
  };

  const pendingIds = async (outer: Client) => structured<{ proposals: { id: string }[] }>(await outer.callTool({ name: "supervise_list", arguments: {} })).proposals.map((p) => p.id);

  beforeAll(async () => {
    mkdirSync(queue, { recursive: true, mode: 0o700 });
    mkdirSync(run, { recursive: true });
    upstream = await FakeUpstream.start();
    credentialed = await credentialedUpstream();
    const ca = await createBottleCa("supervise-loop");
    bottleCaPem = ca.certPem;
    writeFileSync(path.join(run, "ca.pem"), ca.certPem);
    writeFileSync(path.join(run, "ca-key.pem"), ca.keyPem, { mode: 0o600 });
    writeFileSync(path.join(run, "upstream-ca.pem"), credentialed.caPem);
    const auth = { scheme: "Bearer" as const, token_env: "EGRESS_TOKEN_API" };
    const routes: RoutesFile = {
      version: 1,
      log: 1,
      routes: [
        { host: "api.example.test", port: null, tls_passthrough: false, matches: null, auth, dlp: null },
        { host: "localhost", port: credentialed.port, tls_passthrough: false, matches: [{ paths: [{ type: "prefix", value: "/repos/x" }] }], auth, dlp: null },
      ],
    };
    writeFileSync(routesFile, JSON.stringify(routes));
    writeFileSync(path.join(run, "secrets.json"), JSON.stringify({ EGRESS_TOKEN_API: TOKEN_VALUE }), { mode: 0o600 });
    await startBundle();
    const port = await unusedPort();
    forwarder = new DaemonProcess("forwarder", { args: [`127.0.0.1:${port}=${path.join(run, "supervise.sock")}`] });
    await forwarder.waitForLine("stdout", /forwarder ready/);
    agentUrl = new URL(`http://127.0.0.1:${port}/mcp`);
    agent = await connectAgent();
  });

  afterAll(async () => {
    await agent?.close();
    await forwarder?.stop();
    await bundle?.stop();
    await upstream?.close();
    credentialed?.server.closeAllConnections();
    credentialed?.server.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("offers the bottled agent its tools, list-egress-routes read-only and without token values", async () => {
    const { tools } = await agent.listTools();
    expect(tools.map((t) => t.name)).toEqual(["list-egress-routes", "egress-allow", "request-approval", "await-decision"]);
    expect(tools.find((t) => t.name === "list-egress-routes")?.annotations?.readOnlyHint).toBe(true);
    expect(tools.find((t) => t.name === "egress-allow")?.annotations?.readOnlyHint).toBe(false);
    const listed = await agent.callTool({ name: "list-egress-routes", arguments: {} });
    expect(structured<{ tokens: string[] }>(listed).tokens).toEqual(["EGRESS_TOKEN_API"]);
    expect(text(listed)).toBe(`- api.example.test, auth EGRESS_TOKEN_API\n- localhost:${credentialed.port} (1 match rule(s)), auth EGRESS_TOKEN_API`);
    expect(JSON.stringify(listed)).not.toContain(TOKEN_VALUE);
  });

  it("refuses a route request that names an undeclared token, without queueing it", async () => {
    const result = (await agent.callTool({ name: "egress-allow", arguments: { host: "x.example.test", auth: { scheme: "Bearer", token: "HOME" }, justification: "j" } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/auth\.token: HOME is not a token this bottle declares \(declared tokens: EGRESS_TOKEN_API\)/);
    expect(readdir(queue)).toEqual([]);
  });

  it.each([
    ["the cloud metadata address", "169.254.169.254", /host: 169\.254\.169\.254 is a loopback, private, link-local or reserved address/],
    ["a loopback IP literal", "127.0.0.1", /host: 127\.0\.0\.1 is a loopback/],
    ["a wildcard over a public suffix", "*.co.uk", /host: \*\.co\.uk would admit every domain registered under co\.uk, a public suffix/],
  ])("refuses a route request for %s, without queueing it", async (_what, host, reason) => {
    const result = (await agent.callTool({ name: "egress-allow", arguments: { host, justification: "j" } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(reason);
    expect(readdir(queue)).toEqual([]);
  });

  it("egress-allow: the outer agent sees it (list, resource update, log), approves it, and the new route works at once", async () => {
    const outer = await startOuter();
    try {
      const uri = `bottle://${BOTTLE}/supervise`;
      await outer.client.subscribeResource({ uri });
      expect((await viaEgress(egressPort, upstream.port, "/before")).status).toBe(403);

      const call = agent.callTool({ name: "egress-allow", arguments: { host: "localhost", port: upstream.port, justification: "the test upstream" } }, undefined, { timeout: 60_000 });
      const [id] = await until("the proposal in supervise_list", async () => ((await pendingIds(outer.client)).length === 1 ? pendingIds(outer.client) : undefined));
      await until("a resource update", () => (outer.updates.includes(uri) ? true : undefined));
      await until("a log notification", () => (outer.logs.some((l) => l.includes(`bottle ${BOTTLE} asks (egress-allow): allow egress to localhost:${upstream.port}`)) ? true : undefined));
      const read = await outer.client.readResource({ uri });
      expect(JSON.parse((read.contents[0] as { text: string }).text)).toMatchObject({ bottle: BOTTLE, pending: [{ id, kind: "egress-allow", payload: { host: "localhost", port: upstream.port } }] });

      const decision = await outer.client.callTool({ name: "supervise_approve", arguments: { request_id: id, decision: "approve", notes: "for the test" } });
      expect(structured<{ decision: string; decided_by: string }>(decision)).toMatchObject({ decision: "approve", decided_by: "the outer agent (supervise_approve)" });

      const answered = await decided(call);
      expect(answered).toMatchObject({ request_id: id, status: "approved", notes: "for the test" });
      expect(answered.message).toContain(`the route for localhost is added to egress and live now`);
      expect(await viaEgress(egressPort, upstream.port, "/after")).toEqual({ status: 200, body: "upstream saw GET /after (0 body bytes)" });

      const again = (await outer.client.callTool({ name: "supervise_approve", arguments: { request_id: id, decision: "reject" } })) as CallToolResult;
      expect(again.isError).toBe(true);
      expect(text(again)).toMatch(/was already decided: approved by the outer agent \(supervise_approve\)/);
      const audit = readAudit(home, BOTTLE).filter((r) => r.id === id);
      expect(audit.map((r) => r.event)).toEqual(["proposal", "decision"]);
      expect(audit[1]).toMatchObject({ decision: "approve", decided_by: "the outer agent (supervise_approve)", notes: "for the test" });
    } finally {
      await outer.client.close();
    }
  });

  it("a plain approval of wider paths on a credentialed host makes them live without the token; only extend_credential lets the token reach them", async () => {
    const outer = await startOuter();
    const seen = (urlPath: string) => credentialed.seen.filter((r) => r.url === urlPath).map((r) => r.authorization);
    /** GET https://localhost:PORT/PATH through egress, in a tunnel of its own; a refused CONNECT counts as its status. */
    const get = async (urlPath: string) => {
      const connected = await openTunnel({ host: "127.0.0.1", port: egressPort }, `localhost:${credentialed.port}`, { servername: "localhost", ca: bottleCaPem });
      if (!connected.ok) return connected.status;
      try {
        return (await connected.tunnel.request(urlPath)).status;
      } finally {
        connected.tunnel.close();
      }
    };
    /** Asks for `prefix` on the credentialed host and answers as the outer agent, with or without extend_credential. */
    const widen = async (prefix: string, extend: boolean) => {
      const call = agent.callTool(
        { name: "egress-allow", arguments: { host: "localhost", port: credentialed.port, matches: [{ paths: [{ type: "prefix", value: prefix }] }], justification: "more of the API" } },
        undefined,
        { timeout: 60_000 },
      );
      const listed = await until("the request in supervise_list", async () => {
        const { proposals } = structured<{ proposals: { id: string; summary: string }[] }>(await outer.client.callTool({ name: "supervise_list", arguments: {} }));
        return proposals[0];
      });
      await outer.client.callTool({ name: "supervise_approve", arguments: { request_id: listed.id, decision: "approve", ...(extend ? { extend_credential: true } : {}) } });
      return { summary: listed.summary, answered: await decided(call) };
    };
    try {
      expect(await get("/repos/x")).toBe(200);
      expect(await get("/user")).toBe(403);

      const plain = await widen("/user", false);
      expect(await get("/user")).toBe(200);
      expect(seen("/user")).toEqual(["no credential"]);
      expect(plain.answered).toMatchObject({ status: "approved", route: { host: "localhost", port: credentialed.port, auth: null } });
      expect(plain.answered.message).toContain("It does not inject EGRESS_TOKEN_API: the approver did not extend that credential.");
      expect(plain.summary).toContain(
        `credential EGRESS_TOKEN_API: approve adds localhost:${credentialed.port} without a credential (prefix /user); ` +
          `approve with extend_credential widens localhost:${credentialed.port} injecting EGRESS_TOKEN_API from (prefix /repos/x) to (prefix /repos/x | prefix /user)`,
      );
      expect(await get("/repos/x")).toBe(200);
      expect(seen("/repos/x")).toEqual([`Bearer ${TOKEN_VALUE}`, `Bearer ${TOKEN_VALUE}`]);

      const extended = await widen("/orgs", true);
      expect(extended.answered).toMatchObject({ status: "approved", route: { auth: { token: "EGRESS_TOKEN_API" } } });
      expect(extended.answered.message).toContain("It injects EGRESS_TOKEN_API.");
      expect(JSON.stringify([plain, extended])).not.toContain(TOKEN_VALUE);
      expect(await get("/orgs/y")).toBe(200);
      expect(seen("/orgs/y")).toEqual([`Bearer ${TOKEN_VALUE}`]);
    } finally {
      await outer.client.close();
    }
  });

  it("a call past the bound is still pending; the outer server is killed and restarted, nothing is lost, and the rejection's notes reach the agent", async () => {
    const pending = structured<Decision>(
      await agent.callTool({ name: "request-approval", arguments: { summary: "force-push main", justification: "history is broken", details: "git push -f" } }),
    );
    expect(pending.status).toBe("pending");
    expect(pending.message).toContain(`ask again later with await-decision {"request_id": "${pending.request_id}"}`);

    const first = await startOuter();
    expect(await pendingIds(first.client)).toEqual([pending.request_id]);
    process.kill(first.pid, "SIGKILL");
    await until("the killed server to be gone", () => (isRunning(first.pid) ? undefined : true));
    await first.client.close();

    const second = await startOuter();
    try {
      expect(await pendingIds(second.client)).toEqual([pending.request_id]);
      await second.client.callTool({ name: "supervise_approve", arguments: { request_id: pending.request_id, decision: "reject", notes: "open a PR instead" } });
    } finally {
      await second.client.close();
    }
    const answered = structured<Decision>(await agent.callTool({ name: "await-decision", arguments: { request_id: pending.request_id } }));
    expect(answered).toMatchObject({ status: "rejected", notes: "open a PR instead", decided_by: "the outer agent (supervise_approve)" });
    expect(answered.message).toBe("Rejected by the outer agent (supervise_approve): open a PR instead");
  });

  it("asks the human through elicitation when the client supports it, and records who answered", async () => {
    const outer = await startOuter({ elicit: () => ({ action: "accept", content: { decision: "approve", notes: "go ahead", answered_by: "Ada" } }) });
    try {
      const result = await decided(agent.callTool({ name: "request-approval", arguments: { summary: "delete the cache", justification: "it is stale" } }, undefined, { timeout: 60_000 }));
      expect(outer.elicited.some((m) => m.includes(`bottle ${BOTTLE} asks (request-approval): delete the cache`))).toBe(true);
      expect(result).toMatchObject({ status: "approved", notes: "go ahead", decided_by: "Ada (asked through outer-agent)" });
      // The answer file reaches the agent first; the outer server records it right after.
      const record = await until("the decision in the audit log", () => readAudit(home, BOTTLE).find((r) => r.event === "decision" && r.id === result.request_id));
      expect(record).toMatchObject({ decided_by: "Ada (asked through outer-agent)", notes: "go ahead" });
    } finally {
      await outer.client.close();
    }
  });

  it("falls back to the tools when the human declines the elicitation", async () => {
    const outer = await startOuter({ elicit: () => ({ action: "decline" }) });
    try {
      const call = agent.callTool({ name: "request-approval", arguments: { summary: "rotate keys", justification: "routine" } }, undefined, { timeout: 60_000 });
      await until("the elicitation", () => (outer.elicited.length > 0 ? true : undefined));
      const [id] = await pendingIds(outer.client);
      await outer.client.callTool({ name: "supervise_approve", arguments: { request_id: id, decision: "approve" } });
      expect(await decided(call)).toMatchObject({ request_id: id, status: "approved" });
    } finally {
      await outer.client.close();
    }
  });

  it("fails closed: a malformed answer and a missing queue are refusals", async () => {
    const call = agent.callTool({ name: "egress-allow", arguments: { host: "evil.example.test", justification: "x" } }, undefined, { timeout: 60_000 });
    const id = await until("the proposal", () => readdir(queue).find((name) => name.endsWith(".proposal.json") && !readdir(queue).includes(name.replace("proposal", "answer")))?.slice(0, 32));
    placeRawAnswer(queue, id, '{"decision": "approve"}');
    expect(await decided(call)).toMatchObject({ request_id: id, status: "rejected" });
    expect(readFileSync(routesFile, "utf8")).not.toContain("evil.example.test");

    rmSync(queue, { recursive: true });
    try {
      const refused = structured<Decision>(await agent.callTool({ name: "egress-allow", arguments: { host: "evil.example.test", justification: "x" } }));
      expect(refused).toMatchObject({ request_id: null, status: "rejected" });
      expect(refused.message).toMatch(/could not be queued for review/);
    } finally {
      mkdirSync(queue, { recursive: true, mode: 0o700 });
    }
  });

  it("applies an approval that lands while the bundle is down once it is back", async () => {
    const second = await FakeUpstream.start();
    try {
      const pending = structured<Decision>(await agent.callTool({ name: "egress-allow", arguments: { host: "localhost", port: second.port, justification: "later" } }));
      expect(pending.status).toBe("pending");
      await bundle.stop();
      const outer = await startOuter();
      await outer.client.callTool({ name: "supervise_approve", arguments: { request_id: pending.request_id, decision: "approve" } });
      await outer.client.close();
      await startBundle();
      await until("the route applied at start", async () => ((await viaEgress(egressPort, second.port, "/late")).status === 200 ? true : undefined));
      expect(second.requests.map((r) => r.url)).toContain("/late");
    } finally {
      await second.close();
    }
  });
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A folder's entries; none when it does not exist. */
function readdir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
