import type http from "node:http";
import { Transform } from "node:stream";
import { DEFAULT_MAX_REQUEST_BODY_SIZE } from "@modelcontextprotocol/sdk/server/requestBody.js";
import { STDIO_DEFAULT_MAX_BUFFER_SIZE } from "@modelcontextprotocol/sdk/shared/stdio.js";
import {
  ClientNotificationSchema,
  ClientRequestSchema,
  ErrorCode,
  JSONRPCErrorResponseSchema,
  JSONRPCNotificationSchema,
  JSONRPCRequestSchema,
  JSONRPCResultResponseSchema,
  type JSONRPCMessage,
  type RequestId,
  RequestIdSchema,
} from "@modelcontextprotocol/sdk/types.js";
import type { z } from "zod";
import { log } from "../log.js";

// A guard in front of the MCP SDK's protocol layer, for both transports.
//
// The SDK (1.32) reads each incoming message with JSONRPCMessageSchema and
// drops whatever does not fit it: over stdio such a request is never answered
// (one whose params is a string, a number, null or true leaves its client
// waiting forever), and over HTTP it is answered -32700 Parse error although
// its JSON parsed. It checks a method's params only inside the method's
// handler, so wrongly typed params come back as -32603 Internal error carrying
// a raw zod dump. So every message is checked here first and what is wrong is
// answered here, as JSON-RPC 2.0 says: -32700 for text that is not JSON,
// -32600 for an envelope that is no JSON-RPC message, -32602 for params that
// do not fit their MCP method. The SDK only sees messages it reads as they are
// (an unknown method it still answers -32601 itself).

/** An error answer; `id` is null when the message's id could not be read (JSON-RPC 2.0, section 5). */
export interface EnvelopeError {
  jsonrpc: "2.0";
  id: RequestId | null;
  error: { code: number; message: string };
}

export type Verdict =
  | { ok: true; message: JSONRPCMessage | JSONRPCMessage[] }
  /** `answer` is false for a notification or a response: JSON-RPC never answers those. */
  | { ok: false; error: EnvelopeError; answer: boolean };

