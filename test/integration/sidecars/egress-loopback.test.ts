import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestPki } from "../../../bench/egress-fixtures.js";
import type { Route, RoutesFile } from "../../../sidecars/egress/routes.js";
import { route } from "../../support/egress-route.js";
import { closeServer, type HttpsUpstream, startHttpsUpstream } from "../egress/loopback-upstreams.js";
import { openTunnel, type Tunnel } from "../egress/tunnel-client.js";
import { DaemonProcess } from "./daemon-process.js";
import { FakeUpstream, unusedPort } from "./fake-upstream.js";
import { connectThrough, type Endpoint, get, RawConnection } from "./raw-http.js";

// The bundled egress daemon on a temp Unix socket (and loopback TCP), in front
// of fake upstreams on 127.0.0.1 (which egress is told to allow: it refuses
// private addresses otherwise). Nothing here leaves the machine.

function writeRoutes(file: string, routes: Route[]): void {
  const content: RoutesFile = { version: 1, log: 2, routes };
  writeFileSync(file, JSON.stringify(content));
}

interface Egress {
  dir: string;
  routesFile: string;
  logFile: string;
  socket: Endpoint;
  tcp: Endpoint;
  daemon: DaemonProcess;
}

async function startEgress(routes: Route[]): Promise<Egress> {
  const dir = mkdtempSync(join(tmpdir(), "bot-bottle-egress-"));
  const routesFile = join(dir, "routes.json");
  const logFile = join(dir, "decisions.jsonl");
  writeRoutes(routesFile, routes);
  const daemon = new DaemonProcess("egress", {
    env: {
      EGRESS_ROUTES: routesFile,
      EGRESS_SOCKET: join(dir, "egress.sock"),
      EGRESS_LISTEN: "127.0.0.1:0",
      EGRESS_LOG_FILE: logFile,
      EGRESS_ALLOW_NETWORKS: "127.0.0.1/32",
    },
  });
  const ready = await daemon.waitForLine("stderr", /egress: ready on/);
  const tcpPort = Number(/tcp:127\.0\.0\.1:(\d+)/.exec(ready)?.[1]);
  return { dir, routesFile, logFile, daemon, socket: { path: join(dir, "egress.sock") }, tcp: { host: "127.0.0.1", port: tcpPort } };
}

async function stopEgress(egress: Egress): Promise<void> {
  await egress.daemon.stop();
  rmSync(egress.dir, { recursive: true, force: true });
}

/** Polls a condition that another process makes true (a file it appends to). */
async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A TLS connection through a CONNECT tunnel to an HTTPS upstream on loopback, as an agent's client makes it. */
async function tlsThrough(egress: Egress, port: number, pki: TestPki): Promise<Tunnel> {
  const connected = await openTunnel(egress.socket, `127.0.0.1:${port}`, { ca: pki.caPem, host: "127.0.0.1" });
  if (!connected.ok) throw new Error(`CONNECT refused: ${connected.status} ${connected.reason}`);
  return connected.tunnel;
}

