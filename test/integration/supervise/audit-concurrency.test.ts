import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { execa } from "execa";
import { expect, it } from "vitest";
import { answerOnce, newProposalId, writeProposal } from "../../../sidecars/supervise/queue.js";
import { homePaths } from "../../../src/home.js";
import { readAudit } from "../../../src/supervise/audit.js";
import { waitUntil } from "../../../src/wait-until.js";
import { repoRoot } from "../../support/cli.js";
import { useTempDir } from "../../support/temp-dir.js";

// Several host processes (MCP servers of different clients, the CLI) bring
// the same bottle's audit log up to date at once: each record still lands once.

const WRITERS = 8;
const PROPOSALS = 40;
const root = useTempDir("bb-audit-race-");

it("records each proposal and decision once when several processes sync the audit log at the same moment", async () => {
  const home = path.join(root.path, "home");
  const bottle = "race-0a1b2c3d";
  const dir = homePaths(home).queueOf(bottle);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (let i = 0; i < PROPOSALS; i++) {
    const id = newProposalId();
    writeProposal(dir, { id, bottle, kind: "request-approval", summary: `task ${i}`, payload: { summary: `task ${i}`, justification: "j", details: null }, created_at: new Date().toISOString() });
    answerOnce(dir, { id, decision: "approve", decided_by: "tester", decided_at: new Date().toISOString() });
  }
  // Every writer waits for the same go file, so their reads and appends overlap.
  const go = path.join(root.path, "go");
  const audit = pathToFileURL(path.join(repoRoot, "dist", "src", "supervise", "audit.js")).href;
  const readyDir = path.join(root.path, "ready");
  mkdirSync(readyDir);
  const script = `import { existsSync, writeFileSync } from "node:fs";
import { syncAudit } from ${JSON.stringify(audit)};
writeFileSync(${JSON.stringify(readyDir)} + "/" + process.pid, "");
const deadline = Date.now() + 20000;
while (!existsSync(${JSON.stringify(go)})) { if (Date.now() > deadline) process.exit(3); }
syncAudit(${JSON.stringify(home)}, ${JSON.stringify(bottle)});`;
  const writer = path.join(root.path, "writer.mjs");
  writeFileSync(writer, script);
  const writers = Array.from({ length: WRITERS }, () => execa("node", [writer], { env: { BOT_BOTTLE_LOG: "warn" } }));
  await waitUntil("every writer to be ready", async () => (readdirSync(readyDir).length === WRITERS ? true : undefined), { timeoutMs: 30_000, intervalMs: 10 });
  writeFileSync(go, "");
  for (const writer of await Promise.all(writers)) expect(writer.exitCode, writer.stderr).toBe(0);

  const records = readAudit(home, bottle);
  expect(records).toHaveLength(2 * PROPOSALS);
  expect(new Set(records.map((r) => `${r.event}:${r.id}`)).size).toBe(2 * PROPOSALS);
  expect(readFileSync(homePaths(home).auditOf(bottle), "utf8").trim().split("\n")).toHaveLength(2 * PROPOSALS);
});
