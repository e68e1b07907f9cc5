import { Command } from "commander";
import { Engine } from "../engine/engine.js";
import { describeChanges } from "../engine/git-gate/changes.js";

export function changesCommand(): Command {
  return new Command("changes")
    .description("bring what a bottle pushed to its origin into the repository it started in, as branches bottle/<id>/<branch>")
    .argument("<id>", "bottle id (see `bot-bottle ls`)")
    .option("--commit-workspace", "first commit and push the workspace's uncommitted state inside the bottle (it must be running)")
    .option("-m, --message <text>", "the workspace commit's message")
    .option("--json", "print the result as JSON")
    .action(async (id: string, options: { commitWorkspace?: boolean; message?: string; json?: boolean }) => {
      const changes = await Engine.fromProcess().changes(id, {
        commitWorkspace: options.commitWorkspace ? { message: options.message } : undefined,
      });
      process.stdout.write(`${options.json ? JSON.stringify(changes, null, 2) : describeChanges(changes)}\n`);
    });
}
