import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { bottleActivity } from "../activity/bottle-activity.js";
import type { Engine } from "../engine/engine.js";
import { BottleRecord } from "../engine/records.js";
import { log } from "../log.js";
import { listAgents } from "../manifest/agent-summary.js";
import { loadManifestIndex } from "../manifest/load.js";
import { allowedHostnames, hostAllowed } from "../mcp/host-header.js";
import { tokenMatches } from "../mcp/token.js";
import { assetPaths } from "../package-root.js";
import { decide } from "../supervise/decide.js";
import { listPending } from "../supervise/pending.js";
import { UserError } from "../user-error.js";
import { openFeed, readRuns } from "./feed.js";
import { Notices } from "./notices.js";
import { bottlePage, messagePage, overviewPage } from "./views.js";

// `bot-bottle ui`: the dashboard, on 127.0.0.1 only. Every path starts with
// a random token (`/<token>/...`, printed at start), so no other page in the
// browser and no other local user can drive it without having been given
// the URL; the Host header must name this machine (no DNS rebinding), and a
// form post must come from the dashboard's own origin. It reads and changes
// the same state the MCP server does, through the same engine.

const HOST = "127.0.0.1";
const KEEPALIVE_MS = 15_000;
const MAX_FORM_BYTES = 256 * 1024;
/** Who the audit log says decided, for decisions made here. */
const decidedBy = () => `${os.userInfo().username} (bot-bottle ui)`;

const ASSETS: Record<string, string> = { "dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8" };

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

export interface DashboardOptions {
  port: number;
  token: string;
}

export interface Dashboard {
  /** The page to open, token included. */
  url: string;
  close(): Promise<void>;
}

/** Where a form asks to be sent back to after a post without JavaScript: the overview or a bottle page. */
const Back = z
  .string()
  .regex(/^(bottle\/[A-Za-z0-9._-]+)?$/)
  .default("");
const StopForm = z.object({ back: Back });
const StartForm = z.object({ back: Back, label: z.string().trim().max(200).optional() });
const DecideForm = z.object({
  back: Back,
  decision: z.enum(["approve", "reject", "modify"]),
  notes: z.string().trim().max(2000).optional(),
  modified: z.string().optional(),
  extend_credential: z.literal("true").optional(),
});

