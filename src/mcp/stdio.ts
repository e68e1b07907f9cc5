import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { Engine } from "../engine/engine.js";
import { guardStdin } from "./envelope-guard.js";
import { log } from "../log.js";
import { createMcpServer } from "./server.js";
import type { SuperviseOptions } from "./supervise.js";
import { exitWhenIdle } from "./shutdown.js";

/**
 * Serves MCP on stdin/stdout until the client closes stdin or a signal
 * arrives. Stdout is the protocol channel: logs already go to stderr, and
 * console output from any dependency is sent there too.
 */
export async function serveStdio(engine: Engine, supervise?: SuperviseOptions, onClose?: () => Promise<unknown>): Promise<void> {
  for (const method of ["log", "info", "debug"] as const) console[method] = console.error;
  const server = createMcpServer(engine, supervise);
  const closed = new Promise<void>((resolve) => (server.server.onclose = resolve));
  // The SDK's transport reads stdin through the envelope guard, which answers malformed lines itself (on stdout, a whole line per write).
  const guarded = process.stdin.pipe(guardStdin((error) => process.stdout.write(`${JSON.stringify(error)}\n`)));
  await server.connect(new StdioServerTransport(guarded));
  // Closing aborts the calls in flight: a start being cancelled removes what it created.
  const close = (why: string) => {
    log.info(`${why}: closing the MCP server`);
    void server.close();
  };
  process.stdin.once("end", () => close("stdin closed"));
  process.once("SIGINT", () => close("SIGINT"));
  process.once("SIGTERM", () => close("SIGTERM"));
  log.info("bot-bottle MCP server ready on stdio");
  await closed;
  await onClose?.();
  exitWhenIdle();
}
