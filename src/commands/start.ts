import { Command, Option } from "commander";
import { Engine } from "../engine/engine.js";
import { planSummary } from "../engine/prepare.js";
import { BackendName } from "../manifest/schema.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function startCommand(): Command {
  return new Command("start")
    .description("start a bottle for AGENT and print its id")
    .argument("<agent>", "agent name (see `bot-bottle agents`)")
    .option("--bottle <name>", "bottle to use instead of the agent's own (repeatable; merged left to right)", collect)
    .option("--cwd <dir>", "copy this repository (with its history) into the bottle's workspace")
    .option("--label <label>", "a free-form label shown by `ls`")
    .addOption(new Option("--backend <backend>", "where the bottle runs (default: the bottle's `backend`, else docker when it answers)").choices([...BackendName.options]))
    .option("--dry-run", "print the plan and stop, changing nothing")
    .option("--json", "print the bottle record as JSON")
    .action(async (agent: string, options: { bottle?: string[]; cwd?: string; label?: string; backend?: BackendName; dryRun?: boolean; json?: boolean }) => {
      const engine = Engine.fromProcess();
      const prepared = await engine.plan({ agent, bottles: options.bottle, cwd: options.cwd, label: options.label, backend: options.backend });
      const { plan } = prepared;
      if (plan.agent.origin === "repository") {
        // The user may think they started their own agent: say whose it is before anything runs.
        const skills = plan.skills.map((s) => s.name).join(", ") || "none";
        const chosen = options.bottle ? `skills (${skills})` : `bottles (${plan.bottles.join(", ")}) and skills (${skills})`;
        process.stderr.write(
          `bot-bottle: agent ${plan.agent.name} comes from a repository (${plan.agent.source}), not from your home: ` +
            `the repository wrote its prompt and chose its ${chosen}\n`,
        );
      }
      if (options.dryRun) {
        // Planning wrote nothing, so there is nothing to clean up.
        process.stdout.write(planSummary(prepared) + "\n");
        return;
      }
      // Ctrl-C cancels the launch, which removes what it made so far.
      const controller = new AbortController();
      const onSignal = () => {
        process.stderr.write("bot-bottle: cancelling start, removing what it created...\n");
        controller.abort();
      };
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        const record = await engine.launch(prepared, {
          signal: controller.signal,
          onProgress: (p) => process.stderr.write(`[${p.phase}] ${p.message}\n`),
        });
        process.stdout.write(options.json ? JSON.stringify(record, null, 2) + "\n" : `${record.id}\n`);
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });
}
