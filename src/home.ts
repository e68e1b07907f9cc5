import os from "node:os";
import path from "node:path";

// Every host-side path the engine uses hangs off BOT_BOTTLE_HOME, so tests and
// users can point the whole tool at another folder with one variable.
export function botBottleHome(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.BOT_BOTTLE_HOME;
  if (configured && configured.trim() !== "") return path.resolve(configured);
  return path.join(os.homedir(), ".bot-bottle");
}

export const homePaths = (home: string) => ({
  bottles: path.join(home, "bottles"),
  agents: path.join(home, "agents"),
  contrib: path.join(home, "contrib"),
  state: path.join(home, "state"),
  queue: path.join(home, "queue"),
  audit: path.join(home, "audit"),
  secrets: path.join(home, "secrets"),
  /** Rebuildable artifacts (microVM image archives); safe to delete. */
  cache: path.join(home, "cache"),
  stateOf: (id: string) => path.join(home, "state", id),
  queueOf: (id: string) => path.join(home, "queue", id),
  auditOf: (id: string) => path.join(home, "audit", `${id}.jsonl`),
});

export const projectAgentsDir = (cwd: string) => path.join(cwd, ".bot-bottle", "agents");
export const projectBottlesDir = (cwd: string) => path.join(cwd, ".bot-bottle", "bottles");
