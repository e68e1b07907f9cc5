import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { Scanner } from "../../sidecars/egress/dlp-detectors.js";
import { tools } from "../../tools/registry.js";
import { botBottleHome } from "../home.js";
import { loadManifestIndex } from "../manifest/load.js";
import { secretReferences } from "../manifest/secret-references.js";
import { CODEX_STARTUP_TIMEOUT_S, codexMcpSettingsCommand, codexMcpWaitSettings } from "../providers/codex/mcp-settings.js";
import { claudeServerJson } from "../providers/claude/mcp-server-json.js";
import { shellCommandLine } from "../shell-quote.js";
import { UserError } from "../user-error.js";
import { SERVER_NAME } from "./server.js";

// Registering this server with an outer client goes through the client's own
// CLI, so its config format stays the client's business.

export type McpClient = "claude" | "codex";
export type ClaudeScope = "user" | "project" | "local";

/** How long Codex lets one of our tool calls run: well past exec_in_bottle's default timeout (600 s) and a first image build. */
const CODEX_CALL_TIMEOUT_S = 3600;

export interface InstallRequest {
  client: McpClient;
  /** Claude Code's scope (default local, as `claude mcp add` itself). */
  scope?: ClaudeScope;
  dispatchAgent: boolean;
  /** Environment variables the client gives the server: settings, never secrets (see refuseSecrets). */
  env: Record<string, string>;
  command: string[];
  cwd: string;
}

/** Registers (or re-registers) the server; returns the lines to show the user. */
export async function installServer(request: InstallRequest): Promise<string[]> {
  await refuseSecrets(request);
  if (request.client === "codex") {
    if (request.scope !== undefined && request.scope !== "user") {
      throw new UserError("codex keeps MCP servers in one user-level config ($CODEX_HOME/config.toml): --scope is for claude only", 2);
    }
    if (request.dispatchAgent) throw new UserError("--dispatch-agent writes a Claude Code subagent: use it with claude", 2);
  }
  const run = clientRunner(request);
  const version = await run(["--version"]);
  if (version.notFound) {
    const manual = shellCommandLine(registerArgs(request));
    throw new UserError(
      `the \`${request.client}\` CLI was not found on PATH. Install ${request.client === "claude" ? "Claude Code (npm install -g @anthropic-ai/claude-code)" : "Codex (npm install -g @openai/codex)"} ` +
        `and run this again, or register the server yourself: ${request.client} ${manual}`,
    );
  }
  // Remove first so that running install again replaces the entry instead of failing on a duplicate.
  const scopeArgs = request.client === "claude" ? ["--scope", request.scope ?? "local"] : [];
  await run(["mcp", "remove", ...scopeArgs, SERVER_NAME]);
  const added = await run(registerArgs(request));
  if (added.exitCode !== 0) {
    throw new UserError(`\`${request.client} ${shellCommandLine(registerArgs(request))}\` failed (exit ${added.exitCode}): ${added.output.trim()}`);
  }
  const lines = [`registered the ${SERVER_NAME} MCP server with ${request.client}${request.client === "claude" ? ` (scope ${request.scope ?? "local"})` : ""}: ${request.command.join(" ")}`];
  if (request.client === "codex") {
    // Codex's defaults (about 1 s before the first turn goes ahead without the server, 10 s to start, 60 s per call)
    // would lose the tools in a `codex exec`, or cut off a cold `npx` start, an image build or an agent run.
    const [node, ...settingsArgs] = codexMcpSettingsCommand(SERVER_NAME, codexMcpWaitSettings(CODEX_CALL_TIMEOUT_S), process.execPath);
    const set = await execa(node!, settingsArgs, { reject: false, all: true, cwd: request.cwd, stdin: "ignore" });
    if (set.exitCode !== 0) throw new UserError(`setting the server's timeouts in codex's config.toml failed: ${String(set.all ?? "").trim()}`);
    lines.push(
      `set required = true (codex waits for the server before the first turn, and says so if it cannot start), startup_timeout_sec = ${CODEX_STARTUP_TIMEOUT_S} and tool_timeout_sec = ${CODEX_CALL_TIMEOUT_S}, so long starts and runs are not cut off`,
    );
    lines.push(
      `note: \`codex exec\` refuses tools that are not read-only unless you approve them: add default_tools_approval_mode = "approve" under [mcp_servers.${SERVER_NAME}] in $CODEX_HOME/config.toml`,
    );
  }
  lines.push(
    `secrets: ${request.client} filters the environment of the servers it starts and keeps its config in plain text, so never give a token with --env: ` +
      "store each one a bottle names with `bot-bottle secret set NAME` (the server looks in its environment, then in that store)",
  );
  if (request.dispatchAgent) {
    const file = writeDispatchAgent(dispatchAgentDir(request));
    lines.push(`wrote the bottle-dispatch subagent to ${file} (its only tools are ${SERVER_NAME}'s)`);
  }
  return lines;
}

