import { readFileSync } from "node:fs";
import path from "node:path";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { registerTools } from "../../tools/registry.js";
import type { Engine } from "../engine/engine.js";
import { packageRoot } from "../package-root.js";
import { attachActivity } from "./activity.js";
import { attachSupervise, type SuperviseOptions } from "./supervise.js";

/** The name clients register the server under; tool names reach models as `mcp__bot-bottle__<tool>`. */
export const SERVER_NAME = "bot-bottle";

const version = (JSON.parse(readFileSync(path.join(packageRoot, "package.json"), "utf8")) as { version: string }).version;

const SERVER_INSTRUCTIONS = `bot-bottle runs coding agents in bottles: sandboxes with no network of their own, whose only way out is an egress proxy that allowlists hosts and holds the credentials.
Workflow:
1. list_agents: pick an agent (broken manifests are listed with their errors).
2. start_bottle {agent, cwd?}: start one; it returns the bottle id. With cwd, a copy of that host repository is in the bottle's workspace. Start several for work that can go on side by side.
3. exec_in_bottle {bottle_id, prompt, background: true}: hand the bottled agent (Claude Code, Codex, ...) a task; it returns a run_id at once and the run goes on inside the bottle. exec_in_bottle {bottle_id, command} runs a command (add background: true for long ones). A non-zero exit code is a result, not an error.
4. wait_for_runs: returns when a run ends, or when a bottled agent waits for a decision (a new egress route, a risky step): the pending requests are in the result. Answer them with supervise_approve, then wait again.
5. get_run {run_id}: the run's output and, for a prompt, the agent's answer. read_file / write_file / list_files move files in and out; bottle_activity shows what crossed the bottle's boundary.
6. get_changes {bottle_id, commit_workspace?}: for a bottle started with a git repository as cwd, brings the branches its agent pushed to origin (the gate's copy, secret-scanned) into that repository as bottle/<id>/<branch>, with their commits and diffstat; commit_workspace first commits what the agent left uncommitted. Nothing else in the repository changes; the user merges.
7. stop_bottle {bottle_id}: when done. list_bottles and list_runs show what is running.
Do delegated work inside a bottle, not on the host. Work in a bottle is lost when it stops unless it was pushed or copied out: call get_changes first (it also works after a stop, until gc).`;

/** One MCP server instance (one per stdio process, one per HTTP session), with every tool registered. */
export function createMcpServer(engine: Engine, supervise: SuperviseOptions = { elicit: false }): McpServer {
  // Logging is declared here, not later: the SDK answers logging/setLevel only
  // for capabilities given to the constructor, and clients that see the
  // capability call it (the MCP Inspector fails every command otherwise).
  const server = new McpServer({ name: SERVER_NAME, title: "bot-bottle", version }, { instructions: SERVER_INSTRUCTIONS, capabilities: { logging: {} } });
  registerTools(server, engine);
  attachSupervise(server, engine.home, supervise);
  attachActivity(server, engine);
  return server;
}
