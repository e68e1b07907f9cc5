import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RoutesFile } from "../../../sidecars/egress/routes.js";
import { LiveRoutes, routesDigest } from "../../../sidecars/supervise/live-routes.js";
import { answerOnce, answerFile, queueIds, readProposal, type Answer } from "../../../sidecars/supervise/queue.js";
import { Supervisor } from "../../../sidecars/supervise/supervisor.js";

// The bottle's side of a decision, on real files: what the agent is told for
// every kind of answer, and that only a well-formed approval opens a route.

const ask = { host: "second.example.com", port: null, matches: null, auth: null, justification: "docs" };

describe("the bundle's supervisor", () => {
  let dir: string;
  let queue: string;
  let routesFile: string;
  let reloads: string[];
  let supervisor: Supervisor;

  const answer = (id: string, fields: Partial<Answer> = {}) =>
    answerOnce(queue, { id, decision: "approve", decided_by: "tester", decided_at: new Date().toISOString(), ...fields });
  /** Resolves with the id of the next proposal written to the queue (one not in `seen`). */
  const nextProposal = async (seen: string[] = []) => {
    for (let i = 0; i < 200; i++) {
      const id = queueIds(queue).proposals.find((p) => !seen.includes(p));
      if (id) return id;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error("no proposal was written");
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "bb-supervisor-"));
    queue = path.join(dir, "queue");
    routesFile = path.join(dir, "routes.json");
    const routes: RoutesFile = { version: 1, log: 1, routes: [{ host: "api.example.com", port: null, tls_passthrough: false, matches: null, auth: { scheme: "Bearer", token_env: "EGRESS_TOKEN_API" }, dlp: null }] };
    writeFileSync(routesFile, JSON.stringify(routes));
    reloads = [];
    const live = new LiveRoutes(routesFile, async (digest) => {
      expect(digest).toBe(routesDigest(readFileSync(routesFile, "utf8")));
      reloads.push(digest);
    });
    mkdirSync(queue, { mode: 0o700 });
    supervisor = new Supervisor({ queueDir: queue, bottle: "b-1", timeoutMs: 5_000 }, live);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("queues the proposal, and an approval merges the route and reloads egress before it answers", async () => {
    const call = supervisor.propose("egress-allow", "allow second", ask);
    const id = await nextProposal();
    expect(readProposal(queue, id)).toMatchObject({ id, bottle: "b-1", kind: "egress-allow", summary: "allow second", payload: ask });
    answer(id, { notes: "fine" });
    const result = await call;
    expect(result).toMatchObject({ request_id: id, status: "approved", decided_by: "tester", notes: "fine", approved_payload: ask });
    expect(result.route).toEqual({ host: "second.example.com", port: null, tls_passthrough: false, matches: null, auth: null, dlp: false });
    expect(result.message).toMatch(/^Approved by tester: the route for second\.example\.com is added to egress and live now\. Notes: fine$/);
    const routes = (JSON.parse(readFileSync(routesFile, "utf8")) as RoutesFile).routes;
    expect(routes.map((r) => r.host)).toEqual(["api.example.com", "second.example.com"]);
    expect(reloads).toHaveLength(1);
  });

  it("says still pending past the bound, keeps the proposal, and answers when asked again", async () => {
    const quick = new Supervisor({ ...supervisor.settings, timeoutMs: 200 }, supervisor.routes);
    const first = await quick.propose("request-approval", "drop the table", { summary: "drop the table", justification: "x", details: null });
    expect(first.status).toBe("pending");
    expect(first.message).toContain(`await-decision {"request_id": "${first.request_id}"}`);
    expect(queueIds(queue).proposals).toEqual([first.request_id]);
    answer(first.request_id!, { decision: "reject", notes: "use a migration" });
    const again = await quick.await(first.request_id!);
    expect(again).toMatchObject({ status: "rejected", decided_by: "tester", notes: "use a migration", approved_payload: null, route: null });
    expect(again.message).toBe("Rejected by tester: use a migration");
  });

  it("applies an edited route (modify) instead of the proposed one", async () => {
    const call = supervisor.propose("egress-allow", "allow second", ask);
    const id = await nextProposal();
    answer(id, { modified: { ...ask, matches: [{ methods: ["GET"] }] } });
    const result = await call;
    expect(result.status).toBe("approved");
    expect(result.route?.matches).toEqual([{ methods: ["GET"] }]);
    expect(result.message).toContain("(as modified by the approver)");
  });

  it("refuses an approval whose route is invalid or names an undeclared token, and touches no route", async () => {
    const call = supervisor.propose("egress-allow", "allow second", ask);
    const id = await nextProposal();
    answer(id, { modified: { ...ask, auth: { scheme: "Bearer", token: "HOST_SECRET" } } });
    const result = await call;
    expect(result.status).toBe("rejected");
    expect(result.message).toMatch(/^Refused: the approved route is not valid \(auth\.token: HOST_SECRET is not a token/);
    expect(reloads).toEqual([]);
  });

  it("treats a malformed answer or an answer to another id as a refusal", async () => {
    const call = supervisor.propose("egress-allow", "allow second", ask);
    const id = await nextProposal();
    writeFileSync(answerFile(queue, id), JSON.stringify({ id, decision: "approve" }));
    expect(await call).toMatchObject({ status: "rejected", route: null });
    const other = supervisor.propose("request-approval", "s", { summary: "s", justification: "j", details: null });
    const otherId = await nextProposal([id]);
    writeFileSync(answerFile(queue, otherId), JSON.stringify({ id, decision: "approve", decided_by: "x", decided_at: new Date().toISOString() }));
    expect(await other).toMatchObject({ status: "rejected", message: expect.stringContaining("names another proposal") });
    expect(reloads).toEqual([]);
  });

  it("refuses when the queue is missing, and errs on an id it never queued", async () => {
    rmSync(queue, { recursive: true });
    const result = await supervisor.propose("egress-allow", "allow second", ask);
    expect(result).toMatchObject({ request_id: null, status: "rejected" });
    expect(result.message).toMatch(/^Refused: the request could not be queued for review \(supervise queue .* is unavailable: ENOENT\)/);
    await expect(supervisor.await("0".repeat(32))).rejects.toThrow(/no request 0{32} in this bottle's queue/);
  });

  describe("a host that already carries a credential", () => {
    const credentialed = { host: "api.example.com", port: null, tls_passthrough: false, matches: [{ paths: [{ type: "prefix" as const, value: "/repos/x" }] }], auth: { scheme: "Bearer" as const, token_env: "EGRESS_TOKEN_API" }, dlp: null };
    const widen = { host: "api.example.com", port: null, matches: [{ paths: [{ type: "prefix", value: "/user" }] }], auth: null, justification: "read the user" };
    const liveRoutes = () => (JSON.parse(readFileSync(routesFile, "utf8")) as RoutesFile).routes;
    beforeEach(() => writeFileSync(routesFile, JSON.stringify({ version: 1, log: 1, routes: [credentialed] })));

    it("a plain approval of wider paths does not widen the credentialed route: the new paths go live without the token, and the agent is told so", async () => {
      const call = supervisor.propose("egress-allow", "widen", widen);
      answer(await nextProposal());
      const result = await call;
      expect(result.status).toBe("approved");
      expect(result.route).toEqual({ host: "api.example.com", port: null, tls_passthrough: false, matches: widen.matches, auth: null, dlp: false });
      expect(result.message).toBe(
        "Approved by tester: the route for api.example.com is added to egress and live now. It does not inject EGRESS_TOKEN_API: the approver did not extend that credential.",
      );
      expect(liveRoutes()).toEqual([credentialed, { ...credentialed, matches: widen.matches, auth: null }]);
    });

    it("an approval with extend_credential widens the credentialed route itself, and the agent is told it injects the token", async () => {
      const call = supervisor.propose("egress-allow", "widen", widen);
      answer(await nextProposal(), { extend_credential: true });
      const result = await call;
      expect(result.route).toMatchObject({ matches: [...credentialed.matches, ...widen.matches], auth: { scheme: "Bearer", token: "EGRESS_TOKEN_API" } });
      expect(result.message).toBe("Approved by tester: the route for api.example.com is merged into egress and live now. It injects EGRESS_TOKEN_API.");
      expect(liveRoutes()).toEqual([{ ...credentialed, matches: [...credentialed.matches, ...widen.matches] }]);
    });

    it("a new route asking for a declared token gets it only with extend_credential", async () => {
      const asking = { ...ask, auth: { scheme: "Bearer", token: "EGRESS_TOKEN_API" } };
      const plain = supervisor.propose("egress-allow", "token please", asking);
      const first = await nextProposal();
      answer(first);
      expect((await plain).route?.auth).toBeNull();
      expect((await plain).message).toContain("It does not inject EGRESS_TOKEN_API: the approver did not extend that credential (the route names it).");
      expect(liveRoutes().find((r) => r.host === "second.example.com")?.auth).toBeNull();

      const other = { ...asking, host: "third.example.com" };
      const extended = supervisor.propose("egress-allow", "token please", other);
      answer(await nextProposal([first]), { extend_credential: true });
      expect((await extended).route?.auth).toEqual({ scheme: "Bearer", token: "EGRESS_TOKEN_API" });
      expect(liveRoutes().find((r) => r.host === "third.example.com")?.auth).toEqual({ scheme: "Bearer", token_env: "EGRESS_TOKEN_API" });
    });
  });

  it("tells the agent when an approved route could not be made live", async () => {
    const failing = new Supervisor(supervisor.settings, new LiveRoutes(routesFile, async () => Promise.reject(new Error("egress did not reload"))));
    const call = failing.propose("egress-allow", "allow second", ask);
    answer(await nextProposal());
    await expect(call).rejects.toThrow(/was approved by tester, but the route could not be applied: egress did not reload/);
  });
});
