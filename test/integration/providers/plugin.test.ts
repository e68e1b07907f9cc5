import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runCli } from "../../support/cli.js";
import { describeWithDocker, engineTestEnv } from "../../support/docker.js";
import { useTempDir } from "../../support/temp-dir.js";

// A user's own harness as a provider plugin: its Dockerfile builds the agent
// image, its module says how to run a prompt headless and how to read the answer.

const PLUGIN = `
export const provider = {
  env: { ECHO_AGENT_STYLE: "shouting" },
  headless: {
    argv: (request, promptFile) => ["echo-agent", promptFile, request.prompt],
    outcome: (stdout) => {
      const last = stdout.trim().split("\\n").pop();
      const event = JSON.parse(last);
      return { result_text: event.answer, structured: event, usage: { words: event.words } };
    },
  },
};
`;

// The agent: reads its system prompt file and answers with the prompt upper-cased.
const AGENT = `#!/usr/bin/env node
const fs = require("fs");
const [promptFile, prompt] = process.argv.slice(2);
console.log(JSON.stringify({ event: "thinking" }));
const system = fs.readFileSync(promptFile, "utf8").trim();
console.log(JSON.stringify({ answer: prompt.toUpperCase() + " (" + system + ", " + process.env.ECHO_AGENT_STYLE + ")", words: prompt.split(" ").length }));
`;

const DOCKERFILE = `ARG BASE_IMAGE
FROM \${BASE_IMAGE}
COPY build-ca.pem /tmp/build-ca.pem
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
RUN printf '%s' '${Buffer.from(AGENT).toString("base64")}' | base64 -d > /usr/local/bin/echo-agent && chmod 755 /usr/local/bin/echo-agent
`;

describeWithDocker("a provider plugin with its own Dockerfile", () => {
  const home = useTempDir("bb-plugin-home-");
  let env: Record<string, string> = {};
  let id = "";

  beforeAll(() => {
    env = { ...engineTestEnv(), BOT_BOTTLE_HOME: home.path, BOT_BOTTLE_LOG: "warn" };
    const contrib = path.join(home.path, "contrib", "echo");
    for (const dir of [contrib, path.join(home.path, "bottles"), path.join(home.path, "agents")]) mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(contrib, "provider.mjs"), PLUGIN);
    writeFileSync(path.join(contrib, "Dockerfile"), DOCKERFILE);
    writeFileSync(path.join(home.path, "bottles", "echo.md"), "---\nagent_provider:\n  template: echo\n---\n");
    writeFileSync(path.join(home.path, "agents", "echoer.md"), "---\nbottle: echo\n---\nbe loud\n");
  });
  afterAll(async () => {
    if (id) await runCli(["stop", id], env);
  });

  it("builds the plugin's image and answers a prompt through its headless mode", async () => {
    const started = await runCli(["start", "echoer"], env);
    expect(started.exitCode, started.stderr).toBe(0);
    id = started.stdout.trim();
    const answer = await runCli(["exec", id, "--prompt", "hello plugin", "--json"], env);
    expect(answer.exitCode, answer.stderr).toBe(0);
    const result = JSON.parse(answer.stdout) as { result_text: string; usage: { words: number } };
    expect(result.result_text).toBe("HELLO PLUGIN (be loud, shouting)");
    expect(result.usage).toEqual({ words: 2 });
    expect(answer.stderr).toContain('[agent] {"event":"thinking"}');
  });

  it("reports a broken plugin naming its file", async () => {
    const file = path.join(home.path, "contrib", "echo", "provider.mjs");
    writeFileSync(file, "export const provider = { headless: { argv: 42 } };\n");
    const result = await runCli(["start", "echoer", "--dry-run"], env);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`provider plugin ${file}: provider.headless.argv: must be a function`);
  });
});
