import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { claudeHeadless } from "../../../src/providers/claude/headless.js";
import { codexHeadless } from "../../../src/providers/codex/headless.js";

// The fixtures were captured from the real Claude Code 2.1.197 and Codex 0.169.0
// talking to a local fake model API (see facts.md), so the parsers read what
// the agents really print.
const fixture = (name: string) => readFileSync(path.join(import.meta.dirname, "..", "..", "fixtures", "headless", name), "utf8");

describe("claude headless mode", () => {
  it("runs claude -p with stream-json and the prompt file, and passes limits through", () => {
    expect(claudeHeadless.argv({ prompt: "fix it", model: "opus", maxTurns: 3, allowedTools: ["Bash", "mcp__supervise__egress-allow"] }, "/home/node/.bot-bottle/prompt.md")).toEqual([
      "claude", "-p", "fix it", "--output-format", "stream-json", "--verbose",
      "--append-system-prompt-file", "/home/node/.bot-bottle/prompt.md",
      "--model", "opus", "--max-turns", "3", "--allowedTools", "Bash,mcp__supervise__egress-allow",
    ]);
  });

  it("reads the answer, the result event and usage from real output", () => {
    const outcome = claudeHeadless.outcome(fixture("claude-stream.jsonl"));
    expect(outcome.result_text).toBe("the fake says hi");
    expect(outcome.structured).toMatchObject({ type: "result", subtype: "success", is_error: false });
    expect(outcome.usage).toMatchObject({ input_tokens: 5 });
  });

  it("describes assistant events for progress and ignores noise", () => {
    const lines = fixture("claude-stream.jsonl").trim().split("\n");
    const described = lines.map((l) => claudeHeadless.describeLine(l)).filter(Boolean);
    expect(described).toEqual(["claude started", "assistant: the fake says hi", "claude finished (success)"]);
    expect(claudeHeadless.describeLine("not json")).toBeUndefined();
  });

  it("has no answer when the output holds no result event (e.g. cut by the cap)", () => {
    expect(claudeHeadless.outcome('{"type":"system","subtype":"init"}\n{"type":"resu')).toEqual({ result_text: null, structured: null, usage: null });
  });
});

describe("codex headless mode", () => {
  it("runs codex exec --json without a git check", () => {
    expect(codexHeadless.argv({ prompt: "say hi", model: "gpt-x" }, "/ignored")).toEqual(["codex", "exec", "--json", "--skip-git-repo-check", "-m", "gpt-x", "say hi"]);
  });

  it("reads the last agent message and the turn's usage from real output", () => {
    const outcome = codexHeadless.outcome(fixture("codex-exec.jsonl"));
    expect(outcome.result_text).toBe("codex fake answer");
    expect(outcome.usage).toMatchObject({ input_tokens: 7, output_tokens: 3 });
    expect(outcome.structured).toMatchObject({ type: "agent_message", text: "codex fake answer" });
  });

  it("describes the start, the answer and the end for progress", () => {
    const described = fixture("codex-exec.jsonl").trim().split("\n").map((l) => codexHeadless.describeLine(l)).filter(Boolean);
    expect(described).toEqual(["codex started", "assistant: codex fake answer", "codex finished"]);
  });

  it("reports a failed turn", () => {
    const outcome = codexHeadless.outcome('{"type":"turn.failed","error":{"message":"quota"}}\n');
    expect(outcome.result_text).toBeNull();
    expect(outcome.structured).toMatchObject({ type: "turn.failed" });
    expect(codexHeadless.describeLine('{"type":"turn.failed","error":{"message":"quota"}}')).toMatch(/quota/);
  });
});