describe("egress daemon", () => {
  let declared: FakeUpstream;
  let undeclared: FakeUpstream;
  let secure: HttpsUpstream;
  let pki: TestPki;
  let downPort: number;
  let egress: Egress;

  beforeAll(async () => {
    declared = await FakeUpstream.start();
    undeclared = await FakeUpstream.start();
    pki = await createTestPki(["127.0.0.1"]);
    secure = await startHttpsUpstream(pki);
    downPort = await unusedPort();
    egress = await startEgress([route("127.0.0.1", declared.port), route("127.0.0.1", secure.port), route("127.0.0.1", downPort)]);
  });

  afterAll(async () => {
    await stopEgress(egress);
    await declared.close();
    await undeclared.close();
    closeServer(secure.server);
  });

  it("answers the readiness probe on its Unix socket, and refuses other origin-form requests", async () => {
    expect(await get(egress.socket, "/__bot-bottle/health")).toMatchObject({ status: 200, body: "ok\n" });
    const other = await get(egress.socket, "/somewhere");
    expect(other.status).toBe(400);
    expect(other.headers["x-bot-bottle-reason"]).toMatch(/not a proxy request/);
  });

  it("tunnels TLS through a CONNECT to a declared target, end to end", async () => {
    const tunnel = await tlsThrough(egress, secure.port, pki);
    const answer = await tunnel.request("/through-the-tunnel", { headers: { Host: `127.0.0.1:${secure.port}` } });
    expect(answer).toMatchObject({ status: 200, body: `upstream ${secure.port} saw GET /through-the-tunnel\n` });
    // The agent verified the upstream's own certificate: egress did not touch the TLS.
    expect(tunnel.socket.authorized).toBe(true);
    tunnel.close();
  });

  it("refuses a CONNECT to an undeclared target with a reason, and the target sees nothing", async () => {
    const before = undeclared.connections;
    const { response, tunnel } = await connectThrough(egress.socket, `127.0.0.1:${undeclared.port}`);
    expect(response.status).toBe(403);
    expect(response.headers["x-bot-bottle-reason"]).toBe(`port ${undeclared.port} is not declared for 127.0.0.1`);
    await tunnel.closed();

    const byName = await connectThrough(egress.socket, "example.invalid:443");
    expect(byName.response.status).toBe(403);
    expect(byName.response.headers["x-bot-bottle-reason"]).toBe("host example.invalid is not declared");
    await byName.tunnel.closed();
    expect(undeclared.connections).toBe(before);
  });

  it("refuses a malformed CONNECT target", async () => {
    const { response } = await connectThrough(egress.socket, `user@127.0.0.1:${declared.port}`);
    expect(response.status).toBe(403);
    expect(response.headers["x-bot-bottle-reason"]).toBe("userinfo in target");
  });

  it("forwards absolute-form plain HTTP to the declared host over one keep-alive connection, without hop-by-hop headers", async () => {
    const before = declared.requests.length;
    const client = await RawConnection.open(egress.socket);
    const authority = `127.0.0.1:${declared.port}`;
    client.write(
      `GET http://${authority}/one?token=abc HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: Basic eDp5\r\n` +
        `Connection: keep-alive, X-Per-Hop\r\nX-Per-Hop: 1\r\nX-End-To-End: 2\r\n\r\n`,
    );
    expect(await client.readResponse()).toMatchObject({ status: 200, body: "upstream saw GET /one?token=abc (0 body bytes)" });
    client.write(`POST http://${authority}/two HTTP/1.1\r\nHost: ${authority}\r\nContent-Length: 5\r\n\r\nhello`);
    expect(await client.readResponse()).toMatchObject({ status: 200, body: "upstream saw POST /two (5 body bytes)" });
    client.close();

    const seen = declared.requests.slice(before);
    expect(seen.map((r) => r.url)).toEqual(["/one?token=abc", "/two"]);
    expect(seen[0]!.headers).toMatchObject({ host: authority, "x-end-to-end": "2" });
    expect(seen[0]!.headers["proxy-authorization"]).toBeUndefined();
    expect(seen[0]!.headers["x-per-hop"]).toBeUndefined();
    expect(seen[1]!.body).toBe("hello");
  });

  it("refuses a plain-HTTP request whose Host header disagrees with its target", async () => {
    const before = declared.requests.length;
    const client = await RawConnection.open(egress.tcp);
    client.write(`GET http://127.0.0.1:${declared.port}/spoof HTTP/1.1\r\nHost: evil.example\r\n\r\n`);
    const answer = await client.readResponse();
    expect(answer.status).toBe(403);
    expect(answer.headers["x-bot-bottle-reason"]).toBe(`Host header evil.example:80 does not match target 127.0.0.1:${declared.port}`);
    client.close();
    expect(declared.requests.length).toBe(before);
  });

  it("answers 502 with a reason when a declared upstream cannot be reached", async () => {
    const { response } = await connectThrough(egress.socket, `127.0.0.1:${downPort}`);
    expect(response.status).toBe(502);
    expect(response.headers["x-bot-bottle-reason"]).toMatch(/ECONNREFUSED/);

    const client = await RawConnection.open(egress.socket);
    client.write(`GET http://127.0.0.1:${downPort}/ HTTP/1.1\r\nHost: 127.0.0.1:${downPort}\r\n\r\n`);
    const answer = await client.readResponse();
    expect(answer.status).toBe(502);
    expect(answer.headers["x-bot-bottle-reason"]).toMatch(/ECONNREFUSED/);
    client.close();
  });

  it("survives a malformed request and keeps serving", async () => {
    const client = await RawConnection.open(egress.socket);
    client.write("GET http://127.0.0.1/ HTTP/1.1\r\nBad Header Line\r\n\r\n");
    expect((await client.readResponse()).status).toBe(400);
    await client.closed();
    expect((await get(egress.socket, "/__bot-bottle/health")).status).toBe(200);
  });

  it("logs every decision as a JSON line on stdout and in the log file, without query strings", async () => {
    const fromStdout = jsonLines(egress.daemon.lines.stdout.join("\n"));
    // Complete lines only: the file is appended to asynchronously.
    await eventually(() => readFileSync(egress.logFile, "utf8").split("\n").length > fromStdout.length, "the decision log file");
    const fromFile = jsonLines(readFileSync(egress.logFile, "utf8")).slice(0, fromStdout.length);
    expect(fromFile).toEqual(fromStdout);
    expect(fromFile).toContainEqual({
      time: expect.any(String),
      daemon: "egress",
      host: "127.0.0.1",
      port: declared.port,
      method: "GET",
      path: "/one",
      decision: "allow",
      reason: `allowed by route 127.0.0.1:${declared.port}`,
      bytes_sent: 0,
      bytes_received: "upstream saw GET /one?token=abc (0 body bytes)".length,
    });
    expect(fromFile).toContainEqual(
      expect.objectContaining({ host: "example.invalid", port: 443, method: "CONNECT", path: null, decision: "deny" }),
    );
    expect(readFileSync(egress.logFile, "utf8")).not.toContain("token=abc");
  });
});

