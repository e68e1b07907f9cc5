import type { Command } from "commander";
import { activityCommand } from "./activity.js";
import { agentsCommand } from "./agents.js";
import { changesCommand } from "./changes.js";
import { demoCommand } from "./demo.js";
import { doctorCommand } from "./doctor.js";
import { execCommand } from "./exec.js";
import { gcCommand } from "./gc.js";
import { initCommand } from "./init.js";
import { lsCommand } from "./ls.js";
import { mcpCommand } from "./mcp.js";
import { cancelCommand, runCommand, runsCommand, waitCommand } from "./runs.js";
import { schemaCommand } from "./schema.js";
import { secretCommand } from "./secret.js";
import { startCommand } from "./start.js";
import { stopCommand } from "./stop.js";
import { approveCommand, rejectCommand, superviseCommand } from "./supervise.js";
import { uiCommand } from "./ui.js";
import { validateCommand } from "./validate.js";

/** Every `bot-bottle` subcommand, in the order `--help` lists them. */
export function registerCommands(program: Command): void {
  for (const command of [
    startCommand(),
    execCommand(),
    runsCommand(),
    runCommand(),
    waitCommand(),
    cancelCommand(),
    lsCommand(),
    activityCommand(),
    changesCommand(),
    stopCommand(),
    gcCommand(),
    agentsCommand(),
    validateCommand(),
    schemaCommand(),
    initCommand(),
    demoCommand(),
    doctorCommand(),
    secretCommand(),
    mcpCommand(),
    superviseCommand(),
    uiCommand(),
    approveCommand(),
    rejectCommand(),
  ]) {
    // addCommand, unlike program.command(), does not inherit exitOverride and the
    // output settings: without this a bad flag on a subcommand exits 1, not 2.
    program.addCommand(command.copyInheritedSettings(program));
  }
}
