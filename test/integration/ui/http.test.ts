import { mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, afterAll, describe, expect, it } from "vitest";
import { newProposalId, type Proposal, readAnswer, writeProposal } from "../../../sidecars/supervise/queue.js";
import { homePaths } from "../../../src/home.js";
import { readAudit } from "../../../src/supervise/audit.js";
import { request, type RunningUi, startUi } from "../../support/dashboard.js";
import { useTempDir } from "../../support/temp-dir.js";

// `bot-bottle ui` over plain HTTP, where a test can choose what a browser
// would not let it: no token, a wrong one, a foreign Host or Origin, and
// forms posted by hand. The requests are written into a home's supervise
// queue as a bottle's sidecar writes them; no engine or browser is needed.

describe("bot-bottle ui refuses what does not come from its own page", () => {
  const tmp = useTempDir("bb-ui-refuse-");
  let ui: RunningUi;

  beforeAll(async () => {
    const home = path.join(tmp.path, "home");
    mkdirSync(home);
    ui = await startUi({ PATH: process.env.PATH ?? "", BOT_BOTTLE_HOME: home, BOT_BOTTLE_LOG: "error" });
  });
  afterAll(() => ui?.stop());

  it("serves the page with its token, and refuses a request without it or with a wrong one", async () => {
    const url = new URL(ui.url);
    const token = url.pathname.split("/")[1]!;
    expect(token.length).toBeGreaterThanOrEqual(40);
    const page = await request(url);
    expect(page.status).toBe(200);
    expect(page.body).toContain("<h1>bot-bottle</h1>");
    expect(page.headers["content-security-policy"]).toContain("script-src 'self'");

    for (const pathname of ["/", "/assets/dashboard.js", "/events", `/${token.slice(0, -1)}x/`]) {
      const refused = await request(new URL(pathname, url));
      expect(refused.status, pathname).toBe(403);
      expect(refused.body).toBe("missing or wrong token: open the URL `bot-bottle ui` printed\n");
    }
  });

  it("refuses a request whose Host header names another site (DNS rebinding), token or not", async () => {
    const refused = await request(new URL(ui.url), { headers: { host: "attacker.example:80" } });
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('Host "attacker.example:80" is not this server\'s');
  });

  it("refuses a form post from another origin", async () => {
    const refused = await request(new URL(`${ui.url}bottles/anything/stop`), {
      method: "POST",
      headers: { origin: "http://attacker.example", "content-type": "application/x-www-form-urlencoded" },
      body: "back=",
    });
    expect(refused.status).toBe(403);
    expect(refused.body).toBe("posts come from the dashboard's own pages, not http://attacker.example\n");
  });
});

describe("bot-bottle ui answers requests with notes, modified, or not at all", () => {
  const tmp = useTempDir("bb-ui-decide-");
  const bottle = "alpha-1a2b3c4d";
  const user = os.userInfo().username;
  let home = "";
  let ui: RunningUi;

  const ask = (summary: string): Proposal => {
    const proposal: Proposal = {
      id: newProposalId(),
      bottle,
      kind: "request-approval",
      summary,
      payload: { summary, justification: "the build folder is stale", details: null },
      created_at: new Date().toISOString(),
    };
    writeProposal(homePaths(home).queueOf(bottle), proposal);
    return proposal;
  };
  /** Posts a decision form as dashboard.js does (asking for JSON), or as a page without JavaScript does (a redirect back). */
  const post = (id: string, form: Record<string, string>, as: "script" | "form" = "script") =>
    request(new URL(`${ui.url}requests/${id}/decide`), {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: new URL(ui.url).origin,
        ...(as === "script" ? { accept: "application/json" } : {}),
      },
      body: new URLSearchParams(form).toString(),
    });
  const answerOf = (id: string) => readAnswer(homePaths(home).queueOf(bottle), id);
  const decisionOf = (id: string) => readAudit(home, bottle).find((record) => record.event === "decision" && record.id === id);

  beforeAll(async () => {
    home = path.join(tmp.path, "home");
    mkdirSync(homePaths(home).queueOf(bottle), { recursive: true, mode: 0o700 });
    ui = await startUi({ PATH: process.env.PATH ?? "", BOT_BOTTLE_HOME: home, BOT_BOTTLE_LOG: "error" });
  });
  afterAll(() => ui?.stop());

  it("lists what waits, as text, with a form for each", async () => {
    const hostile = ask(`<img src=x onerror="alert(1)"> clean up`);
    const page = await request(new URL(ui.url));
    expect(page.body).toContain(`action="requests/${hostile.id}/decide"`);
    expect(page.body).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt; clean up");
    expect(page.body).not.toContain("<img");
  });

  it("refuses a rejection without notes, and leaves the request waiting", async () => {
    const proposal = ask("remove build/");
    const refused = await post(proposal.id, { decision: "reject", notes: "  " });
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body)).toEqual({ ok: false, message: "a rejection needs notes: say why (the agent reads them)" });
    expect(answerOf(proposal.id)).toBeNull();
  });

  it("approves a modified request, and the audit log says so and who decided where", async () => {
    const proposal = ask("remove build/ and dist/");
    const broken = await post(proposal.id, { decision: "modify", modified: "{not json" });
    expect(broken.status).toBe(400);
    expect(JSON.parse(broken.body).message).toMatch(/^the modified request must be a JSON object, in the shape shown: /);
    const invalid = await post(proposal.id, { decision: "modify", modified: JSON.stringify({ summary: "" }) });
    expect(invalid.status).toBe(400);
    expect(JSON.parse(invalid.body).message).toMatch(/^the modified payload for request [0-9a-f]{32} is not valid: /);
    expect(answerOf(proposal.id)).toBeNull();

    const modified = { summary: "remove build/ only", justification: "dist/ is published", details: null };
    const approved = await post(proposal.id, { decision: "modify", modified: JSON.stringify(modified), notes: "keep dist/" });
    expect(JSON.parse(approved.body)).toEqual({ ok: true, message: `approved as modified request ${proposal.id} of bottle ${bottle}: remove build/ and dist/` });
    expect(answerOf(proposal.id)).toMatchObject({ kind: "answer", answer: { decision: "approve", modified, notes: "keep dist/" } });
    expect(decisionOf(proposal.id)).toMatchObject({ decision: "approve", modified, notes: "keep dist/", decided_by: `${user} (bot-bottle ui)` });

    const again = await post(proposal.id, { decision: "approve" });
    expect(again.status).toBe(400);
    expect(JSON.parse(again.body).message).toMatch(new RegExp(`^request ${proposal.id} was already decided: approved by ${user} \\(bot-bottle ui\\)`));
  });

  it("rejects from a page without JavaScript: the post comes back to the page it was made on, with the outcome", async () => {
    const proposal = ask("push to main");
    const rejected = await post(proposal.id, { decision: "reject", notes: "open a pull request instead", back: `bottle/${bottle}` }, "form");
    expect(rejected.status).toBe(303);
    const location = new URL(rejected.headers.location!, ui.url);
    expect(location.pathname).toBe(`${new URL(ui.url).pathname}bottle/${bottle}`);
    expect(location.searchParams.get("notice")).toBe(`rejected request ${proposal.id} of bottle ${bottle}: push to main`);
    expect(decisionOf(proposal.id)).toMatchObject({ decision: "reject", notes: "open a pull request instead", decided_by: `${user} (bot-bottle ui)` });
  });
});
