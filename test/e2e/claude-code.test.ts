import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { tools } from "../../tools/registry.js";
import { cliPath, repoRoot } from "../support/cli.js";
import { describeWithDocker } from "../support/docker.js";
import { claudeAgainstFake, clientPath, describeWithE2eTools, e2eTool, serverNode } from "../support/e2e-tools.js";
import { useMcpTestHome } from "../support/mcp-server.js";
import { useTempDir } from "../support/temp-dir.js";
import { anthropicMessages, startFakeModel, type FakeModel } from "./fake-model.js";

// Real Claude Code (pinned, from .e2e-tools) as the outer client: registered
// with `bot-bottle mcp install claude` in a throwaway HOME, then driven by a
// scripted fake of the Anthropic API through the whole bottle workflow.

/** What the model sees: every registered tool, under the server's name. */
const TOOLS = tools.map((tool) => `mcp__bot-bottle__${tool.name}`);

describeWithDocker("Claude Code as the outer MCP client", () => {
  describeWithE2eTools("Claude Code as the outer MCP client (pinned)", ["claude", "node"], () => {
    const server = useMcpTestHome();
    const root = useTempDir("bb-claude-e2e-");
    let home = "";
    let project = "";
    let env: Record<string, string> = {};
    const install = (...extra: string[]) => {
      const serverEnvArgs = Object.entries(server.env).flatMap(([key, value]) => ["--env", `${key}=${value}`]);
      return execa(serverNode, [cliPath, "mcp", "install", "claude", "--scope", "user", ...extra, ...serverEnvArgs, "--", serverNode, cliPath, "mcp"], {
        env,
        extendEnv: false,
        cwd: project,
        reject: false,
      });
    };
    const claude = (args: string[], extraEnv: Record<string, string> = {}) =>
      execa(e2eTool("claude"), args, { env: { ...env, ...extraEnv }, extendEnv: false, cwd: project, reject: false, stdin: "ignore", timeout: 240_000 });
    let fake: FakeModel | undefined;

    beforeAll(() => {
      home = path.join(root.path, "home");
      project = path.join(root.path, "project");
      env = { PATH: clientPath(), HOME: home };
      for (const dir of [home, project]) mkdirSync(dir, { recursive: true });
    });
    afterAll(async () => {
      await fake?.close();
    });

    it("`bot-bottle mcp install claude` registers the server, idempotently, and `claude mcp list` shows it connected", async () => {
      const first = await install("--dispatch-agent");
      expect(first.exitCode, first.stderr).toBe(0);
      expect(first.stdout).toMatch(/registered the bot-bottle MCP server with claude \(scope user\)/);
      const again = await install();
      expect(again.exitCode, again.stderr).toBe(0);

      const config = JSON.parse(readFileSync(path.join(home, ".claude.json"), "utf8")) as { mcpServers: Record<string, { command: string; args: string[]; env: Record<string, string> }> };
      expect(Object.keys(config.mcpServers)).toEqual(["bot-bottle"]);
      // alwaysLoad: `claude -p` waits for the server before its first turn instead of going ahead without its tools.
      expect(config.mcpServers["bot-bottle"]).toEqual({ type: "stdio", command: serverNode, args: [cliPath, "mcp"], env: server.env, alwaysLoad: true });

      const list = await claude(["mcp", "list"], { MCP_TIMEOUT: "20000" });
      expect(list.stdout.split("\n")).toContain(`bot-bottle: ${serverNode} ${cliPath} mcp - ✔ Connected`);
      expect(list.stdout.match(/bot-bottle/g)).toHaveLength(1);
    });

    it("--dispatch-agent wrote a subagent whose only tools are bot-bottle's", () => {
      const agent = readFileSync(path.join(home, ".claude", "agents", "bottle-dispatch.md"), "utf8");
      expect(agent).toMatch(/^---\nname: bottle-dispatch\n/);
      const listed = /^tools: (.*)$/m.exec(agent)?.[1]?.split(", ");
      expect(listed?.sort()).toEqual([...TOOLS].sort());
    });

    it("claude -p calls list_agents, start_bottle, exec_in_bottle and stop_bottle, and the real results come back", async () => {
      let bottleId = "";
      fake = await startFakeModel(anthropicMessages, (results) => {
        switch (results.length) {
          case 0:
            return { tool: "mcp__bot-bottle__list_agents", input: {} };
          case 1:
            return { tool: "mcp__bot-bottle__start_bottle", input: { agent: "worker", label: "claude-e2e" } };
          case 2:
            bottleId = /"id":"(worker-[0-9a-f]+)"/.exec(results[1]!)?.[1] ?? "no-id-in-the-start-result";
            return { tool: "mcp__bot-bottle__exec_in_bottle", input: { bottle_id: bottleId, command: "echo hello from inside the bottle; id -un" } };
          case 3:
            return { tool: "mcp__bot-bottle__stop_bottle", input: { bottle_id: bottleId } };
          default:
            return { text: `workflow done: ${results.join(" || ")}` };
        }
      });
      const run = await claude(["-p", "Run the bottle workflow.", "--output-format", "json", "--allowedTools", TOOLS.join(",")], claudeAgainstFake(fake.url));
      expect(run.exitCode, run.stderr).toBe(0);

      // Claude Code offered the server's tools to the model...
      expect(fake.offeredTools[0]).toEqual(expect.arrayContaining(TOOLS));
      // ...and relayed what the real server answered, step by step.
      const [agents, started, exec, stopped] = fake.toolResults;
      expect(agents).toMatch(/"name":"worker"/);
      expect(agents).toMatch(/"broken":\[\{"kind":"agent","name":"broken"/);
      expect(started).toMatch(new RegExp(`"id":"${bottleId}".*"status":"running"`));
      expect(JSON.parse(exec!)).toMatchObject({ exit_code: 0, stdout: "hello from inside the bottle\nnode\n", timed_out: false });
      expect(stopped).toMatch(new RegExp(`"removed":\\["container bot-bottle-${bottleId}-agent"`));
      const result = JSON.parse(run.stdout) as { is_error: boolean; result: string; num_turns: number };
      expect(result.is_error).toBe(false);
      expect(result.result).toContain("hello from inside the bottle");
      expect(result.num_turns).toBe(5);

      const leftovers = await execa("docker", ["ps", "-aq", "--filter", `label=bot-bottle.id=${bottleId}`]);
      expect(leftovers.stdout.trim()).toBe("");
    });
  });
});

describeWithE2eTools("the packed package, registered with Claude Code as `npx -y bot-bottle mcp`", ["claude", "node"], () => {
  const server = useMcpTestHome();
  const root = useTempDir("bb-claude-pack-");

  it("`npx -y bot-bottle mcp` from the tarball, registered by `bot-bottle mcp install claude --server-command npx`, shows connected", async () => {
    const home = path.join(root.path, "home");
    const project = path.join(root.path, "project");
    // Here the server is what `npx -y bot-bottle mcp` starts: on the clients' PATH, so on Node 24.
    const env = { PATH: clientPath(), HOME: home };
    mkdirSync(home, { recursive: true });
    mkdirSync(project, { recursive: true });
    // The suite's own build (npm test builds first): without --ignore-scripts, `prepare` would rebuild dist under the running suite.
    const packed = await execa("npm", ["pack", "--ignore-scripts", "--pack-destination", root.path, "--json"], { cwd: repoRoot });
    const tarball = path.join(root.path, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
    await execa("npm", ["init", "-y"], { cwd: project });
    // The dependencies come from npm's cache, filled by the repo's own `npm ci`.
    await execa("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], { cwd: project });
    const installed = await execa(path.join(project, "node_modules", ".bin", "bot-bottle"), ["mcp", "install", "claude", "--scope", "user", "--server-command", "npx", "--env", `BOT_BOTTLE_HOME=${server.home}`], {
      env,
      extendEnv: false,
      cwd: project,
      reject: false,
    });
    expect(installed.exitCode, installed.stderr).toBe(0);
    expect(installed.stdout).toContain("registered the bot-bottle MCP server with claude (scope user): npx -y bot-bottle mcp");
    const list = await execa(e2eTool("claude"), ["mcp", "list"], { env: { ...env, MCP_TIMEOUT: "30000" }, extendEnv: false, cwd: project, reject: false, stdin: "ignore" });
    expect(list.stdout).toMatch(/^bot-bottle: npx -y bot-bottle mcp - ✔ Connected$/m);
  });
});
