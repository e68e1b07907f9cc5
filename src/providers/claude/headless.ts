import { type HeadlessMode, jsonLines } from "../headless.js";

// `claude -p` with stream-json: one JSON event per line while it works (relayed
// as progress), ending with a `result` event that holds the answer and usage.

const asRecord = (value: unknown) => (value && typeof value === "object" ? (value as Record<string, unknown>) : null);

export const claudeHeadless: HeadlessMode = {
  argv(request, promptFile) {
    return [
      "claude",
      "-p",
      request.prompt,
      "--output-format",
      "stream-json",
      "--verbose",
      "--append-system-prompt-file",
      promptFile,
      ...(request.model ? ["--model", request.model] : []),
      ...(request.maxTurns ? ["--max-turns", String(request.maxTurns)] : []),
      ...(request.allowedTools?.length ? ["--allowedTools", request.allowedTools.join(",")] : []),
    ];
  },
  describeLine(line) {
    const [event] = jsonLines(line);
    if (!event) return undefined;
    if (event.type === "assistant") {
      const content = asRecord(event.message)?.content;
      const parts = Array.isArray(content) ? content.map(asRecord) : [];
      const text = parts.map((p) => (p?.type === "text" ? String(p.text) : p?.type === "tool_use" ? `[tool ${String(p.name)}]` : "")).join(" ");
      return text.trim() ? `assistant: ${text.trim().slice(0, 200)}` : undefined;
    }
    if (event.type === "system" && event.subtype === "init") return "claude started";
    if (event.type === "result") return `claude finished (${String(event.subtype)})`;
    return undefined;
  },
  outcome(stdout) {
    const result = jsonLines(stdout)
      .filter((e) => e.type === "result")
      .pop();
    if (!result) return { result_text: null, structured: null, usage: null };
    return {
      result_text: typeof result.result === "string" ? result.result : null,
      structured: result,
      usage: asRecord(result.usage),
    };
  },
};
