import { Command } from "commander";
import { Engine } from "../engine/engine.js";

export function gcCommand(): Command {
  return new Command("gc")
    .description("remove containers, networks, volumes and state folders of bottles that are gone or half-made")
    .action(async () => {
      const { removed, failures } = await Engine.fromProcess().gc();
      if (removed.length === 0 && failures.length === 0) process.stdout.write("nothing to remove\n");
      for (const item of removed) process.stdout.write(`removed ${item}\n`);
      for (const failure of failures) process.stderr.write(`bot-bottle: could not remove everything: ${failure}\n`);
      if (failures.length > 0) process.exitCode = 1;
    });
}
