// The demo agent as a provider plugin (the contract is src/providers/plugin.ts):
// its image is the Dockerfile beside this file, and its "harness" is
// agent.mjs, run by the image's Node. It needs no model and no token.
import { readFileSync } from "node:fs";
import { URL } from "node:url";

const agentSource = readFileSync(new URL("./agent.mjs", import.meta.url), "utf8");

export const provider = {
  headless: {
    // The prompt is the task; the agent prints one JSON line with `result` last, as the plugin default reads it.
    argv: (request) => ["node", "--input-type=module", "-e", agentSource, "--", request.prompt],
  },
  // Registering an MCP server with this agent is writing its URL where agent.mjs looks for it.
  mcpRegistration: (name, url) => [
    ["sh", "-c", 'mkdir -p "$HOME/.demo-agent" && printf "%s\\n" "$2" > "$HOME/.demo-agent/$1.url"', "register", name, url],
  ],
};
