import { Command } from "commander";
import { demoHome } from "../demo/home.js";
import { runDemo } from "../demo/walkthrough.js";
import { log } from "../log.js";

export function demoCommand(): Command {
  return new Command("demo")
    .description(
      "start a bottle of the built-in demo agent and show, step by step, what it holds: a command as the agent user, egress refusing an undeclared host " +
        "and letting a declared one through, and a supervise request the demo approves; then remove everything it made (what a demo killed outright leaves, the next one removes). " +
        "Needs a running Docker engine, and no model token or MCP client. It runs in a home of its own ($XDG_CACHE_HOME/bot-bottle/demo, " +
        "default ~/.cache/bot-bottle/demo), never yours",
    )
    .option("--no-internet", "skip the request to the declared public host (step 4): nothing leaves this machine, not even a DNS lookup")
    .action(async (options: { internet: boolean }) => {
      // The walk-through is the output; the engine's routine info lines would drown it (BOT_BOTTLE_LOG still wins).
      if (process.env.BOT_BOTTLE_LOG === undefined) log.level = "warn";
      // Ctrl-C stops the current step and removes everything; a second one leaves at once.
      const controller = new AbortController();
      const home = demoHome();
      const onSignal = () => {
        if (controller.signal.aborted) {
          process.stderr.write("bot-bottle demo: interrupted again, leaving now; the next `bot-bottle demo` removes what is left\n");
          process.exit(130);
        }
        process.stderr.write("bot-bottle demo: interrupted, removing the bottle and everything it made...\n");
        controller.abort();
      };
      // SIGHUP too: closing the terminal must not leave the bottle running.
      const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
      for (const signal of signals) process.on(signal, onSignal);
      try {
        await runDemo({ home, env: process.env, say: (line) => process.stdout.write(`${line}\n`), signal: controller.signal, internet: options.internet });
      } finally {
        for (const signal of signals) process.off(signal, onSignal);
      }
    });
}
