import { z } from "zod";
import type { Bottle } from "../../../backends/backend.js";
import { RunRead, type RunSpec, RunStatus } from "../../../sidecars/runner/spec.js";
import { GUEST_PATHS } from "../../../sidecars/contract.js";

// The engine's side of the in-bottle runner (sidecars/runner): each verb is
// one exec of the runner as root, through the Bottle handle, so any backend
// that can exec can run things in the background.

/** Output of the runner's own answers (a status list can be long; outputs are read in capped parts). */
const ANSWER_CAP = 64 * 1024 * 1024;

async function runner(bottle: Bottle, args: string[], stdin?: string): Promise<unknown> {
  const result = await bottle.exec(["node", GUEST_PATHS.runner, ...args], { user: "root", cwd: "/", stdin, maxOutputBytes: ANSWER_CAP });
  if (result.exit_code !== 0) throw new Error(`the bottle's runner failed (${args[0]}): ${result.stderr.trim() || `exit ${result.exit_code}`}`);
  return JSON.parse(result.stdout);
}

export async function startRunIn(bottle: Bottle, spec: RunSpec): Promise<RunStatus> {
  return RunStatus.parse(await runner(bottle, ["start"], JSON.stringify(spec)));
}

/** The named runs' statuses (those the bottle knows; a run it does not know is missing from the answer). */
export async function runStatusesIn(bottle: Bottle, ids: string[]): Promise<RunStatus[]> {
  return z.array(RunStatus).parse(await runner(bottle, ["status", ...ids]));
}

export async function readRunIn(
  bottle: Bottle,
  id: string,
  offsets: { stdout: number; stderr: number },
  maxBytes: { stdout: number; stderr: number },
  tailBytes: number,
): Promise<RunRead> {
  const args = ["read", id, String(offsets.stdout), String(offsets.stderr), String(maxBytes.stdout), String(maxBytes.stderr), String(tailBytes)];
  return RunRead.parse(await runner(bottle, args));
}

export async function cancelRunIn(bottle: Bottle, id: string): Promise<RunStatus> {
  return RunStatus.parse(await runner(bottle, ["cancel", id]));
}
