import http from "node:http";
import type net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { STRICT_PARSER } from "./framing.js";
import type { LeafCache } from "./leaf-certs.js";
import { refuseSocket } from "./refusal.js";
import type { Authority } from "./target.js";

// TLS termination for tunnels whose route needs to see requests (matches,
// auth, dlp). After the CONNECT is allowed, egress answers the agent's TLS
// handshake itself with a leaf for the CONNECT target signed by the bottle CA,
// then reads plain HTTP/1.1 requests out of the tunnel with an ordinary HTTP
// server that listens nowhere: each decrypted connection is handed to it. Every
// request is then judged like a plain-HTTP one, against the CONNECT target.

const HANDSHAKE_TIMEOUT_MS = 15_000;
/** Idle keep-alive connections from the agent are kept this long. */
const KEEP_ALIVE_TIMEOUT_MS = 60_000;

export type InterceptedHandler = (req: http.IncomingMessage, res: http.ServerResponse, target: Authority) => void;

export class Interceptor {
  readonly #server: http.Server;
  readonly #targets = new WeakMap<object, Authority>();

  constructor(
    private readonly leaves: LeafCache,
    handle: InterceptedHandler,
    private readonly onFailure: (target: Authority, reason: string) => void,
  ) {
    // No overall request deadline: a request DLP holds for review, or a long upload, may take a while.
    this.#server = http.createServer({ ...STRICT_PARSER, requestTimeout: 0, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, (req, res) => {
      const target = this.#targets.get(req.socket);
      if (!target) {
        req.socket.destroy();
        return;
      }
      handle(req, res, target);
    });
    this.#server.on("upgrade", (req: http.IncomingMessage, socket: Duplex) => {
      const target = this.#targets.get(req.socket);
      if (target) this.onFailure(target, "protocol upgrade (WebSocket) refused");
      refuseSocket(socket, "501 Not Implemented", "protocol upgrades (WebSocket) are not proxied on inspected routes");
    });
    this.#server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
      if (!socket.writable || error.code === "ECONNRESET") {
        socket.destroy();
        return;
      }
      refuseSocket(socket, "400 Bad Request", `malformed request (${error.code ?? error.message})`);
    });
  }

  /**
   * Takes over a client socket whose CONNECT to `target` was allowed: mints
   * (or reuses) the leaf first, so a failure can still be answered in HTTP,
   * then confirms the tunnel and starts TLS inside it.
   */
  async take(client: Duplex, head: Buffer, target: Authority): Promise<void> {
    let secureContext: tls.SecureContext;
    try {
      secureContext = await this.leaves.contextFor(target.host);
    } catch (error) {
      const reason = `cannot mint a certificate for ${target.host.value}: ${(error as Error).message}`;
      this.onFailure(target, reason);
      refuseSocket(client, "502 Bad Gateway", reason);
      return;
    }
    if (client.destroyed) return;
    client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (head.length > 0) client.unshift(head);

    const secure = new tls.TLSSocket(client as net.Socket, {
      isServer: true,
      secureContext,
      // HTTP/2 is not terminated here: offering only http/1.1 makes clients fall back to it.
      ALPNProtocols: ["http/1.1"],
      // The agent must ask for the host it CONNECTed to; anything else is a confused or crafted client.
      SNICallback: (servername, done) => {
        if (target.host.kind === "name" && servername.toLowerCase() === target.host.value) done(null, secureContext);
        else done(new Error(`TLS server name ${servername.slice(0, 100)} does not match CONNECT target ${target.host.value}`), undefined);
      },
    });
    this.#targets.set(secure, target);
    let established = false;
    const handshake = setTimeout(() => secure.destroy(new Error("TLS handshake timed out")), HANDSHAKE_TIMEOUT_MS);
    secure.once("secure", () => {
      established = true;
      clearTimeout(handshake);
    });
    secure.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(handshake);
      if (error.code === "ERR_SSL_HTTP_REQUEST") {
        // Plain HTTP where TLS was expected: the client can still read a refusal in HTTP.
        const reason = "plain HTTP inside a CONNECT tunnel to an inspected route; send http:// requests without a tunnel";
        this.onFailure(target, reason);
        refuseSocket(client, "403 Forbidden", reason);
        return;
      }
      if (!established) this.onFailure(target, `TLS handshake with the agent failed: ${error.message}`);
      secure.destroy();
      client.destroy();
    });
    secure.on("close", () => client.destroy());
    this.#server.emit("connection", secure);
  }
}
