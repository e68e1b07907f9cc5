import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import { describe, expect, it } from "vitest";
import { DEFAULT_RESOURCES } from "../../../src/manifest/resources.js";
import type { EffectiveBottle } from "../../../src/manifest/schema.js";
import { CLAUDE_CODE_VERSION, CLAUDE_PLACEHOLDER_API_KEY, CLAUDE_PLACEHOLDER_TOKEN, claudeProvider } from "../../../src/providers/claude/provider.js";
import { jwtClaims } from "../../../src/providers/codex/auth.js";
import { codexProvider } from "../../../src/providers/codex/provider.js";
import { resolveProvider } from "../../../src/providers/registry.js";

const bottle = (provider: EffectiveBottle["agent_provider"], env: Record<string, string> = {}): EffectiveBottle => ({
  names: ["b"],
  env,
  agent_provider: provider,
  egress: { routes: [], log: 1 },
  git_gate: { user: {}, repos: {} },
  backend: null,
  pool: 0,
  supervise: true,
  resources: DEFAULT_RESOURCES,
});

describe("claude provider", () => {
  it("routes the Anthropic API with the host token injected and gives the agent only a placeholder", () => {
    const setup = claudeProvider.setup({ bottle: bottle({ template: "claude", auth_token: "MY_CLAUDE_TOKEN" }), hostEnv: { MY_CLAUDE_TOKEN: "real-secret" }, prompt: "p" });
    expect(setup.routes).toEqual([{ host: "api.anthropic.com", auth: { scheme: "Bearer", token_ref: "MY_CLAUDE_TOKEN" } }]);
    expect(setup.secrets).toEqual({ MY_CLAUDE_TOKEN: { kind: "env", name: "MY_CLAUDE_TOKEN" } });
    expect(setup.env.CLAUDE_CODE_OAUTH_TOKEN).toBe(CLAUDE_PLACEHOLDER_TOKEN);
    expect(JSON.stringify(setup)).not.toContain("real-secret");
  });

  it("with auth_kind api_key, injects the key as x-api-key and gives the agent a placeholder key", () => {
    const setup = claudeProvider.setup({ bottle: bottle({ template: "claude", auth_token: "MY_KEY", auth_kind: "api_key" }), hostEnv: { MY_KEY: "sk-ant-api03-real" }, prompt: "" });
    expect(setup.routes).toEqual([{ host: "api.anthropic.com", auth: { scheme: "x-api-key", token_ref: "MY_KEY" } }]);
    expect(setup.env.ANTHROPIC_API_KEY).toBe(CLAUDE_PLACEHOLDER_API_KEY);
    expect(setup.env.CLAUDE_CODE_OAUTH_TOKEN).toBeUndefined();
    expect(JSON.stringify(setup)).not.toContain("sk-ant-api03-real");
  });

  it("sends the token to a gateway given by ANTHROPIC_BASE_URL instead", () => {
    const setup = claudeProvider.setup({ bottle: bottle({ template: "claude", auth_token: "T" }, { ANTHROPIC_BASE_URL: "https://gw.example.test:8443/anthropic" }), hostEnv: {}, prompt: "" });
    expect(setup.routes[0]?.host).toBe("gw.example.test:8443");
  });

  it("pre-answers onboarding and writes settings for headless runs", () => {
    const setup = claudeProvider.setup({ bottle: bottle({ template: "claude", settings: { includeCoAuthoredBy: false } }), hostEnv: {}, prompt: "" });
    const state = JSON.parse(setup.files.find((f) => f.path === "/home/node/.claude.json")!.content);
    expect(state.hasCompletedOnboarding).toBe(true);
    expect(state.projects["/home/node/workspace"].hasTrustDialogAccepted).toBe(true);
    expect(JSON.parse(setup.files.find((f) => f.path === "/home/node/.claude/settings.json")!.content)).toEqual({ includeCoAuthoredBy: false });
    expect(setup.routes).toEqual([]);
  });

  it.each([
    [undefined, CLAUDE_CODE_VERSION],
    ["2.1.197", "2.1.197"],
    ["latest", CLAUDE_CODE_VERSION],
  ])("marks onboarding done for the release the image installs (version %s: %s)", (version, onboarded) => {
    const setup = claudeProvider.setup({ bottle: bottle({ template: "claude", ...(version === undefined ? {} : { version }) }), hostEnv: {}, prompt: "" });
    expect(JSON.parse(setup.files.find((f) => f.path === "/home/node/.claude.json")!.content).lastOnboardingVersion).toBe(onboarded);
  });

  it("registers MCP servers at user scope over HTTP, loaded before the first turn, writing what `claude mcp add-json` writes", () => {
    const [add, ...more] = claudeProvider.mcpRegistration("supervise", "http://127.0.0.1:9100/mcp", 30);
    expect(more).toEqual([]);
    const dir = mkdtempSync(path.join(os.tmpdir(), "claude-config-"));
    const file = path.join(dir, ".claude.json");
    const run = () => execFileSync(add![0]!, add!.slice(1), { env: { ...process.env, CLAUDE_CONFIG_DIR: dir } });
    // A new file: the entry alone, private to the user.
    run();
    expect(readFileSync(file, "utf8")).toBe(JSON.stringify({ mcpServers: { supervise: { type: "http", url: "http://127.0.0.1:9100/mcp", alwaysLoad: true } } }, null, 2));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // An existing file keeps everything else, other servers included; the entry is replaced.
    writeFileSync(file, JSON.stringify({ numStartups: 1, mcpServers: { other: { type: "stdio", command: "x" }, supervise: { type: "http", url: "old" } } }));
    run();
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({
      numStartups: 1,
      mcpServers: { other: { type: "stdio", command: "x" }, supervise: { type: "http", url: "http://127.0.0.1:9100/mcp", alwaysLoad: true } },
    });
  });
});

