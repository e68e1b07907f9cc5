import http from "node:http";
import type { AddressInfo } from "node:net";
import sshpk from "sshpk";

// A STAND-IN for a Gitea forge (no Gitea runs here): an HTTP server on
// 127.0.0.1 answering the deploy-key endpoints of Gitea's API the way Gitea
// does (routers/api/v1/repo/key.go): the same paths, bodies, statuses and
// error body shape ({"message", "url"}). Every request must carry
// `Authorization: token <TOKEN>` (or `Bearer`, which Gitea also takes).
// One difference, on purpose: Gitea answers 204 to DELETE of an id it does
// not have; this stand-in answers 404, the answer its API documents, so the
// engine is shown to take both as "gone".

/** A deploy key as Gitea's API returns it (api.DeployKey), without the repository object. */
export interface StandInDeployKey {
  id: number;
  key_id: number;
  key: string;
  url: string;
  title: string;
  fingerprint: string;
  created_at: string;
  read_only: boolean;
}

export interface ForgeCall {
  method: string;
  /** Path and query, as requested. */
  path: string;
  /** The Authorization header as received (null when absent). */
  authorization: string | null;
  /** The parsed JSON body (null when none). */
  body: unknown;
  status: number;
}

export interface StandInForge {
  /** The API root to give a bottle's `api_url`: http://127.0.0.1:PORT/api/v1. */
  apiUrl: string;
  /** Every request so far, in order. */
  calls(): ForgeCall[];
  /** The deploy keys of `owner/repo` now. */
  keys(ownerRepo: string): StandInDeployKey[];
  /** Adds a key as someone else would (to make a collision). */
  addKey(ownerRepo: string, key: { title: string; key: string; read_only: boolean }): StandInDeployKey;
  close(): Promise<void>;
}

export interface StandInForgeOptions {
  /** The one token the forge accepts. */
  token: string;
  /** Repositories that exist, as owner/repo. */
  repos: string[];
  /**
   * Awaited after a key is created and before the 201 is sent: a test can
   * hold the answer back (to kill a start between the two).
   */
  afterCreate?: (key: StandInDeployKey) => Promise<void>;
}

const SWAGGER_URL = "http://127.0.0.1/api/swagger";
const KEYS_PATH = /^\/api\/v1\/repos\/([^/]+)\/([^/]+)\/keys(?:\/([^/]+))?$/;

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function fingerprintOf(publicKey: string): string | null {
  try {
    return sshpk.parseKey(publicKey, "ssh").fingerprint("sha256").toString();
  } catch {
    return null;
  }
}

export async function startStandInForge(options: StandInForgeOptions): Promise<StandInForge> {
  const repos = new Map(options.repos.map((name) => [name, [] as StandInDeployKey[]]));
  const calls: ForgeCall[] = [];
  let nextId = 1;
  let apiUrl = "";

  const add = (ownerRepo: string, option: { title: string; key: string; read_only: boolean }): StandInDeployKey => {
    const key: StandInDeployKey = {
      id: nextId,
      key_id: 1000 + nextId,
      key: option.key.trim(),
      url: `${apiUrl}/repos/${ownerRepo}/keys/${nextId}`,
      title: option.title,
      fingerprint: fingerprintOf(option.key)!,
      created_at: new Date().toISOString(),
      read_only: option.read_only,
    };
    nextId++;
    repos.get(ownerRepo)!.push(key);
    return key;
  };

  const server = http.createServer(async (req, res) => {
    const text = await readBody(req);
    let body: unknown = null;
    try {
      body = text === "" ? null : JSON.parse(text);
    } catch {
      body = text;
    }
    const call: ForgeCall = { method: req.method ?? "", path: req.url ?? "", authorization: req.headers.authorization ?? null, body, status: 0 };
    calls.push(call);
    const answer = (status: number, payload?: unknown) => {
      call.status = status;
      if (payload === undefined) {
        res.writeHead(status).end();
      } else {
        res.writeHead(status, { "content-type": "application/json;charset=utf-8" }).end(JSON.stringify(payload));
      }
    };
    const apiError = (status: number, message: string) => answer(status, { message, url: SWAGGER_URL });
    const notFound = () => answer(404, { message: "The target couldn't be found.", url: SWAGGER_URL, errors: [] });

    const [scheme, token] = (call.authorization ?? "").split(" ");
    if (!call.authorization) return apiError(401, "token is required");
    if (!/^(token|bearer)$/i.test(scheme ?? "") || token !== options.token) return apiError(401, "user does not exist");

    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const match = KEYS_PATH.exec(url.pathname);
    const ownerRepo = match ? `${decodeURIComponent(match[1]!)}/${decodeURIComponent(match[2]!)}` : "";
    const keys = repos.get(ownerRepo);
    if (!match || !keys) return notFound();
    const id = match[3];

    if (req.method === "GET" && id === undefined) {
      const fingerprint = url.searchParams.get("fingerprint");
      return answer(200, keys.filter((k) => !fingerprint || k.fingerprint === fingerprint));
    }
    if (req.method === "POST" && id === undefined) {
      const option = body as { title?: unknown; key?: unknown; read_only?: unknown } | null;
      if (typeof option?.title !== "string" || option.title === "") return apiError(422, "[Title]: Required");
      if (typeof option.key !== "string" || option.key === "") return apiError(422, "[Key]: Required");
      const fingerprint = fingerprintOf(option.key);
      if (!fingerprint) return apiError(422, "Invalid key content: no key found");
      if (keys.some((k) => k.fingerprint === fingerprint)) return apiError(422, "This key has already been added to this repository");
      if (keys.some((k) => k.title === option.title)) return apiError(422, "A key with the same name already exists");
      const created = add(ownerRepo, { title: option.title, key: option.key, read_only: option.read_only === true });
      await options.afterCreate?.(created);
      return answer(201, created);
    }
    if (id !== undefined && /^[0-9]+$/.test(id) && (req.method === "GET" || req.method === "DELETE")) {
      const index = keys.findIndex((k) => k.id === Number(id));
      if (index < 0) return notFound();
      if (req.method === "GET") return answer(200, keys[index]);
      keys.splice(index, 1);
      return answer(204);
    }
    return apiError(405, "Method Not Allowed");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;

  return {
    apiUrl,
    calls: () => calls.map((call) => ({ ...call })),
    keys: (ownerRepo) => [...(repos.get(ownerRepo) ?? [])],
    addKey: add,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
