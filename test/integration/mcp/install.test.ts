import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
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

  it("when the claude CLI is missing, saying how to install it and the command to run by hand: this copy, by absolute paths", async () => {
    const result = await install(["claude", "--scope", "user"]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/the `claude` CLI was not found on PATH\. Install Claude Code \(npm install -g @anthropic-ai\/claude-code\)/);
    const server = JSON.stringify({ type: "stdio", command: process.execPath, args: [cliPath, "mcp"], alwaysLoad: true });
    expect(result.stderr).toContain(`claude mcp add-json bot-bottle '${server}' --scope user`);
  });

  it("with --server-command path or npx, registering `bot-bottle mcp` from PATH or `npx -y bot-bottle mcp`", async () => {
    const fromPath = await install(["claude", "--server-command", "path"]);
    expect(fromPath.stderr).toContain(`claude mcp add-json bot-bottle '{"type":"stdio","command":"bot-bottle","args":["mcp"],"alwaysLoad":true}' --scope local`);
    const npx = await install(["codex", "--server-command", "npx"]);
    expect(npx.stderr).toContain("codex mcp add bot-bottle -- npx -y bot-bottle mcp");
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
    const both = await install(["claude", "--server-command", "npx", "--", "node", "/opt/bot-bottle/cli.js", "mcp"]);
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toMatch(/give either --server-command or a command after --, not both/);
    const badForm = await install(["claude", "--server-command", "global"]);
    expect(badForm.exitCode).toBe(2);
    expect(badForm.stderr).toMatch(/option '--server-command <form>' argument 'global' is invalid. Allowed choices are absolute, path, npx/);
    const badEnv = await install(["claude", "--env", "NOT A PAIR"]);
    expect(badEnv.exitCode).toBe(2);
    expect(badEnv.stderr).toMatch(/--env NOT A PAIR: expected KEY=VALUE/);
  });

  describe("a secret given with --env, which the client would keep in its config in plain text (usage error, exit 2, the value never repeated)", () => {
    const token = "sk-ant-oat01-abcdefghijklmnopqrstuvwxyz0123456789";
    const refused = async (pair: string, reason: string, key: string) => {
      const result = await install(["claude", "--env", pair]);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toContain(`--env ${key}: ${reason}, and claude's config is no place for one`);
      expect(result.stderr).toContain(`nothing was registered. Store it with \`bot-bottle secret set ${key}\``);
      expect(result.stderr).not.toContain(pair.slice(key.length + 1));
    };

    it("a name a bottle of the server's home uses as a secret", async () => {
      const home = path.join(emptyBin.path, "home");
      mkdirSync(path.join(home, "bottles"), { recursive: true });
      writeFileSync(path.join(home, "bottles", "gh.md"), "---\negress:\n  routes:\n    - host: api.github.com\n      auth: {scheme: token, token_ref: GH_PLAIN_NAME}\n---\n");
      const result = await install(["claude", "--env", `BOT_BOTTLE_HOME=${home}`, "--env", "GH_PLAIN_NAME=some-value"]);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toContain(`--env GH_PLAIN_NAME: a bottle in ${home} names GH_PLAIN_NAME as a secret`);
      expect(result.stderr).not.toContain("some-value");
    });

    it("a name that says it holds a secret", async () => {
      await refused("GITHUB_TOKEN=plain-value-123", "GITHUB_TOKEN is named like a secret", "GITHUB_TOKEN");
      await refused("OPENAI_API_KEY=plain-value-123", "OPENAI_API_KEY is named like a secret", "OPENAI_API_KEY");
    });

    it("a value shaped like a known kind of token, whatever its name", async () => {
      await refused(`HARMLESS=${token}`, "its value has the shape of a token (Anthropic API key)", "HARMLESS");
    });

    it("while settings pass (and the missing CLI is what stops this run)", async () => {
      const result = await install(["claude", "--env", `BOT_BOTTLE_HOME=${emptyBin.path}`, "--env", "BOT_BOTTLE_LOG=debug"]);
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(/the `claude` CLI was not found on PATH/);
    });
  });
});
