import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import tls from "node:tls";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestPki } from "../../../bench/egress-fixtures.js";
import type { RouteDlp, RoutesFile } from "../../../sidecars/egress/routes.js";
import { answerOnce, Proposal } from "../../../sidecars/supervise/queue.js";
import { createBottleCa } from "../../../src/engine/ca.js";
import { route } from "../../support/egress-route.js";
import { CHANGE_CIPHER_SPEC, clientHello, EXTENSION, GROUP, serverNameExtension } from "../../support/client-hello.js";
import { DaemonProcess } from "../sidecars/daemon-process.js";
import { FakeUpstream } from "../sidecars/fake-upstream.js";
import { connectThrough, RawConnection } from "../sidecars/raw-http.js";
import { closeServer, type CountingRelay, type HttpsUpstream, startCountingRelay, startHttpsUpstream } from "./loopback-upstreams.js";
import { openTunnel, type Tunnel } from "./tunnel-client.js";

// The bundled egress daemon attacked by a probe that acts as a crafty agent:
// raw bytes through the proxy listener, hand-built TLS hellos, and HTTP no
// well-behaved library would send. Each test names the attack and checks
// that it was refused and that the upstream it aimed at saw nothing of it.
// Every upstream is a server on loopback, declared by IP literal or as
// localhost, and egress is told to allow loopback (it refuses private
// addresses otherwise).

const HRR_RANDOM = Buffer.from("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c", "hex");

const dlp = (on: RouteDlp["outbound_on_match"]): RouteDlp => ({
  outbound_detectors: ["known_secrets", "token_patterns"],
  inbound_detectors: [],
  outbound_on_match: on,
  known_secret_env: ["EGRESS_SECRET_CANARY", "EGRESS_SECRET_SPACED"],
});

/** Waits for `check` to hold, polling what another process changes (bounded). */
async function eventually<T>(check: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 750; i++) {
    const value = check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A P-384 public key, uncompressed, as a key share carries it. */
function p384KeyShare(): Buffer {
  const jwk = generateKeyPairSync("ec", { namedCurve: "P-384" }).publicKey.export({ format: "jwk" });
  return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]);
}

