import { Command } from "commander";
import { botBottleHome } from "../home.js";
import { log } from "../log.js";
import { formatManifestIssue } from "../manifest/errors.js";
import { loadManifestFiles, loadManifestIndex } from "../manifest/load.js";
import type { ManifestIssue } from "../manifest/schema.js";
import { validateManifestFiles, validateManifestIndex } from "../manifest/validate.js";
import { UserError } from "../user-error.js";

export function validateCommand(): Command {
  return new Command("validate")
    .description(
      "check manifests and print every problem as FILE:LINE: KEY: MESSAGE; exits 1 if any. Without paths: the whole " +
        "BOT_BOTTLE_HOME and the project's agents, including extends and each agent's bottles",
    )
    .argument("[paths...]", "manifest files to check on their own (each inside a bottles/ or agents/ folder)")
    .action(async (paths: string[]) => {
      let issues: ManifestIssue[];
      let checked: string;
      if (paths.length > 0) {
        const files = await loadManifestFiles(paths, botBottleHome());
        issues = validateManifestFiles(files);
        checked = `${count(paths.length, "file")}`;
      } else {
        const home = botBottleHome();
        const index = await loadManifestIndex({ home, cwd: process.cwd() });
        for (const warning of index.warnings) log.warn(warning);
        issues = validateManifestIndex(index);
        const bottles = Object.keys(index.bottles).length + index.broken.filter((b) => b.kind === "bottle").length;
        const agents = Object.keys(index.agents).length + index.broken.filter((b) => b.kind === "agent").length;
        checked = `${count(bottles, "bottle")} and ${count(agents, "agent")} (home ${home})`;
      }
      if (issues.length > 0) {
        process.stdout.write(issues.map((issue) => `${formatManifestIssue(issue)}\n`).join(""));
        const files = new Set(issues.map((issue) => issue.file)).size;
        throw new UserError(`${count(issues.length, "problem")} in ${count(files, "file")}`);
      }
      process.stdout.write(`ok: ${checked}\n`);
    });
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;
