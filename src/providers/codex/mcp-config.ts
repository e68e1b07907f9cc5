/**
 * What `codex mcp add NAME --url URL` writes, followed by `settings` (TOML
 * lines of that server's table, which the command has no flags for), written
 * without starting Codex: `$CODEX_HOME/config.toml` (default ~/.codex) keeps
 * the rest of the file; an earlier table of that server (and its subtables)
 * is replaced, a new one goes at the end after a blank line; a new file is
 * mode 0600. Node because it runs in the guest as the agent user, where only
 * node is sure to be.
 */
const SCRIPT = `const fs = require("fs"), os = require("os"), path = require("path");
const [name, url, ...settings] = process.argv.slice(1);
const home = process.env.CODEX_HOME || path.join(os.homedir(), ".codex");
const file = path.join(home, "config.toml");
let text = "";
try {
  text = fs.readFileSync(file, "utf8");
} catch (error) {
  if (error.code !== "ENOENT") throw error;
}
const header = "[mcp_servers." + name + "]";
const kept = [];
let skipping = false;
for (const line of text.split("\\n")) {
  const trimmed = line.trim();
  if (trimmed.startsWith("[")) skipping = trimmed === header || trimmed.startsWith("[mcp_servers." + name + ".");
  if (!skipping) kept.push(line);
}
const before = kept.join("\\n").replace(/\\s+$/, "");
const table = [header, "url = " + JSON.stringify(url), ...settings].join("\\n") + "\\n";
fs.mkdirSync(home, { recursive: true });
fs.writeFileSync(file, (before ? before + "\\n\\n" : "") + table, { mode: 0o600 });`;

/** Codex takes server names of these characters only (and so they need no quoting as TOML keys). */
const SERVER_NAME = /^[A-Za-z0-9_-]+$/;

/** The command that registers a Streamable HTTP MCP server with `settings` in its table. */
export function codexMcpAddCommand(name: string, url: string, settings: string[]): string[] {
  if (!SERVER_NAME.test(name)) throw new Error(`invalid Codex MCP server name ${JSON.stringify(name)}: letters, digits, - and _ only`);
  return ["node", "-e", SCRIPT, name, url, ...settings];
}
