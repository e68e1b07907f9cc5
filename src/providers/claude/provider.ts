import { assetPaths } from "../../package-root.js";
import type { Provider } from "../provider.js";

export const claudeProvider: Provider = {
  name: "claude",
  dockerfileDir: assetPaths.providerDockerfileDir("claude"),
  guestUser: "node",
  guestHome: "/home/node",
  guestEnv: () => ({
    // Telemetry, update checks and the like would only be refused by egress.
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_AUTOUPDATER: "1",
  }),
};
