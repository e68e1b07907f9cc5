import { required, type ProvisionStep } from "./step.js";

/** `git config --global user.*` as the agent user, from the effective `git-gate.user`. */
export const gitUserStep: ProvisionStep = {
  name: "git-user",
  describe: "setting the git user",
  after: [],
  async run(plan, bottle) {
    for (const field of ["name", "email"] as const) {
      const value = plan.gitUser[field];
      if (value) await required(bottle, "git-user", ["git", "config", "--global", `user.${field}`, value], plan.guest.user);
    }
  },
};
