import { Command } from "commander";
import { Engine } from "../engine/engine.js";

export function stopCommand(): Command {
  return new Command("stop")
    .description("stop bottles and remove their containers, networks and socket volumes")
    .argument("<ids...>", "bottle ids (see `bot-bottle ls`)")
    .action(async (ids: string[]) => {
      const engine = Engine.fromProcess();
      for (const id of ids) {
        const result = await engine.stop(id);
        for (const item of result.removed) process.stdout.write(`removed ${item}\n`);
      }
    });
}
