import { assetPaths } from "../../package-root.js";
import type { Provider } from "../provider.js";

export const codexProvider: Provider = {
  name: "codex",
  dockerfileDir: assetPaths.providerDockerfileDir("codex"),
  guestUser: "node",
  guestHome: "/home/node",
  guestEnv: (bottle) => ({ CODEX_HOME: `${bottle.agent_provider.settings?.codex_home ?? "/home/node/.codex"}` }),
};
