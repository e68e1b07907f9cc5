import type { Bottle } from "../../../backends/backend.js";
import type { BottlePlan } from "../plan-schema.js";
import { allSettledOrThrow } from "../../settle.js";
import { caStep } from "./ca.js";
import { gitRemotesStep } from "./git-remotes.js";
import { gitUserStep } from "./git-user.js";
import { promptStep } from "./prompt.js";
import { providerFilesStep } from "./provider-files.js";
import { skillsStep } from "./skills.js";
import { superviseStep } from "./supervise.js";
import type { ProvisionStep } from "./step.js";
import { workspaceStep } from "./workspace.js";

/** Every provisioning step; each one's `after` names only steps before it. */
export const provisionSteps: readonly ProvisionStep[] = [caStep, workspaceStep, promptStep, providerFilesStep, skillsStep, gitUserStep, gitRemotesStep, superviseStep];

export interface ProvisionHooks {
  /** Called as each step starts. */
  onStep?: (step: ProvisionStep) => void;
  signal?: AbortSignal;
}

/**
 * Runs the steps, each as soon as the steps it comes `after` are done, so
 * independent ones overlap (each is mostly waiting on `docker exec`). Returns
 * the steps' warnings in step order, whatever order they finished in. On a
 * failure, every step already running finishes before the first failure (in
 * step order) is thrown; steps after a failed one never start.
 */
export async function provision(plan: BottlePlan, bottle: Bottle, hooks: ProvisionHooks = {}, steps: readonly ProvisionStep[] = provisionSteps): Promise<string[]> {
  const done = new Map<string, Promise<void>>();
  const warnings = steps.map((): string[] => []);
  for (const [index, step] of steps.entries()) {
    const before = step.after.map((name) => {
      const earlier = done.get(name);
      if (!earlier) throw new Error(`provisioning step ${step.name} runs after ${name}, which is not an earlier step`);
      return earlier;
    });
    done.set(
      step.name,
      Promise.all(before).then(async () => {
        hooks.signal?.throwIfAborted();
        hooks.onStep?.(step);
        await step.run(plan, bottle, { warn: (message) => warnings[index]!.push(message) });
      }),
    );
  }
  await allSettledOrThrow([...done.values()]);
  return warnings.flat();
}
