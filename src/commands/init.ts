import { Command } from "commander";
import { botBottleHome } from "../home.js";
import { writeScaffold } from "../manifest/scaffold.js";

export function initCommand(): Command {
  return new Command("init")
    .description(
      "create a starting BOT_BOTTLE_HOME (default ~/.bot-bottle): bottles claude and codex and an example agent; " +
        "refuses, writing nothing, if any of those files exists",
    )
    .action(async () => {
      const home = botBottleHome();
      const written = await writeScaffold(home);
      process.stdout.write(
        written.map((file) => `created ${file}\n`).join("") +
          "\nnext: set CLAUDE_CODE_OAUTH_TOKEN on this host (`claude setup-token`) for the claude bottle, " +
          "then run `bot-bottle agents`\n",
      );
    });
}
