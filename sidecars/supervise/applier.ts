import { watch } from "node:fs";
import { queueIds, readProposal } from "./queue.js";
import type { Supervisor } from "./supervisor.js";

// Applies approved routes whether or not the agent is still waiting: an
// approval that lands after a call returned "still pending" (or after the
// agent gave up) must still open the route. It watches the queue for answers
// to egress-allow proposals and settles each once per process; settling is
// idempotent, so the pass at start-up re-applies nothing that is live already.

const POLL_MS = 1_000;

export function startApplier(supervisor: Supervisor, say: (message: string) => void): { stop(): void } {
  const dir = supervisor.settings.queueDir;
  const settled = new Set<string>();
  let scanning = false;

  const scan = async (): Promise<void> => {
    if (scanning) return;
    scanning = true;
    try {
      const { proposals, answered } = queueIds(dir);
      for (const id of proposals) {
        if (settled.has(id) || !answered.has(id)) continue;
        settled.add(id);
        const proposal = readProposal(dir, id);
        if (proposal?.kind !== "egress-allow") continue;
        // A failure is said once; the agent's next await-decision tries again.
        const outcome = await supervisor.settleIfAnswered(id).catch((error: Error) => {
          say(`request ${id}: ${error.message}`);
          return null;
        });
        if (outcome) say(`request ${id} (${proposal.summary}): ${outcome.status}; ${outcome.message}`);
      }
    } catch (error) {
      say(`cannot scan the queue ${dir}: ${(error as Error).message}`);
    } finally {
      scanning = false;
    }
  };

  const poll = setInterval(() => void scan(), POLL_MS);
  let watcher: ReturnType<typeof watch> | null = null;
  try {
    watcher = watch(dir, (_event, name) => {
      if (name === null || name.endsWith(".answer.json")) void scan();
    });
    watcher.on("error", () => watcher?.close());
  } catch {
    // No watcher on this filesystem: the poll alone carries it.
  }
  void scan();
  return {
    stop() {
      clearInterval(poll);
      watcher?.close();
    },
  };
}
