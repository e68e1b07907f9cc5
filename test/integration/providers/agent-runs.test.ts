import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CLAUDE_CODE_VERSION, CLAUDE_PLACEHOLDER_API_KEY, CLAUDE_PLACEHOLDER_TOKEN } from "../../../src/providers/claude/provider.js";
import { CODEX_VERSION } from "../../../src/providers/codex/provider.js";
import { describeWithDocker, engineTestEnv } from "../../support/docker.js";
import { createTestInternet, createTestCa, type TestInternet, startFakeModelContainer } from "../../support/fake-model-container.js";
import { connectStdio } from "../../support/mcp-server.js";
import { useTempDir } from "../../support/temp-dir.js";

// The outer loop of issue 6 with real agents: an MCP client starts a bottle and
// hands the bottled Claude Code or Codex a prompt through exec_in_bottle. Their
// model API is a fake in a container, reachable only through egress, which
// injects the host-side credential; the agent holds a placeholder only.

const FAKE_HOST = "api.fake.test";
const ANSWER = "the bottled agent's answer";

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

interface ToolResult {
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
  content?: { text?: string }[];
}

describeWithDocker("bottled agents answer prompts with credentials they never hold", () => {
  const dir = useTempDir("bb-agent-runs-");
  const claudeToken = `sk-ant-oat01-${randomBytes(24).toString("hex")}`;
  const claudeApiKey = `sk-ant-api03-${randomBytes(24).toString("hex")}`;
  const codexExpiry = Math.floor(Date.now() / 1000) + 7200;
  const codexAccessToken = `${b64({ alg: "RS256", typ: "JWT" })}.${b64({ exp: codexExpiry, "https://api.openai.com/auth": { chatgpt_account_id: "acct-test" } })}.${randomBytes(32).toString("base64url")}`;
  let env: Record<string, string> = {};
  let client: Client;
  let stderr: () => string;
  const started: string[] = [];
  let internet: TestInternet;
  let ca: Awaited<ReturnType<typeof createTestCa>>;

  const call = async (name: string, args: Record<string, unknown>, onprogress?: (p: { message?: string }) => void) => {
    const result = (await client.callTool({ name, arguments: args }, undefined, { timeout: 600_000, onprogress })) as ToolResult;
    if (result.isError) throw new Error(`${name} failed: ${result.content?.[0]?.text}\n${stderr()}`);
    return result.structuredContent!;
  };

  beforeAll(async () => {
    const home = path.join(dir.path, "home");
    const codexHome = path.join(dir.path, "host-codex");
    for (const sub of ["bottles", "agents"]) mkdirSync(path.join(home, sub), { recursive: true });
    mkdirSync(codexHome, { recursive: true });
    writeFileSync(
      path.join(home, "bottles", "claude-fake.md"),
      `---\nagent_provider:\n  template: claude\n  auth_token: HOST_CLAUDE_TOKEN\nenv:\n  ANTHROPIC_BASE_URL: https://${FAKE_HOST}\n  CLAUDE_CODE_MAX_RETRIES: 0\n---\n`,
    );
    writeFileSync(
      path.join(home, "bottles", "codex-fake.md"),
      [
        "---",
        "agent_provider:",
        "  template: codex",
        "  forward_host_credentials: true",
        "  settings:",
        "    model: fake-model",
        "    model_provider: fake",
        "    model_providers:",
        "      fake:",
        "        name: fake",
        `        base_url: https://${FAKE_HOST}/v1`,
        "        wire_api: responses",
        "---",
        "",
      ].join("\n"),
    );
    writeFileSync(
      path.join(home, "bottles", "claude-key-fake.md"),
      `---\nextends: claude-fake\nagent_provider:\n  auth_token: HOST_CLAUDE_API_KEY\n  auth_kind: api_key\n---\n`,
    );
    writeFileSync(path.join(home, "agents", "claude-runner.md"), "---\nbottle: claude-fake\n---\nYou answer in one line.\n");
    writeFileSync(path.join(home, "agents", "claude-key-runner.md"), "---\nbottle: claude-key-fake\n---\nYou answer in one line.\n");
    writeFileSync(path.join(home, "agents", "codex-runner.md"), "---\nbottle: codex-fake\n---\nYou answer in one line.\n");
    writeFileSync(
      path.join(codexHome, "auth.json"),
      JSON.stringify({ OPENAI_API_KEY: null, tokens: { id_token: codexAccessToken, access_token: codexAccessToken, refresh_token: "rt-host-only", account_id: "acct-test" }, last_refresh: new Date().toISOString() }),
    );
    ca = await createTestCa(dir.path);
    internet = await createTestInternet(`bb-agent-runs-${process.pid}`);
    env = {
      ...engineTestEnv(),
      BOT_BOTTLE_HOME: home,
      BOT_BOTTLE_LOG: "info",
      BOT_BOTTLE_EGRESS_EXTRA_CA: ca.certFile,
      HOST_CLAUDE_TOKEN: claudeToken,
      HOST_CLAUDE_API_KEY: claudeApiKey,
      CODEX_HOME: codexHome,
      BOT_BOTTLE_EGRESS_ALLOW_NETWORKS: internet.subnet,
    };
    ({ client, stderr } = await connectStdio(env));
  });

  afterAll(async () => {
    for (const id of started) await call("stop_bottle", { bottle_id: id }).catch(() => undefined);
    await internet?.remove();
    await client?.close();
  });

  /** Files in the agent container holding `value` (searched as root in every place a secret could leak to). */
  async function filesHolding(id: string, value: string): Promise<string[]> {
    const container = `bot-bottle-${id}-agent`;
    // The secret goes in on stdin, so the search itself puts it in no argv.
    const search = await execa(
      "docker",
      ["exec", "-i", "-u", "root", container, "sh", "-c", "grep -rlsF -f /dev/stdin /home/node /etc /tmp /proc/[0-9]*/environ /proc/[0-9]*/cmdline; echo searched"],
      { input: `${value}\n`, reject: false },
    );
    expect(search.stdout.trim().split("\n").pop()).toBe("searched");
    return search.stdout.trim().split("\n").slice(0, -1);
  }

  async function expectNowhereInBottle(id: string, secret: string, placeholder: string): Promise<void> {
    // The placeholder is there (so the search can find what it looks for); the secret is not.
    expect(await filesHolding(id, placeholder)).not.toEqual([]);
    expect(await filesHolding(id, secret)).toEqual([]);
    const inspect = await execa("docker", ["inspect", `bot-bottle-${id}-agent`]);
    expect(inspect.stdout).not.toContain(secret);
  }

  it.each([
    { provider: "claude", agent: "claude-runner", dialect: "anthropic", header: "authorization: Bearer ", secret: () => claudeToken, placeholder: CLAUDE_PLACEHOLDER_TOKEN, release: ["claude --version", `${CLAUDE_CODE_VERSION} (Claude Code)`] },
    { provider: "claude with an API key", agent: "claude-key-runner", dialect: "anthropic", header: "x-api-key: ", secret: () => claudeApiKey, placeholder: CLAUDE_PLACEHOLDER_API_KEY, release: ["claude --version", `${CLAUDE_CODE_VERSION} (Claude Code)`] },
    { provider: "codex", agent: "codex-runner", dialect: "openai", header: "authorization: Bearer ", secret: () => codexAccessToken, placeholder: "bot-bottle-placeholder", release: ["codex --version", `codex-cli ${CODEX_VERSION}`] },
  ] as const)("$provider: the pinned current release on Node 24, and exec_in_bottle with a prompt returns the fake model's answer", async ({ provider, agent, dialect, header, secret: secretOf, placeholder, release }) => {
    const record = await call("start_bottle", { agent });
    const id = String(record.id);
    started.push(id);
    await internet.connect(`bot-bottle-${id}-bundle`);
    const [versionCommand, expectedVersion] = release;
    const versions = await call("exec_in_bottle", { bottle_id: id, command: `node --version && ${versionCommand}` });
    expect(String(versions.stdout).trim().split("\n"), String(versions.stderr)).toEqual([expect.stringMatching(/^v24\./), expectedVersion]);
    const fake = await startFakeModelContainer({ name: `bb-fake-${agent}-${process.pid}`, network: internet.name, host: FAKE_HOST, dialect, steps: [], answer: ANSWER, ca });
    try {
      const progress: string[] = [];
      const run = await call("exec_in_bottle", { bottle_id: id, prompt: "Answer the test.", timeout_s: 240 }, (p) => progress.push(p.message ?? ""));
      // The agent's own events are relayed while it works (its start comes well before the result).
      expect(progress[0]).toMatch(/^(claude|codex) started$/);
      expect(run.result_text, JSON.stringify(run)).toBe(ANSWER);
      expect(run.exit_code).toBe(0);

      const secret = secretOf();
      const credentials = await fake.credentials();
      expect(credentials.length).toBeGreaterThan(0);
      expect(credentials.every((c) => c === `${header}${secret}`), credentials.join("\n")).toBe(true);
      await expectNowhereInBottle(id, secret, placeholder);
      // In the bundle no process holds the token in its environment or argv: egress reads it from a file only its user can read.
      const procs = await execa(
        "docker",
        ["exec", `bot-bottle-${id}-bundle`, "sh", "-c", "for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do cat $f 2>/dev/null; echo; done"],
        { encoding: "buffer" },
      );
      expect(Buffer.from(procs.stdout).includes("/opt/bot-bottle/egress.js")).toBe(true);
      expect(Buffer.from(procs.stdout).includes(secret)).toBe(false);
      if (provider === "codex") {
        const auth = await call("exec_in_bottle", { bottle_id: id, command: "cat ~/.codex/auth.json" });
        const tokens = (JSON.parse(String(auth.stdout)) as { tokens: { access_token: string } }).tokens;
        const claims = JSON.parse(Buffer.from(tokens.access_token.split(".")[1]!, "base64url").toString()) as { exp: number };
        expect(claims.exp).toBe(codexExpiry);
        await expectNowhereInBottle(id, "rt-host-only", "bot-bottle-placeholder");
      }
    } finally {
      // Both providers' fakes answer as the same host: one at a time.
      await fake.remove();
    }
  });
});
