import { claudeServerJson } from "./mcp-server-json.js";

/**
 * What `claude mcp add-json NAME JSON --scope user` writes, written without
 * booting Claude Code (which takes seconds): the entry under the top-level
 * `mcpServers` of `$CLAUDE_CONFIG_DIR/.claude.json` (default `~/.claude.json`),
 * the rest of the file kept, JSON with two-space indents and no final
 * newline, mode 0600 for a new file. Booting also runs Claude Code's own
 * migrations of that file; they are not the registration's, and its first
 * real run does them. Node because it runs in the guest as the agent user,
 * where only node is sure to be.
 */
const SCRIPT = `const fs = require("fs"), os = require("os"), path = require("path");
const [name, server] = [process.argv[1], JSON.parse(process.argv[2])];
const file = path.join(process.env.CLAUDE_CONFIG_DIR || os.homedir(), ".claude.json");
let config = {};
try {
  config = JSON.parse(fs.readFileSync(file, "utf8"));
} catch (error) {
  if (error.code !== "ENOENT") throw error;
}
config.mcpServers = { ...config.mcpServers, [name]: server };
fs.writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });`;

/** The command that registers an HTTP MCP server at user scope, as `claude mcp add-json` would (marked alwaysLoad). */
export const claudeMcpAddCommand = (name: string, url: string): string[] => ["node", "-e", SCRIPT, name, claudeServerJson({ type: "http", url })];
