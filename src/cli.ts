#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { readFileSync } from "node:fs";
import path from "node:path";
import { registerCommands } from "./commands/index.js";
import { packageRoot } from "./package-root.js";
import { UserError } from "./user-error.js";

// Thin: each command lives in src/commands/ and only parses arguments before
// handing over to the engine. Usage errors exit 2; failures exit 1.
const program = new Command("bot-bottle")
  .description("Run coding agents in sandboxed bottles, driven from an MCP client or this CLI.")
  .version((JSON.parse(readFileSync(path.join(packageRoot, "package.json"), "utf8")) as { version: string }).version)
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride();

program.configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });
registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // help and version "errors" are normal exits
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  if (err instanceof UserError) {
    process.stderr.write(`bot-bottle: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`bot-bottle: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}
