import { Command } from "commander";
import { botBottleHome } from "../home.js";
import { log } from "../log.js";
import { listAgents, type AgentListing } from "../manifest/agent-summary.js";
import { loadManifestIndex } from "../manifest/load.js";

export function agentsCommand(): Command {
  return new Command("agents")
    .description(
      "list the agents (from BOT_BOTTLE_HOME and the project's .bot-bottle/agents), where each comes from, their bottles, provider and skills, " +
        "then any broken manifest and any project agent not loaded because a home agent has its name",
    )
    .option("--json", "print the listing as JSON: {agents, broken, conflicts, warnings}")
    .action(async (options: { json?: boolean }) => {
      const listing = listAgents(await loadManifestIndex({ home: botBottleHome(), cwd: process.cwd() }));
      for (const warning of listing.warnings) log.warn(warning);
      process.stdout.write(options.json ? `${JSON.stringify(listing, null, 2)}\n` : renderListing(listing));
    });
}

function renderListing(listing: AgentListing): string {
  const rows = listing.agents.map((agent) => [
    agent.name,
    agent.origin,
    agent.bottles.join(",") || "-",
    agent.provider ?? (agent.error === null ? "-" : "(error)"),
    agent.skills.join(",") || "-",
    agent.source,
  ]);
  let out = rows.length > 0 ? table([["NAME", "ORIGIN", "BOTTLES", "PROVIDER", "SKILLS", "SOURCE"], ...rows]) : "no agents\n";
  for (const agent of listing.agents.filter((a) => a.error !== null)) {
    out += `\nagent ${agent.name} does not resolve:\n${indent(agent.error ?? "")}`;
  }
  for (const broken of listing.broken) {
    out += `\nbroken ${broken.kind} ${broken.name}:\n${indent(broken.error)}`;
  }
  for (const conflict of listing.conflicts) {
    out += `\nconflict: ${conflict.source} is not loaded:\n${indent(conflict.message)}`;
  }
  return out;
}

function table(rows: readonly string[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ").trimEnd()).join("\n") + "\n";
}

const indent = (text: string) => text.split("\n").map((line) => `  ${line}\n`).join("");
