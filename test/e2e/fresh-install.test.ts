import { cpSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, appendFileSync, existsSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { tools } from "../../tools/registry.js";
import { repoRoot } from "../support/cli.js";
import { demoHomeIn, expectEveryDemoStep, expectNothingLeft } from "../support/demo.js";
import { describeWithDocker, engineTestEnv } from "../support/docker.js";
import { describeWithE2eTools, e2eTool, e2eToolsBin } from "../support/e2e-tools.js";
import { mcpFixtureHome } from "../support/mcp-server.js";
import { useTempDir } from "../support/temp-dir.js";
import { openaiResponses, startFakeModel, type FakeModel } from "./fake-model.js";

// The README's first lines, run exactly as written in a fresh clone of this
// repository (its files without node_modules or dist), by a user whose HOME
// has nothing of bot-bottle yet: the install line leaves a working
// `bot-bottle` on PATH (npm's global prefix, here a temporary one) and
// registers it with the real Claude Code, and the same registration with the
// real Codex starts the server when Codex calls a tool; then the README's demo
// line runs against the real engine and leaves nothing behind.

const README = readFileSync(path.join(repoRoot, "README.md"), "utf8");
/** The command lines (indented code) of a README text, without their `# comment`, in order. */
const commandsIn = (text: string) =>
  text
    .split("\n")
    .filter((line) => line.startsWith("    ") && !line.startsWith("     "))
    .map((line) => line.slice(4).split(/\s{2,}#/)[0]!.trim());
const [installLine, testLine] = commandsIn(README);
/** The first command of the demo's section. */
const demoLine = commandsIn(README.slice(README.indexOf("\n## See it work")))[0];

/** The repository as a fresh clone has it: tracked files and new ones not ignored, as they are on disk now. */
async function copyAsFreshClone(to: string): Promise<void> {
  const listed = await execa("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: repoRoot });
  for (const file of new Set(listed.stdout.split("\0").filter(Boolean))) {
    const from = path.join(repoRoot, file);
    if (!existsSync(from)) continue; // deleted in the working tree, not yet committed
    mkdirSync(path.dirname(path.join(to, file)), { recursive: true });
    if (lstatSync(from).isSymbolicLink()) symlinkSync(readlinkSync(from), path.join(to, file));
    else cpSync(from, path.join(to, file));
  }
}

/** This process's environment without anything of bot-bottle, the clients, the model APIs, XDG folders or the npm run that started the tests. */
function userEnvironment(): Record<string, string> {
  const leave = /^(BOT_BOTTLE_|CLAUDE|CODEX_|ANTHROPIC_|OPENAI_|MCP_|XDG_|npm_|NPM_)/;
  return Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined && !leave.test(entry[0])));
}

describeWithDocker("a fresh clone, installed and run as the README says", () => {
  describeWithE2eTools("a fresh clone, installed and run as the README says (with the pinned clients)", ["claude", "codex"], () => {
    const root = useTempDir("bb-fresh-install-");
    let clone = "";
    let prefix = "";
    let home = "";
    let env: Record<string, string> = {};
    let fake: FakeModel | undefined;
    const installed = () => path.join(prefix, "bin", "bot-bottle");
    const shell = (line: string, extra: Record<string, string> = {}) =>
      execa("bash", ["-c", line], { cwd: clone, env: { ...env, ...extra }, extendEnv: false, reject: false, stdin: "ignore", timeout: 1_200_000 });

    beforeAll(async () => {
      clone = path.join(root.path, "bot-bottle");
      prefix = path.join(root.path, "npm-prefix");
      home = path.join(root.path, "home");
      mkdirSync(home);
      // The server the clients start reads the user's default home: give it the MCP tests' agents, so a tool's answer shows whose it is.
      cpSync(mcpFixtureHome, path.join(home, ".bot-bottle"), { recursive: true });
      await copyAsFreshClone(clone);
      const npmCache = (await execa("npm", ["config", "get", "cache"])).stdout.trim();
      env = {
        ...userEnvironment(),
        ...engineTestEnv(),
        HOME: home,
        // The pinned clients, then this machine's Node and npm; npm's global bin (the prefix) first, where the install line puts bot-bottle.
        PATH: [path.join(prefix, "bin"), e2eToolsBin, path.dirname(process.execPath), "/usr/local/bin", "/usr/bin", "/bin"].join(":"),
        // `npm install -g` installs into this prefix instead of the machine's.
        npm_config_prefix: prefix,
        // Packages from this machine's npm cache when it has them (the registry otherwise).
        npm_config_cache: npmCache,
        npm_config_prefer_offline: "true",
        npm_config_update_notifier: "false",
      };
    });
    afterAll(async () => {
      await fake?.close();
    });

    it("keeps its first lines: the install line and the test line .ci/run runs", () => {
      expect(installLine).toBe("npm ci && npm install -g . && bot-bottle mcp install claude");
      expect(testLine).toBe("npm ci && npm test");
      expect(readFileSync(path.join(repoRoot, ".ci", "run"), "utf8").split("\n")).toContain(testLine);
      expect(demoLine).toBe("bot-bottle demo");
    });

    it("the install line builds the clone, puts bot-bottle on PATH and registers it with Claude Code, which connects to it", async () => {
      const run = await shell(installLine!);
      expect(run.exitCode, `${run.stdout}\n${run.stderr}`).toBe(0);
      const onPath = await shell("command -v bot-bottle");
      expect(onPath.stdout.trim()).toBe(installed());
      const version = await execa(installed(), ["--version"], { env, extendEnv: false });
      expect(version.stdout.trim()).toBe((JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { version: string }).version);

      // Registered as this installed copy, by absolute paths: the node that ran it and the clone's cli.js (npm links a folder it installs).
      const registered = /^registered the bot-bottle MCP server with claude \(scope local\): (\/\S+) (\/\S+) mcp$/m.exec(run.stdout);
      expect(registered, run.stdout).not.toBeNull();
      expect(registered![2]).toBe(path.join(clone, "dist", "src", "cli.js"));
      const list = await execa(e2eTool("claude"), ["mcp", "list"], { cwd: clone, env: { ...env, MCP_TIMEOUT: "30000" }, extendEnv: false, reject: false, stdin: "ignore" });
      expect(list.stdout).toContain(`bot-bottle: ${registered![1]} ${registered![2]} mcp - ✔ Connected`);
    });

    it("the installed `bot-bottle mcp` serves every tool to an MCP SDK client", async () => {
      const client = new Client({ name: "bot-bottle-tests", version: "1.0.0" });
      await client.connect(new StdioClientTransport({ command: installed(), args: ["mcp"], env, cwd: home, stderr: "pipe" }));
      try {
        const listed = await client.listTools();
        expect(listed.tools.map((tool) => tool.name).sort()).toEqual(tools.map((tool) => tool.name).sort());
      } finally {
        await client.close();
      }
    });

    it("registered with Codex the same way (`bot-bottle mcp install codex`), the server starts when codex exec calls a tool", async () => {
      const registration = await shell("bot-bottle mcp install codex");
      expect(registration.exitCode, registration.stderr).toBe(0);
      expect(registration.stdout).toMatch(/^registered the bot-bottle MCP server with codex: \/\S+ \S+\/dist\/src\/cli\.js mcp$/m);

      fake = await startFakeModel(openaiResponses, (results) => (results.length === 0 ? { tool: "mcp__bot_bottle/list_agents", input: {} } : { text: `agents: ${results[0]}` }));
      appendFileSync(
        path.join(home, ".codex", "config.toml"),
        `\n[model_providers.fake]\nname = "fake"\nbase_url = "${fake.url}/v1"\nwire_api = "responses"\nenv_key = "FAKE_API_KEY"\n`,
      );
      // Offline, Codex may keep reconnecting instead of exiting: `timeout` bounds it, and the fake's record is what is checked.
      const run = await execa(
        "timeout",
        ["180", e2eTool("codex"), "exec", "--skip-git-repo-check", "-c", 'model_provider="fake"', "-m", "fake-model", "Which agents can run?"],
        { cwd: home, env: { ...env, FAKE_API_KEY: "fake-key-for-tests" }, extendEnv: false, reject: false, stdin: "ignore" },
      );
      // list_agents answered from the user's default home, ~/.bot-bottle: the server Codex started is the installed bot-bottle.
      expect(fake.toolResults[0], run.stderr).toMatch(/"name":"worker"/);
    });

    it("the README's demo line runs every step against the real engine and leaves nothing behind", async () => {
      const cache = path.join(home, ".cache");
      // --no-internet: tests reach nothing but loopback and their own containers (step 4 would look up a public host).
      const run = await shell(`${demoLine!} --no-internet`);
      expect(run.exitCode, run.stderr).toBe(0);
      expectEveryDemoStep(run.stdout, demoHomeIn(cache));
      await expectNothingLeft(demoHomeIn(cache));
    });
  });
});
