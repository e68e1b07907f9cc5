import { existsSync } from "node:fs";
import path from "node:path";
import { describe, it } from "vitest";
import { repoRoot } from "./cli.js";

// The real MCP clients the e2e suites drive, installed at pinned versions by
// scripts/install-e2e-tools.sh together with the Node 24 they run on. In CI a
// missing client fails the suite; locally the suite is skipped with a name
// that says how to install them.

export const e2eToolsBin = path.join(repoRoot, ".e2e-tools", "node_modules", ".bin");

/** `node` is the pinned Node 24: current Claude Code and the Inspector require Node >= 22. */
export type E2eTool = "claude" | "codex" | "mcp-inspector" | "node";

export const e2eTool = (name: E2eTool) => path.join(e2eToolsBin, name);

/**
 * PATH for the clients: the pinned tools first, so `node` there is Node 24
 * and every client (and anything it runs through `node`) runs on it. The
 * server under test is never started as `node` from this PATH but as
 * `serverNode`, so it runs on the Node running the tests (the machine's own,
 * Node 20 here: the oldest Node the package supports).
 */
export const clientPath = () => `${e2eToolsBin}:${process.env.PATH}`;
export const serverNode = process.execPath;

const INSTALL_HINT = "install them with: bash scripts/install-e2e-tools.sh";

/** A describe block that needs these clients (and, through its own checks, whatever else). */
export function describeWithE2eTools(name: string, needed: readonly E2eTool[], body: () => void): void {
  const missing = needed.filter((tool) => !existsSync(e2eTool(tool)));
  if (missing.length === 0) {
    describe(name, body);
  } else if (process.env.CI) {
    describe(name, () => {
      it(`has ${needed.join(", ")} (required in CI)`, () => {
        throw new Error(`CI=true but ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not in ${e2eToolsBin}; .ci/run must run scripts/install-e2e-tools.sh`);
      });
    });
  } else {
    const reason = `${missing.join(", ")} not installed; ${INSTALL_HINT}`;
    process.stderr.write(`SKIPPED "${name}": ${reason}\n`);
    describe.skip(`${name} [skipped: ${reason}]`, body);
  }
}
