import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SecretListing } from "../../../src/commands/secret.js";
import { cliPath } from "../../support/cli.js";
import { useTempDir } from "../../support/temp-dir.js";

// `bot-bottle secret set|ls|rm`, run as a user would (the built CLI): values
// go in on stdin or at a prompt that does not echo, and never come out.

const VALUE = "sk-test-value-that-must-never-be-printed";

beforeAll(() => {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first (npm test does)`);
});

describe("bot-bottle secret", () => {
  const dir = useTempDir("bb-secret-cli-");
  let home = "";
  const secretsDir = () => path.join(home, "secrets");

  /** The CLI with a clean environment (no token of the machine's leaks in) plus `env`. */
  const run = (args: string[], options: { input?: string; env?: Record<string, string> } = {}) => {
    const result = spawnSync(process.execPath, [cliPath, ...args], {
      input: options.input ?? "",
      env: { PATH: process.env.PATH, HOME: dir.path, BOT_BOTTLE_HOME: home, ...options.env },
      cwd: dir.path,
      encoding: "utf8",
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };

  beforeEach(() => {
    home = path.join(dir.path, "home");
    mkdirSync(path.join(home, "bottles"), { recursive: true });
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it("set reads the value from stdin (one trailing newline dropped), stores it 0600, and prints where, never the value", () => {
    const result = run(["secret", "set", "GITHUB_TOKEN"], { input: `${VALUE}\n` });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`stored GITHUB_TOKEN in ${path.join(secretsDir(), "GITHUB_TOKEN")}\n`);
    expect(readFileSync(path.join(secretsDir(), "GITHUB_TOKEN"), "utf8")).toBe(VALUE);
    expect(result.stdout + result.stderr).not.toContain(VALUE);
  });

  it("set refuses a value on the command line, without storing or printing it (exit 2)", () => {
    const result = run(["secret", "set", "GITHUB_TOKEN", VALUE]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("secret set takes the value from stdin or a hidden prompt, never from the command line");
    expect(result.stderr).toContain("nothing was stored");
    expect(result.stdout + result.stderr).not.toContain(VALUE);
    expect(existsSync(secretsDir())).toBe(false);
  });

  it("set refuses a name that is not an environment variable name, and an empty value, naming them (exit 2)", () => {
    const badName = run(["secret", "set", "../GITHUB_TOKEN"], { input: VALUE });
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain('secret name "../GITHUB_TOKEN": must be an environment variable name');
    const empty = run(["secret", "set", "GITHUB_TOKEN"], { input: "\n" });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("secret GITHUB_TOKEN: the value is empty; nothing was stored");
    expect(existsSync(secretsDir())).toBe(false);
  });

  it("set on a terminal asks at a prompt that does not echo what is typed", async () => {
    // `script` gives the CLI a real pseudo-terminal; the value is typed once the prompt shows.
    const child = spawn("script", ["-qec", `${process.execPath} ${cliPath} secret set TYPED_TOKEN`, "/dev/null"], {
      env: { PATH: process.env.PATH, HOME: dir.path, BOT_BOTTLE_HOME: home },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let terminal = "";
    let typed = false;
    child.stdout.on("data", (chunk: Buffer) => {
      terminal += chunk.toString();
      if (!typed && terminal.includes("value of TYPED_TOKEN (not shown):")) {
        typed = true;
        child.stdin.write(`${VALUE}\r`);
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code, terminal).toBe(0);
    expect(terminal).toContain(`stored TYPED_TOKEN in ${path.join(secretsDir(), "TYPED_TOKEN")}`);
    expect(terminal).not.toContain(VALUE);
    expect(readFileSync(path.join(secretsDir(), "TYPED_TOKEN"), "utf8")).toBe(VALUE);
  });

  it("ls lists where each secret resolves from (environment, store, both: the environment wins), and the names bottles use; never a value", () => {
    writeFileSync(
      path.join(home, "bottles", "gh.md"),
      "---\nagent_provider:\n  template: claude\n  auth_token: CLAUDE_TOKEN\negress:\n  routes:\n    - host: api.github.com\n      auth: {scheme: token, token_ref: GITHUB_TOKEN}\n      dlp: {known_secret_env: [NPM_TOKEN]}\n---\n",
    );
    for (const name of ["GITHUB_TOKEN", "BOTH_TOKEN"]) expect(run(["secret", "set", name], { input: `${VALUE}-${name}` }).code).toBe(0);
    const env = { BOTH_TOKEN: `${VALUE}-env`, NPM_TOKEN: `${VALUE}-npm` };

    const json = run(["secret", "ls", "--json"], { env });
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout) as SecretListing[]).toEqual([
      { name: "BOTH_TOKEN", environment: true, store: "stored", store_problem: null, resolves_from: "environment", named_by: [] },
      { name: "CLAUDE_TOKEN", environment: false, store: "absent", store_problem: null, resolves_from: null, named_by: ["gh"] },
      { name: "GITHUB_TOKEN", environment: false, store: "stored", store_problem: null, resolves_from: "store", named_by: ["gh"] },
      { name: "NPM_TOKEN", environment: true, store: "absent", store_problem: null, resolves_from: "environment", named_by: ["gh"] },
    ]);

    const text = run(["secret", "ls"], { env });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^BOTH_TOKEN +environment \(wins over the store\) +-$/m);
    expect(text.stdout).toMatch(/^CLAUDE_TOKEN +nowhere +gh$/m);
    expect(text.stdout).toMatch(/^GITHUB_TOKEN +store +gh$/m);
    expect(text.stdout).toMatch(/^NPM_TOKEN +environment +gh$/m);
    // NPM_TOKEN is only in this shell's environment: say that a client's server may not see it.
    expect(text.stdout).toContain("An MCP client starts the server with a filtered one");
    for (const output of [json, text]) expect(output.stdout + output.stderr).not.toContain(VALUE);
  });

  it("ls names a store file it refuses, and why", () => {
    expect(run(["secret", "set", "GITHUB_TOKEN"], { input: VALUE }).code).toBe(0);
    chmodSync(path.join(secretsDir(), "GITHUB_TOKEN"), 0o644);
    const result = run(["secret", "ls", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([
      expect.objectContaining({ name: "GITHUB_TOKEN", store: "refused", resolves_from: null, store_problem: expect.stringContaining(`${path.join(secretsDir(), "GITHUB_TOKEN")} is open to other users (mode 0644)`) }),
    ]);
    expect(result.stdout).not.toContain(VALUE);
  });

  it("rm removes a secret, and names what it cannot find", () => {
    expect(run(["secret", "set", "GITHUB_TOKEN"], { input: VALUE }).code).toBe(0);
    const removed = run(["secret", "rm", "GITHUB_TOKEN"]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toBe(`removed GITHUB_TOKEN from ${secretsDir()}\n`);
    expect(existsSync(path.join(secretsDir(), "GITHUB_TOKEN"))).toBe(false);
    const again = run(["secret", "rm", "GITHUB_TOKEN"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no secret named GITHUB_TOKEN in ${secretsDir()}`);
  });

  describe("start --dry-run of a bottle that injects a token", () => {
    beforeEach(() => {
      writeFileSync(path.join(home, "bottles", "claude.md"), "---\nagent_provider:\n  template: claude\n  auth_token: CLAUDE_CODE_OAUTH_TOKEN\n---\n");
      mkdirSync(path.join(home, "agents"), { recursive: true });
      writeFileSync(path.join(home, "agents", "hello.md"), "---\nbottle: claude\n---\nHi.\n");
    });

    it("plans it with the token only in the store", () => {
      expect(run(["secret", "set", "CLAUDE_CODE_OAUTH_TOKEN"], { input: VALUE }).code).toBe(0);
      const result = run(["start", "hello", "--dry-run"]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain("secrets from: CLAUDE_CODE_OAUTH_TOKEN (environment, else secret store)");
      expect(result.stdout + result.stderr).not.toContain(VALUE);
    });

    it("names the token, both ways to provide it and the client's filtering when it is nowhere", () => {
      const result = run(["start", "hello", "--dry-run"]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("bottle claude injects a token for api.anthropic.com from the secret CLAUDE_CODE_OAUTH_TOKEN, which is neither in bot-bottle's environment nor in its secret store");
      expect(result.stderr).toContain("`bot-bottle secret set CLAUDE_CODE_OAUTH_TOKEN`");
      expect(result.stderr).toContain("`export CLAUDE_CODE_OAUTH_TOKEN=...`");
      expect(result.stderr).toContain("MCP clients filter the environment of the servers they start");
    });

    it("refuses a store file open to other users, naming it", () => {
      expect(run(["secret", "set", "CLAUDE_CODE_OAUTH_TOKEN"], { input: VALUE }).code).toBe(0);
      chmodSync(path.join(secretsDir(), "CLAUDE_CODE_OAUTH_TOKEN"), 0o640);
      const result = run(["start", "hello", "--dry-run"]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`${path.join(secretsDir(), "CLAUDE_CODE_OAUTH_TOKEN")} is open to other users (mode 0640): bot-bottle refuses to use it`);
      expect(result.stderr).not.toContain(VALUE);
    });
  });
});
