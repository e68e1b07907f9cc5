import { appendFileSync, existsSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
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

/**
 * `codex exec` as the outer client, its model the fake at `fakeUrl` (a custom
 * provider added to CODEX_HOME's config) and bot-bottle's tools approved up
 * front (`codex exec` never asks). Offline, Codex may keep reconnecting
 * instead of exiting: `timeout` bounds it.
 */
export function codexExec(options: { codexHome: string; env: Record<string, string>; cwd: string; fakeUrl: string; prompt: string; timeoutS: number }) {
  appendFileSync(
    path.join(options.codexHome, "config.toml"),
    `\n[model_providers.fake]\nname = "fake"\nbase_url = "${options.fakeUrl}/v1"\nwire_api = "responses"\nenv_key = "FAKE_API_KEY"\n`,
  );
  const args = [
    String(options.timeoutS),
    e2eTool("codex"),
    "exec",
    "--skip-git-repo-check",
    "-c",
    'model_provider="fake"',
    "-c",
    'mcp_servers.bot-bottle.default_tools_approval_mode="approve"',
    "-m",
    "fake-model",
    options.prompt,
  ];
  return execa("timeout", args, { env: { ...options.env, FAKE_API_KEY: "fake-key-for-the-outer-client" }, extendEnv: false, cwd: options.cwd, reject: false, stdin: "ignore" });
}

/** What `claude -p` needs to talk to a fake model at `fakeUrl` only, with MCP tools offered up front. */
export const claudeAgainstFake = (fakeUrl: string): Record<string, string> => ({
  ANTHROPIC_API_KEY: "sk-ant-fake-key-for-tests",
  ANTHROPIC_BASE_URL: fakeUrl,
  CLAUDE_CODE_MAX_RETRIES: "0",
  ENABLE_TOOL_SEARCH: "false",
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
});
