import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { Engine } from "../engine/engine.js";
import { log } from "../log.js";
import { guardHttpPost } from "./envelope-guard.js";
import { allowedHostnames, hostAllowed } from "./host-header.js";
import { createMcpServer } from "./server.js";
import { bearerMatches } from "./token.js";

const MCP_PATH = "/mcp";
/** A session with no request open for this long is closed (its client went away without a DELETE). */
const SESSION_IDLE_MS = 30 * 60_000;

export interface HttpServeOptions {
  host: string;
  port: number;
  token: string;
  /** Ask the client's human about supervise requests (elicitation), where the client supports it. */
  elicit?: boolean;
}

interface Session {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  openRequests: number;
  idleSince: number;
}

/** A running Streamable HTTP server; `close` ends every session (cancelling calls in flight). */
export interface HttpMcpServer {
  url: string;
  close(): Promise<void>;
}

const jsonRpcError = (res: http.ServerResponse, status: number, message: string, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
};

/**
 * Streamable HTTP with one McpServer per session. Every request must name
 * this machine in its Host header and carry the bearer token.
 */
export async function serveHttp(engine: Engine, options: HttpServeOptions): Promise<HttpMcpServer> {
  const allowed = allowedHostnames(options.host);
  const sessions = new Map<string, Session>();

  const closeSession = async (id: string, why: string) => {
    const session = sessions.get(id);
    if (!session) return;
    sessions.delete(id);
    log.info({ session: id }, `MCP session closed (${why})`);
    await session.server.close().catch(() => undefined);
  };

  /** `body`: a POST's body, already read and checked by the envelope guard. */
  const serveInSession = async (session: Session, req: http.IncomingMessage, res: http.ServerResponse, body: unknown) => {
    session.openRequests++;
    res.once("close", () => {
      session.openRequests--;
      session.idleSince = Date.now();
    });
    await session.transport.handleRequest(req, res, body);
  };

  const openSession = async (req: http.IncomingMessage, res: http.ServerResponse, body: unknown) => {
    const server = createMcpServer(engine, { elicit: options.elicit ?? false });
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, session);
        log.info({ session: id }, "MCP session opened");
      },
    });
    const session: Session = { transport, server, openRequests: 0, idleSince: Date.now() };
    transport.onclose = () => {
      if (transport.sessionId) void closeSession(transport.sessionId, "closed by the client");
    };
    await server.connect(transport);
    await serveInSession(session, req, res, body);
    // Anything but an initialize request was refused by the transport: nothing to keep.
    if (!transport.sessionId) await server.close();
  };

  const httpServer = http.createServer((req, res) => {
    const handle = async () => {
      if (!hostAllowed(req.headers.host, allowed)) {
        log.warn({ host: req.headers.host }, "refused an MCP request with a foreign Host header");
        return jsonRpcError(res, 403, `Host ${JSON.stringify(req.headers.host ?? "")} is not this server's; connect to ${allowed[0]}`);
      }
      if (new URL(req.url ?? "/", "http://localhost").pathname !== MCP_PATH) {
        return jsonRpcError(res, 404, `not found: the MCP endpoint is ${MCP_PATH}`);
      }
      if (!bearerMatches(req.headers.authorization, options.token)) {
        log.warn("refused an MCP request without the right bearer token");
        return jsonRpcError(res, 401, "missing or wrong bearer token: send Authorization: Bearer <the token bot-bottle mcp --http printed>", {
          "www-authenticate": 'Bearer realm="bot-bottle"',
        });
      }
      // A malformed message is answered by the guard, in a session or not; GET and DELETE carry none.
      let body: unknown;
      if (req.method === "POST") {
        const checked = await guardHttpPost(req, res);
        if (!checked) return;
        body = checked.body;
      }
      const sessionId = req.headers["mcp-session-id"];
      if (typeof sessionId === "string") {
        const session = sessions.get(sessionId);
        if (!session) return jsonRpcError(res, 404, "unknown or expired MCP session: initialize a new one");
        return serveInSession(session, req, res, body);
      }
      if (req.method !== "POST") return jsonRpcError(res, 400, "no MCP session: POST an initialize request first");
      return openSession(req, res, body);
    };
    handle().catch((err: unknown) => {
      log.error({ err }, "MCP HTTP request failed");
      if (!res.headersSent) jsonRpcError(res, 500, "internal error; see the server log");
      else res.end();
    });
  });

  const sweep = setInterval(() => {
    for (const [id, session] of sessions) {
      if (session.openRequests === 0 && Date.now() - session.idleSince > SESSION_IDLE_MS) void closeSession(id, "idle");
    }
  }, 60_000).unref();

  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(options.port, options.host, () => resolve());
  });
  const address = httpServer.address() as AddressInfo;
  const hostInUrl = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${hostInUrl}:${address.port}${MCP_PATH}`,
    async close() {
      clearInterval(sweep);
      const closing = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      await Promise.all([...sessions.keys()].map((id) => closeSession(id, "server shutting down")));
      httpServer.closeAllConnections();
      await closing;
    },
  };
}
