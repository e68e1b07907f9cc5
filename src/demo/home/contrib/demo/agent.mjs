// The demo agent. It has no model: given a task (its one argument), it asks
// whoever supervises its bottle for approval through the supervise MCP server
// (`request-approval`), waits for the answer, and reports it. Progress goes
// out as plain lines; the last line is JSON with `result`, the answer.
//
// It speaks just enough MCP over Streamable HTTP to make tool calls
// (initialize, then tools/call), with Node's http module only: the agent
// image has nothing else. Loopback is never proxied (NO_PROXY), so the
// request goes to the bottle's forwarder and on to the sidecar bundle.
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import process from "node:process";

const task = process.argv[1];
/** How often it asks again while the answer is "still pending" (each ask waits up to the bottle's supervise timeout). */
const MAX_ASKS = 10;

const say = (line) => process.stdout.write(`${line}\n`);
const finish = (outcome) => say(JSON.stringify(outcome));

/** The URL the supervise server was registered under (see provider.mjs), or null. */
function registeredUrl() {
  try {
    return readFileSync(path.join(os.homedir(), ".demo-agent", "supervise.url"), "utf8").trim();
  } catch {
    return null;
  }
}

/** One JSON-RPC message over Streamable HTTP; the answer may come as JSON or as server-sent events. */
function post(url, message, protocolVersion) {
  const body = JSON.stringify(message);
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "content-length": Buffer.byteLength(body),
          ...(protocolVersion ? { "mcp-protocol-version": protocolVersion } : {}),
        },
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => (text += chunk));
        response.on("end", () => {
          try {
            resolve(answerTo(message, response, text));
          } catch (error) {
            reject(error);
          }
        });
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}

/** The result of `message` in a response: null for a notification (202), an Error for anything but an answer. */
function answerTo(message, response, text) {
  if (response.statusCode === 202) return null;
  if (response.statusCode !== 200) throw new Error(`the supervise server answered HTTP ${response.statusCode}: ${text.trim()}`);
  const payloads = (response.headers["content-type"] ?? "").includes("text/event-stream")
    ? text.split("\n").filter((line) => line.startsWith("data:")).map((line) => line.slice(5).trim())
    : [text];
  const answer = payloads.map((payload) => JSON.parse(payload)).find((m) => m.id === message.id);
  if (!answer) throw new Error("the supervise server sent no answer to the request");
  if (answer.error) throw new Error(`the supervise server refused the request: ${answer.error.message}`);
  return answer.result;
}

async function main() {
  if (!task) throw new Error("no task given");
  const url = registeredUrl();
  if (!url) throw new Error("no supervise server is registered with this agent (the bottle says `supervise: false`?)");
  say(`connecting to the supervise server at ${url}`);
  const init = await post(url, {
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bot-bottle-demo-agent", version: "1.0.0" } },
  });
  const version = init.protocolVersion;
  await post(url, { jsonrpc: "2.0", method: "notifications/initialized" }, version);
  let id = 2;
  const call = async (name, args) => {
    const result = await post(url, { jsonrpc: "2.0", id: id++, method: "tools/call", params: { name, arguments: args } }, version);
    if (result.isError) throw new Error(`${name} failed: ${result.content.map((c) => c.text).join(" ")}`);
    return result.structuredContent;
  };
  say(`asking for approval (request-approval): ${task}`);
  let decision = await call("request-approval", { summary: task, justification: "the demo agent asks before every task" });
  for (let asks = 1; decision.status === "pending" && asks < MAX_ASKS; asks++) {
    say(`still pending; asking again (await-decision ${decision.request_id})`);
    decision = await call("await-decision", { request_id: decision.request_id });
  }
  say(`the answer: ${decision.status}`);
  finish({ result: decision.message, status: decision.status, request_id: decision.request_id, decided_by: decision.decided_by, notes: decision.notes });
  process.exitCode = decision.status === "approved" ? 0 : 3;
}

main().catch((error) => {
  finish({ result: `error: ${error.message}`, status: "error" });
  process.exitCode = 1;
});
