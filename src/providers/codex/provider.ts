import path from "node:path";
import { stringify } from "smol-toml";
import type { EgressRoute } from "../../manifest/schema.js";
import { assetPaths } from "../../package-root.js";
import { UserError } from "../../user-error.js";
import type { GuestFile, Provider, SecretSource } from "../provider.js";
import { hostCodexAuthPath, placeholderCodexAuth, readCodexAuth } from "./auth.js";
import { codexHeadless } from "./headless.js";
import { codexMcpAddCommand } from "./mcp-config.js";
import { codexMcpWaitSettings } from "./mcp-settings.js";

const GUEST_HOME = "/home/node";
/** The Codex release bottles run unless they set agent_provider.version (the Dockerfile's ARG default agrees). */
export const CODEX_VERSION = "0.171.0";
const CODEX_HOME = `${GUEST_HOME}/.codex`;
/** The hosts Codex sends its model traffic to when signed in with ChatGPT, or with an API key. */
const CHATGPT_API = "chatgpt.com";
const OPENAI_API = "api.openai.com";
/** Secret key for the forwarded ChatGPT access token (resolved from the host auth.json at launch). */
const ACCESS_TOKEN_SECRET = "CODEX_ACCESS_TOKEN";

/** Slack on top of the longest a tool call waits, so the server's own answer ("still pending") arrives before Codex's timeout. */
const MCP_CALL_SLACK_S = 30;

const hostOf = (url: string) => {
  const parsed = new URL(url);
  return parsed.port ? `${parsed.hostname}:${parsed.port}` : parsed.hostname;
};

/** The base URL of the model provider `settings` selects, when it is a custom one. */
function customBaseUrl(settings: Record<string, unknown> | undefined): string | undefined {
  const selected = settings?.model_provider;
  const providers = settings?.model_providers as Record<string, { base_url?: unknown }> | undefined;
  if (typeof selected !== "string" || !providers?.[selected]) return undefined;
  const baseUrl = providers[selected].base_url;
  if (typeof baseUrl !== "string") throw new UserError(`agent_provider.settings.model_providers.${selected}.base_url must be a URL`);
  return baseUrl;
}

export const codexProvider: Provider = {
  name: "codex",
  dockerfile: path.join(assetPaths.providerDockerfileDir("codex"), "Dockerfile"),
  dockerfileOrigin: "provider",
  defaultVersion: CODEX_VERSION,
  guestUser: "node",
  guestHome: GUEST_HOME,
  setup({ bottle, hostEnv, prompt }) {
    const provider = bottle.agent_provider;
    const settings = provider.settings;
    const baseUrl = customBaseUrl(settings);
    const routes: EgressRoute[] = [];
    const secrets: Record<string, SecretSource> = {};
    const files: GuestFile[] = [];
    const config: Record<string, unknown> = { ...settings };

    if (provider.forward_host_credentials) {
      const file = hostCodexAuthPath(hostEnv);
      files.push({ path: `${CODEX_HOME}/auth.json`, content: JSON.stringify(placeholderCodexAuth(readCodexAuth(file)), null, 2) + "\n", mode: 0o600 });
      secrets[ACCESS_TOKEN_SECRET] = { kind: "codex-access-token", file };
      routes.push({ host: baseUrl ? hostOf(baseUrl) : CHATGPT_API, auth: { scheme: "Bearer", token_ref: ACCESS_TOKEN_SECRET } });
      // A custom provider must use the ChatGPT sign-in, whose token egress injects.
      if (baseUrl) {
        const selected = String(settings?.model_provider);
        const providers = config.model_providers as Record<string, Record<string, unknown>>;
        config.model_providers = { ...providers, [selected]: { ...providers[selected], requires_openai_auth: true } };
      }
    } else if (provider.auth_token) {
      // API-key mode: the agent's key is a placeholder, egress injects the real one.
      files.push({ path: `${CODEX_HOME}/auth.json`, content: JSON.stringify({ OPENAI_API_KEY: "bot-bottle-placeholder-api-key" }, null, 2) + "\n", mode: 0o600 });
      secrets[provider.auth_token] = { kind: "env", name: provider.auth_token };
      routes.push({ host: baseUrl ? hostOf(baseUrl) : OPENAI_API, auth: { scheme: "Bearer", token_ref: provider.auth_token } });
    }
    if (Object.keys(config).length > 0) files.push({ path: `${CODEX_HOME}/config.toml`, content: stringify(config) + "\n", mode: 0o600 });
    // Codex has no system-prompt flag; its global AGENTS.md plays that part.
    if (prompt.trim()) files.push({ path: `${CODEX_HOME}/AGENTS.md`, content: prompt, mode: 0o600 });
    return { env: { CODEX_HOME }, routes, secrets, files };
  },
  headless: codexHeadless,
  mcpRegistration: (name, url, callTimeoutS) => [
    // `codex exec` refuses every MCP tool that is not read-only unless approved up front.
    codexMcpAddCommand(name, url, ['default_tools_approval_mode = "approve"', ...codexMcpWaitSettings(Math.ceil(callTimeoutS) + MCP_CALL_SLACK_S)]),
  ],
};