function parseForm<T>(schema: z.ZodType<T>, body: string): T {
  const parsed = schema.safeParse(Object.fromEntries(new URLSearchParams(body)));
  if (!parsed.success) {
    throw new UserError(`the form is not valid: ${parsed.error.issues.map((i) => `${i.path.join(".") || "form"}: ${i.message}`).join("; ")}`);
  }
  return parsed.data;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_FORM_BYTES) {
        reject(new UserError(`the form is larger than ${MAX_FORM_BYTES} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

const send = (res: http.ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}) => {
  res.writeHead(status, { ...SECURITY_HEADERS, "content-type": type, ...headers });
  res.end(body);
};

export async function serveDashboard(engine: Engine, options: DashboardOptions): Promise<Dashboard> {
  const allowed = allowedHostnames(HOST);
  const notices = new Notices();
  const starts = new Set<AbortController>();
  const feeds = new Set<() => void>();
  const base = `/${options.token}/`;

  const bottleRecords = async (): Promise<{ records: BottleRecord[]; problem: string | null }> => {
    try {
      return { records: await engine.list(), problem: null };
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      // Without an engine the recorded state still says what there was.
      const records = engine.state.ids().flatMap((id) => {
        const metadata = engine.state.readMetadata(id);
        return metadata ? [BottleRecord.parse(metadata)] : [];
      });
      return { records, problem: `cannot ask the container engine about the bottles: ${error.message}` };
    }
  };

  const overview = async (notice: string | null) => {
    const { records, problem } = await bottleRecords();
    let agents = null;
    let agentsProblem: string | null = null;
    try {
      agents = listAgents(await loadManifestIndex({ home: engine.home, cwd: engine.cwd }));
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      agentsProblem = `cannot load the agents: ${error.message} (\`bot-bottle validate\` lists every problem)`;
    }
    return overviewPage({ base, home: engine.home, bottles: records, pending: listPending(engine.home), agents, agentsProblem, problem, notice, now: Date.now() });
  };

  const bottleView = async (id: string, notice: string | null) => {
    const { records, problem } = await bottleRecords();
    const record = records.find((r) => r.id === id);
    if (!record) return null;
    return bottlePage({
      base,
      record,
      pending: listPending(engine.home, id),
      activity: bottleActivity(engine.home, id).events,
      runs: await readRuns(engine, id, new Map()),
      problem,
      notice,
      now: Date.now(),
    });
  };

  /** Runs an action; answers JSON to dashboard.js and a redirect back (with the outcome) to a plain form post. */
  const act = async (req: http.IncomingMessage, res: http.ServerResponse, action: (body: string) => Promise<{ message: string; back: string }>) => {
    const wantsJson = (req.headers.accept ?? "").includes("application/json");
    let body = "";
    let outcome: { status: number; message: string; back: string };
    try {
      body = await readBody(req);
      const done = await action(body);
      outcome = { status: 200, ...done };
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      const back = Back.safeParse(new URLSearchParams(body).get("back") ?? "").data ?? "";
      outcome = { status: 400, message: error.message, back };
    }
    if (wantsJson) return send(res, outcome.status, "application/json", JSON.stringify({ ok: outcome.status === 200, message: outcome.message }));
    res.writeHead(303, { ...SECURITY_HEADERS, location: `${base}${outcome.back}?notice=${encodeURIComponent(outcome.message)}` });
    res.end();
  };

  const stop = (id: string) => async (body: string) => {
    const { back } = parseForm(StopForm, body);
    const result = await engine.stop(id);
    return { message: `stopped bottle ${id}; removed ${result.removed.join(", ") || "nothing (it was already gone)"}`, back };
  };

  const start = (agent: string) => async (body: string) => {
    const { back, label } = parseForm(StartForm, body);
    // Planning is quick and says at once what is wrong; the launch (image builds) goes on in the background.
    const prepared = await engine.plan({ agent, ...(label ? { label } : {}) });
    const { plan } = prepared;
    const controller = new AbortController();
    starts.add(controller);
    const key = `start-${plan.id}`;
    const say = (level: "info" | "error", text: string) => notices.publish({ key, level, text });
    engine
      .launch(prepared, { signal: controller.signal, onProgress: (p) => say("info", `bottle ${plan.id} (agent ${agent}) is starting: ${p.phase}: ${p.message}`) })
      .then(
        (record) => say("info", `bottle ${record.id} (agent ${agent}) is running${record.warnings.length > 0 ? `, with warnings: ${record.warnings.join("; ")}` : ""}`),
        (error: Error) => say("error", `bottle ${plan.id} (agent ${agent}) did not start: ${error.message}`),
      )
      .finally(() => starts.delete(controller));
    return { message: `starting bottle ${plan.id} of agent ${agent}; it is listed as starting until it runs`, back };
  };

  const decideRequest = (id: string) => async (body: string) => {
    const form = parseForm(DecideForm, body);
    if (form.decision === "reject" && !form.notes) throw new UserError("a rejection needs notes: say why (the agent reads them)");
    let modified: Record<string, unknown> | undefined;
    if (form.decision === "modify") {
      try {
        modified = z.record(z.string(), z.unknown()).parse(JSON.parse(form.modified ?? ""));
      } catch (error) {
        throw new UserError(`the modified request must be a JSON object, in the shape shown: ${(error as Error).message.split("\n")[0]}`);
      }
    }
    const record = decide(
      engine.home,
      { request_id: id, decision: form.decision, ...(form.notes ? { notes: form.notes } : {}), ...(modified ? { modified } : {}), ...(form.extend_credential ? { extend_credential: true } : {}) },
      decidedBy(),
    );
    const verb = record.decision === "reject" ? "rejected" : record.modified ? "approved as modified" : "approved";
    return { message: `${verb} request ${record.request_id} of bottle ${record.bottle}: ${record.summary}`, back: form.back };
  };

  const events = (req: http.IncomingMessage, res: http.ServerResponse, bottle: string | null) => {
    res.writeHead(200, { ...SECURITY_HEADERS, "content-type": "text/event-stream; charset=utf-8", connection: "keep-alive" });
    res.write("retry: 2000\n\n");
    // A poll that was under way when the page went away still sends: a write after the end would be an error event.
    const write = (text: string) => {
      if (!res.writableEnded && !res.destroyed) res.write(text);
    };
    const stopFeed = openFeed({ engine, notices, bottle, send: (event, data) => write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`) });
    const keepalive = setInterval(() => write(": keepalive\n\n"), KEEPALIVE_MS);
    const close = () => {
      if (!feeds.delete(close)) return;
      clearInterval(keepalive);
      stopFeed();
      res.end();
    };
    feeds.add(close);
    req.on("close", close);
  };

  const route = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!hostAllowed(req.headers.host, allowed)) {
      log.warn({ host: req.headers.host }, "dashboard: refused a request with a foreign Host header");
      return send(res, 403, "text/plain; charset=utf-8", `Host ${JSON.stringify(req.headers.host ?? "")} is not this server's: open the URL \`bot-bottle ui\` printed\n`);
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    const [, presented = "", ...rest] = url.pathname.split("/");
    if (!tokenMatches(decodeURIComponent(presented), options.token)) {
      log.warn("dashboard: refused a request without the right token");
      return send(res, 403, "text/plain; charset=utf-8", "missing or wrong token: open the URL `bot-bottle ui` printed\n");
    }
    if (rest.length === 0) {
      res.writeHead(308, { ...SECURITY_HEADERS, location: base });
      return res.end();
    }
    const parts = rest.map(decodeURIComponent);
    const notice = url.searchParams.get("notice");
    const html = (status: number, page: { text: string }) => send(res, status, "text/html; charset=utf-8", page.text);

    if (req.method === "GET") {
      if (parts.length === 1 && parts[0] === "") return html(200, await overview(notice));
      if (parts.length === 2 && parts[0] === "assets" && ASSETS[parts[1]!]) {
        return send(res, 200, ASSETS[parts[1]!]!, readFileSync(path.join(assetPaths.uiAssets, parts[1]!), "utf8"));
      }
      if (parts.length === 1 && parts[0] === "events") return events(req, res, url.searchParams.get("bottle"));
      if (parts.length === 2 && parts[0] === "bottle") {
        const page = await bottleView(parts[1]!, notice);
        return page ? html(200, page) : html(404, messagePage(base, "No such bottle", `This home has no bottle ${parts[1]}.`));
      }
      return html(404, messagePage(base, "Not found", "The dashboard has no such page."));
    }
    if (req.method === "POST") {
      // A form on another site could post here if it knew the token; the browser says where a post comes from.
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `http://${req.headers.host}`) {
        return send(res, 403, "text/plain; charset=utf-8", `posts come from the dashboard's own pages, not ${origin}\n`);
      }
      if (parts.length === 3 && parts[0] === "bottles" && parts[2] === "stop") return act(req, res, stop(parts[1]!));
      if (parts.length === 3 && parts[0] === "agents" && parts[2] === "start") return act(req, res, start(parts[1]!));
      if (parts.length === 3 && parts[0] === "requests" && parts[2] === "decide") return act(req, res, decideRequest(parts[1]!));
    }
    return send(res, 405, "text/plain; charset=utf-8", "not a dashboard action\n");
  };

  const server = http.createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (error instanceof URIError && !res.headersSent) return send(res, 400, "text/plain; charset=utf-8", "malformed URL\n");
      log.error({ err: error }, "dashboard request failed");
      if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", "internal error; see the dashboard's log\n");
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, HOST, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${HOST}:${port}${base}`,
    async close() {
      for (const controller of starts) controller.abort();
      for (const close of feeds) close();
      const closing = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closing;
    },
  };
}