describe("codex provider", () => {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const codexHome = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "codex-home-"));
    const jwt = `${b64({ alg: "RS256" })}.${b64({ exp: 1_888_888_888 })}.sig`;
    writeFileSync(path.join(dir, "auth.json"), JSON.stringify({ tokens: { id_token: jwt, access_token: jwt, refresh_token: "rt", account_id: "a" } }));
    return { dir, jwt };
  };

  it("forwards host credentials: the real token is a secret source, the agent gets a look-alike", () => {
    const { dir, jwt } = codexHome();
    const setup = codexProvider.setup({ bottle: bottle({ template: "codex", forward_host_credentials: true }), hostEnv: { CODEX_HOME: dir }, prompt: "be brief" });
    expect(setup.routes).toEqual([{ host: "chatgpt.com", auth: { scheme: "Bearer", token_ref: "CODEX_ACCESS_TOKEN" } }]);
    expect(setup.secrets.CODEX_ACCESS_TOKEN).toEqual({ kind: "codex-access-token", file: path.join(dir, "auth.json") });
    const auth = JSON.parse(setup.files.find((f) => f.path === "/home/node/.codex/auth.json")!.content);
    expect(jwtClaims(auth.tokens.access_token).exp).toBe(1_888_888_888);
    expect(JSON.stringify(setup)).not.toContain(jwt);
    expect(setup.files.find((f) => f.path === "/home/node/.codex/AGENTS.md")?.content).toBe("be brief");
  });

  it("with a custom model provider, injects at its host and makes it use the ChatGPT sign-in", () => {
    const { dir } = codexHome();
    const settings = { model_provider: "gw", model_providers: { gw: { name: "gw", base_url: "https://api.fake.test/v1", wire_api: "responses" } } };
    const setup = codexProvider.setup({ bottle: bottle({ template: "codex", forward_host_credentials: true, settings }), hostEnv: { CODEX_HOME: dir }, prompt: "" });
    expect(setup.routes[0]?.host).toBe("api.fake.test");
    const config = parseToml(setup.files.find((f) => f.path === "/home/node/.codex/config.toml")!.content) as Record<string, Record<string, Record<string, unknown>>>;
    expect(config.model_providers!.gw).toMatchObject({ base_url: "https://api.fake.test/v1", requires_openai_auth: true });
  });

  it("in API-key mode injects the host variable and gives the agent a placeholder key", () => {
    const setup = codexProvider.setup({ bottle: bottle({ template: "codex", auth_token: "OPENAI_KEY" }), hostEnv: { OPENAI_KEY: "sk-real" }, prompt: "" });
    expect(setup.routes).toEqual([{ host: "api.openai.com", auth: { scheme: "Bearer", token_ref: "OPENAI_KEY" } }]);
    expect(JSON.stringify(setup)).not.toContain("sk-real");
  });

  it("registers MCP servers required (waited for before the first turn), with tools approved for codex exec and a call timeout past the server's own wait", () => {
    const [add, ...more] = codexProvider.mcpRegistration("supervise", "http://127.0.0.1:9100/mcp", 45);
    expect(more).toEqual([]);
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), "codex-home-")), ".codex");
    const file = path.join(dir, "config.toml");
    const run = () => execFileSync(add![0]!, add!.slice(1), { env: { ...process.env, CODEX_HOME: dir } });
    const supervise = { url: "http://127.0.0.1:9100/mcp", default_tools_approval_mode: "approve", required: true, startup_timeout_sec: 60, tool_timeout_sec: 75 };
    // A new file (and CODEX_HOME), as `codex mcp add` starts one: the table alone, private to the user.
    run();
    expect(readFileSync(file, "utf8")).toMatch(/^\[mcp_servers\.supervise\]\nurl = "http:\/\/127\.0\.0\.1:9100\/mcp"\n/);
    expect(parseToml(readFileSync(file, "utf8"))).toEqual({ mcp_servers: { supervise } });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // Beside another server and settings, over an earlier table of that name (and a subtable of it), which it replaces.
    writeFileSync(
      file,
      'model = "m" # kept\n\n[mcp_servers.other]\nurl = "http://127.0.0.1:1/mcp"\n\n[mcp_servers.supervise]\nurl = "old"\nenabled = false\n\n' +
        '[mcp_servers.supervise.env]\nA = "b"\n\n[model_providers.fake]\nname = "fake"\n',
    );
    run();
    expect(parseToml(readFileSync(file, "utf8"))).toEqual({
      model: "m",
      mcp_servers: { other: { url: "http://127.0.0.1:1/mcp" }, supervise },
      model_providers: { fake: { name: "fake" } },
    });
    expect(readFileSync(file, "utf8")).toContain('model = "m" # kept\n');
    expect(() => codexProvider.mcpRegistration("a b", "http://x", 1)).toThrow(/invalid Codex MCP server name/);
  });
});

