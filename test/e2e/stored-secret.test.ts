import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { cliPath } from "../support/cli.js";
import { describeWithDocker, engineTestEnv } from "../support/docker.js";
import { claudeAgainstFake, codexExec, describeWithE2eTools, e2eTool, e2eToolsBin } from "../support/e2e-tools.js";
import { createTestCa, createTestInternet, type FakeModelContainer, startFakeModelContainer, type TestInternet } from "../support/fake-model-container.js";
import { useTempDir } from "../support/temp-dir.js";
import { anthropicMessages, type FakeModel, openaiResponses, type Script, startFakeModel } from "./fake-model.js";

// Issue 11: a claude bottle whose token is ONLY in bot-bottle's secret store
// (set with `bot-bottle secret set`; nothing in the outer client's environment
// or config), started by real Claude Code and by real Codex through a server
// registered the README's way (`bot-bottle mcp install`). Neither client hands
// its servers such a token: Claude Code removes CLAUDE_CODE_OAUTH_TOKEN from
// their environment, Codex passes a short list of variables. The bottled
// Claude Code answers a prompt through egress, which injects the stored token
// into the fake model API's requests; the token shows up nowhere else: not in
// the client's folders, in any argv on the host while the server runs, in
// bot-bottle's state, or in `docker inspect` of the agent and the bundle.

const TOKEN_NAME = "CLAUDE_CODE_OAUTH_TOKEN";
const FAKE_HOST = "api.fake.test";
const ANSWER = "the bottled agent answered with the stored token";

/** Files under `dir` (but not under `skip`) whose bytes contain `value`. */
function filesHolding(dir: string, value: string, skip?: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
    .filter((file) => (skip === undefined || !file.startsWith(skip + path.sep)) && readFileSync(file).includes(value));
}

/** What the outer model saw happen while the server ran, captured from inside its script. */
interface Capture {
  bottleId: string;
  /** Every host process's argv (`ps`), taken while the server and the bottle ran. */
  argv: string;
  /** `docker inspect` of the agent and the bundle containers. */
  inspect: string;
}

