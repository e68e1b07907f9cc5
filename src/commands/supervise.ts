import os from "node:os";
import { Command } from "commander";
import { botBottleHome } from "../home.js";
import { decide, type DecisionRequest } from "../supervise/decide.js";
import { listPending, type PendingProposal } from "../supervise/pending.js";
import { QueueWatcher } from "../supervise/watch.js";

// The supervise channel for a person at a terminal: list (and follow) what
// bottled agents ask, and answer it.

const line = (p: PendingProposal) => `${p.id}\t${p.bottle}\t${p.kind}\t${p.age_s}s\t${p.summary}`;
const person = () => `${os.userInfo().username} (bot-bottle CLI)`;

export function superviseCommand(): Command {
  return new Command("supervise")
    .description("list the requests bottled agents are waiting on, then follow new ones until interrupted (answer with `approve` / `reject`)")
    .option("--once", "list what is pending and exit")
    .option("--json", "JSON: an array with --once, else one JSON object per line per event")
    .action(async (options: { once?: boolean; json?: boolean }) => {
      const home = botBottleHome();
      const write = (text: string) => process.stdout.write(`${text}\n`);
      if (options.once) {
        const pending = listPending(home);
        if (options.json) write(JSON.stringify(pending, null, 2));
        else if (pending.length === 0) write("no pending requests");
        else pending.forEach((p) => write(line(p)));
        return;
      }
      const watcher = new QueueWatcher(home);
      const unsubscribe = watcher.subscribe((event) => {
        if (options.json) write(JSON.stringify(event.type === "proposed" ? { event: "proposed", ...event.proposal } : { event: "decided", bottle: event.bottle, id: event.id }));
        else write(event.type === "proposed" ? line(event.proposal) : `${event.id}\t${event.bottle}\tdecided`);
      });
      if (!options.json) process.stderr.write("following the supervise queues; Ctrl-C to stop\n");
      // The watcher's timers do not hold the process open: this does, until a signal.
      await new Promise<void>((resolve) => {
        const keepAlive = setInterval(() => undefined, 1 << 30);
        const stop = () => {
          clearInterval(keepAlive);
          resolve();
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      unsubscribe();
    });
}

function answer(request: DecisionRequest): void {
  const record = decide(botBottleHome(), request, person());
  const verb = record.decision === "reject" ? "rejected" : record.extend_credential ? "approved, extending the credential," : "approved";
  process.stdout.write(`${verb} ${record.request_id} (bottle ${record.bottle}): ${record.summary}\n`);
}

export function approveCommand(): Command {
  return new Command("approve")
    .description("approve a request a bottled agent is waiting on")
    .argument("<id>", "request id (see `bot-bottle supervise`)")
    .option("--notes <text>", "what the agent is told along with the approval")
    .option("--extend-credential", "egress-allow only: let the approved requests carry the credential the request's summary names (by default they go without)")
    .action((id: string, options: { notes?: string; extendCredential?: boolean }) =>
      answer({ request_id: id, decision: "approve", notes: options.notes, ...(options.extendCredential ? { extend_credential: true } : {}) }),
    );
}

export function rejectCommand(): Command {
  return new Command("reject")
    .description("reject a request a bottled agent is waiting on, saying why")
    .argument("<id>", "request id (see `bot-bottle supervise`)")
    .requiredOption("--notes <text>", "why: the agent reads it")
    .action((id: string, options: { notes: string }) => answer({ request_id: id, decision: "reject", notes: options.notes }));
}
