import type { Bottle } from "../../../backends/backend.js";
import type { BottlePlan } from "../plan-schema.js";
import type { ExecResult } from "../records.js";

/** What a step can say besides failing: a warning lands in the start result and the log, and the start goes on. */
export interface StepReport {
  warn(message: string): void;
}

/**
 * One provisioning step. Steps reach the guest only through the Bottle handle,
 * so every backend provisions the same way.
 */
export interface ProvisionStep {
  readonly name: string;
  readonly describe: string;
  /**
   * The steps (by name, each earlier in the list) that must have finished
   * before this one starts: those that write the same files or make what it
   * uses. Steps with nothing between them run at once.
   */
  readonly after: readonly string[];
  run(plan: BottlePlan, bottle: Bottle, report: StepReport): Promise<void>;
}

/** Runs a command the step cannot do without; a failure names the step and carries the output. */
export async function required(bottle: Bottle, step: string, command: string | string[], user = "root"): Promise<ExecResult> {
  const result = await bottle.exec(command, { user, cwd: "/" });
  if (result.exit_code !== 0) {
    const shown = typeof command === "string" ? command : command.join(" ");
    throw new Error(`provisioning step ${step} failed: \`${shown}\` exited ${result.exit_code}: ${(result.stderr || result.stdout).trim()}`);
  }
  return result;
}