describe("egress under attack (loopback)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "bb-egress-attacks-"));
  const queue = path.join(dir, "queue");
  const token = `tok-${randomBytes(16).toString("hex")}`;
  const canary = `canary-${randomBytes(12).toString("hex")}`;
  const spaced = `pass phrase ${randomBytes(8).toString("hex")}`;
  let pki: TestPki;
  let caPem: string;
  const https: Record<"smuggle" | "paths" | "tunnels" | "hrr" | "block" | "holdA" | "holdB", HttpsUpstream> = {} as never;
  const relays: Record<"passthrough" | "plain" | "hrr", CountingRelay> = {} as never;
  let plainHttp: FakeUpstream;
  let egress: DaemonProcess;
  let proxy: { host: string; port: number };
  const env = (): Record<string, string> => ({
    EGRESS_ROUTES: path.join(dir, "routes.json"),
    EGRESS_LISTEN: "127.0.0.1:0",
    EGRESS_CA_CERT: path.join(dir, "ca.pem"),
    EGRESS_CA_KEY: path.join(dir, "ca-key.pem"),
    EGRESS_EXTRA_CA: path.join(dir, "upstream-ca.pem"),
    EGRESS_QUEUE_DIR: queue,
    EGRESS_HOLD_TIMEOUT_MS: "20000",
    BOT_BOTTLE_ID: "attacks-1",
    EGRESS_SECRETS_FILE: path.join(dir, "secrets.json"),
  });
  const startEgress = async (extra: Record<string, string>, socket: string) => {
    const daemon = new DaemonProcess("egress", { env: { ...env(), EGRESS_SOCKET: path.join(dir, socket), ...extra } });
    const ready = await daemon.waitForLine("stderr", /egress: ready on .*TLS interception on/);
    return { daemon, endpoint: { host: "127.0.0.1", port: Number(/tcp:127\.0\.0\.1:(\d+)/.exec(ready)![1]) } };
  };
  const tlsTo = (port: number, extra: tls.ConnectionOptions = {}): tls.ConnectionOptions => ({ host: "127.0.0.1", ca: caPem, ...extra, port });
  const open = async (target: string, options: tls.ConnectionOptions): Promise<Tunnel> => {
    const connected = await openTunnel(proxy, target, options);
    if (!connected.ok) throw new Error(`CONNECT ${target} refused: ${connected.status} ${connected.reason}`);
    return connected.tunnel;
  };
  /** An intercepted tunnel the probe writes raw HTTP into. */
  const rawTunnel = async (port: number) => RawConnection.wrap((await open(`127.0.0.1:${port}`, tlsTo(port))).socket);

  beforeAll(async () => {
    mkdirSync(queue);
    writeFileSync(path.join(dir, "secrets.json"), JSON.stringify({ EGRESS_TOKEN_API: token, EGRESS_SECRET_CANARY: canary, EGRESS_SECRET_SPACED: spaced }), { mode: 0o600 });
    const ca = await createBottleCa("attacks-test");
    caPem = ca.certPem;
    writeFileSync(path.join(dir, "ca.pem"), ca.certPem);
    writeFileSync(path.join(dir, "ca-key.pem"), ca.keyPem, { mode: 0o600 });
    pki = await createTestPki(["127.0.0.1", "localhost"]);
    writeFileSync(path.join(dir, "upstream-ca.pem"), pki.caPem);
    for (const name of ["smuggle", "paths", "tunnels", "block", "holdA", "holdB"] as const) https[name] = await startHttpsUpstream(pki);
    https.hrr = await startHttpsUpstream(pki, { ecdhCurve: "secp384r1" });
    relays.passthrough = await startCountingRelay(https.tunnels.port);
    relays.plain = await startCountingRelay(https.tunnels.port);
    relays.hrr = await startCountingRelay(https.hrr.port);
    plainHttp = await FakeUpstream.start();
    const routes: RoutesFile = {
      version: 1,
      log: 2,
      routes: [
        route("127.0.0.1", https.smuggle.port, {
          matches: [{ methods: ["GET"], paths: [{ type: "exact", value: "/allowed" }] }],
          auth: { scheme: "Bearer", token_env: "EGRESS_TOKEN_API" },
        }),
        route("127.0.0.1", https.paths.port, { matches: [{ paths: [{ type: "prefix", value: "/v1" }] }, { paths: [{ type: "regex", value: "/v2/.*" }] }] }),
        route("localhost", relays.passthrough.port, { tls_passthrough: true }),
        route("localhost", https.tunnels.port, { matches: [{ methods: ["GET"] }] }),
        route("127.0.0.1", relays.plain.port),
        route("localhost", relays.hrr.port, { tls_passthrough: true }),
        route("127.0.0.1", https.block.port, { dlp: dlp("block") }),
        route("127.0.0.1", https.holdA.port, { dlp: dlp("supervise") }),
        route("127.0.0.1", https.holdB.port, { dlp: dlp("supervise") }),
        route("127.0.0.1", plainHttp.port),
        route("127.0.0.1", null),
      ],
    };
    writeFileSync(path.join(dir, "routes.json"), JSON.stringify(routes));
    ({ daemon: egress, endpoint: proxy } = await startEgress({ EGRESS_ALLOW_NETWORKS: "127.0.0.0/8,::1/128" }, "egress.sock"));
  });

  afterAll(async () => {
    await egress?.stop();
    for (const upstream of Object.values(https)) closeServer(upstream.server);
    for (const relay of Object.values(relays)) relay.close();
    await plainHttp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe("request smuggling", () => {
    it("a GET with Transfer-Encoding: chunked cannot smuggle a DELETE past matches, with or without the injected token", async () => {
      const authority = `127.0.0.1:${https.smuggle.port}`;
      const smuggled = `DELETE /forbidden HTTP/1.1\r\nHost: ${authority}\r\nX-Swallow: `;
      const client = await rawTunnel(https.smuggle.port);
      client.write(
        `GET /allowed HTTP/1.1\r\nHost: ${authority}\r\nTransfer-Encoding: chunked\r\n\r\n${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`,
      );
      await client.readResponse();
      client.write(`GET /allowed HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
      await client.readResponse();
      client.close();
      expect(https.smuggle.seen.length).toBeGreaterThan(0);
      expect(https.smuggle.seen.map((r) => `${r.method} ${r.url}`)).toEqual(https.smuggle.seen.map(() => "GET /allowed"));
    });

    it("a smuggled request cannot make the upstream echo the next request's injected token back to the agent", async () => {
      const authority = `127.0.0.1:${https.smuggle.port}`;
      const smuggled = `POST /echo HTTP/1.1\r\nHost: ${authority}\r\nContent-Length: 1500\r\n\r\n`;
      const client = await rawTunnel(https.smuggle.port);
      client.write(`GET /allowed HTTP/1.1\r\nHost: ${authority}\r\nTransfer-Encoding: chunked\r\n\r\n${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`);
      const answers = [await client.readResponse()];
      // A second request whose body pads the smuggled one to its length: the token egress injects into its head lands in the echo.
      const padding = "p".repeat(2000);
      client.write(`GET /allowed HTTP/1.1\r\nHost: ${authority}\r\nContent-Length: ${padding.length}\r\n\r\n${padding}`);
      answers.push(await client.readResponse().catch((error: Error) => ({ status: -1, headers: {}, body: error.message })));
      client.close();
      for (const answer of answers) expect(answer.body).not.toContain(token);
      expect(https.smuggle.seen.some((r) => r.url === "/echo")).toBe(false);
    });

    const ambiguous: [string, string][] = [
      ["both Content-Length and Transfer-Encoding", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
      ["two Content-Length headers", "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"],
      ["a Content-Length list", "Content-Length: 5, 5\r\n\r\nhello"],
      ["a signed Content-Length", "Content-Length: +5\r\n\r\nhello"],
      ["Transfer-Encoding gzip, chunked", "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"],
      ["Transfer-Encoding chunked, gzip", "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"],
      ["Transfer-Encoding identity", "Transfer-Encoding: identity\r\n\r\n"],
      ["two Transfer-Encoding headers", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
      ["an obsolete folded header", "X-Folded: a\r\n b\r\nContent-Length: 5\r\n\r\nhello"],
    ];
    for (const [what, rest] of ambiguous) {
      it(`refuses ambiguous framing (${what}) with 400, in absolute form and inside an intercepted tunnel, and no upstream sees it`, async () => {
        const plainBefore = plainHttp.requests.length;
        const plain = await RawConnection.open(proxy);
        plain.write(`POST http://127.0.0.1:${plainHttp.port}/framing HTTP/1.1\r\nHost: 127.0.0.1:${plainHttp.port}\r\n${rest}`);
        expect((await plain.readResponse()).status).toBe(400);
        plain.close();
        expect(plainHttp.requests.length).toBe(plainBefore);

        const tunnelBefore = https.paths.seen.length;
        const tunnel = await rawTunnel(https.paths.port);
        tunnel.write(`POST /v1/framing HTTP/1.1\r\nHost: 127.0.0.1:${https.paths.port}\r\n${rest}`);
        expect((await tunnel.readResponse()).status).toBe(400);
        tunnel.close();
        expect(https.paths.seen.length).toBe(tunnelBefore);
      });
    }

    it("refuses Transfer-Encoding on an HTTP/1.0 request, which cannot carry it", async () => {
      const before = plainHttp.requests.length;
      const client = await RawConnection.open(proxy);
      client.write(`POST http://127.0.0.1:${plainHttp.port}/old HTTP/1.0\r\nHost: 127.0.0.1:${plainHttp.port}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
      expect((await client.readResponse()).status).toBe(400);
      client.close();
      expect(plainHttp.requests.length).toBe(before);
    });

    it("forwards a chunked body of any method with its own framing, so the upstream reads exactly that body", async () => {
      const before = https.paths.seen.length;
      const tunnel = await rawTunnel(https.paths.port);
      for (const method of ["GET", "DELETE", "OPTIONS"]) {
        tunnel.write(`${method} /v1/body HTTP/1.1\r\nHost: 127.0.0.1:${https.paths.port}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n`);
        expect((await tunnel.readResponse()).status).toBe(200);
      }
      tunnel.close();
      expect(https.paths.seen.slice(before).map((r) => `${r.method} ${r.url} ${r.body}`)).toEqual([
        "GET /v1/body hello world",
        "DELETE /v1/body hello world",
        "OPTIONS /v1/body hello world",
      ]);
    });

    it("does not complete a request whose body the agent cut short, nor reuse its upstream connection", async () => {
      const before = https.paths.seen.length;
      const cutBefore = https.paths.cutShort.length;
      const tunnel = await rawTunnel(https.paths.port);
      tunnel.write(`POST /v1/cut HTTP/1.1\r\nHost: 127.0.0.1:${https.paths.port}\r\nContent-Length: 100\r\n\r\nonly ten b`);
      await eventually(() => (https.paths.begun.includes("POST /v1/cut") ? true : undefined), "the cut request to reach the upstream");
      tunnel.close();
      await eventually(() => (https.paths.cutShort.length > cutBefore ? true : undefined), "the upstream to see the cut request go away");
      const next = await rawTunnel(https.paths.port);
      next.write(`GET /v1/after HTTP/1.1\r\nHost: 127.0.0.1:${https.paths.port}\r\n\r\n`);
      expect((await next.readResponse()).body).toBe(`upstream ${https.paths.port} saw GET /v1/after\n`);
      next.close();
      expect(https.paths.seen.slice(before).map((r) => r.url)).toEqual(["/v1/after"]);
    });
  });

  describe("tunnels", () => {
    it("refuses plain HTTP (a Host-spoofing DoH query) in a CONNECT tunnel to a route without inspection; the upstream gets no bytes", async () => {
      const { response, tunnel } = await connectThrough(proxy, `127.0.0.1:${relays.plain.port}`);
      expect(response.status).toBe(200);
      tunnel.write("GET /dns-query?dns=AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB HTTP/1.1\r\nHost: evil.example\r\nAccept: application/dns-message\r\n\r\n");
      const answer = await tunnel.readResponse().catch(() => null);
      if (answer) expect(answer.status).toBe(403);
      await tunnel.closed();
      expect(relays.plain.total()).toBe(0);
    });

    it("refuses CONNECT to port 80 of a route that names no port (443 only)", async () => {
      const { response, tunnel } = await connectThrough(proxy, "127.0.0.1:80");
      expect(response.status).toBe(403);
      expect(response.headers["x-bot-bottle-reason"]).toBe("port 80 is not declared for 127.0.0.1");
      tunnel.close();
      const client = await RawConnection.open(proxy);
      client.write("GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      const answer = await client.readResponse();
      expect(answer.status).toBe(403);
      expect(answer.headers["x-bot-bottle-reason"]).toBe("port 80 is not declared for 127.0.0.1");
      client.close();
    });

    it("passes a passthrough tunnel whose TLS server name is the CONNECT host, even after a HelloRetryRequest", async () => {
      for (const [relay, upstream] of [
        [relays.passthrough, https.tunnels],
        [relays.hrr, https.hrr],
      ] as const) {
        const before = upstream.seen.length;
        const tunnel = await open(`localhost:${relay.port}`, { host: "localhost", port: relay.port, ca: pki.caPem, servername: "localhost" });
        const answer = await tunnel.request("/through", { headers: { Host: "localhost" } });
        expect(answer.body).toBe(`upstream ${upstream.port} saw GET /through\n`);
        expect(tunnel.socket.getPeerCertificate().issuer.CN).not.toMatch(/bot-bottle egress CA/);
        tunnel.close();
        expect(upstream.seen.length).toBe(before + 1);
      }
    });

    it("reads a ClientHello split over many TLS records and TCP segments whole", async () => {
      const hello = clientHello({ serverNames: ["localhost"], recordSize: 40 });
      const before = relays.passthrough.received.length;
      const { response, tunnel } = await connectThrough(proxy, `localhost:${relays.passthrough.port}`);
      expect(response.status).toBe(200);
      for (let at = 0; at < hello.length; at += 7) tunnel.write(hello.subarray(at, at + 7));
      const forwarded = await eventually(() => {
        const bytes = Buffer.concat(relays.passthrough.received.slice(before).flat());
        return bytes.length >= hello.length ? bytes : undefined;
      }, "the hello to reach the upstream");
      expect(forwarded.subarray(0, hello.length).equals(hello)).toBe(true);
      tunnel.close();
    });

    const fronting: [string, string, (port: number) => Buffer | tls.ConnectionOptions][] = [
      ["names another tenant of the address (domain fronting)", "localhost", (port) => ({ host: "127.0.0.1", port, ca: pki.caPem, servername: "other-tenant.example" })],
      ["carries no server name for a named route", "localhost", (port) => ({ host: "127.0.0.1", port, ca: pki.caPem, servername: "" })],
      ["names a host on a route declared by IP literal", "127.0.0.1", (port) => ({ host: "127.0.0.1", port, ca: pki.caPem, servername: "other-tenant.example" })],
      ["carries two server names", "localhost", () => clientHello({ extensions: [serverNameExtension(["localhost", "other-tenant.example"])] })],
      ["carries two server_name extensions", "localhost", () => clientHello({ serverNames: ["localhost"], extensions: [serverNameExtension(["other-tenant.example"])] })],
      [
        "hides its real server name in an encrypted client hello",
        "localhost",
        () => clientHello({ serverNames: ["localhost"], extensions: [{ type: EXTENSION.encryptedClientHello, data: randomBytes(90) }] }),
      ],
      ["is not TLS at all (SSH)", "localhost", () => Buffer.from("SSH-2.0-OpenSSH_9.2\r\n")],
    ];
    for (const [what, host, hello] of fronting) {
      it(`refuses a tunnelled ClientHello that ${what}; the upstream gets no bytes`, async () => {
        const relay = host === "localhost" ? relays.passthrough : relays.plain;
        const before = relay.total();
        const how = hello(relay.port);
        if (Buffer.isBuffer(how)) {
          const { response, tunnel } = await connectThrough(proxy, `${host}:${relay.port}`);
          expect(response.status).toBe(200);
          tunnel.write(how);
          await tunnel.closed();
        } else {
          await expect(openTunnel(proxy, `${host}:${relay.port}`, how)).rejects.toThrow();
        }
        expect(relay.total()).toBe(before);
      });
    }

    it("refuses a second ClientHello, after a HelloRetryRequest, that names another host; the upstream gets only the first", async () => {
      const first = clientHello({ serverNames: ["localhost"], groups: [GROUP.secp384r1] });
      const before = relays.hrr.received.length;
      const { response, tunnel } = await connectThrough(proxy, `localhost:${relays.hrr.port}`);
      expect(response.status).toBe(200);
      tunnel.write(first);
      const retry = await tunnel.readBytes(5 + 4 + 2 + 32);
      expect(retry.subarray(11, 43).equals(HRR_RANDOM)).toBe(true);
      const second = clientHello({ serverNames: ["other-tenant.example"], groups: [GROUP.secp384r1], keyShares: [{ group: GROUP.secp384r1, key: p384KeyShare() }] });
      tunnel.write(Buffer.concat([CHANGE_CIPHER_SPEC, second]));
      await tunnel.closed();
      expect(Buffer.concat(relays.hrr.received.slice(before).flat()).equals(first)).toBe(true);
    });
  });

  describe("paths and matches", () => {
    const request = async (target: string) => {
      const tunnel = await rawTunnel(https.paths.port);
      tunnel.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${https.paths.port}\r\n\r\n`);
      const answer = await tunnel.readResponse();
      tunnel.close();
      return answer;
    };

    for (const target of ["/v1/..;/admin", "/v1/..%2Fadmin", "/v2/..%2fadmin", "/v1/..%5Cadmin", "/v1/%00/x", "/v2/.%2e/admin"]) {
      it(`refuses ${target}, a way to climb out of a path match`, async () => {
        const before = https.paths.seen.length;
        expect((await request(target)).status).toBe(403);
        expect(https.paths.seen.length).toBe(before);
      });
    }

    it("matches and forwards percent-encoded unreserved characters in their plain form", async () => {
      const answer = await request("/v%31/m%6Fdels?q=%41");
      expect(answer.status).toBe(200);
      expect(https.paths.seen.at(-1)!.url).toBe("/v1/models?q=%41");
    });
  });

  describe("DLP", () => {
    const post = async (port: number, body: string | Buffer, headers: Record<string, string> = {}) => {
      const tunnel = await open(`127.0.0.1:${port}`, tlsTo(port));
      const answer = await tunnel.request("/report", { method: "POST", body, headers });
      tunnel.close();
      return answer;
    };
    const asJsonEscapes = (text: string) => [...text].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("");

    it("finds a known secret spelled with JSON \\u escapes", async () => {
      const answer = await post(https.block.port, `{"note":"${asJsonEscapes(canary)}"}`, { "Content-Type": "application/json" });
      expect(answer.status).toBe(403);
      expect(answer.headers["x-bot-bottle-reason"]).toMatch(/EGRESS_SECRET_CANARY/);
    });

    it("finds a known secret sent with + for its spaces in a form body", async () => {
      const answer = await post(https.block.port, `a=1&b=${spaced.replaceAll(" ", "+")}`, { "Content-Type": "application/x-www-form-urlencoded" });
      expect(answer.status).toBe(403);
      expect(answer.headers["x-bot-bottle-reason"]).toMatch(/EGRESS_SECRET_SPACED/);
    });

    for (const [coding, compress] of [
      ["gzip", zlib.gzipSync],
      ["deflate", zlib.deflateSync],
      ["br", zlib.brotliCompressSync],
    ] as const) {
      it(`finds a known secret in a ${coding}-compressed body`, async () => {
        const answer = await post(https.block.port, compress(Buffer.from(`leak=${canary}`)), { "Content-Encoding": coding });
        expect(answer.status).toBe(403);
        expect(answer.headers["x-bot-bottle-reason"]).toMatch(/EGRESS_SECRET_CANARY/);
      });
    }

    it("refuses a body in a content coding DLP cannot read", async () => {
      const answer = await post(https.block.port, Buffer.from(`leak=${canary}`), { "Content-Encoding": "zstd" });
      expect(answer.status).toBe(415);
    });

    it("an approval of a held secret releases it for that host and route only, not for every host", async () => {
      const proposals = () => readdirSync(queue).filter((f) => f.endsWith(".proposal.json"));
      const known = proposals();
      const held = post(https.holdA.port, `token=${canary}`);
      const name = await eventually(() => proposals().find((f) => !known.includes(f)), "a hold proposal");
      const proposal = Proposal.parse(JSON.parse(readFileSync(path.join(queue, name), "utf8")));
      answerOnce(queue, { id: proposal.id, decision: "approve", decided_by: "test reviewer", decided_at: new Date().toISOString() });
      expect((await held).status).toBe(200);
      expect((await post(https.holdA.port, `token=${canary}`)).status).toBe(200);

      const elsewhere = post(https.holdB.port, `token=${canary}`);
      const second = await eventually(() => proposals().find((f) => !known.includes(f) && f !== name), "a second hold proposal, for the other host");
      const refusal = Proposal.parse(JSON.parse(readFileSync(path.join(queue, second), "utf8")));
      expect(refusal.payload).toMatchObject({ host: "127.0.0.1", port: https.holdB.port });
      answerOnce(queue, { id: refusal.id, decision: "reject", decided_by: "test reviewer", decided_at: new Date().toISOString() });
      expect((await elsewhere).status).toBe(403);
      expect(https.holdB.seen).toHaveLength(0);
    });
  });

  describe("private addresses", () => {
    let strict: Awaited<ReturnType<typeof startEgress>>;
    beforeAll(async () => {
      strict = await startEgress({}, "strict.sock");
    });
    afterAll(async () => {
      await strict?.daemon.stop();
    });

    it("refuses a declared name that resolves to loopback, both as a tunnel and when intercepted", async () => {
      const before = relays.passthrough.received.length;
      const tunnelled = await openTunnel(strict.endpoint, `localhost:${relays.passthrough.port}`, { ca: pki.caPem, servername: "localhost" });
      expect(tunnelled).toMatchObject({ ok: false, status: 403, reason: expect.stringMatching(/^refused to connect: localhost resolves to (127\.0\.0\.1|::1), a loopback/) });
      expect(relays.passthrough.received.length).toBe(before);
      const connected = await openTunnel(strict.endpoint, `localhost:${https.tunnels.port}`, { ca: caPem, servername: "localhost" });
      if (!connected.ok) throw new Error(`CONNECT refused: ${connected.reason}`);
      const answer = await connected.tunnel.request("/anything", { headers: { Host: `localhost:${https.tunnels.port}` } });
      expect(answer.status).toBe(403);
      expect(answer.headers["x-bot-bottle-reason"]).toMatch(/^refused to connect: localhost resolves to (127\.0\.0\.1|::1), a loopback/);
      connected.tunnel.close();
    });

    it("refuses a declared loopback literal unless the allowed networks admit it, and never connects", async () => {
      const before = relays.plain.received.length;
      const { response, tunnel } = await connectThrough(strict.endpoint, `127.0.0.1:${relays.plain.port}`);
      expect(response.status).toBe(403);
      expect(response.headers["x-bot-bottle-reason"]).toMatch(/^refused to connect: 127\.0\.0\.1 is a loopback, private, link-local or reserved address/);
      tunnel.close();
      const plainBefore = plainHttp.connections;
      const client = await RawConnection.open(strict.endpoint);
      client.write(`GET http://127.0.0.1:${plainHttp.port}/ HTTP/1.1\r\nHost: 127.0.0.1:${plainHttp.port}\r\n\r\n`);
      const answer = await client.readResponse();
      expect(answer.status).toBe(403);
      expect(answer.headers["x-bot-bottle-reason"]).toMatch(/^refused to connect: 127\.0\.0\.1 is a loopback/);
      client.close();
      expect(relays.plain.received.length).toBe(before);
      expect(plainHttp.connections).toBe(plainBefore);
    });
  });

  it("kept the token and the secrets out of its decision log", () => {
    const log = egress.lines.stdout.join("\n") + egress.lines.stderr.join("\n");
    for (const secret of [token, canary, spaced]) expect(log).not.toContain(secret);
  });
});
