import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { parse as parseToml } from "smol-toml";
import { afterAll, beforeAll, expect, it } from "vitest";
import { cliPath } from "../support/cli.js";
import { describeWithDocker } from "../support/docker.js";
import { clientPath, codexExec, describeWithE2eTools, e2eTool, serverNode } from "../support/e2e-tools.js";
import { useMcpTestHome } from "../support/mcp-server.js";
import { useTempDir } from "../support/temp-dir.js";
import { openaiResponses, startFakeModel, type FakeModel } from "./fake-model.js";

// Real Codex (pinned, from .e2e-tools) as the outer client: registered with
// `bot-bottle mcp install codex` in a throwaway CODEX_HOME, then driven by a
// scripted fake of the Responses API (a custom model provider).

/** Codex offers an MCP server's tools in a namespace named after the server, with `-` made `_`. */
const tool = (name: string) => `mcp__bot_bottle/${name}`;

describeWithDocker("Codex as the outer MCP client", () => {
  describeWithE2eTools("Codex as the outer MCP client (pinned)", ["codex", "node"], () => {
    const server = useMcpTestHome();
    const root = useTempDir("bb-codex-e2e-");
    let codexHome = "";
    let project = "";
    let env: Record<string, string> = {};
    let fake: FakeModel | undefined;

    beforeAll(() => {
      codexHome = path.join(root.path, "codex");
      project = path.join(root.path, "project");
      env = { PATH: clientPath(), HOME: path.join(root.path, "home"), CODEX_HOME: codexHome };
      for (const dir of [codexHome, project, env.HOME!]) mkdirSync(dir, { recursive: true });
    });
    afterAll(async () => {
      await fake?.close();
    });

    it("`bot-bottle mcp install codex` registers the server, idempotently", async () => {
      const envArgs = Object.entries(server.env).flatMap(([key, value]) => ["--env", `${key}=${value}`]);
      const install = () => execa(serverNode, [cliPath, "mcp", "install", "codex", ...envArgs, "--", serverNode, cliPath, "mcp"], { env, extendEnv: false, cwd: project, reject: false });
      for (const attempt of [await install(), await install()]) {
        expect(attempt.exitCode, attempt.stderr).toBe(0);
        expect(attempt.stdout).toMatch(/registered the bot-bottle MCP server with codex/);
        expect(attempt.stdout).toMatch(/default_tools_approval_mode = "approve"/);
        expect(attempt.stdout).toMatch(/set required = true .*startup_timeout_sec = 60 and tool_timeout_sec = 3600/);
      }
      const config = readFileSync(path.join(codexHome, "config.toml"), "utf8");
      expect(config.match(/^\[mcp_servers\.bot-bottle\]$/gm)).toHaveLength(1);
      expect(config).toContain(`args = ["${cliPath}", "mcp"]`);
      expect(config).toContain(`BOT_BOTTLE_HOME = "${server.home}"`);
      const listed = await execa(e2eTool("codex"), ["mcp", "list"], { env, extendEnv: false, reject: false });
      expect(listed.stdout.split("\n").find((line) => line.startsWith("bot-bottle "))?.split(/\s+/).slice(0, 4)).toEqual(["bot-bottle", serverNode, cliPath, "mcp"]);
      expect(listed.stdout).toMatch(/^bot-bottle\s.*\benabled\b/m);
      // Codex reads what install set: it waits for the server before the first turn, and lets long starts and runs finish.
      expect(parseToml(config)).toMatchObject({ mcp_servers: { "bot-bottle": { required: true, startup_timeout_sec: 60, tool_timeout_sec: 3600 } } });
      const entry = await execa(e2eTool("codex"), ["mcp", "get", "bot-bottle"], { env, extendEnv: false, reject: false });
      expect(entry.stdout).toMatch(/startup_timeout_sec: 60\n\s*tool_timeout_sec: 3600/);
    });

    it("codex exec calls list_agents, start_bottle, exec_in_bottle and stop_bottle, and the real results come back", async () => {
      let bottleId = "";
      fake = await startFakeModel(openaiResponses, (results) => {
        switch (results.length) {
          case 0:
            return { tool: tool("list_agents"), input: {} };
          case 1:
            return { tool: tool("start_bottle"), input: { agent: "worker", label: "codex-e2e" } };
          case 2:
            bottleId = /"id":"(worker-[0-9a-f]+)"/.exec(results[1]!)?.[1] ?? "no-id-in-the-start-result";
            return { tool: tool("exec_in_bottle"), input: { bottle_id: bottleId, command: ["sh", "-c", "echo hello from codex; echo $MCP_TEST_GREETING"] } };
          case 3:
            return { tool: tool("stop_bottle"), input: { bottle_id: bottleId } };
          default:
            return { text: `workflow done: ${results.join(" || ")}` };
        }
      });
      // Offline, Codex may keep reconnecting instead of exiting: the fake's record is what is checked.
      const run = await codexExec({ codexHome, env, cwd: project, fakeUrl: fake.url, prompt: "Run the bottle workflow.", timeoutS: 180 });

      expect(fake.offeredTools[0], run.stderr).toEqual(expect.arrayContaining(["list_agents", "start_bottle", "exec_in_bottle", "stop_bottle", "list_bottles"].map(tool)));
      const [agents, started, exec, stopped] = fake.toolResults;
      expect(agents, run.stderr).toMatch(/"name":"worker"/);
      expect(started).toMatch(new RegExp(`"id":"${bottleId}".*"status":"running"`));
      expect(exec).toMatch(/"exit_code":0/);
      expect(exec).toContain('"stdout":"hello from codex\\nhello from the sandbox bottle\\n"');
      expect(stopped).toMatch(new RegExp(`"removed":\\["container bot-bottle-${bottleId}-agent"`));
      expect(run.stdout).toContain("workflow done");
      const leftovers = await execa("docker", ["ps", "-aq", "--filter", `label=bot-bottle.id=${bottleId}`]);
      expect(leftovers.stdout.trim()).toBe("");
    });
  });
});
