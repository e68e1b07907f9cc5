import path from "node:path";
import { shellQuote } from "../../shell-quote.js";
import { required, type ProvisionStep } from "./step.js";

/** Copies each named skill from the host, replacing any earlier copy. */
export const skillsStep: ProvisionStep = {
  name: "skills",
  describe: "copying skills",
  // Both write under ~/.claude, and this one chowns it recursively.
  after: ["provider-files"],
  async run(plan, bottle) {
    for (const skill of plan.skills) {
      const guest = shellQuote(skill.guest);
      await required(bottle, "skills", `rm -rf ${guest} && mkdir -p ${guest}`);
      await bottle.cpIn(skill.host, skill.guest);
      // chown from the agent's .claude folder down, so parents made here are the agent's too
      const owned = shellQuote(path.posix.dirname(path.posix.dirname(skill.guest)));
      await required(bottle, "skills", `chown -R ${plan.guest.user}: ${owned}`);
    }
  },
};
