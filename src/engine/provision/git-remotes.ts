import { shellQuote } from "../../shell-quote.js";
import { gateUrl, ORIGIN_URL, upstreamSpellings } from "../git-gate/plan.js";
import { required, type ProvisionStep } from "./step.js";

/**
 * Points the agent's git at the gate, as the agent user: every spelling of
 * each declared repository's upstream URL is rewritten to the gate
 * (`url.<gate>.insteadOf`), and the workspace's `origin` remote is the gate's
 * copy of the cwd repository. The agent has no other way out anyway; this
 * makes the declared URLs simply work.
 */
export const gitRemotesStep: ProvisionStep = {
  name: "git-remotes",
  describe: "pointing the agent's git at the git gate",
  // The origin remote lives in the workspace's repository; both write ~/.gitconfig, which git locks.
  after: ["workspace", "git-user"],
  async run(plan, bottle) {
    const gate = plan.gitGate;
    if (!gate.folders) return;
    for (const repo of gate.repos) {
      const key = `url.${gateUrl(repo.name)}.insteadOf`;
      for (const spelling of upstreamSpellings(repo.url)) {
        await required(bottle, "git-remotes", ["git", "config", "--global", "--add", key, spelling], plan.guest.user);
      }
    }
    if (gate.origin) {
      const workspace = shellQuote(plan.guest.workspace);
      const url = shellQuote(ORIGIN_URL);
      await required(bottle, "git-remotes", `cd ${workspace} && { git remote set-url origin ${url} 2>/dev/null || git remote add origin ${url}; }`, plan.guest.user);
    }
  },
};
