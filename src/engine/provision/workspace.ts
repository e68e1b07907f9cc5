import { shellQuote } from "../../shell-quote.js";
import { required, type ProvisionStep } from "./step.js";

/**
 * Creates the agent's workspace and, with a cwd, fills it with a copy of the
 * host repository (history included). A copy, never a mount: nothing the agent
 * does can write back to the host folder.
 */
export const workspaceStep: ProvisionStep = {
  name: "workspace",
  describe: "preparing the workspace",
  after: [],
  async run(plan, bottle) {
    const workspace = shellQuote(plan.guest.workspace);
    await required(bottle, "workspace", `mkdir -p ${workspace}`);
    if (plan.cwd) await bottle.cpIn(plan.cwd, plan.guest.workspace);
    await required(bottle, "workspace", `chown -R ${plan.guest.user}: ${workspace}`);
  },
};
