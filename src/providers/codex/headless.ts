import { type HeadlessMode, jsonLines } from "../headless.js";

// `codex exec --json`: JSON events per line; the answer is the last
// `agent_message` item and usage comes with `turn.completed`. Codex has no
// system-prompt flag: the agent's prompt reaches it as $CODEX_HOME/AGENTS.md.

const asRecord = (value: unknown) => (value && typeof value === "object" ? (value as Record<string, unknown>) : null);

export const codexHeadless: HeadlessMode = {
  argv(request) {
    return ["codex", "exec", "--json", "--skip-git-repo-check", ...(request.model ? ["-m", request.model] : []), request.prompt];
  },
  describeLine(line) {
    const [event] = jsonLines(line);
    if (!event) return undefined;
    const item = asRecord(event.item);
    if (event.type === "thread.started") return "codex started";
    if (event.type === "item.completed" && item?.type === "agent_message") return `assistant: ${String(item.text).slice(0, 200)}`;
    if (event.type === "item.started" && item?.type === "mcp_tool_call") return `tool ${String(item.server)}.${String(item.tool)}`;
    if (event.type === "turn.completed") return "codex finished";
    if (event.type === "turn.failed") return `codex failed: ${JSON.stringify(event.error).slice(0, 200)}`;
    return undefined;
  },
  outcome(stdout) {
    const events = jsonLines(stdout);
    const message = events
      .map((e) => (e.type === "item.completed" ? asRecord(e.item) : null))
      .filter((item) => item?.type === "agent_message")
      .pop();
    const turn = events.filter((e) => e.type === "turn.completed" || e.type === "turn.failed").pop();
    return {
      result_text: message && typeof message.text === "string" ? message.text : null,
      structured: message ? { ...message, turn: turn ?? null } : (turn ?? null),
      usage: asRecord(turn?.usage),
    };
  },
};
