import { shellQuote } from "../../shell-quote.js";
import { required, type ProvisionStep } from "./step.js";

/** `git config --global user.*` as the agent user, from the effective `git-gate.user`, in one exec. */
export const gitUserStep: ProvisionStep = {
  name: "git-user",
  describe: "setting the git user",
  after: [],
  async run(plan, bottle) {
    const settings = (["name", "email"] as const).flatMap((field) => {
      const value = plan.gitUser[field];
      return value ? [`git config --global user.${field} ${shellQuote(value)}`] : [];
    });
    if (settings.length > 0) await required(bottle, "git-user", settings.join(" && "), plan.guest.user);
  },
};