/** Names that say "credential"; a secret's value has no business in a client's config. */
const SECRET_LIKE_NAME = /TOKEN|SECRET|PASSW|API_?KEY|PRIVATE_KEY|CREDENTIAL/i;

/**
 * Refuses an --env entry that is, or looks like, a secret: a name a bottle of
 * the server's home uses as one, a name that says so, or a value shaped like a
 * known kind of token. The client would keep it in plain text in its config
 * and show it in `mcp get`; the secret store is its place. The value is never
 * repeated in the error.
 */
async function refuseSecrets(request: InstallRequest): Promise<void> {
  if (Object.keys(request.env).length === 0) return;
  const home = request.env.BOT_BOTTLE_HOME ? path.resolve(request.cwd, request.env.BOT_BOTTLE_HOME) : botBottleHome();
  const index = await loadManifestIndex({ home, cwd: request.cwd });
  const named = new Set(Object.values(index.bottles).flatMap((bottle) => secretReferences(bottle.config)));
  const scanner = new Scanner([]);
  for (const [key, value] of Object.entries(request.env)) {
    const reason = named.has(key)
      ? `a bottle in ${home} names ${key} as a secret`
      : SECRET_LIKE_NAME.test(key)
        ? `${key} is named like a secret`
        : scanner.scan(value, ["token_patterns"]).map((finding) => `its value has the shape of a token (${finding.label})`)[0];
    if (reason) {
      throw new UserError(
        `--env ${key}: ${reason}, and ${request.client}'s config is no place for one (kept in plain text, shown by \`${request.client} mcp get\`); nothing was registered. ` +
          `Store it with \`bot-bottle secret set ${key}\`: the server finds it there whatever environment the client gives it`,
        2,
      );
    }
  }
}

function registerArgs(request: InstallRequest): string[] {
  if (request.client === "claude") {
    const [command, ...args] = request.command;
    return ["mcp", "add-json", SERVER_NAME, claudeServerJson({ type: "stdio", command, args, ...(Object.keys(request.env).length > 0 ? { env: request.env } : {}) }), "--scope", request.scope ?? "local"];
  }
  const env = Object.entries(request.env).flatMap(([key, value]) => ["--env", `${key}=${value}`]);
  return ["mcp", "add", SERVER_NAME, ...env, "--", ...request.command];
}

function clientRunner(request: InstallRequest) {
  return async (args: string[]) => {
    const result = await execa(request.client, args, { reject: false, all: true, cwd: request.cwd, stdin: "ignore" });
    const notFound = (result as { code?: string }).code === "ENOENT";
    return { exitCode: result.exitCode, output: String(result.all ?? ""), notFound };
  };
}

/** Next to the registration: the user's Claude config for user scope, else the project's .claude/. */
function dispatchAgentDir(request: InstallRequest): string {
  if (request.scope === "user") {
    const configDir = process.env.CLAUDE_CONFIG_DIR ?? path.join(os.homedir(), ".claude");
    return path.join(configDir, "agents");
  }
  return path.join(request.cwd, ".claude", "agents");
}

/** The tool names a Claude Code model sees for this server. */
const clientToolNames = () => tools.map((tool) => `mcp__${SERVER_NAME}__${tool.name}`);

function writeDispatchAgent(dir: string): string {
  const file = path.join(dir, "bottle-dispatch.md");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    file,
    `---
name: bottle-dispatch
description: Delegates coding work to an agent running inside a bot-bottle sandbox (a bottle). Use it for tasks that should not run on the host, such as running untrusted code, exploring a repository or letting another agent make changes.
tools: ${clientToolNames().join(", ")}
---
You carry out the task you are given inside a bot-bottle bottle, never on the host: the only tools you have are bot-bottle's.

1. list_agents, and pick the agent that fits the task.
2. start_bottle with that agent (and cwd set to the repository, when the task is about one). Start several bottles for work that can go on side by side.
3. Hand the task to the bottled agent: exec_in_bottle with \`prompt\` and \`background: true\`; it returns a run_id at once. Run commands the same way (\`command\`; without background for quick ones).
4. wait_for_runs: it returns when a run ends or when a bottled agent waits for a decision (pending requests). Answer those with supervise_approve (approve, or reject with notes), then wait again.
5. get_run reads a run's output and, for a prompt, the agent's answer; read_file and list_files look at what it made; bottle_activity shows what crossed the bottle's boundary.
6. When the bottle was started in a repository, ask the bottled agent to commit and push its work to origin, then call get_changes (commit_workspace: true catches what it left uncommitted): its branches land in the repository as bottle/<id>/<branch>. Never merge them yourself unless asked.
7. stop_bottle when you are done, unless you were asked to keep the bottle.

Report what you did, the runs' results, the bottle/<id>/... branches to review, and the bottle id if it is still running.
`,
  );
  return file;
}
