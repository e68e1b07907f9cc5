import { createWriteStream, type WriteStream } from "node:fs";
import type { LogLevel } from "./routes.js";

// The egress decision log: one JSON line per decision on stdout and, when a
// file is given, appended to it. The routes file's `log` level filters it:
// 0 logs nothing, 1 everything but plain allows (refusals, redactions, holds),
// 2 every decision. Callers scrub paths and reasons of secrets first. A
// forwarded request is recorded once it is over, with the bytes it carried;
// a tunnel is recorded when it opens and again, with its bytes, when it closes.

export interface DecisionRecord {
  host: string | null;
  port: number | null;
  method: string | null;
  /** Path without the query string (queries may carry secrets); null for CONNECT. */
  path: string | null;
  /** `redact`: forwarded with DLP findings cut out; `hold`: waiting for a supervise decision. */
  decision: "allow" | "deny" | "redact" | "hold";
  reason: string;
  /** What a forwarded request or tunnel carried out (body or tunnel bytes) and back, once it is over; null otherwise. */
  bytes_sent?: number | null;
  bytes_received?: number | null;
}

export class DecisionLog {
  level: LogLevel;
  #file: WriteStream | null;

  constructor(level: LogLevel, filePath: string | undefined) {
    this.level = level;
    this.#file = null;
    if (filePath) {
      const file = createWriteStream(filePath, { flags: "a" });
      file.on("error", (error) => {
        process.stderr.write(`egress: decision log ${filePath} is not writable, logging to stdout only: ${error.message}\n`);
        this.#file = null;
        file.destroy();
      });
      this.#file = file;
    }
  }

  record(entry: DecisionRecord): void {
    if (this.level === 0 || (this.level === 1 && entry.decision === "allow")) return;
    const line = `${JSON.stringify({ time: new Date().toISOString(), daemon: "egress", ...entry, bytes_sent: entry.bytes_sent ?? null, bytes_received: entry.bytes_received ?? null })}\n`;
    process.stdout.write(line);
    this.#file?.write(line);
  }
}
