import { Command } from "commander";
import { Engine } from "../engine/engine.js";
import { UserError } from "../user-error.js";

export function execCommand(): Command {
  return new Command("exec")
    .description("run a command in a bottle, passing its output and exit code through")
    .argument("<id>", "bottle id (see `bot-bottle ls`)")
    .argument("<command...>", "the command and its arguments (put them after --)")
    .option("--user <user>", "guest user to run as (default: the agent user)")
    .option("--timeout <seconds>", "kill the command inside the bottle after this many seconds", (v) => {
      const seconds = Number(v);
      if (!Number.isFinite(seconds) || seconds <= 0) throw new UserError(`--timeout ${v}: must be a positive number of seconds`, 2);
      return seconds;
    })
    .action(async (id: string, command: string[], options: { user?: string; timeout?: number }) => {
      const engine = Engine.fromProcess();
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once("SIGINT", onSignal);
      try {
        const result = await engine.exec(id, command, {
          user: options.user,
          timeoutMs: options.timeout ? options.timeout * 1000 : undefined,
          signal: controller.signal,
          onOutput: (stream, chunk) => (stream === "stdout" ? process.stdout : process.stderr).write(chunk),
        });
        if (result.timed_out) {
          process.stderr.write(`bot-bottle: timed out after ${options.timeout} s; the command was killed inside the bottle\n`);
          process.exitCode = 124;
          return;
        }
        process.exitCode = result.exit_code;
      } finally {
        process.off("SIGINT", onSignal);
      }
    });
}
