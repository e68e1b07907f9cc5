import { spawn } from "node:child_process";
import type http from "node:http";
import type { GateConfig, GateRepo } from "./config.js";
import { gitEnv, type MirrorPlaces, refreshMirror } from "./mirror.js";

// Git's smart HTTP protocol, served to the agent's real git through the
// forwarder: `http://127.0.0.1:9418/<name>.git`. Smart HTTP rather than
// git:// because every request is an HTTP request the gate can route and
// refuse by path (one repository per declared name, nothing else), because
// the agent's git speaks it with no extra setup, and because git's own
// `http-backend` implements the protocol (v0, v2, gzip bodies): the gate only
// adds what it must, refreshing the mirror from upstream before a fetch's
// advertisement and answering in git's terms when it cannot.

const ROUTE = /^\/([A-Za-z0-9][A-Za-z0-9._-]*)\.git\/(info\/refs|git-upload-pack|git-receive-pack)$/;
const SERVICES = new Set(["git-upload-pack", "git-receive-pack"]);

/** A pkt-line (git's framing): 4 hex digits of length, then the data. */
const pkt = (text: string) => `${(Buffer.byteLength(text) + 4).toString(16).padStart(4, "0")}${text}`;

function refuse(res: http.ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-cache" });
  res.end(`git-gate: ${message}\n`);
}

/** An advertisement that is an error, which git prints as `fatal: remote error: ...`. */
function advertiseError(res: http.ServerResponse, service: string, message: string): void {
  res.writeHead(200, { "Content-Type": `application/x-${service}-advertisement`, "Cache-Control": "no-cache" });
  res.end(`${pkt(`# service=${service}\n`)}0000${pkt(`ERR git-gate: ${message}\n`)}`);
}

export interface SmartHttp {
  handle(req: http.IncomingMessage, res: http.ServerResponse): void;
}

/**
 * Serves the configured repositories. `hookEnv` is what the pre-receive hook
 * needs besides the repository's own git environment (where its config, the
 * keys and the queue are).
 */
export function smartHttp(config: GateConfig, places: MirrorPlaces, hookEnv: NodeJS.ProcessEnv, say: (message: string) => void): SmartHttp {
  const repos = new Map(config.repos.map((repo) => [repo.name, repo]));
  /** Refreshes of one mirror run one after another. */
  const refreshing = new Map<string, Promise<void>>();
  const refresh = (repo: GateRepo): Promise<void> => {
    const next = (refreshing.get(repo.name) ?? Promise.resolve()).catch(() => undefined).then(() => refreshMirror(places, repo));
    refreshing.set(repo.name, next);
    return next;
  };

  const backend = (req: http.IncomingMessage, res: http.ServerResponse, repo: GateRepo, pathInfo: string, query: string): void => {
    const env: NodeJS.ProcessEnv = {
      ...gitEnv(places, repo),
      ...hookEnv,
      GIT_PROJECT_ROOT: places.mirrors,
      GIT_HTTP_EXPORT_ALL: "1",
      REQUEST_METHOD: req.method ?? "GET",
      PATH_INFO: pathInfo,
      QUERY_STRING: query,
      CONTENT_TYPE: req.headers["content-type"] ?? "",
      REMOTE_USER: "agent",
      REMOTE_ADDR: "127.0.0.1",
      ...(req.headers["content-encoding"] ? { HTTP_CONTENT_ENCODING: String(req.headers["content-encoding"]) } : {}),
      ...(req.headers["git-protocol"] ? { GIT_PROTOCOL: String(req.headers["git-protocol"]) } : {}),
    };
    const cgi = spawn("git", ["http-backend"], { env, stdio: ["pipe", "pipe", "pipe"] });
    let head = Buffer.alloc(0);
    let started = false;
    cgi.stdout.on("data", (chunk: Buffer) => {
      if (started) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n") >= 0 ? head.indexOf("\r\n\r\n") : head.indexOf("\n\n");
      if (end < 0) return;
      const separator = head.indexOf("\r\n\r\n") === end ? 4 : 2;
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of head.subarray(0, end).toString("latin1").split(/\r?\n/)) {
        const colon = line.indexOf(":");
        if (colon < 0) continue;
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === "status") status = Number(value.split(" ")[0]) || 500;
        else headers[name] = value;
      }
      res.writeHead(status, headers);
      started = true;
      res.write(head.subarray(end + separator));
    });
    cgi.stderr.on("data", (chunk: Buffer) => say(`http-backend (${repo.name}): ${chunk.toString().trim()}`));
    cgi.on("close", () => {
      if (!started) refuse(res, 502, "git http-backend gave no answer");
      else res.end();
    });
    cgi.on("error", (error) => {
      if (!res.headersSent) refuse(res, 502, `cannot run git http-backend: ${error.message}`);
    });
    req.pipe(cgi.stdin);
    cgi.stdin.on("error", () => undefined);
    res.on("close", () => {
      if (!res.writableFinished) cgi.kill("SIGKILL");
    });
  };

  return {
    handle(req, res) {
      const url = new URL(req.url ?? "/", "http://git-gate");
      const route = ROUTE.exec(url.pathname);
      if (!route) return refuse(res, 404, `${url.pathname} is not a repository path (http://127.0.0.1:9418/<name>.git)`);
      const [, name, part] = route as unknown as [string, string, string];
      const repo = repos.get(name);
      if (!repo) return refuse(res, 404, `no repository ${name} in this bottle (declared: ${[...repos.keys()].join(", ") || "none"})`);
      const service = part === "info/refs" ? (url.searchParams.get("service") ?? "") : part;
      if (!SERVICES.has(service)) return refuse(res, 403, "only smart HTTP (git-upload-pack, git-receive-pack) is served");
      // A fetch sees what the upstream has now. A push is judged against the
      // mirror without asking the upstream: a push the scan refuses must never
      // contact it, and the forward's leases (hook.ts) refuse a stale one.
      if (part !== "info/refs" || service !== "git-upload-pack") return backend(req, res, repo, url.pathname, url.search.slice(1));
      refresh(repo).then(
        () => backend(req, res, repo, url.pathname, url.search.slice(1)),
        (error: Error) => {
          say(error.message);
          advertiseError(res, service, error.message);
        },
      );
    },
  };
}
