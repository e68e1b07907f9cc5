import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RoutesFile } from "../../../sidecars/egress/routes.js";
import { DaemonProcess } from "./daemon-process.js";
import { FakeUpstream, unusedPort } from "./fake-upstream.js";
import { type Endpoint, get, RawConnection } from "./raw-http.js";

// The bundled forwarder carrying loopback TCP connections to Unix sockets, in
// front of a real bundled egress, as it does inside an agent container.

describe("forwarder", () => {
  let dir: string;
  let upstream: FakeUpstream;
  let egress: DaemonProcess;
  let forwarder: DaemonProcess;
  let egressPort: Endpoint;
  let laterPort: Endpoint;
  const laterSocket = (): string => join(dir, "later.sock");

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "bot-bottle-forwarder-"));
    upstream = await FakeUpstream.start();
    const routes: RoutesFile = {
      version: 1,
      log: 1,
      routes: [{ host: "127.0.0.1", port: upstream.port, tls_passthrough: false, matches: null, auth: null, dlp: null }],
    };
    writeFileSync(join(dir, "routes.json"), JSON.stringify(routes));
    // The upstream is on loopback, which egress refuses unless told to allow it.
    egress = new DaemonProcess("egress", {
      env: { EGRESS_ROUTES: join(dir, "routes.json"), EGRESS_SOCKET: join(dir, "egress.sock"), EGRESS_ALLOW_NETWORKS: "127.0.0.0/8" },
    });
    await egress.waitForLine("stderr", /egress: ready on/);

    egressPort = { host: "127.0.0.1", port: await unusedPort() };
    laterPort = { host: "127.0.0.1", port: await unusedPort() };
    forwarder = new DaemonProcess("forwarder", {
      args: [`127.0.0.1:${egressPort.port}=${join(dir, "egress.sock")}`, `127.0.0.1:${laterPort.port}=${laterSocket()}`],
    });
    await forwarder.waitForLine("stdout", /^forwarder ready$/);
  });

  afterAll(async () => {
    await forwarder.stop();
    await egress.stop();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("carries the readiness probe and a proxied request from its TCP port to the egress Unix socket", async () => {
    expect(await get(egressPort, "/__bot-bottle/health")).toMatchObject({ status: 200, body: "ok\n" });
    const client = await RawConnection.open(egressPort);
    const authority = `127.0.0.1:${upstream.port}`;
    client.write(`GET http://${authority}/via-forwarder HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
    expect(await client.readResponse()).toMatchObject({ status: 200, body: "upstream saw GET /via-forwarder (0 body bytes)" });
    client.close();
  });

  it("closes connections while its socket is missing, and carries them once the socket appears", async () => {
    const early = await RawConnection.open(laterPort);
    await early.closed();
    await forwarder.waitForLine("stderr", /later\.sock: ENOENT/);

    const echo = net.createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(laterSocket(), resolve));
    try {
      const client = await RawConnection.open(laterPort);
      client.write("ping");
      expect(await client.read(4)).toBe("ping");
      client.close();
      await forwarder.waitForLine("stderr", /later\.sock: reachable again/);
    } finally {
      await new Promise((resolve) => echo.close(resolve));
    }
  });

  it("ignores SIGHUP and exits 0 on SIGTERM", async () => {
    const spare = new DaemonProcess("forwarder", { env: { BOT_BOTTLE_FORWARD: `127.0.0.1:${await unusedPort()}=${join(dir, "egress.sock")}` } });
    await spare.waitForLine("stdout", /^forwarder ready$/);
    spare.child.kill("SIGHUP");
    await spare.waitForLine("stderr", /SIGHUP ignored/);
    expect(spare.child.exitCode).toBeNull();
    expect(await spare.stop()).toEqual({ code: 0, signal: null });
  });

  it("reads its mappings from BOT_BOTTLE_FORWARD when given no arguments", async () => {
    const port = await unusedPort();
    const fromEnv = new DaemonProcess("forwarder", {
      env: { BOT_BOTTLE_FORWARD: `127.0.0.1:${port}=${join(dir, "egress.sock")},127.0.0.1:${await unusedPort()}=${laterSocket()}` },
    });
    await fromEnv.waitForLine("stdout", /^forwarder ready$/);
    expect((await get({ host: "127.0.0.1", port }, "/__bot-bottle/health")).status).toBe(200);
    await fromEnv.stop();
  });

  it("refuses to listen anywhere but loopback", async () => {
    const refused = new DaemonProcess("forwarder", { args: [`0.0.0.0:${await unusedPort()}=${join(dir, "egress.sock")}`] });
    expect(await refused.exited).toEqual({ code: 2, signal: null });
    expect(refused.lines.stderr.join("\n")).toContain("0.0.0.0 is not a loopback address");
  });
});
