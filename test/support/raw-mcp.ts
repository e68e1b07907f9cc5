import http from "node:http";
import os from "node:os";
import { execa } from "execa";
import { waitUntil } from "../../src/wait-until.js";
import { cliPath } from "./cli.js";

// Raw JSON-RPC peers of the BUILT server, for tests that send what no SDK
// client would (broken JSON, bad envelopes) and read every byte it answers.

/** A JSON-RPC message as received, unchecked. */
export interface RpcMessage {
  jsonrpc?: unknown;
  id?: unknown;
  method?: unknown;
  result?: { isError?: unknown; content?: unknown };
  error?: { code?: unknown; message?: unknown };
}

/** A `bot-bottle mcp` child over stdio: lines written as given, every line of stdout kept. */
export class RawStdioPeer {
  /** Every stdout line that parsed, in order. */
  readonly messages: RpcMessage[] = [];
  /** Stdout lines that are not JSON (there must be none). */
  readonly garbage: string[] = [];
  private stdoutRest = "";
  private stderrText = "";
  private readonly child;
  /** Set once the child has exited. */
  exitCode: number | undefined;

  constructor(env: Record<string, string>) {
    this.child = execa("node", [cliPath, "mcp"], { env, cwd: os.tmpdir(), reject: false, buffer: false });
    this.child.stdout!.on("data", (chunk: Buffer) => {
      const lines = (this.stdoutRest + chunk.toString()).split("\n");
      this.stdoutRest = lines.pop()!;
      for (const line of lines) {
        try {
          this.messages.push(JSON.parse(line) as RpcMessage);
        } catch {
          this.garbage.push(line);
        }
      }
    });
    this.child.stderr!.on("data", (chunk: Buffer) => (this.stderrText += chunk.toString()));
    void this.child.then((result) => (this.exitCode = result.exitCode ?? -1));
  }

  get stderr(): string {
    return this.stderrText;
  }

  /** Writes one line (a newline is added) and resolves once it is handed to the pipe. */
  send(line: string): Promise<void> {
    return new Promise((resolve, reject) => this.child.stdin!.write(`${line}\n`, (error) => (error ? reject(error) : resolve())));
  }

  /** The first message from `from` on that matches; fails if the child exits or the deadline passes. */
  waitFor(what: string, match: (message: RpcMessage) => boolean, { from = 0, timeoutMs = 30_000 } = {}): Promise<RpcMessage> {
    return waitUntil(
      what,
      async () => {
        const found = this.messages.slice(from).find(match);
        if (found) return found;
        if (this.exitCode !== undefined) throw new Error(`the server exited (${this.exitCode}) while waiting for ${what}:\n${this.stderrText.slice(-2000)}`);
        return undefined;
      },
      { timeoutMs, intervalMs: 1 },
    );
  }

  /** Sends a request and waits for its answer. */
  async request(id: string | number, method: string, params: object = {}): Promise<RpcMessage> {
    const from = this.messages.length;
    await this.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    return this.waitFor(`the answer to ${method} (${JSON.stringify(id)})`, (m) => m.id === id, { from });
  }

  /** Closes stdin and waits for the child to exit. */
  async close(): Promise<number | undefined> {
    this.child.stdin!.end();
    await this.child;
    return this.exitCode;
  }
}

export interface RawHttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The JSON-RPC messages in the body, whether it is JSON or an event stream. */
  messages: RpcMessage[];
}

/** The messages of a body: one JSON value (an object or a batch), or `data:` lines of an event stream. */
function messagesIn(contentType: string | undefined, body: string): RpcMessage[] {
  if (body.trim() === "") return [];
  if (contentType?.startsWith("text/event-stream")) {
    return body
      .split("\n")
      .filter((line) => line.startsWith("data:") && line.slice(5).trim() !== "")
      .map((line) => JSON.parse(line.slice(5)) as RpcMessage);
  }
  const parsed = JSON.parse(body) as RpcMessage | RpcMessage[];
  return Array.isArray(parsed) ? parsed : [parsed];
}

/**
 * POSTs a raw body to a Streamable HTTP endpoint, as an MCP client would (JSON,
 * accepting JSON or an event stream). With `unfinished`, the body is sent
 * chunked and never ended, as by a client that is still sending when it is
 * answered.
 */
export function postRaw(url: string, body: string, headers: Record<string, string> = {}, { unfinished = false } = {}): Promise<RawHttpAnswer> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, messages: messagesIn(res.headers["content-type"], text) });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (unfinished) req.write(body);
    else req.end(body);
  });
}
