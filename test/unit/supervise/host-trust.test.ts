import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { answerFile, newProposalId, type Proposal, proposalFile, writeProposal } from "../../../sidecars/supervise/queue.js";
import type { Engine } from "../../../src/engine/engine.js";
import { homePaths } from "../../../src/home.js";
import { readAudit, syncAudit } from "../../../src/supervise/audit.js";
import { decide } from "../../../src/supervise/decide.js";
import { listPending } from "../../../src/supervise/pending.js";
import { type QueueEvent, QueueWatcher } from "../../../src/supervise/watch.js";
import { UserError } from "../../../src/user-error.js";
import { superviseListTool } from "../../../tools/supervise-list.js";
import type { ToolContext } from "../../../tools/tool.js";

// The host must not trust what a bottle's bundle writes into its queue folder:
// a compromised sidecar controls every byte there. The bottle a proposal
// belongs to is the folder it sits in, never its own `bottle` field, and a
// queue file is never followed out of the folder through a symbolic link.

const A = "alpha-0a1b2c3d";
const B = "bravo-4e5f6a7b";
const CANARY = "canary-host-file-7f3e9a1c";

describe("the host does not trust what a bundle writes in its queue", () => {
  let root: string;
  let home: string;

  const proposalIn = (bottle: string, fields: Partial<Proposal> = {}): Proposal => {
    const proposal: Proposal = {
      id: newProposalId(),
      bottle,
      kind: "request-approval",
      summary: "delete the build cache",
      payload: { summary: "delete the build cache", justification: "stale", details: null },
      created_at: new Date().toISOString(),
      ...fields,
    };
    writeProposal(homePaths(home).queueOf(bottle), proposal);
    return proposal;
  };

  /** Every file and folder under the test root, with a digest of each file's content. */
  const snapshot = (): Record<string, string> => {
    const entries: Record<string, string> = {};
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const full = path.join(dir, name);
        const relative = path.relative(root, full);
        const stats = statSync(full, { throwIfNoEntry: false });
        if (stats?.isDirectory()) {
          entries[relative] = "dir";
          walk(full);
        } else {
          entries[relative] = stats ? createHash("sha256").update(readFileSync(full)).digest("hex") : "dangling";
        }
      }
    };
    walk(root);
    return entries;
  };

  const listText = async () => {
    const context = { engine: { home } as Engine } as ToolContext;
    const output = await superviseListTool.run({}, context);
    return `${output.text}\n${JSON.stringify(output.structured)}`;
  };

  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), "bb-host-trust-"));
    home = path.join(root, "home");
    for (const bottle of [A, B]) mkdirSync(homePaths(home).queueOf(bottle), { recursive: true, mode: 0o700 });
    mkdirSync(homePaths(home).stateOf(B), { recursive: true });
    mkdirSync(homePaths(home).audit, { recursive: true });
    // Bottle B has a request of its own pending: whatever touches B's queue or audit shows.
    proposalIn(B);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it.each([
    ["bottle B's id", B],
    ["a path into B's state folder", `../state/${B}`],
    ["a path out of the home", `../../state/${B}`],
  ])("a proposal in A's folder that names %s is not listed, not decided, and touches none of B's paths", async (_what, claimed) => {
    const forged = proposalIn(A, { bottle: claimed, summary: "forged as another bottle's" });
    // The claimed paths exist, as a real bottle's would.
    mkdirSync(homePaths(home).queueOf(claimed), { recursive: true });
    const before = snapshot();

    expect(listPending(home).map((p) => p.id)).not.toContain(forged.id);
    expect(listPending(home, A)).toEqual([]);
    expect(await listText()).not.toContain("forged as another bottle's");
    expect(() => decide(home, { request_id: forged.id, decision: "approve" }, "tester")).toThrow(UserError);
    syncAudit(home, A);

    expect(existsSync(answerFile(homePaths(home).queueOf(A), forged.id))).toBe(false);
    expect(readAudit(home, A).filter((r) => r.id === forged.id)).toEqual([]);
    expect(snapshot()).toEqual(before);
  });

  it("a forged proposal is never announced to a watcher as B's", async () => {
    const forged = proposalIn(A, { bottle: B });
    const genuine = proposalIn(A);
    const watcher = new QueueWatcher(home, 20);
    const events: QueueEvent[] = [];
    const unsubscribe = watcher.subscribe((event) => events.push(event));
    try {
      for (let i = 0; i < 200 && !events.some((e) => e.type === "proposed" && e.proposal.id === genuine.id); i++) await new Promise((r) => setTimeout(r, 10));
      const announced = events.flatMap((e) => (e.type === "proposed" ? [`${e.proposal.bottle} ${e.proposal.id}`] : []));
      expect(announced).toContain(`${A} ${genuine.id}`);
      expect(announced.some((line) => line.endsWith(forged.id))).toBe(false);
    } finally {
      unsubscribe();
    }
  });

  it("a proposal file symlinked to a host file is never read: its canary reaches no listing and no audit", async () => {
    const id = newProposalId();
    const hostFile = path.join(root, "host-secret.json");
    // What the link points at parses as a proposal of A: only the link itself can give it away.
    writeFileSync(hostFile, JSON.stringify({ id, bottle: A, kind: "request-approval", summary: CANARY, payload: { secret: CANARY }, created_at: new Date().toISOString() }));
    symlinkSync(hostFile, proposalFile(homePaths(home).queueOf(A), id));

    expect(JSON.stringify(listPending(home))).not.toContain(CANARY);
    expect(await listText()).not.toContain(CANARY);
    expect(() => decide(home, { request_id: id, decision: "approve" }, "tester")).toThrow(UserError);
    syncAudit(home, A);
    const auditFile = homePaths(home).auditOf(A);
    expect(existsSync(auditFile) ? readFileSync(auditFile, "utf8") : "").not.toContain(CANARY);
    expect(existsSync(answerFile(homePaths(home).queueOf(A), id))).toBe(false);
  });

  it("an answer file symlinked to a host file is never read nor written through", () => {
    const queue = homePaths(home).queueOf(A);
    const readable = proposalIn(A);
    const hostAnswer = path.join(root, "host-answer.json");
    const hostAnswerText = JSON.stringify({ id: readable.id, decision: "approve", notes: CANARY, decided_by: "x", decided_at: new Date().toISOString() });
    writeFileSync(hostAnswer, hostAnswerText);
    symlinkSync(hostAnswer, answerFile(queue, readable.id));
    // A dangling link: writing the answer through it would create the host file.
    const dangling = proposalIn(A);
    const notYet = path.join(root, "created-through-the-link.json");
    symlinkSync(notYet, answerFile(queue, dangling.id));

    syncAudit(home, A);
    expect(JSON.stringify(readAudit(home, A))).not.toContain(CANARY);
    for (const id of [readable.id, dangling.id]) {
      expect(() => decide(home, { request_id: id, decision: "approve", notes: "fine" }, "tester")).toThrow(UserError);
    }
    expect(readFileSync(hostAnswer, "utf8")).toBe(hostAnswerText);
    expect(existsSync(notYet)).toBe(false);
    expect(readFileSync(homePaths(home).auditOf(A), "utf8")).not.toContain(CANARY);
  });
});
