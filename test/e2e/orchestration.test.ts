import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { readAudit } from "../../src/supervise/audit.js";
import { cliPath } from "../support/cli.js";
import { describeWithDocker, engineTestEnv } from "../support/docker.js";
import { claudeAgainstFake, clientPath, codexExec, describeWithE2eTools, e2eTool, serverNode } from "../support/e2e-tools.js";
import { createTestCa, createTestInternet, type FakeModelContainer, startFakeModelContainer, type TestCa, type TestInternet } from "../support/fake-model-container.js";
import { useTempDir } from "../support/temp-dir.js";
import { anthropicMessages, type FakeModel, openaiResponses, type Script, startFakeModel, type Step } from "./fake-model.js";

// The loop this server exists for, with real clients: one outer agent (real
// Claude Code, then real Codex, each driven by a scripted fake model) starts
// two bottles, a bottled Claude Code and a bottled Codex, each with a scripted
// fake model of its own reachable only through its declared egress route;
// hands each a prompt in the background; waits on both; sees the bottled
// Claude Code's request-approval pending, approves it with notes; waits
// again; and reads both answers. The notes reach the bottled agent.

const CLAUDE_API = "api.claude-fake.test";
const CODEX_API = "api.codex-fake.test";
const NOTES = "approved: the outer agent says go ahead";
const CODEX_ANSWER = "the bottled codex is done";
/** Enough turns for the loop, and a bound if it goes wrong. */
const MAX_TURNS = 40;

interface Outcome {
  bottles: { claude: string; codex: string };
  runs: { claude: string; codex: string };
  approved: string | null;
  waits: string[];
  answers: Record<string, string>;
}

/** The JSON a tool result carries (Codex puts a line of timing before it). */
const json = <T>(text: string): T => JSON.parse(text.slice(text.indexOf("{"))) as T;
const field = (text: string | undefined, name: string) => new RegExp(`"${name}":"([^"]+)"`).exec(text ?? "")?.[1] ?? `no ${name} in ${text?.slice(0, 200)}`;

/**
 * The outer agent's plan, as a model would follow the server's instructions.
 * Each step depends on what the real server answered; a step once chosen for
 * a turn is kept (a client may ask for the same turn again).
 */
function outerLoop(tool: (name: string) => string, wireInternet: (bottles: string[]) => Promise<void>, outcome: Outcome): Script {
  const chosen: Step[] = [];
  let running: string[] = [];
  const decide = async (results: string[]): Promise<Step> => {
    const n = results.length;
    const last = results[n - 1];
    if (n === 0) return { tool: tool("start_bottle"), input: { agent: "claude-worker" } };
    if (n === 1) {
      outcome.bottles.claude = field(last, "id");
      return { tool: tool("start_bottle"), input: { agent: "codex-worker" } };
    }
    if (n === 2) {
      outcome.bottles.codex = field(last, "id");
      await wireInternet([outcome.bottles.claude, outcome.bottles.codex]);
      return {
        tool: tool("exec_in_bottle"),
        input: { bottle_id: outcome.bottles.claude, prompt: "Ask for approval, then report the answer.", background: true, allowed_tools: ["mcp__supervise__request-approval"], timeout_s: 600 },
      };
    }
    if (n === 3) {
      outcome.runs.claude = field(last, "run_id");
      return { tool: tool("exec_in_bottle"), input: { bottle_id: outcome.bottles.codex, prompt: "Say you are done.", background: true, timeout_s: 600 } };
    }
    if (n === 4) {
      outcome.runs.codex = field(last, "run_id");
      running = [outcome.runs.claude, outcome.runs.codex];
      return { tool: tool("wait_for_runs"), input: { run_ids: running, timeout_s: 50 } };
    }
    if (n > MAX_TURNS) return { text: "gave up: too many turns" };
    const previous = chosen[n - 1]!;
    if ("tool" in previous && previous.tool === tool("wait_for_runs")) {
      outcome.waits.push(last!);
      const waited = json<{ pending: { id: string; kind: string }[]; runs: { run_id: string; state: string }[] }>(last!);
      const request = waited.pending.find((p) => p.kind === "request-approval");
      if (request && outcome.approved === null) {
        outcome.approved = request.id;
        return { tool: tool("supervise_approve"), input: { request_id: request.id, decision: "approve", notes: NOTES } };
      }
      running = waited.runs.filter((r) => r.state === "running").map((r) => r.run_id);
      if (running.length > 0) return { tool: tool("wait_for_runs"), input: { run_ids: running, timeout_s: 50 } };
      return { tool: tool("get_run"), input: { run_id: outcome.runs.claude } };
    }
    if ("tool" in previous && previous.tool === tool("supervise_approve")) return { tool: tool("wait_for_runs"), input: { run_ids: running, timeout_s: 50 } };
    if ("tool" in previous && previous.tool === tool("get_run")) {
      const runId = field(last, "run_id");
      outcome.answers[runId] = last!;
      if (runId === outcome.runs.claude) return { tool: tool("get_run"), input: { run_id: outcome.runs.codex } };
      return { tool: tool("stop_bottle"), input: { bottle_id: outcome.bottles.claude } };
    }
    if ("tool" in previous && previous.tool === tool("stop_bottle") && field(last, "id") === outcome.bottles.claude) {
      return { tool: tool("stop_bottle"), input: { bottle_id: outcome.bottles.codex } };
    }
    return { text: "both bottled agents answered; the bottles are stopped" };
  };
  // A script that throws would leave the client waiting on a model that never answers: say it instead.
  return async (results) => (chosen[results.length] ??= await decide(results).catch((error: Error) => ({ text: `the test's script failed: ${error.message}` })));
}

