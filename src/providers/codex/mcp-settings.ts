/** Codex gives up on an MCP server that has not answered `initialize` by then; its default, 10 s, is short on a busy machine or a cold `npx`. */
export const CODEX_STARTUP_TIMEOUT_S = 60;

/**
 * The settings that make Codex wait for a server whose calls may take up to
 * `callTimeoutS`. `required`: Codex (since 0.147) gives optional servers about
 * a second before the first turn and runs it without the tools of those still
 * starting, so a `codex exec` could silently miss them; a required server is
 * waited for, and one that cannot start is an error, not a turn without tools.
 */
export const codexMcpWaitSettings = (callTimeoutS: number): string[] => [
  "required = true",
  `startup_timeout_sec = ${CODEX_STARTUP_TIMEOUT_S}`,
  `tool_timeout_sec = ${callTimeoutS}`,
];

/**
 * Adds settings (TOML lines) to the `[mcp_servers.<name>]` table `codex mcp
 * add` just wrote, which has no flags for them. Keys placed right under the
 * table's header belong to that table. A node script rather than host code
 * because it also runs in the guest, as the agent user, where only node is
 * sure to be.
 */
const SCRIPT = `const fs = require("fs");
const file = (process.env.CODEX_HOME || require("os").homedir() + "/.codex") + "/config.toml";
const header = "[mcp_servers." + process.argv[1] + "]";
const lines = fs.readFileSync(file, "utf8").split("\\n");
const at = lines.indexOf(header);
if (at < 0) { console.error("no " + header + " table in " + file); process.exit(1); }
lines.splice(at + 1, 0, ...process.argv.slice(2));
fs.writeFileSync(file, lines.join("\\n"));`;

/** The command that adds `settings` to server `name`'s table in `$CODEX_HOME/config.toml` (default ~/.codex). */
export const codexMcpSettingsCommand = (name: string, settings: string[], node = "node"): string[] => [node, "-e", SCRIPT, name, ...settings];
