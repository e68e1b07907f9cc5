import https from "node:https";
import net, { type AddressInfo } from "node:net";
import type { TestPki } from "../../../bench/egress-fixtures.js";

// Stand-ins for internet hosts on loopback, for the egress suites that run
// the egress daemon as a plain process: an HTTPS server that records what
// reaches it and echoes the body back, and a relay in front of any server
// that counts the raw bytes egress sends it (so a test can tell that a
// refused tunnel delivered nothing at all).

export interface SeenRequest {
  port: number;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface HttpsUpstream {
  server: https.Server;
  port: number;
  /** Requests whose body arrived whole, in order. */
  seen: SeenRequest[];
  /** Requests whose connection went away before their body was complete. */
  cutShort: SeenRequest[];
  /** Request lines whose head has arrived (body or not), in order. */
  begun: string[];
}

/** An HTTPS server answering `upstream <port> saw <method> <url>` followed by the request body it received. */
export async function startHttpsUpstream(pki: TestPki, options: Pick<https.ServerOptions, "ecdhCurve"> = {}): Promise<HttpsUpstream> {
  const seen: SeenRequest[] = [];
  const cutShort: SeenRequest[] = [];
  const begun: string[] = [];
  const server = https.createServer({ key: pki.serverKeyPem, cert: pki.serverCertPem, ...options }, (req, res) => {
    begun.push(`${req.method} ${req.url}`);
    const chunks: Buffer[] = [];
    const port = (req.socket.address() as AddressInfo).port;
    const record = () => ({ port, method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("aborted", () => cutShort.push(record()));
    req.on("end", () => {
      const request = record();
      seen.push(request);
      res.end(`upstream ${port} saw ${request.method} ${request.url}\n${request.body}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, seen, cutShort, begun };
}

export interface CountingRelay {
  port: number;
  /** Every byte any connection delivered, in arrival order per connection. */
  received: Buffer[][];
  total(): number;
  close(): void;
}

/** A TCP relay to `targetPort` on loopback that keeps a copy of the bytes it is sent. */
export async function startCountingRelay(targetPort: number): Promise<CountingRelay> {
  const received: Buffer[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const chunks: Buffer[] = [];
    received.push(chunks);
    const target = net.connect(targetPort, "127.0.0.1");
    for (const socket of [client, target]) {
      sockets.add(socket);
      socket.on("error", () => socket.destroy());
      socket.on("close", () => sockets.delete(socket));
    }
    client.on("data", (chunk: Buffer) => chunks.push(chunk));
    client.pipe(target).pipe(client);
    client.on("close", () => target.destroy());
    target.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    total: () => received.flat().reduce((sum, chunk) => sum + chunk.length, 0),
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

export function closeServer(server: https.Server): void {
  server.closeAllConnections();
  server.close();
}
