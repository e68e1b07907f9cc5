/**
 * A server entry for `claude mcp add-json`, marked `alwaysLoad`: without it
 * Claude Code (2.1) starts a `claude -p` turn without waiting for MCP
 * servers, and one still starting is missing from the tools the model is
 * offered. `claude mcp add` has no flag for it.
 */
export const claudeServerJson = (server: Record<string, unknown>): string => JSON.stringify({ ...server, alwaysLoad: true });
