import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { type EnvelopeError, guardStdin } from "../../../src/mcp/envelope-guard.js";

// The stdio guard's framing, which the fuzz suite (whole lines, one per write)
// does not reach: lines split across chunks, several in one chunk, CRLF,
// blank lines, and a line over the limit that arrives in pieces.

const ping = (id: number) => JSON.stringify({ jsonrpc: "2.0", id, method: "ping" });

/** Feeds the chunks through a guard; what it passed on and what it answered. */
async function run(chunks: (string | Buffer)[], maxLineBytes?: number): Promise<{ passed: string; answered: EnvelopeError[] }> {
  const answered: EnvelopeError[] = [];
  const guard = guardStdin((error) => answered.push(error), maxLineBytes);
  const out: Buffer[] = [];
  guard.on("data", (chunk: Buffer) => out.push(chunk));
  const ended = new Promise((resolve) => guard.on("end", resolve));
  for (const chunk of chunks) guard.write(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  guard.end();
  await ended;
  return { passed: Buffer.concat(out).toString(), answered };
}

describe("the stdio envelope guard", () => {
  it("passes a message split across chunks on whole, and several in one chunk each on its own line", async () => {
    const line = ping(1);
    const { passed, answered } = await run([line.slice(0, 5), line.slice(5, 20), `${line.slice(20)}\n${ping(2)}\n${ping(3)}\n`]);
    expect(passed).toBe(`${ping(1)}\n${ping(2)}\n${ping(3)}\n`);
    expect(answered).toEqual([]);
  });

  it("passes a message split inside a multi-byte character unchanged", async () => {
    const line = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping", params: { _meta: { note: "😀é" } } });
    const bytes = Buffer.from(`${line}\n`);
    const cut = bytes.indexOf(Buffer.from("😀")) + 2;
    const { passed, answered } = await run([bytes.subarray(0, cut), bytes.subarray(cut)]);
    expect(passed).toBe(`${line}\n`);
    expect(answered).toEqual([]);
  });

  it("skips blank lines and reads a CRLF line without its carriage return", async () => {
    const { passed, answered } = await run([`\n   \n${ping(1)}\r\n`]);
    expect(passed).toBe(`${ping(1)}\n`);
    expect(answered).toEqual([]);
  });

  it("answers a malformed line with its error and passes the next one", async () => {
    const { passed, answered } = await run([`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":"x"}\n{\n${ping(2)}\n`]);
    expect(passed).toBe(`${ping(2)}\n`);
    expect(answered).toEqual([
      { jsonrpc: "2.0", id: 7, error: { code: ErrorCode.InvalidParams, message: "Invalid params: params must be an object, not a string" } },
      { jsonrpc: "2.0", id: null, error: { code: ErrorCode.ParseError, message: "Parse error: not valid JSON" } },
    ]);
  });

  it("answers a line over the limit once, as soon as it is too long, skips the rest of it, and passes the next line", async () => {
    const long = JSON.stringify({ jsonrpc: "2.0", id: 9, method: "ping", params: { _meta: { pad: "x".repeat(200) } } });
    const pieces = [long.slice(0, 40), long.slice(40, 120), long.slice(120, 200), `${long.slice(200)}\n${ping(2)}\n`];
    const { passed, answered } = await run(pieces, 64);
    expect(passed).toBe(`${ping(2)}\n`);
    expect(answered).toEqual([{ jsonrpc: "2.0", id: null, error: { code: ErrorCode.InvalidRequest, message: "Invalid Request: a message longer than 64 bytes" } }]);
  });

  it("passes a line of exactly the limit", async () => {
    const line = ping(1);
    const { passed, answered } = await run([`${line}\n`], Buffer.byteLength(line));
    expect(passed).toBe(`${line}\n`);
    expect(answered).toEqual([]);
  });
});