const envelopeError = (code: number, message: string, id: RequestId | null = null): EnvelopeError => ({ jsonrpc: "2.0", id, error: { code, message } });
const refuse = (code: number, message: string, id: RequestId | null = null, answer = true): Verdict => ({ ok: false, error: envelopeError(code, message, id), answer });

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
const describe = (value: unknown) => (value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`);

/** The first zod issue, where and what, so the answer names the mistake without dumping the schema. */
function firstIssue(error: z.ZodError): string {
  const [issue] = error.issues;
  const where = issue!.path.map(String).join(".");
  return `${where ? `${where}: ` : ""}${issue!.message}${error.issues.length > 1 ? ` (and ${error.issues.length - 1} more)` : ""}`;
}

/** Each MCP method a client may send, with the SDK's schema of its message. */
const methodSchemas = new Map<string, z.ZodObject>(
  [...ClientRequestSchema.options, ...ClientNotificationSchema.options].map((schema) => [schema.shape.method.value, schema]),
);

/** MCP's schema gives a resource's uri the format uri; the SDK's zod schema does not check it and its reader then throws -32603. */
const URI_METHODS = new Set(["resources/read", "resources/subscribe", "resources/unsubscribe"]);

/**
 * Whether a "__proto__" key is anywhere in a parsed value. JSON.parse makes
 * it an own key, but code that copies objects (the SDK's record schemas, for
 * tool arguments among others) drops it or sets a prototype from it, so it
 * would slip past a strict schema. Iterative: JSON can nest deeper than the stack.
 */
function hasProtoKey(value: unknown): boolean {
  const stack = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item !== "object" || item === null) continue;
    if (Object.hasOwn(item, "__proto__")) return true;
    for (const child of Object.values(item)) stack.push(child);
  }
  return false;
}

const MEMBERS = {
  request: ["jsonrpc", "id", "method", "params"],
  notification: ["jsonrpc", "method", "params"],
  response: ["jsonrpc", "id", "result", "error"],
};

/** One message, as parsed JSON. */
export function checkMessage(value: unknown): Verdict {
  const { InvalidRequest, InvalidParams } = ErrorCode;
  if (!isObject(value)) return refuse(InvalidRequest, `Invalid Request: a message is a JSON object, not ${describe(value)}`);
  const readId = "id" in value ? RequestIdSchema.safeParse(value.id) : undefined;
  if (readId && !readId.success) return refuse(InvalidRequest, "Invalid Request: id must be a string or an integer");
  const id = readId?.data ?? null;
  if (value.jsonrpc !== "2.0") return refuse(InvalidRequest, 'Invalid Request: jsonrpc must be "2.0"', id);
  const kind = "method" in value ? (readId ? "request" : "notification") : "result" in value || "error" in value ? "response" : undefined;
  if (!kind) return refuse(InvalidRequest, "Invalid Request: a message has a method (a request or notification), or a result or an error (a response)", id);
  const stray = Object.keys(value).find((key) => !MEMBERS[kind].includes(key));
  if (stray !== undefined) return refuse(InvalidRequest, `Invalid Request: unknown member ${JSON.stringify(stray)} (a ${kind} has ${MEMBERS[kind].join(", ")})`, id);
  if (hasProtoKey(value)) {
    return refuse(kind === "response" ? InvalidRequest : InvalidParams, 'Invalid params: a member named "__proto__" is not taken', id, kind === "request");
  }
  if (kind === "response") {
    const schema = "error" in value ? JSONRPCErrorResponseSchema : JSONRPCResultResponseSchema;
    return schema.safeParse(value).success
      ? { ok: true, message: value as JSONRPCMessage }
      : refuse(InvalidRequest, "Invalid Request: a response has an object result, or an error with a numeric code and a message", id, false);
  }
  if (typeof value.method !== "string") return refuse(InvalidRequest, "Invalid Request: method must be a string", id);
  // The envelope is sound: what is left to be wrong is the params, which only a request is told about.
  const answer = kind === "request";
  if ("params" in value && !isObject(value.params)) return refuse(InvalidParams, `Invalid params: params must be an object, not ${describe(value.params)}`, id, answer);
  const method = methodSchemas.get(value.method)?.safeParse({ method: value.method, params: value.params });
  if (method && !method.success) return refuse(InvalidParams, `Invalid params for ${value.method}: ${firstIssue(method.error)}`, id, answer);
  if (URI_METHODS.has(value.method) && !URL.canParse(String((value.params as { uri: string }).uri))) {
    return refuse(InvalidParams, `Invalid params for ${value.method}: params.uri: not a URI`, id, answer);
  }
  // For an unknown method only the params' _meta is left to check.
  const whole = (kind === "request" ? JSONRPCRequestSchema : JSONRPCNotificationSchema).safeParse(value);
  if (!whole.success) return refuse(InvalidParams, `Invalid params: ${firstIssue(whole.error)}`, id, answer);
  return { ok: true, message: value as JSONRPCMessage };
}

/**
 * A whole stdio line or HTTP body. A batch (a JSON array) is taken only where
 * the SDK takes one (HTTP), and whole or not at all: its answer is one error.
 */
export function checkText(text: string, { batches }: { batches: boolean }): Verdict {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return refuse(ErrorCode.ParseError, "Parse error: not valid JSON");
  }
  if (!Array.isArray(value)) return checkMessage(value);
  if (!batches) return refuse(ErrorCode.InvalidRequest, "Invalid Request: batches (JSON arrays) are not taken over stdio; send one message per line");
  if (value.length === 0) return refuse(ErrorCode.InvalidRequest, "Invalid Request: an empty batch");
  for (const [index, item] of value.entries()) {
    const verdict = checkMessage(item);
    if (!verdict.ok) return refuse(ErrorCode.InvalidRequest, `Invalid Request: batch message ${index + 1}: ${verdict.error.error.message}`);
  }
  return { ok: true, message: value as JSONRPCMessage[] };
}

const logRefusal = (error: EnvelopeError, answered: boolean) =>
  log.warn({ code: error.error.code, id: error.id }, `${answered ? "answered" : "dropped"} a malformed MCP message: ${error.error.message.slice(0, 200)}`);

/** The longest line passed on: the SDK's stdio transport closes itself when a line (with its newline) is over its buffer size. */
const MAX_STDIO_LINE_BYTES = STDIO_DEFAULT_MAX_BUFFER_SIZE - 1;

/**
 * Stdin as the SDK's stdio transport is to read it: the lines that pass the
 * guard, unchanged. Any other line is answered through `answer` (or dropped,
 * for a notification or response), and blank lines are skipped. A line over
 * the SDK's limit is refused as soon as it is too long and skipped to its end,
 * where the SDK would have closed the transport and so ended the server.
 */
export function guardStdin(answer: (error: EnvelopeError) => void, maxLineBytes = MAX_STDIO_LINE_BYTES): Transform {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let skipping = false;
  const refuseLong = () => {
    const error = envelopeError(ErrorCode.InvalidRequest, `Invalid Request: a message longer than ${maxLineBytes} bytes`);
    logRefusal(error, true);
    answer(error);
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      let start = 0;
      for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
        const piece = chunk.subarray(start, newline);
        start = newline + 1;
        if (!skipping && pendingBytes + piece.length > maxLineBytes) refuseLong();
        else if (!skipping) {
          const line = Buffer.concat([...pending, piece]).toString("utf8").replace(/\r$/, "");
          const verdict = line.trim() === "" ? undefined : checkText(line, { batches: false });
          if (verdict?.ok) this.push(`${line}\n`);
          else if (verdict) {
            logRefusal(verdict.error, verdict.answer);
            if (verdict.answer) answer(verdict.error);
          }
        }
        pending = [];
        pendingBytes = 0;
        skipping = false;
      }
      const rest = chunk.subarray(start);
      if (skipping || rest.length === 0) return done();
      if (pendingBytes + rest.length > maxLineBytes) {
        refuseLong();
        skipping = true;
        pending = [];
        pendingBytes = 0;
      } else {
        pending.push(rest);
        pendingBytes += rest.length;
      }
      done();
    },
  });
}

const sendJson = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
};

/**
 * A request's body, or undefined once more than `maxBytes` have come. The
 * rest of an oversized body is read and discarded rather than left unread:
 * leaving the request (a `for await` that stops early destroys it, and its
 * socket) would lose the 413 answer with it.
 */
function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      req.off("data", onData).off("end", onEnd).resume();
      resolve(undefined);
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on("data", onData).on("end", onEnd).on("error", reject);
  });
}

/**
 * Reads and checks a POST's body. A refused body is answered here: with 200
 * and the JSON-RPC error when it answers a request whose id could be read (so
 * the client's pending request gets it), else with 400 as the SDK does; a body
 * over the SDK's size limit with 413, as the SDK does (refused unread when its
 * Content-Length says so). Otherwise returns the parsed body, to be handed to
 * the SDK's transport (which then reads nothing itself).
 */
export async function guardHttpPost(req: http.IncomingMessage, res: http.ServerResponse, maxBytes = DEFAULT_MAX_REQUEST_BODY_SIZE): Promise<{ body: unknown } | undefined> {
  const tooLarge = () => {
    const error = envelopeError(ErrorCode.InvalidRequest, `Invalid Request: a body larger than ${maxBytes} bytes`);
    logRefusal(error, true);
    // The connection is not kept for another request: what is left of the body would be read as one.
    sendJson(res, 413, error, { connection: "close" });
    return undefined;
  };
  if (Number(req.headers["content-length"]) > maxBytes) return tooLarge();
  const body = await readBody(req, maxBytes);
  if (!body) return tooLarge();
  const verdict = checkText(body.toString("utf8"), { batches: true });
  if (verdict.ok) return { body: verdict.message };
  logRefusal(verdict.error, verdict.answer);
  if (verdict.answer && verdict.error.id !== null) sendJson(res, 200, verdict.error);
  // A notification or response is not answered: the error goes with the 400, without an id (the Streamable HTTP spec).
  else sendJson(res, 400, { ...verdict.error, id: null });
  return undefined;
}
