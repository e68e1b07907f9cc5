import path from "node:path";
import { shellQuote } from "../../shell-quote.js";
import { required, type ProvisionStep } from "./step.js";

/** The agent's system prompt as a file only the agent user can read. */
export const promptStep: ProvisionStep = {
  name: "prompt",
  describe: "writing the agent's prompt file",
  after: [],
  async run(plan, bottle) {
    const dir = shellQuote(path.posix.dirname(plan.prompt.guest));
    const file = shellQuote(plan.prompt.guest);
    await required(bottle, "prompt", `mkdir -p ${dir}`);
    await bottle.cpIn(plan.prompt.host, plan.prompt.guest);
    await required(bottle, "prompt", `chown -R ${plan.guest.user}: ${dir} && chmod 700 ${dir} && chmod 600 ${file}`);
  },
};
