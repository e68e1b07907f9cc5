import { Command } from "commander";
import { Engine } from "../engine/engine.js";
import type { RunRecord } from "../engine/records.js";
import { listPending } from "../supervise/pending.js";
import { UserError } from "../user-error.js";

// Background runs from the shell: the same verbs as the MCP tools
// (list_runs, get_run, wait_for_runs, cancel_run); `exec --background`
// starts one.

const DEFAULT_WAIT_S = 50;

function wholeNumber(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new UserError(`${flag} ${value}: must be a whole number`, 2);
  return n;
}

const line = (r: RunRecord) => `${r.run_id}\t${r.bottle_id}\t${r.state}${r.exit_code !== null ? ` (exit ${r.exit_code})` : ""}\t${r.started_at}\t${r.summary}`;

export function runsCommand(): Command {
  return new Command("runs")
    .description("list background runs (started with `exec --background`), oldest first")
    .option("--bottle <id>", "only this bottle's runs")
    .option("--json", "print the records as JSON")
    .action(async (options: { bottle?: string; json?: boolean }) => {
      const runs = await Engine.fromProcess().runs.list(options.bottle);
      if (options.json) process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
      else process.stdout.write(runs.length > 0 ? `${runs.map(line).join("\n")}\n` : "no background runs\n");
    });
}

export function runCommand(): Command {
  return new Command("run")
    .description("show a background run: its state on stderr, its output (or a prompt's answer) on stdout and stderr")
    .argument("<run-id>", "the run (see `bot-bottle runs`)")
    .option("--offset <bytes>", "read stdout from this byte offset", (v) => wholeNumber(v, "--offset"), 0)
    .option("--stderr-offset <bytes>", "read stderr from this byte offset", (v) => wholeNumber(v, "--stderr-offset"), 0)
    .option("--max-bytes <bytes>", "read at most this many bytes of each stream", (v) => wholeNumber(v, "--max-bytes"), 16 * 1024 * 1024)
    .option("--json", "print the whole result as JSON")
    .action(async (runId: string, options: { offset: number; stderrOffset: number; maxBytes: number; json?: boolean }) => {
      const run = await Engine.fromProcess().runs.get(runId, { stdout: options.offset, stderr: options.stderrOffset }, options.maxBytes);
      if (options.json) {
        process.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
        return;
      }
      process.stderr.write(`${line(run)}\n`);
      if (run.result_text !== null) process.stdout.write(`${run.result_text}\n`);
      else process.stdout.write(run.stdout.text);
      process.stderr.write(run.stderr.text);
      if (run.state !== "running") process.exitCode = run.state === "exited" ? (run.exit_code ?? 1) : run.state === "timed_out" ? 124 : 1;
    });
}

export function waitCommand(): Command {
  return new Command("wait")
    .description("wait until a background run ends or a bottle asks for a decision (then `bot-bottle supervise`), or the timeout passes")
    .argument("[run-ids...]", "the runs to wait for (default: every run not yet seen to end)")
    .option("--bottle <id...>", "watch these bottles' runs and requests")
    .option("--timeout <seconds>", `give up after this many seconds (default ${DEFAULT_WAIT_S})`, (v) => wholeNumber(v, "--timeout"), DEFAULT_WAIT_S)
    .option("--json", "print the result as JSON")
    .action(async (runIds: string[], options: { bottle?: string[]; timeout: number; json?: boolean }) => {
      const engine = Engine.fromProcess();
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once("SIGINT", onSignal);
      try {
        const result = await engine.runs.wait({
          runIds: runIds.length > 0 ? runIds : undefined,
          bottleIds: options.bottle,
          timeoutMs: options.timeout * 1000,
          signal: controller.signal,
          pendingFor: (bottle) => listPending(engine.home, bottle).map(({ id, bottle: b, kind, summary }) => ({ id, bottle: b, kind, summary })),
        });
        if (options.json) {
          process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
          return;
        }
        process.stdout.write(`${result.reason.replaceAll("_", " ")}\n`);
        for (const run of result.runs) process.stdout.write(`${line(run)}\n`);
        for (const p of result.pending) process.stdout.write(`pending request ${p.id} [${p.bottle}, ${p.kind}]: ${p.summary}\n`);
        if (result.reason === "timeout") process.exitCode = 124;
      } finally {
        process.off("SIGINT", onSignal);
      }
    });
}

export function cancelCommand(): Command {
  return new Command("cancel")
    .description("cancel a background run: kill every process it started inside the bottle")
    .argument("<run-id>", "the run (see `bot-bottle runs`)")
    .action(async (runId: string) => {
      const run = await Engine.fromProcess().runs.cancel(runId);
      process.stdout.write(`${line(run)}\n`);
    });
}
