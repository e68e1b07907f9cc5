import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { cliPath } from "../../support/cli.js";
import { useTempDir } from "../../support/temp-dir.js";

// `bot-bottle mcp install` when it cannot or must not register (the
// registrations themselves run against the real clients in test/e2e).

describe("bot-bottle mcp install refuses clearly", () => {
  const emptyBin = useTempDir("bb-no-clients-");
  // No client CLI on PATH: only this folder, which is empty.
  const install = (args: string[]) =>
    execa(process.execPath, [cliPath, "mcp", "install", ...args], { env: { PATH: emptyBin.path, HOME: emptyBin.path }, extendEnv: false, reject: false });

  it("when the claude CLI is missing, saying how to install it and the command to run by hand", async () => {
    const result = await install(["claude", "--scope", "user"]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/the `claude` CLI was not found on PATH\. Install Claude Code \(npm install -g @anthropic-ai\/claude-code\)/);
    expect(result.stderr).toContain(`claude mcp add-json bot-bottle '{"type":"stdio","command":"npx","args":["-y","bot-bottle","mcp"],"alwaysLoad":true}' --scope user`);
  });

  it("when the codex CLI is missing", async () => {
    const result = await install(["codex", "--", "node", "/opt/bot-bottle/cli.js", "mcp"]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/the `codex` CLI was not found on PATH.*codex mcp add bot-bottle -- node \/opt\/bot-bottle\/cli\.js mcp/);
  });

  it("on options that do not apply to codex, and on unknown clients or scopes (usage errors, exit 2)", async () => {
    const scope = await install(["codex", "--scope", "project"]);
    expect(scope.exitCode).toBe(2);
    expect(scope.stderr).toMatch(/--scope is for claude only/);
    const dispatch = await install(["codex", "--dispatch-agent"]);
    expect(dispatch.exitCode).toBe(2);
    expect(dispatch.stderr).toMatch(/--dispatch-agent writes a Claude Code subagent/);
    const client = await install(["cursor"]);
    expect(client.exitCode).toBe(2);
    expect(client.stderr).toMatch(/'cursor' is invalid for argument 'client'. Allowed choices are claude, codex/);
    const badScope = await install(["claude", "--scope", "global"]);
    expect(badScope.exitCode).toBe(2);
    const badEnv = await install(["claude", "--env", "NOT A PAIR"]);
    expect(badEnv.exitCode).toBe(2);
    expect(badEnv.stderr).toMatch(/--env NOT A PAIR: expected KEY=VALUE/);
  });
});
