import http from "node:http";
import type { AddressInfo } from "node:net";

// A scripted stand-in for a model API, on 127.0.0.1: each turn it answers the
// next step of the script, given the tool results the client sent back so far.
// The Anthropic Messages and OpenAI Responses dialects share it.

export type Step = { tool: string; input: Record<string, unknown> } | { text: string };
/**
 * The step for this turn, from the results of the tools called so far (in
 * order). It may take its time (a test wiring its stand-in internet before
 * the next step); the client waits for the answer like for a slow model.
 */
export type Script = (toolResults: string[]) => Step | Promise<Step>;

export interface FakeModel {
  url: string;
  /** Tool results the client sent back, in order, as text. */
  toolResults: string[];
  /** Every tool list the client offered, by turn (the names only). */
  offeredTools: string[][];
  close(): Promise<void>;
}

interface Dialect {
  /** Whether the request is a turn of the conversation (and not a side request such as a title). */
  isTurn(body: Record<string, unknown>): boolean;
  toolResults(body: Record<string, unknown>): string[];
  offeredTools(body: Record<string, unknown>): string[];
  /** The SSE events of one answer. */
  events(step: Step, turn: number): { event: string; data: object }[];
}

const textOf = (content: unknown): string =>
  typeof content === "string"
    ? content
    : Array.isArray(content)
      ? content.map((part: { text?: string }) => part.text ?? "").join("")
      : JSON.stringify(content);

type Message = { role: string; content: unknown };

/** Anthropic's Messages API as Claude Code uses it (`POST /v1/messages`, streamed). */
export const anthropicMessages: Dialect = {
  isTurn: (body) => Array.isArray(body.tools) && (body.tools as unknown[]).length > 0,
  toolResults: (body) =>
    (body.messages as Message[])
      .flatMap((m) => (Array.isArray(m.content) ? (m.content as { type: string; content?: unknown }[]) : []))
      .filter((block) => block.type === "tool_result")
      .map((block) => textOf(block.content)),
  offeredTools: (body) => ((body.tools as { name: string }[]) ?? []).map((t) => t.name),
  events(step, turn) {
    const block =
      "tool" in step
        ? { start: { type: "tool_use", id: `toolu_${turn}`, name: step.tool, input: {} }, delta: { type: "input_json_delta", partial_json: JSON.stringify(step.input) } }
        : { start: { type: "text", text: "" }, delta: { type: "text_delta", text: step.text } };
    return [
      {
        event: "message_start",
        data: {
          type: "message_start",
          message: { id: `msg_${turn}`, type: "message", role: "assistant", model: "fake-model", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } },
        },
      },
      { event: "content_block_start", data: { type: "content_block_start", index: 0, content_block: block.start } },
      { event: "content_block_delta", data: { type: "content_block_delta", index: 0, delta: block.delta } },
      { event: "content_block_stop", data: { type: "content_block_stop", index: 0 } },
      { event: "message_delta", data: { type: "message_delta", delta: { stop_reason: "tool" in step ? "tool_use" : "end_turn", stop_sequence: null }, usage: { output_tokens: 1 } } },
      { event: "message_stop", data: { type: "message_stop" } },
    ];
  },
};

type ResponseItem = { type: string; output?: unknown };

/** OpenAI's Responses API as Codex uses it (`POST /v1/responses`, streamed); MCP tools live in a namespace per server. */
export const openaiResponses: Dialect = {
  isTurn: () => true,
  toolResults: (body) =>
    ((body.input as ResponseItem[]) ?? [])
      .filter((item) => item.type === "function_call_output")
      .map((item) => (typeof item.output === "object" && item.output !== null && "content" in item.output ? textOf((item.output as { content: unknown }).content) : textOf(item.output))),
  offeredTools: (body) =>
    ((body.tools as { name?: string; type?: string; tools?: { name: string }[] }[]) ?? []).flatMap((t) =>
      t.tools ? t.tools.map((inner) => `${t.name}/${inner.name}`) : [t.name ?? t.type ?? "?"],
    ),
  events(step, turn) {
    const id = `resp_${turn}`;
    const item =
      "tool" in step
        ? (() => {
            const [namespace, name] = step.tool.split("/");
            return { type: "function_call", id: `fc_${turn}`, call_id: `call_${turn}`, namespace, name, arguments: JSON.stringify(step.input), status: "completed" };
          })()
        : { type: "message", id: `msg_${turn}`, role: "assistant", status: "completed", content: [{ type: "output_text", text: step.text, annotations: [] }] };
    const events: { event: string; data: object }[] = [
      { event: "response.created", data: { type: "response.created", response: { id } } },
      { event: "response.output_item.added", data: { type: "response.output_item.added", output_index: 0, item } },
    ];
    if (!("tool" in step)) {
      events.push({ event: "response.output_text.delta", data: { type: "response.output_text.delta", item_id: item.id, output_index: 0, content_index: 0, delta: step.text } });
    }
    events.push(
      { event: "response.output_item.done", data: { type: "response.output_item.done", output_index: 0, item } },
      {
        event: "response.completed",
        data: { type: "response.completed", response: { id, usage: { input_tokens: 1, input_tokens_details: null, output_tokens: 1, output_tokens_details: null, total_tokens: 2 } } },
      },
    );
    return events;
  },
};

export async function startFakeModel(dialect: Dialect, script: Script): Promise<FakeModel> {
  const model: Omit<FakeModel, "url" | "close"> = { toolResults: [], offeredTools: [] };
  let turn = 0;
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk: Buffer) => (raw += chunk.toString()));
    req.on("end", async () => {
      if (req.method !== "POST") {
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
        return;
      }
      const body = JSON.parse(raw || "{}") as Record<string, unknown>;
      let step: Step = { text: "ok" };
      if (dialect.isTurn(body)) {
        const results = dialect.toolResults(body);
        model.toolResults.splice(0, model.toolResults.length, ...results);
        model.offeredTools.push(dialect.offeredTools(body));
        step = await script(results);
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      for (const { event, data } of dialect.events(step, ++turn)) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    ...model,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
