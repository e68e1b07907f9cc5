import { Command } from "commander";
import { Engine } from "../engine/engine.js";
import { UserError } from "../user-error.js";

interface ExecOptions {
  user?: string;
  timeout?: number;
  prompt?: string;
  model?: string;
  maxTurns?: number;
  allowedTools?: string[];
  json?: boolean;
  background?: boolean;
}

const DEFAULT_BACKGROUND_TIMEOUT_S = 600;

/** Starts the command or prompt detached in the bottle and prints the run id (see `bot-bottle runs`). */
async function startBackground(engine: Engine, id: string, command: string[], options: ExecOptions): Promise<void> {
  const what =
    options.prompt !== undefined
      ? { prompt: { prompt: options.prompt, model: options.model, maxTurns: options.maxTurns, allowedTools: options.allowedTools } }
      : { command, user: options.user };
  const run = await engine.runs.start(id, what, (options.timeout ?? DEFAULT_BACKGROUND_TIMEOUT_S) * 1000);
  process.stdout.write(`${run.run_id}
`);
  process.stderr.write(`started ${run.run_id} in ${run.bottle_id}: \`bot-bottle wait ${run.run_id}\`, \`bot-bottle run ${run.run_id}\`, \`bot-bottle cancel ${run.run_id}\`
`);
}

function positiveInteger(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UserError(`${flag} ${value}: must be a positive whole number`, 2);
  return n;
}

async function runPrompt(engine: Engine, id: string, options: ExecOptions): Promise<void> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once("SIGINT", onSignal);
  try {
    const result = await engine.runAgent(
      id,
      { prompt: options.prompt!, model: options.model, maxTurns: options.maxTurns, allowedTools: options.allowedTools },
      {
        timeoutMs: options.timeout ? options.timeout * 1000 : undefined,
        signal: controller.signal,
        onEvent: (message) => process.stderr.write(`[agent] ${message}\n`),
      },
    );
    if (options.json) process.stdout.write(JSON.stringify(result, null, 2) + "\n");
    else if (result.result_text !== null) process.stdout.write(result.result_text + "\n");
    else process.stderr.write(`bot-bottle: the agent gave no answer (exit ${result.exit_code}); its output:\n${result.stdout}${result.stderr}`);
    process.exitCode = result.timed_out ? 124 : result.exit_code;
  } finally {
    process.off("SIGINT", onSignal);
  }
}

export function execCommand(): Command {
  return new Command("exec")
    .description("run a command in a bottle, passing its output and exit code through")
    .argument("<id>", "bottle id (see `bot-bottle ls`)")
    .argument("[command...]", "the command and its arguments (put them after --)")
    .option("--prompt <text>", "give the bottled agent this prompt (headless) instead of running a command; prints its answer")
    .option("--model <model>", "with --prompt: the model the agent uses")
    .option("--max-turns <n>", "with --prompt: stop the agent after this many turns", (v) => positiveInteger(v, "--max-turns"))
    .option("--allowed-tools <tools>", "with --prompt: comma-separated tools the agent may use without asking", (v) => v.split(",").map((t) => t.trim()).filter(Boolean))
    .option("--json", "with --prompt: print the whole result as JSON")
    .option("--background", `start it detached in the bottle and print its run id at once (then \`bot-bottle wait\`, \`run\`, \`cancel\`; default timeout ${DEFAULT_BACKGROUND_TIMEOUT_S} s)`)
    .option("--user <user>", "guest user to run as (default: the agent user)")
    .option("--timeout <seconds>", "kill the command inside the bottle after this many seconds", (v) => {
      const seconds = Number(v);
      if (!Number.isFinite(seconds) || seconds <= 0) throw new UserError(`--timeout ${v}: must be a positive number of seconds`, 2);
      return seconds;
    })
    .action(async (id: string, command: string[], options: ExecOptions) => {
      const engine = Engine.fromProcess();
      if (options.prompt !== undefined && command.length > 0) throw new UserError("give either --prompt or a command, not both", 2);
      if (options.prompt === undefined && command.length === 0) throw new UserError("nothing to run: give a command after -- (or --prompt)", 2);
      if (options.background) {
        await startBackground(engine, id, command, options);
        return;
      }
      if (options.prompt !== undefined) {
        await runPrompt(engine, id, options);
        return;
      }
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
