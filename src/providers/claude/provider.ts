import path from "node:path";
import { assetPaths } from "../../package-root.js";
import type { EgressRoute } from "../../manifest/schema.js";
import type { Provider } from "../provider.js";
import { claudeHeadless } from "./headless.js";
import { claudeMcpAddCommand } from "./mcp-config.js";

const GUEST_HOME = "/home/node";
/** The Claude Code release bottles run unless they set agent_provider.version (the Dockerfile's ARG default agrees). */
export const CLAUDE_CODE_VERSION = "2.1.332";
const EXACT_VERSION = /^[0-9]+\.[0-9]+\.[0-9]+/;
const DEFAULT_API = "https://api.anthropic.com";
/** Fixed, non-secret stand-ins: Claude Code starts without a login, egress swaps in the real credential. */
export const CLAUDE_PLACEHOLDER_TOKEN = "bot-bottle-placeholder-oauth-token";
export const CLAUDE_PLACEHOLDER_API_KEY = "sk-ant-api03-bot-bottle-placeholder";

/**
 * Claude Code's first-run state, pre-answered so headless runs never stop at a
 * prompt. `version` is the release onboarding was "completed" for: the one the
 * image installs (a dist-tag names none, so the default stands in for it).
 */
function onboardingState(workspace: string, apiKey: string | undefined, version: string) {
  return {
    // An interactive session asks once whether to use a key from the environment; it is the placeholder.
    ...(apiKey ? { customApiKeyResponses: { approved: [apiKey.slice(-20)], rejected: [] } } : {}),
    hasCompletedOnboarding: true,
    lastOnboardingVersion: version,
    numStartups: 1,
    autoUpdates: false,
    bypassPermissionsModeAccepted: true,
    projects: { [workspace]: { hasTrustDialogAccepted: true, hasCompletedProjectOnboarding: true } },
  };
}

export const claudeProvider: Provider = {
  name: "claude",
  dockerfile: path.join(assetPaths.providerDockerfileDir("claude"), "Dockerfile"),
  dockerfileOrigin: "provider",
  defaultVersion: CLAUDE_CODE_VERSION,
  guestUser: "node",
  guestHome: GUEST_HOME,
  setup({ bottle }) {
    const provider = bottle.agent_provider;
    const env: Record<string, string> = {
      // Telemetry and update checks would only be refused by egress.
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      DISABLE_AUTOUPDATER: "1",
    };
    const routes: EgressRoute[] = [];
    const secrets: Record<string, { kind: "env"; name: string }> = {};
    if (provider.auth_token) {
      // An OAuth token travels as a Bearer token, an API key in x-api-key.
      const apiKey = provider.auth_kind === "api_key";
      if (apiKey) env.ANTHROPIC_API_KEY = CLAUDE_PLACEHOLDER_API_KEY;
      else env.CLAUDE_CODE_OAUTH_TOKEN = CLAUDE_PLACEHOLDER_TOKEN;
      // A gateway set with ANTHROPIC_BASE_URL gets the credential instead of Anthropic.
      const api = new URL(bottle.env.ANTHROPIC_BASE_URL ?? DEFAULT_API);
      const host = api.port ? `${api.hostname}:${api.port}` : api.hostname;
      routes.push({ host, auth: { scheme: apiKey ? "x-api-key" : "Bearer", token_ref: provider.auth_token } });
      secrets[provider.auth_token] = { kind: "env", name: provider.auth_token };
    }
    const version = provider.version !== undefined && EXACT_VERSION.test(provider.version) ? provider.version : CLAUDE_CODE_VERSION;
    const state = onboardingState(`${GUEST_HOME}/workspace`, provider.auth_kind === "api_key" ? CLAUDE_PLACEHOLDER_API_KEY : undefined, version);
    const files = [{ path: `${GUEST_HOME}/.claude.json`, content: JSON.stringify(state, null, 2) + "\n", mode: 0o600 }];
    if (provider.settings) {
      files.push({ path: `${GUEST_HOME}/.claude/settings.json`, content: JSON.stringify(provider.settings, null, 2) + "\n", mode: 0o600 });
    }
    return { env, routes, secrets, files };
  },
  headless: claudeHeadless,
  mcpRegistration: (name, url) => [claudeMcpAddCommand(name, url)],
};
