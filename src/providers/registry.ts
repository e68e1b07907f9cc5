import { UserError } from "../user-error.js";
import { claudeProvider } from "./claude/provider.js";
import { codexProvider } from "./codex/provider.js";
import { loadPluginProvider } from "./plugin.js";
import type { Provider } from "./provider.js";

const builtIns: Record<string, Provider> = { claude: claudeProvider, codex: codexProvider };

/** The provider a bottle's `agent_provider.template` names: a user plugin first, then the built-ins. */
export async function resolveProvider(template: string, home: string): Promise<Provider> {
  const plugin = await loadPluginProvider(home, template);
  if (plugin) return plugin;
  const provider = builtIns[template];
  if (!provider) {
    throw new UserError(
      `unknown agent_provider.template "${template}": built-in providers are ${Object.keys(builtIns).join(", ")}, and no plugin exists at $BOT_BOTTLE_HOME/contrib/${template}/provider.mjs`,
    );
  }
  return provider;
}
