import { Command } from "commander";
import { bottleActivity } from "../activity/bottle-activity.js";
import { botBottleHome } from "../home.js";

export function activityCommand(): Command {
  return new Command("activity")
    .description("what a bottle did at its boundary: egress decisions with their bytes, supervise requests and decisions")
    .argument("<id>", "bottle id (see `bot-bottle ls`)")
    .option("--since <time>", "only events after this ISO time (an event's time, to page on)")
    .option("--json", "print the events as JSON")
    .action((id: string, options: { since?: string; json?: boolean }) => {
      const activity = bottleActivity(botBottleHome(), id, options.since);
      if (options.json) {
        process.stdout.write(`${JSON.stringify(activity, null, 2)}\n`);
        return;
      }
      for (const e of activity.events) {
        const line =
          e.source === "egress"
            ? `${e.time}\tegress\t${e.decision}\t${e.method ?? "-"} ${e.host ?? "-"}${e.port ? `:${e.port}` : ""}${e.path ?? ""}\t${e.reason}${e.bytes_sent !== null ? `\t${e.bytes_sent}B out ${e.bytes_received}B in` : ""}`
            : `${e.time}\tsupervise\t${e.event === "request" ? "request" : e.decision}\t${e.request_id} ${e.kind}\t${e.event === "request" ? e.summary : `by ${e.decided_by}${e.notes ? `: ${e.notes}` : ""}`}`;
        process.stdout.write(`${line}\n`);
      }
      if (activity.events.length === 0) process.stdout.write("no activity yet\n");
      if (activity.more) process.stderr.write(`more: bot-bottle activity ${id} --since ${activity.events.at(-1)!.time}\n`);
    });
}
