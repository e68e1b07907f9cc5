import type { AgentRunRequest } from "../engine/records.js";

/** What a provider's headless mode reports once the run ends. */
export interface HeadlessOutcome {
  result_text: string | null;
  structured: Record<string, unknown> | null;
  usage: Record<string, unknown> | null;
}

/** How one provider runs a prompt without a terminal, and reads what it printed. */
export interface HeadlessMode {
  argv(request: AgentRunRequest, promptFile: string): string[];
  /** A short line for a progress notification from one line of output, or undefined to stay quiet. */
  describeLine(line: string): string | undefined;
  outcome(stdout: string): HeadlessOutcome;
}

/** Each line of JSON-lines output that parses as an object. */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  const objects: Record<string, unknown>[] = [];
  for (const line of stdout.split("\n")) {
    const trimmed = line.trim();
    if (!trimmed.startsWith("{")) continue;
    try {
      const value: unknown = JSON.parse(trimmed);
      if (value && typeof value === "object" && !Array.isArray(value)) objects.push(value as Record<string, unknown>);
    } catch {
      // a line cut by the output cap, or a log line that merely starts with "{"
    }
  }
  return objects;
}
