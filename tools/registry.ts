import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { CallToolResult, ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import type { Engine } from "../src/engine/engine.js";
import { log } from "../src/log.js";
import { UserError } from "../src/user-error.js";
import { bottleActivityTool } from "./bottle-activity.js";
import { cancelRunTool } from "./cancel-run.js";
import { execInBottleTool } from "./exec-in-bottle.js";
import { getChangesTool } from "./get-changes.js";
import { getRunTool } from "./get-run.js";
import { listAgentsTool } from "./list-agents.js";
import { listBottlesTool } from "./list-bottles.js";
import { listFilesTool } from "./list-files.js";
import { listRunsTool } from "./list-runs.js";
import { readFileTool } from "./read-file.js";
import { startBottleTool } from "./start-bottle.js";
import { stopBottleTool } from "./stop-bottle.js";
import { superviseApproveTool } from "./supervise-approve.js";
import { superviseListTool } from "./supervise-list.js";
import type { Tool, ToolContext } from "./tool.js";
import { waitForRunsTool } from "./wait-for-runs.js";
import { writeFileTool } from "./write-file.js";

/** Every tool the server offers, in the order clients list them. A new tool is one more entry. */
export const tools: readonly Tool[] = [
  listAgentsTool,
  listBottlesTool,
  startBottleTool,
  execInBottleTool,
  stopBottleTool,
  waitForRunsTool,
  getRunTool,
  cancelRunTool,
  listRunsTool,
  readFileTool,
  writeFileTool,
  listFilesTool,
  getChangesTool,
  bottleActivityTool,
  superviseListTool,
  superviseApproveTool,
];

type CallExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** Registers the tools on one server, each through the same logging and error mapping. */
export function registerTools(server: McpServer, engine: Engine, list: readonly Tool[] = tools): void {
  for (const tool of list) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        // Strict: an argument the tool does not define (`timeout` for `timeout_s`) is refused, not silently dropped.
        inputSchema: tool.input.strict(),
        outputSchema: tool.output,
        annotations: { title: tool.title, ...tool.annotations },
      },
      (args: unknown, extra: CallExtra) => callTool(tool, args, engine, extra),
    );
  }
}

async function callTool(tool: Tool, args: unknown, engine: Engine, extra: CallExtra): Promise<CallToolResult> {
  const started = performance.now();
  const progressToken = extra._meta?.progressToken;
  const context: ToolContext = {
    engine,
    signal: extra.signal,
    wantsProgress: progressToken !== undefined,
    async progress(update) {
      if (progressToken === undefined || extra.signal.aborted) return;
      await extra
        .sendNotification({ method: "notifications/progress", params: { progressToken, ...update } })
        .catch((err: unknown) => log.debug({ tool: tool.name, err: String(err) }, "a progress notification was not delivered"));
    },
  };
  try {
    // The SDK has already checked args against tool.input.
    const output = await tool.run(args as never, context);
    log.info({ tool: tool.name, ms: Math.round(performance.now() - started) }, "tool call done");
    return { content: [{ type: "text", text: output.text }], structuredContent: output.structured as Record<string, unknown> };
  } catch (err) {
    return toolErrorResult(tool.name, err, extra.signal);
  }
}

/**
 * A failed call as the model should see it: an `isError` result whose text
 * says what went wrong and what to do. A UserError already speaks to the
 * caller; anything else is a failure of bot-bottle or the container engine.
 */
export function toolErrorResult(toolName: string, err: unknown, signal?: AbortSignal): CallToolResult {
  let text: string;
  if (signal?.aborted) {
    log.info({ tool: toolName }, "tool call cancelled");
    text = `${toolName} was cancelled; what it had started was stopped.`;
  } else if (err instanceof UserError) {
    log.warn({ tool: toolName }, err.message);
    text = err.message;
  } else {
    const message = err instanceof Error ? err.message : String(err);
    log.error({ tool: toolName, err }, "tool call failed");
    text =
      `${toolName} failed: ${message}\n` +
      "This is a failure of bot-bottle or its container engine, not of your arguments. Check that the engine answers (`docker info`) " +
      "and retry; list_bottles shows what exists. The server's log (stderr) has the details.";
  }
  return { content: [{ type: "text", text }], isError: true };
}