describe("egress routes reload on SIGHUP", () => {
  let pki: TestPki;
  let first: HttpsUpstream;
  let second: HttpsUpstream;
  let egress: Egress;

  beforeAll(async () => {
    pki = await createTestPki(["127.0.0.1"]);
    first = await startHttpsUpstream(pki);
    second = await startHttpsUpstream(pki);
    egress = await startEgress([route("127.0.0.1", first.port)]);
  });

  afterAll(async () => {
    await stopEgress(egress);
    closeServer(first.server);
    closeServer(second.server);
  });

  it("admits a newly declared target while an open tunnel keeps working", async () => {
    const open = await tlsThrough(egress, first.port, pki);
    expect((await open.request("/before")).status).toBe(200);
    expect((await connectThrough(egress.socket, `127.0.0.1:${second.port}`)).response.status).toBe(403);

    writeRoutes(egress.routesFile, [route("127.0.0.1", first.port), route("127.0.0.1", second.port)]);
    egress.daemon.child.kill("SIGHUP");
    await egress.daemon.waitForLine("stderr", /routes reloaded .*: 2 route\(s\)/);

    const admitted = await tlsThrough(egress, second.port, pki);
    expect(await admitted.request("/after")).toMatchObject({ status: 200, body: `upstream ${second.port} saw GET /after\n` });
    admitted.close();
    expect(await open.request("/still-open")).toMatchObject({ body: `upstream ${first.port} saw GET /still-open\n` });
    open.close();
  });

  it("keeps the previous routes when the new file is bad", async () => {
    writeFileSync(egress.routesFile, JSON.stringify({ version: 1, log: 2, routes: [{ host: "127.0.0.1", port: second.port }] }));
    egress.daemon.child.kill("SIGHUP");
    const complaint = await egress.daemon.waitForLine("stderr", /routes reload failed, keeping the previous 2 route\(s\)/);
    expect(complaint).toMatch(/routes\[0\]\.tls_passthrough/);

    writeFileSync(egress.routesFile, "{ not json");
    egress.daemon.child.kill("SIGHUP");
    await egress.daemon.waitForLine("stderr", /routes reload failed, keeping the previous 2 route\(s\): routes file is not JSON/);

    const stillAdmitted = await connectThrough(egress.socket, `127.0.0.1:${second.port}`);
    expect(stillAdmitted.response.status).toBe(200);
    stillAdmitted.tunnel.close();
    expect(egress.daemon.child.exitCode).toBeNull();
  });
});
