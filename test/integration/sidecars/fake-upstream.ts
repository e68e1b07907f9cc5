import http from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";

// A loopback HTTP server standing in for an internet host: it records every
// connection and request it sees and answers with what it received.

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export class FakeUpstream {
  readonly requests: SeenRequest[] = [];
  connections = 0;
  readonly #server: http.Server;

  private constructor(server: http.Server) {
    this.#server = server;
    server.on("connection", () => this.connections++);
  }

  static start(): Promise<FakeUpstream> {
    const server = http.createServer();
    const upstream = new FakeUpstream(server);
    server.on("request", (req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (chunk: string) => (body += chunk));
      req.on("end", () => {
        upstream.requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
        const answer = `upstream saw ${req.method} ${req.url} (${body.length} body bytes)`;
        res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(answer) });
        res.end(answer);
      });
    });
    return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(upstream)));
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/** A loopback port that was free a moment ago: connections to it are refused. */
export function unusedPort(): Promise<number> {
  const server = net.createServer();
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    }),
  );
}
