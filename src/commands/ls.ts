import { Command } from "commander";
import { Engine } from "../engine/engine.js";

export function lsCommand(): Command {
  return new Command("ls")
    .description("list the bottles this home knows, running and stopped")
    .option("--json", "print the records as JSON")
    .action(async (options: { json?: boolean }) => {
      const records = await Engine.fromProcess().list();
      if (options.json) {
        process.stdout.write(JSON.stringify(records, null, 2) + "\n");
        return;
      }
      if (records.length === 0) {
        process.stdout.write("no bottles\n");
        return;
      }
      for (const r of records) {
        process.stdout.write(`${r.id}\t${r.status}\t${r.agent}\t${r.backend}\t${r.started_at}${r.label ? `\t${r.label}` : ""}\n`);
        if (r.problem) process.stdout.write(`  ! ${r.problem}\n`);
      }
    });
}