describeWithDocker("a token only in the secret store reaches egress from a server an MCP client started", () => {
  const root = useTempDir("bb-stored-secret-");
  const token = `sk-ant-oat01-${randomBytes(24).toString("hex")}`;
  let home = "";
  let serverEnv: Record<string, string> = {};
  let internet: TestInternet;
  let inner: FakeModelContainer;

  beforeAll(async () => {
    home = path.join(root.path, "bot-bottle-home");
    for (const sub of ["bottles", "agents"]) mkdirSync(path.join(home, sub), { recursive: true });
    writeFileSync(
      path.join(home, "bottles", "stored.md"),
      `---\nagent_provider:\n  template: claude\n  auth_token: ${TOKEN_NAME}\nenv:\n  ANTHROPIC_BASE_URL: https://${FAKE_HOST}\n  CLAUDE_CODE_MAX_RETRIES: 0\n---\n`,
    );
    writeFileSync(path.join(home, "agents", "stored-runner.md"), "---\nbottle: stored\n---\nYou answer in one line.\n");
    const ca = await createTestCa(root.path);
    internet = await createTestInternet(`bb-stored-secret-${process.pid}`);
    inner = await startFakeModelContainer({ name: `bb-stored-secret-model-${process.pid}`, network: internet.name, host: FAKE_HOST, dialect: "anthropic", steps: [], answer: ANSWER, ca });
    // Settings only: none of them is a secret (install refuses those).
    serverEnv = {
      ...engineTestEnv(),
      BOT_BOTTLE_HOME: home,
      BOT_BOTTLE_LOG: "info",
      BOT_BOTTLE_EGRESS_EXTRA_CA: ca.certFile,
      BOT_BOTTLE_EGRESS_ALLOW_NETWORKS: internet.subnet,
    };
    // The token goes in on stdin, as the README says; this process's own environment never holds it.
    const set = await execa("node", [cliPath, "secret", "set", TOKEN_NAME], { input: `${token}\n`, env: { BOT_BOTTLE_HOME: home }, reject: false });
    expect(set.exitCode, set.stderr).toBe(0);
  });

  afterAll(async () => {
    await inner?.remove();
    await internet?.remove();
  });

  /**
   * The outer model's script: start the bottle, join its bundle to the test
   * internet, hand the bottled agent a prompt, capture argv and inspect while
   * everything runs, stop the bottle.
   */
  function workflow(tool: (name: string) => string, capture: Capture): Script {
    return (results) => {
      switch (results.length) {
        case 0:
          return { tool: tool("start_bottle"), input: { agent: "stored-runner", label: "stored-secret" } };
        case 1: {
          const id = /"id":"(stored-runner-[0-9a-f]+)"/.exec(results[0]!)?.[1];
          if (!id) return { text: `start_bottle failed: ${results[0]}` };
          capture.bottleId = id;
          execFileSync("docker", ["network", "connect", internet.name, `bot-bottle-${id}-bundle`]);
          return { tool: tool("exec_in_bottle"), input: { bottle_id: id, prompt: "Answer the test.", timeout_s: 240 } };
        }
        case 2: {
          const id = capture.bottleId;
          capture.argv = execFileSync("ps", ["-e", "-ww", "-o", "args="], { encoding: "utf8" });
          capture.inspect = execFileSync("docker", ["inspect", `bot-bottle-${id}-agent`, `bot-bottle-${id}-bundle`], { encoding: "utf8" });
          return { tool: tool("stop_bottle"), input: { bottle_id: id } };
        }
        default:
          return { text: `workflow done: ${results.join(" || ")}` };
      }
    };
  }

  /** What every run must show once the outer client is done. */
  async function expectTokenArrivedAndNowhereElse(capture: Capture, fake: FakeModel, credentialsBefore: number, clientDirs: string[]): Promise<void> {
    const [started, exec, stopped] = fake.toolResults;
    expect(started).toMatch(/"status":"running"/);
    expect(exec).toContain(ANSWER);
    expect(stopped).toMatch(new RegExp(`"removed":\\["container bot-bottle-${capture.bottleId}-agent"`));
    // Egress injected the stored token into the bottled agent's model requests.
    const credentials = (await inner.credentials()).slice(credentialsBefore);
    expect(credentials.length).toBeGreaterThan(0);
    expect(credentials.every((c) => c === `authorization: Bearer ${token}`), credentials.join("\n")).toBe(true);
    // ...and nowhere else: the captures were taken while the server (a `cli.js mcp` child of the client) and the bottle ran.
    expect(capture.argv).toMatch(/cli\.js mcp/);
    expect(capture.argv).not.toContain(token);
    expect(capture.inspect).toContain(`bot-bottle-${capture.bottleId}-bundle`);
    expect(capture.inspect).not.toContain(token);
    expect(fake.toolResults.join("\n")).not.toContain(token);
    for (const dir of clientDirs) expect(filesHolding(dir, token), dir).toEqual([]);
    // In bot-bottle's home, only the store holds it (state, queue and audit do not).
    expect(filesHolding(home, token, path.join(home, "secrets"))).toEqual([]);
    // stop (above) and gc leave the store alone.
    const gc = await execa("node", [cliPath, "gc"], { env: serverEnv, reject: false });
    expect(gc.exitCode, gc.stderr).toBe(0);
    expect(readFileSync(path.join(home, "secrets", TOKEN_NAME), "utf8")).toBe(token);
  }

  describeWithE2eTools("with real Claude Code as the outer client", ["claude"], () => {
    let clientHome = "";
    let project = "";
    let env: Record<string, string> = {};
    let fake: FakeModel | undefined;

    beforeAll(() => {
      clientHome = path.join(root.path, "claude-home");
      project = path.join(root.path, "claude-project");
      // No token in the client's environment: PATH and HOME only.
      env = { PATH: `${e2eToolsBin}:${process.env.PATH}`, HOME: clientHome };
      for (const dir of [clientHome, project]) mkdirSync(dir, { recursive: true });
    });
    afterAll(async () => {
      await fake?.close();
    });

    it("starts the bottle from a server registered with `bot-bottle mcp install claude`; the token is only where it must be", async () => {
      const envArgs = Object.entries(serverEnv).flatMap(([key, value]) => ["--env", `${key}=${value}`]);
      const install = await execa("node", [cliPath, "mcp", "install", "claude", "--scope", "user", ...envArgs, "--", "node", cliPath, "mcp"], {
        env,
        extendEnv: false,
        cwd: project,
        reject: false,
      });
      expect(install.exitCode, install.stderr).toBe(0);
      expect(install.stdout).toMatch(/never give a token with --env: store each one a bottle names with `bot-bottle secret set NAME`/);

      const capture: Capture = { bottleId: "", argv: "", inspect: "" };
      fake = await startFakeModel(anthropicMessages, workflow((name) => `mcp__bot-bottle__${name}`, capture));
      const credentialsBefore = (await inner.credentials()).length;
      const run = await execa(
        e2eTool("claude"),
        ["-p", "Run the bottle workflow.", "--output-format", "json", "--allowedTools", ["start_bottle", "exec_in_bottle", "stop_bottle"].map((t) => `mcp__bot-bottle__${t}`).join(",")],
        {
          env: { ...env, ...claudeAgainstFake(fake.url) },
          extendEnv: false,
          cwd: project,
          reject: false,
          stdin: "ignore",
          timeout: 480_000,
        },
      );
      expect(run.exitCode, `${run.stdout}\n${run.stderr}`).toBe(0);
      expect(run.stdout, run.stdout).toContain("workflow done");
      await expectTokenArrivedAndNowhereElse(capture, fake, credentialsBefore, [clientHome, project]);
    });
  });

  describeWithE2eTools("with real Codex as the outer client", ["codex"], () => {
    let codexHome = "";
    let clientHome = "";
    let project = "";
    let env: Record<string, string> = {};
    let fake: FakeModel | undefined;

    beforeAll(() => {
      codexHome = path.join(root.path, "codex-home");
      clientHome = path.join(root.path, "codex-user-home");
      project = path.join(root.path, "codex-project");
      env = { PATH: `${e2eToolsBin}:${process.env.PATH}`, HOME: clientHome, CODEX_HOME: codexHome };
      for (const dir of [codexHome, clientHome, project]) mkdirSync(dir, { recursive: true });
    });
    afterAll(async () => {
      await fake?.close();
    });

    it("starts the bottle from a server registered with `bot-bottle mcp install codex`; the token is only where it must be", async () => {
      const envArgs = Object.entries(serverEnv).flatMap(([key, value]) => ["--env", `${key}=${value}`]);
      const install = await execa("node", [cliPath, "mcp", "install", "codex", ...envArgs, "--", "node", cliPath, "mcp"], { env, extendEnv: false, cwd: project, reject: false });
      expect(install.exitCode, install.stderr).toBe(0);
      expect(install.stdout).toMatch(/never give a token with --env: store each one a bottle names with `bot-bottle secret set NAME`/);

      const capture: Capture = { bottleId: "", argv: "", inspect: "" };
      // Codex presents the server's tools in a namespace named after it, `-` made `_`.
      fake = await startFakeModel(openaiResponses, workflow((name) => `mcp__bot_bottle/${name}`, capture));
      const credentialsBefore = (await inner.credentials()).length;
      const run = await codexExec({ codexHome, env, cwd: project, fakeUrl: fake.url, prompt: "Run the bottle workflow.", timeoutS: 480 });
      expect(run.stdout, run.stderr).toContain("workflow done");
      await expectTokenArrivedAndNowhereElse(capture, fake, credentialsBefore, [codexHome, clientHome, project]);
    });
  });
});
