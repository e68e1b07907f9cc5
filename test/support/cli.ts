import path from "node:path";
import { execa, type ResultPromise } from "execa";

export const repoRoot = path.resolve(import.meta.dirname, "..", "..");
export const cliPath = path.join(repoRoot, "dist", "src", "cli.js");

/** Runs the BUILT cli (as a user would) with extra environment; never throws on a non-zero exit. */
export function runCli(args: string[], env: Record<string, string | undefined> = {}, options: { cwd?: string } = {}): ResultPromise<{ reject: false; env: Record<string, string | undefined>; cwd?: string }> {
  return execa("node", [cliPath, ...args], { reject: false, env, cwd: options.cwd ?? repoRoot });
}