describeWithDocker("orchestration: one outer agent fans out to a bottled Claude Code and a bottled Codex", () => {
  describeWithE2eTools("orchestration with real outer clients (pinned)", ["claude", "codex", "node"], () => {
    const root = useTempDir("bb-orchestration-");
    let home = "";
    let serverEnv: Record<string, string> = {};
    let ca: TestCa;
    let internet: TestInternet;
    const fakes: FakeModelContainer[] = [];
    let outerModel: FakeModel | undefined;
    const joined = new Set<string>();

    const wireInternet = async (bottles: string[]) => {
      for (const id of bottles) {
        if (joined.has(id)) continue;
        joined.add(id);
        await internet.connect(`bot-bottle-${id}-bundle`);
      }
    };

    beforeAll(async () => {
      home = path.join(root.path, "bot-bottle-home");
      for (const sub of ["bottles", "agents"]) mkdirSync(path.join(home, sub), { recursive: true });
      // Each bottled agent's model is a fake host of its own, reachable only through the route its provider declares for its base URL.
      writeFileSync(
        path.join(home, "bottles", "claude-fake.md"),
        `---\nagent_provider:\n  template: claude\n  auth_token: HOST_CLAUDE_TOKEN\nenv:\n  ANTHROPIC_BASE_URL: https://${CLAUDE_API}\n  CLAUDE_CODE_MAX_RETRIES: 0\nsupervise:\n  timeout_s: 600\n---\n`,
      );
      writeFileSync(
        path.join(home, "bottles", "codex-fake.md"),
        [
          "---",
          "agent_provider:",
          "  template: codex",
          "  auth_token: HOST_OPENAI_KEY",
          "  settings:",
          "    model: fake-model",
          "    model_provider: fake",
          "    model_providers:",
          "      fake:",
          "        name: fake",
          `        base_url: https://${CODEX_API}/v1`,
          "        wire_api: responses",
          "---",
          "",
        ].join("\n"),
      );
      writeFileSync(path.join(home, "agents", "claude-worker.md"), "---\nbottle: claude-fake\n---\nYou ask before acting.\n");
      writeFileSync(path.join(home, "agents", "codex-worker.md"), "---\nbottle: codex-fake\n---\nYou answer in one line.\n");
      ca = await createTestCa(root.path);
      internet = await createTestInternet(`bb-orchestration-${process.pid}`);
      serverEnv = {
        ...engineTestEnv(),
        BOT_BOTTLE_HOME: home,
        BOT_BOTTLE_LOG: "warn",
        BOT_BOTTLE_EGRESS_EXTRA_CA: ca.certFile,
        BOT_BOTTLE_EGRESS_ALLOW_NETWORKS: internet.subnet,
      };
      // The bottles' model credentials live in bot-bottle's secret store, never in a client's config.
      for (const [name, value] of [
        ["HOST_CLAUDE_TOKEN", "sk-ant-oat01-orchestration-test-token"],
        ["HOST_OPENAI_KEY", "sk-proj-orchestration-test-key"],
      ]) {
        const stored = await execa(serverNode, [cliPath, "secret", "set", name!], { input: value, env: { BOT_BOTTLE_HOME: home }, reject: false });
        expect(stored.exitCode, stored.stderr).toBe(0);
      }
      fakes.push(
        await startFakeModelContainer({
          name: `bb-orch-claude-api-${process.pid}`,
          network: internet.name,
          host: CLAUDE_API,
          dialect: "anthropic",
          steps: [{ tool: "mcp__supervise__request-approval", input: { summary: "clean the build cache", justification: "the orchestration test asks" } }],
          ca,
        }),
        await startFakeModelContainer({ name: `bb-orch-codex-api-${process.pid}`, network: internet.name, host: CODEX_API, dialect: "openai", steps: [], answer: CODEX_ANSWER, ca }),
      );
    });

    afterAll(async () => {
      await outerModel?.close();
      for (const fake of fakes) await fake.remove();
      // Bottles a failed loop left running, then whatever gc finds.
      const listed = await execa(serverNode, [cliPath, "ls", "--json"], { env: serverEnv, reject: false });
      for (const bottle of JSON.parse(listed.stdout || "[]") as { id: string; status: string }[]) {
        if (bottle.status === "running") await execa(serverNode, [cliPath, "stop", bottle.id], { env: serverEnv, reject: false });
      }
      await execa(serverNode, [cliPath, "gc"], { env: serverEnv, reject: false });
      await internet?.remove();
    });

    const expectTheLoopRan = (outcome: Outcome, toolResults: string[]) => {
      expect(outcome.bottles.claude, toolResults.join("\n")).toMatch(/^claude-worker-[0-9a-f]+$/);
      expect(outcome.bottles.codex).toMatch(/^codex-worker-[0-9a-f]+$/);
      expect(outcome.runs.claude).toMatch(/^run-[0-9a-f]{16}$/);
      // A wait came back with the bottled Claude Code's request pending, and the outer agent approved it.
      expect(outcome.approved).toMatch(/^[0-9a-f]{32}$/);
      expect(outcome.waits.some((w) => json<{ pending: { id: string }[] }>(w).pending.some((p) => p.id === outcome.approved))).toBe(true);
      // Both answers were read with get_run: the notes reached the bottled Claude Code, the bottled Codex answered.
      const claude = json<{ state: string; exit_code: number; result_text: string }>(outcome.answers[outcome.runs.claude]!);
      expect(claude).toMatchObject({ state: "exited", exit_code: 0 });
      expect(claude.result_text).toContain("Approved by the outer agent (supervise_approve)");
      expect(claude.result_text).toContain(NOTES);
      const codex = json<{ state: string; exit_code: number; result_text: string }>(outcome.answers[outcome.runs.codex]!);
      expect(codex).toMatchObject({ state: "exited", exit_code: 0, result_text: CODEX_ANSWER });
      const audit = readAudit(home, outcome.bottles.claude).filter((r) => r.id === outcome.approved);
      expect(audit.map((r) => r.event)).toEqual(["proposal", "decision"]);
      expect(audit[1]).toMatchObject({ decision: "approve", notes: NOTES });
    };

    it("real Claude Code as the outer agent runs the loop in one claude -p", async () => {
      const clientHome = path.join(root.path, "claude-home");
      const project = path.join(root.path, "claude-project");
      for (const dir of [clientHome, project]) mkdirSync(dir, { recursive: true });
      const env = { PATH: clientPath(), HOME: clientHome };
      const envArgs = Object.entries(serverEnv).flatMap(([key, value]) => ["--env", `${key}=${value}`]);
      const installed = await execa(serverNode, [cliPath, "mcp", "install", "claude", "--scope", "user", ...envArgs, "--", serverNode, cliPath, "mcp"], { env, extendEnv: false, cwd: project, reject: false });
      expect(installed.exitCode, installed.stderr).toBe(0);

      const outcome: Outcome = { bottles: { claude: "", codex: "" }, runs: { claude: "", codex: "" }, approved: null, waits: [], answers: {} };
      outerModel = await startFakeModel(anthropicMessages, outerLoop((name) => `mcp__bot-bottle__${name}`, wireInternet, outcome));
      const tools = ["start_bottle", "exec_in_bottle", "wait_for_runs", "supervise_approve", "get_run", "stop_bottle"].map((name) => `mcp__bot-bottle__${name}`);
      const run = await execa(e2eTool("claude"), ["-p", "Fan the task out to two bottles.", "--output-format", "json", "--allowedTools", tools.join(",")], {
        env: { ...env, ...claudeAgainstFake(outerModel.url), MCP_TOOL_TIMEOUT: "120000" },
        extendEnv: false,
        cwd: project,
        reject: false,
        stdin: "ignore",
        timeout: 900_000,
      });
      expect(run.exitCode, `${run.stderr}\n${outerModel.toolResults.join("\n")}`).toBe(0);
      expectTheLoopRan(outcome, outerModel.toolResults);
      expect((JSON.parse(run.stdout) as { result: string }).result).toBe("both bottled agents answered; the bottles are stopped");
      await outerModel.close();
      outerModel = undefined;
    });

    it("real Codex as the outer agent runs the same loop in one codex exec", async () => {
      const codexHome = path.join(root.path, "codex-home");
      const project = path.join(root.path, "codex-project");
      for (const dir of [codexHome, project]) mkdirSync(dir, { recursive: true });
      const env = { PATH: clientPath(), HOME: path.join(root.path, "codex-user"), CODEX_HOME: codexHome };
      mkdirSync(env.HOME, { recursive: true });
      const envArgs = Object.entries(serverEnv).flatMap(([key, value]) => ["--env", `${key}=${value}`]);
      const installed = await execa(serverNode, [cliPath, "mcp", "install", "codex", ...envArgs, "--", serverNode, cliPath, "mcp"], { env, extendEnv: false, cwd: project, reject: false });
      expect(installed.exitCode, installed.stderr).toBe(0);

      const outcome: Outcome = { bottles: { claude: "", codex: "" }, runs: { claude: "", codex: "" }, approved: null, waits: [], answers: {} };
      // Codex presents the server's tools in a namespace named after it, `-` made `_`.
      outerModel = await startFakeModel(openaiResponses, outerLoop((name) => `mcp__bot_bottle/${name}`, wireInternet, outcome));
      const run = await codexExec({ codexHome, env, cwd: project, fakeUrl: outerModel.url, prompt: "Fan the task out to two bottles.", timeoutS: 600 });
      expectTheLoopRan(outcome, outerModel.toolResults);
      expect(run.stdout, run.stderr).toContain("both bottled agents answered; the bottles are stopped");
    });
  });
});
