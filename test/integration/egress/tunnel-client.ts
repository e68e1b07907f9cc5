import http from "node:http";
import net from "node:net";
import tls from "node:tls";

// A client for intercepted tunnels, as an agent's HTTP library would be:
// CONNECT through the proxy, TLS inside the tunnel, then any number of
// HTTP/1.1 requests over that one TLS connection.

export type ProxyEndpoint = { path: string } | { host: string; port: number };

export interface TunnelResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type Connected = { ok: true; tunnel: Tunnel } | { ok: false; status: number; reason: string | undefined };

/** An agent that always hands out the one TLS socket, kept alive between requests. */
class OneSocketAgent extends http.Agent {
  constructor(private readonly socket: tls.TLSSocket) {
    super({ keepAlive: true, maxSockets: 1 });
  }
  override createConnection(): net.Socket {
    return this.socket;
  }
}

export class Tunnel {
  readonly #agent: OneSocketAgent;

  constructor(
    readonly socket: tls.TLSSocket,
    /** The CONNECT target, sent as the Host header unless a request sets its own. */
    readonly target: string,
  ) {
    this.#agent = new OneSocketAgent(socket);
  }

  request(path: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<TunnelResponse> {
    return new Promise((resolve, reject) => {
      const headers = { Host: this.target, ...options.headers };
      const method = options.method ?? (options.body ? "POST" : "GET");
      const req = http.request({ agent: this.#agent, path, method, headers, setHost: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      });
      req.on("error", reject);
      req.end(options.body);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** CONNECTs to `target` and starts TLS in the tunnel; a refused CONNECT comes back as its status and reason. */
export function openTunnel(
  proxy: ProxyEndpoint,
  target: string,
  tlsOptions: tls.ConnectionOptions,
): Promise<Connected> {
  return new Promise((resolve, reject) => {
    const where = "path" in proxy ? { socketPath: proxy.path } : { host: proxy.host, port: proxy.port };
    const req = http.request({ ...where, method: "CONNECT", path: target, headers: { Host: target }, agent: false });
    req.on("connect", (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        resolve({ ok: false, status: res.statusCode ?? 0, reason: res.headers["x-bot-bottle-reason"] as string | undefined });
        return;
      }
      const secure = tls.connect({ ...tlsOptions, socket });
      secure.once("secureConnect", () => resolve({ ok: true, tunnel: new Tunnel(secure, target) }));
      secure.once("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}
