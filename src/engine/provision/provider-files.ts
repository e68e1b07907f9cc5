import path from "node:path";
import { shellQuote } from "../../shell-quote.js";
import { required, type ProvisionStep } from "./step.js";

/** The provider's config and placeholder credentials, owned by the agent user with their planned modes. */
export const providerFilesStep: ProvisionStep = {
  name: "provider-files",
  describe: "writing the provider's configuration",
  after: [],
  async run(plan, bottle) {
    for (const file of plan.providerFiles) {
      const dir = path.posix.dirname(file.guest);
      await required(bottle, "provider-files", `mkdir -p ${shellQuote(dir)} && chown ${plan.guest.user}: ${shellQuote(dir)}`);
      await bottle.cpIn(file.host, file.guest);
      const mode = file.mode.toString(8);
      await required(bottle, "provider-files", `chown ${plan.guest.user}: ${shellQuote(file.guest)} && chmod ${mode} ${shellQuote(file.guest)}`);
    }
  },
};
