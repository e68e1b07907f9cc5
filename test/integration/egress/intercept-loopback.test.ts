import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestPki } from "../../../bench/egress-fixtures.js";
import type { Route, RoutesFile } from "../../../sidecars/egress/routes.js";
import { answerOnce, Proposal } from "../../../sidecars/supervise/queue.js";
import { createBottleCa } from "../../../src/engine/ca.js";
import { route } from "../../support/egress-route.js";
import { DaemonProcess } from "../sidecars/daemon-process.js";
import { connectThrough } from "../sidecars/raw-http.js";
import { openTunnel, type Tunnel } from "./tunnel-client.js";

// The bundled egress daemon intercepting TLS on loopback, in front of real
// HTTPS upstreams with their own CA: leaf certificates, token injection,
// matches, DLP and holds, refusals, reload. The real-bottle suite repeats the
// user-visible parts inside a bottle; this one is fast and checks the details.

interface Seen {
  port: number;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

async function httpsUpstream(pki: TestPki, seen: Seen[]): Promise<https.Server> {
  const server = https.createServer({ key: pki.serverKeyPem, cert: pki.serverCertPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const port = (req.socket.address() as AddressInfo).port;
      seen.push({ port, method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.end(`upstream ${port} saw ${req.method} ${req.url}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

const portOf = (server: https.Server) => (server.address() as AddressInfo).port;

describe("egress TLS interception (loopback)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "bb-intercept-"));
  const queue = path.join(dir, "queue");
  const token = `tok-${randomBytes(16).toString("hex")}`;
  const canary = `canary/${randomBytes(12).toString("hex")}+x`;
  const seen: Seen[] = [];
  let pki: TestPki;
  let caPem: string;
  const servers: https.Server[] = [];
  let egress: DaemonProcess;
  let proxy: { host: string; port: number };
  let routes: Route[];
  const ports = { auth: 0, redact: 0, hold: 0, interceptLocal: 0 };

  const dlp = (on: "redact" | "supervise") => ({
    outbound_detectors: ["known_secrets" as const, "token_patterns" as const],
    inbound_detectors: [],
    outbound_on_match: on,
    known_secret_env: ["EGRESS_SECRET_CANARY"],
  });
  const writeRoutes = (list: Route[]) => {
    const file: RoutesFile = { version: 1, log: 2, routes: list };
    writeFileSync(path.join(dir, "routes.json"), JSON.stringify(file));
  };
  const tlsTo = (port: number, extra: tls.ConnectionOptions = {}) => ({ host: "127.0.0.1", ca: caPem, ...extra, port });
  const open = async (target: string, options: tls.ConnectionOptions): Promise<Tunnel> => {
    const connected = await openTunnel(proxy, target, options);
    if (!connected.ok) throw new Error(`CONNECT ${target} refused: ${connected.status} ${connected.reason}`);
    return connected.tunnel;
  };

  beforeAll(async () => {
    mkdirSync(queue);
    writeFileSync(path.join(dir, "secrets.json"), JSON.stringify({ EGRESS_TOKEN_API: token, EGRESS_SECRET_CANARY: canary }), { mode: 0o600 });
    const ca = await createBottleCa("loopback-test");
    caPem = ca.certPem;
    writeFileSync(path.join(dir, "ca.pem"), ca.certPem);
    writeFileSync(path.join(dir, "ca-key.pem"), ca.keyPem, { mode: 0o600 });
    pki = await createTestPki(["127.0.0.1", "localhost"]);
    writeFileSync(path.join(dir, "upstream-ca.pem"), pki.caPem);
    for (const name of Object.keys(ports) as (keyof typeof ports)[]) {
      const server = await httpsUpstream(pki, seen);
      servers.push(server);
      ports[name] = portOf(server);
    }
    routes = [
      route("127.0.0.1", ports.auth, { matches: [{ paths: [{ type: "prefix", value: "/v1" }] }], auth: { scheme: "Bearer", token_env: "EGRESS_TOKEN_API" } }),
      route("127.0.0.1", ports.redact, { dlp: dlp("redact") }),
      route("127.0.0.1", ports.hold, { dlp: dlp("supervise") }),
      route("localhost", ports.interceptLocal, { auth: { scheme: "token", token_env: "EGRESS_TOKEN_API" } }),
    ];
    writeRoutes(routes);
    egress = new DaemonProcess("egress", {
      env: {
        EGRESS_ROUTES: path.join(dir, "routes.json"),
        EGRESS_SOCKET: path.join(dir, "egress.sock"),
        EGRESS_LISTEN: "127.0.0.1:0",
        EGRESS_CA_CERT: path.join(dir, "ca.pem"),
        EGRESS_CA_KEY: path.join(dir, "ca-key.pem"),
        EGRESS_EXTRA_CA: path.join(dir, "upstream-ca.pem"),
        // The upstreams are declared by loopback literal, which egress refuses unless told to allow it.
        EGRESS_ALLOW_NETWORKS: "127.0.0.1/32",
        EGRESS_QUEUE_DIR: queue,
        EGRESS_HOLD_TIMEOUT_MS: "20000",
        BOT_BOTTLE_ID: "loopback-1",
        EGRESS_SECRETS_FILE: path.join(dir, "secrets.json"),
      },
    });
    const ready = await egress.waitForLine("stderr", /egress: ready on .*TLS interception on/);
    proxy = { host: "127.0.0.1", port: Number(/tcp:127\.0\.0\.1:(\d+)/.exec(ready)![1]) };
  });

  afterAll(async () => {
    await egress?.stop();
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("shows the agent a leaf for the CONNECT target, signed by the bottle CA, and speaks HTTP/1.1 even when h2 is offered", async () => {
    const tunnel = await open(`127.0.0.1:${ports.auth}`, tlsTo(ports.auth, { ALPNProtocols: ["h2", "http/1.1"] }));
    const peer = tunnel.socket.getPeerCertificate();
    expect(peer.issuer.CN).toBe("bot-bottle egress CA loopback-test");
    expect(peer.subjectaltname).toBe("IP Address:127.0.0.1");
    expect(tunnel.socket.alpnProtocol).toBe("http/1.1");
    tunnel.close();
  });

  it("replaces the agent's Authorization and x-api-key with the route's token, over one keep-alive connection", async () => {
    const before = seen.length;
    const tunnel = await open(`127.0.0.1:${ports.auth}`, tlsTo(ports.auth));
    const first = await tunnel.request("/v1/models", { headers: { Authorization: "Bearer placeholder", "X-Api-Key": "sk-placeholder" } });
    const second = await tunnel.request("/v1/messages", { body: "{}", headers: { "Content-Type": "application/json" } });
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(tunnel.socket.destroyed).toBe(false);
    const got = seen.slice(before);
    expect(got.map((r) => r.url)).toEqual(["/v1/models", "/v1/messages"]);
    for (const request of got) {
      expect(request.headers.authorization).toBe(`Bearer ${token}`);
      expect(request.headers["x-api-key"]).toBeUndefined();
      expect(request.headers.host).toBe(`127.0.0.1:${ports.auth}`);
    }
    tunnel.close();
  });

  it("refuses, inside the tunnel, a path outside matches and a Host header for another host; the upstream sees neither", async () => {
    const before = seen.length;
    const tunnel = await open(`127.0.0.1:${ports.auth}`, tlsTo(ports.auth));
    const outside = await tunnel.request("/admin/users");
    expect(outside.status).toBe(403);
    expect(outside.headers["x-bot-bottle-reason"]).toBe("no route for 127.0.0.1 admits GET /admin/users");
    const spoof = await tunnel.request("/v1/models", { headers: { Host: "evil.example" } });
    expect(spoof.status).toBe(403);
    expect(spoof.headers["x-bot-bottle-reason"]).toBe(`Host header evil.example:443 does not match target 127.0.0.1:${ports.auth}`);
    expect(seen.length).toBe(before);
    tunnel.close();
  });

  it("refuses plain HTTP sent into a tunnel that egress expects to decrypt", async () => {
    const { response, tunnel } = await connectThrough(proxy, `127.0.0.1:${ports.auth}`);
    expect(response.status).toBe(200);
    tunnel.write(`GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:${ports.auth}\r\n\r\n`);
    const answer = await tunnel.readResponse();
    expect(answer.status).toBe(403);
    expect(answer.headers["x-bot-bottle-reason"]).toMatch(/^plain HTTP inside a CONNECT tunnel to an inspected route/);
    tunnel.close();
  });

  it("aborts the handshake when the TLS server name is not the CONNECT target", async () => {
    await expect(openTunnel(proxy, `localhost:${ports.interceptLocal}`, tlsTo(ports.interceptLocal, { servername: "other.example" }))).rejects.toThrow();
    await egress.waitForLine("stdout", /TLS server name other\.example does not match CONNECT target localhost/);
  });

  it("redacts a known secret from the query and body and forwards the rest", async () => {
    const before = seen.length;
    const tunnel = await open(`127.0.0.1:${ports.redact}`, tlsTo(ports.redact));
    const answer = await tunnel.request(`/upload?key=${encodeURIComponent(canary)}`, {
      body: JSON.stringify({ note: "keep me", leak: Buffer.from(canary).toString("base64") }),
      headers: { "Content-Type": "application/json" },
    });
    expect(answer.status).toBe(200);
    const [got] = seen.slice(before);
    expect(got!.url).toBe("/upload?key=[REDACTED:EGRESS_SECRET_CANARY]");
    expect(JSON.parse(got!.body)).toEqual({ note: "keep me", leak: expect.stringMatching(/^(..?)?\[REDACTED:EGRESS_SECRET_CANARY\]/) });
    expect(got!.body).not.toContain(Buffer.from(canary).toString("base64").slice(2, -2));
    expect(Number(got!.headers["content-length"])).toBe(Buffer.byteLength(got!.body));
    tunnel.close();
  });

  it("holds a request as a proposal, releases it when approved, and remembers the value", async () => {
    const before = seen.length;
    const tunnel = await open(`127.0.0.1:${ports.hold}`, tlsTo(ports.hold));
    const pending = tunnel.request("/v1/report", { body: `token=${canary}` });
    let proposal: Proposal | undefined;
    for (let i = 0; i < 500 && !proposal; i++) {
      const name = readdirSync(queue).find((f) => f.endsWith(".proposal.json"));
      if (name) proposal = Proposal.parse(JSON.parse(readFileSync(path.join(queue, name), "utf8")));
      else await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(proposal).toMatchObject({ bottle: "loopback-1", kind: "egress-dlp", summary: expect.stringContaining("known secret EGRESS_SECRET_CANARY (raw) in body") });
    expect(readFileSync(path.join(queue, `${proposal!.id}.proposal.json`), "utf8")).not.toContain(canary);
    expect(seen.length).toBe(before);
    answerOnce(queue, { id: proposal!.id, decision: "approve", decided_by: "test reviewer", decided_at: new Date().toISOString() });
    expect((await pending).status).toBe(200);
    expect(seen.at(-1)!.body).toBe(`token=${canary}`);

    const again = await tunnel.request("/v1/report", { body: `token=${canary}` });
    expect(again.status).toBe(200);
    expect(readdirSync(queue).filter((f) => f.endsWith(".proposal.json"))).toHaveLength(1);
    tunnel.close();
  });

  it("judges requests on an open intercepted connection by the routes of the moment, after SIGHUP", async () => {
    const tunnel = await open(`127.0.0.1:${ports.auth}`, tlsTo(ports.auth));
    expect((await tunnel.request("/v2/new")).status).toBe(403);
    const widened = routes.map((r) => (r.port === ports.auth ? { ...r, matches: [{ paths: [{ type: "prefix" as const, value: "/v1" }, { type: "prefix" as const, value: "/v2" }] }] } : r));
    writeRoutes(widened);
    egress.child.kill("SIGHUP");
    await egress.waitForLine("stderr", /routes reloaded .*: 4 route\(s\)/);
    expect((await tunnel.request("/v2/new")).status).toBe(200);
    expect(tunnel.socket.destroyed).toBe(false);
    tunnel.close();
  });

  it("keeps the token and the secret out of its decision log", async () => {
    // Each decision is logged once its request is over, on a pipe: wait for every kind this suite made.
    for (const decision of ["allow", "redact", "hold"]) await egress.waitForLine("stdout", new RegExp(`"decision":"${decision}"`));
    const log = egress.lines.stdout.join("\n") + egress.lines.stderr.join("\n");
    expect(log).not.toContain(token);
    expect(log).not.toContain(canary);
    expect(log).not.toContain(encodeURIComponent(canary));
  });

  it("refuses inspected routes at CONNECT when it has no CA", async () => {
    const bare = new DaemonProcess("egress", {
      env: { EGRESS_ROUTES: path.join(dir, "routes.json"), EGRESS_SOCKET: path.join(dir, "bare.sock"), EGRESS_SECRETS_FILE: path.join(dir, "secrets.json") },
    });
    await bare.waitForLine("stderr", /egress: ready on/);
    try {
      const refused = await openTunnel({ path: path.join(dir, "bare.sock") }, `127.0.0.1:${ports.auth}`, tlsTo(ports.auth));
      expect(refused).toEqual({ ok: false, status: 403, reason: `route 127.0.0.1 needs TLS interception, but egress has no CA` });
    } finally {
      await bare.stop();
    }
  });
});
