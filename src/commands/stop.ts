import { Command } from "commander";
import { Engine } from "../engine/engine.js";

export function stopCommand(): Command {
  return new Command("stop")
    .description("stop a bottle and remove its containers, network and socket volume")
    .argument("<id>", "bottle id (see `bot-bottle ls`)")
    .action(async (id: string) => {
      const result = await Engine.fromProcess().stop(id);
      for (const item of result.removed) process.stdout.write(`removed ${item}\n`);
    });
}
