import pino, { type Logger } from "pino";

// Stdout carries the MCP protocol (and command output for the CLI), so every
// log line goes to stderr: pretty for a person at a terminal, JSON otherwise.
function createLogger(): Logger {
  const level = process.env.BOT_BOTTLE_LOG ?? "info";
  if (process.stderr.isTTY) {
    return pino(
      { level },
      pino.transport({
        target: "pino-pretty",
        options: { destination: 2, colorize: true, ignore: "pid,hostname", translateTime: "HH:MM:ss" },
      }),
    );
  }
  return pino({ level }, pino.destination({ fd: 2, sync: true }));
}

export const log: Logger = createLogger();
