import { UserError } from "../user-error.js";
import { claudeProvider } from "./claude/provider.js";
import { codexProvider } from "./codex/provider.js";
import type { Provider } from "./provider.js";

const builtIns: Record<string, Provider> = { claude: claudeProvider, codex: codexProvider };

/** The provider a bottle's `agent_provider.template` names. */
export function resolveProvider(template: string): Provider {
  const provider = builtIns[template];
  if (!provider) {
    throw new UserError(
      `unknown agent_provider.template "${template}": built-in providers are ${Object.keys(builtIns).join(", ")}`,
    );
  }
  return provider;
}
