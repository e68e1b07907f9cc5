import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Route, RoutesFile } from "../../../sidecars/egress/routes.js";
import { LiveRoutes } from "../../../sidecars/supervise/live-routes.js";
import { queueIds, readAnswer } from "../../../sidecars/supervise/queue.js";
import { Supervisor } from "../../../sidecars/supervise/supervisor.js";
import { homePaths } from "../../../src/home.js";
import { decide } from "../../../src/supervise/decide.js";
import { listPending } from "../../../src/supervise/pending.js";
import { UserError } from "../../../src/user-error.js";

// An agent that may use a token on one path asks for more of the same host.
// The host decides (as supervise_approve and `bot-bottle approve` do) and the
// bundle's supervisor applies the answer, on one real queue folder: only an
// approval that says extend_credential lets the wider paths carry the token.

const BOTTLE = "widen-0a1b2c3d";
const credentialed: Route = {
  host: "api.github.com",
  port: null,
  tls_passthrough: false,
  matches: [{ paths: [{ type: "prefix", value: "/repos/x" }] }],
  auth: { scheme: "Bearer", token_env: "EGRESS_TOKEN_GH" },
  dlp: { outbound_detectors: ["known_secrets"], inbound_detectors: [], outbound_on_match: "block", known_secret_env: ["EGRESS_TOKEN_GH"] },
};
const everything = { host: "api.github.com", port: null, matches: null, auth: null, justification: "the whole API" };

describe("widening a credentialed route, from the host's decision to the live routes", () => {
  let home: string;
  let routesFile: string;
  let supervisor: Supervisor;
  let stopWaiting: AbortController;

  const liveRoutes = () => (JSON.parse(readFileSync(routesFile, "utf8")) as RoutesFile).routes;
  /** The agent's request, queued by the supervisor; resolves with its id once the host can list it. */
  const ask = async () => {
    const call = supervisor.propose("egress-allow", "allow everything on api.github.com", everything, stopWaiting.signal);
    for (let i = 0; i < 200; i++) {
      const [pending] = listPending(home, BOTTLE);
      if (pending) return { id: pending.id, call };
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error("the request never reached the queue");
  };

  beforeEach(() => {
    stopWaiting = new AbortController();
    home = mkdtempSync(path.join(os.tmpdir(), "bb-credential-approval-"));
    const queue = homePaths(home).queueOf(BOTTLE);
    mkdirSync(queue, { recursive: true, mode: 0o700 });
    routesFile = path.join(home, "routes.json");
    writeFileSync(routesFile, JSON.stringify({ version: 1, log: 1, routes: [credentialed] }));
    supervisor = new Supervisor({ queueDir: queue, bottle: BOTTLE, timeoutMs: 10_000 }, new LiveRoutes(routesFile, async () => undefined));
  });
  afterEach(() => {
    stopWaiting.abort();
    rmSync(home, { recursive: true, force: true });
  });

  it("a plain approval opens every path of the host without the token, and leaves the credentialed route as it was", async () => {
    const { id, call } = await ask();
    const record = decide(home, { request_id: id, decision: "approve" }, "tester");
    const result = await call;
    expect(result.route).toMatchObject({ host: "api.github.com", matches: null, auth: null, dlp: true });
    expect(liveRoutes()).toEqual([credentialed, { ...credentialed, matches: null, auth: null }]);
    expect(record).toMatchObject({ decision: "approve", extend_credential: false });
  });

  it("an approval with extend_credential widens the credentialed route to every path", async () => {
    const { id, call } = await ask();
    expect(decide(home, { request_id: id, decision: "approve", extend_credential: true }, "tester")).toMatchObject({ extend_credential: true });
    expect(readAnswer(homePaths(home).queueOf(BOTTLE), id)).toMatchObject({ answer: { extend_credential: true } });
    const result = await call;
    expect(result.route).toMatchObject({ matches: null, auth: { token: "EGRESS_TOKEN_GH" } });
    expect(liveRoutes()).toEqual([{ ...credentialed, matches: null }]);
  });

  it("an approver's edit that names a token is refused unless it also says extend_credential, rather than silently dropped", async () => {
    const { id, call } = await ask();
    // (This home records no plan, so the host knows of no token: the refusal must come before that check.)
    const withToken = { ...everything, matches: [{ methods: ["GET"] }], auth: { scheme: "Bearer", token: "EGRESS_TOKEN_GH" } };
    expect(() => decide(home, { request_id: id, decision: "modify", modified: withToken }, "tester")).toThrow(
      /names the token EGRESS_TOKEN_GH: add extend_credential to inject it, or leave auth out/,
    );
    expect(readAnswer(homePaths(home).queueOf(BOTTLE), id)).toBeNull();
    decide(home, { request_id: id, decision: "modify", modified: { ...withToken, auth: null } }, "tester");
    expect((await call).route).toMatchObject({ matches: [{ methods: ["GET"] }], auth: null });
  });

  it("extend_credential goes with an approval of a route only", async () => {
    const { id } = await ask();
    expect(() => decide(home, { request_id: id, decision: "reject", extend_credential: true }, "tester")).toThrow(UserError);
    expect(() => decide(home, { request_id: id, decision: "reject", extend_credential: true }, "tester")).toThrow(/extend_credential goes with an approval/);
    expect(queueIds(homePaths(home).queueOf(BOTTLE)).answered.size).toBe(0);
  });
});
