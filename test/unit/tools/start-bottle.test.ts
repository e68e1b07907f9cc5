import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Engine } from "../../../src/engine/engine.js";
import type { BottleRecord } from "../../../src/engine/records.js";
import { UserError } from "../../../src/user-error.js";
import { startBottleTool } from "../../../tools/start-bottle.js";
import { useTempDir } from "../../support/temp-dir.js";

// What start_bottle tells the outer agent about where the started agent came
// from. The engine is a stand-in returning a record: the record's origin itself
// is checked against real bottles in the integration suites.

const record = (origin: BottleRecord["agent_origin"], source: string): BottleRecord => ({
  id: "theirs-0a1b2c3d",
  agent: "theirs",
  agent_origin: origin,
  agent_source: source,
  bottles: ["sandbox"],
  provider: "claude",
  backend: "docker",
  label: null,
  cwd: "/work/repo",
  status: "running",
  started_at: "2026-01-01T00:00:00.000Z",
  stopped_at: null,
  resources: { agent: "a", bundle: "b", network: "n", volume: "v" },
  warnings: [],
});

async function start(started: BottleRecord) {
  const engine = { start: () => Promise.resolve(started) } as unknown as Engine;
  return startBottleTool.run(
    { agent: started.agent },
    { engine, signal: new AbortController().signal, wantsProgress: false, progress: () => Promise.resolve() },
  );
}

describe("start_bottle", () => {
  it("says plainly when the agent came from a repository rather than the user's home, in its result and its text", async () => {
    const source = "/work/repo/.bot-bottle/agents/theirs.md";
    const output = await start(record("repository", source));
    expect(output.structured).toMatchObject({ agent_origin: "repository", agent_source: source });
    expect(output.text).toContain(
      `Agent theirs comes from a repository (${source}), not from the user's bot-bottle home: the repository wrote its prompt and chose its bottles (sandbox) and skills.`,
    );
  });

  it("says nothing of repositories for a home agent", async () => {
    const output = await start(record("home", "/home/u/.bot-bottle/agents/theirs.md"));
    expect(output.structured).toMatchObject({ agent_origin: "home" });
    expect(output.text).not.toMatch(/repository/);
  });
});

describe("start_bottle for a bottle whose token is nowhere", () => {
  const dir = useTempDir("bb-start-bottle-token-");

  it("fails with an error that names the token and both ways to provide it (the MCP path resolves secrets as the CLI does)", async () => {
    const home = path.join(dir.path, "home");
    mkdirSync(path.join(home, "bottles"), { recursive: true });
    mkdirSync(path.join(home, "agents"), { recursive: true });
    writeFileSync(path.join(home, "bottles", "claude.md"), "---\nagent_provider:\n  template: claude\n  auth_token: CLAUDE_CODE_OAUTH_TOKEN\n---\n");
    writeFileSync(path.join(home, "agents", "hello.md"), "---\nbottle: claude\n---\nHi.\n");
    // The environment an MCP client gives its server: no token in it.
    const engine = new Engine({ home, cwd: dir.path, env: { PATH: "/usr/bin", HOME: dir.path } });
    const run = startBottleTool.run({ agent: "hello" }, { engine, signal: new AbortController().signal, wantsProgress: false, progress: () => Promise.resolve() });
    await expect(run).rejects.toThrow(UserError);
    await expect(run).rejects.toThrow(/from the secret CLAUDE_CODE_OAUTH_TOKEN, which is neither in bot-bottle's environment nor in its secret store .*`bot-bottle secret set CLAUDE_CODE_OAUTH_TOKEN`/);
  });
});