describe("provider plugins", () => {
  const home = () => mkdtempSync(path.join(os.tmpdir(), "bb-plugin-home-"));
  const plugin = (h: string, name: string, code: string, dockerfile?: string) => {
    const dir = path.join(h, "contrib", name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "provider.mjs"), code);
    if (dockerfile) writeFileSync(path.join(dir, "Dockerfile"), dockerfile);
    return path.join(dir, "provider.mjs");
  };

  it("loads a plugin before the built-ins, with its Dockerfile and headless mode", async () => {
    const h = home();
    plugin(h, "claude", 'export const provider = { headless: { argv: (r) => ["my-agent", r.prompt] } };', "FROM scratch\n");
    const provider = await resolveProvider("claude", h);
    expect(provider.dockerfileOrigin).toBe("plugin");
    expect(provider.dockerfile).toBe(path.join(h, "contrib", "claude", "Dockerfile"));
    expect(provider.headless.argv({ prompt: "hi" }, "/p")).toEqual(["my-agent", "hi"]);
    expect(provider.headless.outcome('noise\n{"result":"done"}\n').result_text).toBe("done");
  });

  it("names the file when the plugin lacks a required export", async () => {
    const h = home();
    const file = plugin(h, "mine", "export const somethingElse = 1;");
    await expect(resolveProvider("mine", h)).rejects.toThrow(`provider plugin ${file} does not export \`provider\``);
    plugin(h, "half", "export const provider = { headless: {} };");
    await expect(resolveProvider("half", h)).rejects.toThrow(/provider\.headless\.argv: must be a function/);
  });

  it("names the file when the plugin throws while loading", async () => {
    const h = home();
    const file = plugin(h, "boom", 'throw new Error("kaboom");');
    await expect(resolveProvider("boom", h)).rejects.toThrow(`provider plugin ${file} failed to load: kaboom`);
  });

  it("lists the built-ins for an unknown template", async () => {
    await expect(resolveProvider("nope", home())).rejects.toThrow(/built-in providers are claude, codex/);
  });
});
