import http from "node:http";
import net from "node:net";

// Byte-level HTTP/1.1 for talking to the proxy exactly as a client would:
// CONNECT, absolute-form requests and several requests on one connection.

export type Endpoint = { path: string } | { host: string; port: number };

export interface RawResponse {
  status: number;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: string;
}

const WAIT_MS = 15_000;

export class RawConnection {
  readonly socket: net.Socket;
  #buffer = Buffer.alloc(0);
  #ended = false;
  #wake: (() => void) | null = null;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake?.();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake?.();
    });
    socket.on("error", () => socket.destroy());
  }

  /** Speaks raw HTTP over a socket that is already connected (a TLS socket inside a tunnel, say). */
  static wrap(socket: net.Socket): RawConnection {
    return new RawConnection(socket);
  }

  static open(endpoint: Endpoint): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = "path" in endpoint ? net.connect(endpoint.path) : net.connect(endpoint.port, endpoint.host);
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new RawConnection(socket));
      });
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Waits until `ready` finds what it needs in the buffer (or the connection ends). */
  async #until<T>(ready: () => T | null): Promise<T> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const value = ready();
      if (value !== null) return value;
      if (this.#ended) throw new Error(`connection closed; received: ${JSON.stringify(this.#buffer.toString("latin1"))}`);
      if (Date.now() > deadline) throw new Error(`timed out; received: ${JSON.stringify(this.#buffer.toString("latin1"))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()) + 1);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
  }

  /** Reads one response; after a CONNECT, a 2xx answer has no body (the tunnel follows). */
  async readResponse(options: { toConnect?: boolean } = {}): Promise<RawResponse> {
    const head = await this.#until(() => {
      const end = this.#buffer.indexOf("\r\n\r\n");
      return end < 0 ? null : end;
    });
    const lines = this.#buffer.subarray(0, head).toString("latin1").split("\r\n");
    this.#buffer = this.#buffer.subarray(head + 4);
    const status = Number(lines[0]?.split(" ")[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const tunnelOpened = options.toConnect === true && status >= 200 && status < 300;
    const length = tunnelOpened ? 0 : headers["content-length"] !== undefined ? Number(headers["content-length"]) : null;
    const body =
      length !== null
        ? await this.#until(() => (this.#buffer.length >= length ? this.#take(length) : null))
        : headers["transfer-encoding"] === "chunked"
          ? await this.#readChunked()
          : await this.#until(() => (this.#ended ? this.#take(this.#buffer.length) : null));
    return { status, headers, body };
  }

  async #readChunked(): Promise<string> {
    let body = "";
    for (;;) {
      const lineEnd = await this.#until(() => {
        const i = this.#buffer.indexOf("\r\n");
        return i < 0 ? null : i;
      });
      const size = parseInt(this.#buffer.subarray(0, lineEnd).toString("latin1"), 16);
      this.#buffer = this.#buffer.subarray(lineEnd + 2);
      const chunk = await this.#until(() => (this.#buffer.length >= size + 2 ? this.#take(size + 2) : null));
      if (size === 0) return body;
      body += chunk.slice(0, -2);
    }
  }

  /** Reads exactly `length` bytes (for connections that do not speak HTTP). */
  read(length: number): Promise<string> {
    return this.#until(() => (this.#buffer.length >= length ? this.#take(length) : null));
  }

  /** Reads exactly `length` raw bytes (TLS records, say). */
  readBytes(length: number): Promise<Buffer> {
    return this.#until(() => {
      if (this.#buffer.length < length) return null;
      const taken = this.#buffer.subarray(0, length);
      this.#buffer = this.#buffer.subarray(length);
      return taken;
    });
  }

  #take(n: number): string {
    const taken = this.#buffer.subarray(0, n).toString("utf8");
    this.#buffer = this.#buffer.subarray(n);
    return taken;
  }

  /** Resolves once the peer has closed the connection. */
  closed(): Promise<void> {
    return this.#until(() => (this.#ended ? undefined : null)) as Promise<void>;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Sends `CONNECT target` and reads the proxy's answer; on 200 the connection is a tunnel. */
export async function connectThrough(endpoint: Endpoint, target: string): Promise<{ response: RawResponse; tunnel: RawConnection }> {
  const tunnel = await RawConnection.open(endpoint);
  tunnel.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  return { response: await tunnel.readResponse({ toConnect: true }), tunnel };
}

/** A plain GET (origin-form) to an endpoint, as a readiness probe would send it. */
export function get(endpoint: Endpoint, path: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const where = "path" in endpoint ? { socketPath: endpoint.path } : { host: endpoint.host, port: endpoint.port };
    const req = http.get({ ...where, path, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers as Record<string, string>, body }));
    });
    req.on("error", reject);
  });
}
