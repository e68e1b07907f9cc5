import { z } from "zod";
import { BottleRecord, BottleSpec } from "../src/engine/records.js";
import { defineTool } from "./tool.js";

export const startBottleTool = defineTool({
  name: "start_bottle",
  title: "Start a bottle",
  description:
    "Start a bottle: a sandbox running the given agent's image with no network of its own (only an allowlisting egress proxy), " +
    "its prompt, skills and, with `cwd`, a copy of a host repository in its workspace. Use it after list_agents, before exec_in_bottle. " +
    "Takes seconds, minutes when an image must be built first; progress is reported per phase if you ask for it, and cancelling the call " +
    "removes what was created. Returns the bottle record: `id` (pass it to exec_in_bottle and stop_bottle), status, agent, " +
    "`agent_origin` (home: the user's own agent; repository: one shipped by the repository in the working folder, whose author wrote its prompt) " +
    "and `agent_source` (its file), bottles, " +
    "provider, backend, label, started_at, and `warnings` for provisioning steps that did not succeed.",
  input: z.object({
    agent: BottleSpec.shape.agent.describe("The agent's name, from list_agents."),
    bottles: BottleSpec.shape.bottles.describe("Bottle names to use instead of the agent's own (merged left to right)."),
    cwd: BottleSpec.shape.cwd.describe(
      "A host folder (usually a git repository) to copy, with its history, into the bottle's workspace. Nothing is written back to it.",
    ),
    label: BottleSpec.shape.label.describe("A free-form label shown by list_bottles, to tell bottles apart."),
    backend: BottleSpec.shape.backend.describe("Where the agent runs: docker (a container) or smolmachines (a libkrun microVM through smolvm). Default: the bottle's `backend`, else docker when it answers."),
  }),
  output: BottleRecord,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async run(spec, { engine, signal, progress }) {
    const record = await engine.start(spec, {
      signal,
      onProgress: (p) => void progress({ progress: p.step, total: p.total, message: `${p.phase}: ${p.message}` }),
    });
    const warnings = record.warnings.length > 0 ? `\nWarnings:\n${record.warnings.map((w) => `- ${w}`).join("\n")}` : "";
    const chosen = spec.bottles?.length ? "skills" : `bottles (${record.bottles.join(", ")}) and skills`;
    const origin =
      record.agent_origin === "repository"
        ? `\nAgent ${record.agent} comes from a repository (${record.agent_source}), not from the user's bot-bottle home: ` +
          `the repository wrote its prompt and chose its ${chosen}.`
        : "";
    return {
      structured: record,
      text: `Started bottle ${record.id} (agent ${record.agent}, bottles ${record.bottles.join("+")}, provider ${record.provider}). Run commands with exec_in_bottle {"bottle_id": "${record.id}"}.${origin}${warnings}`,
    };
  },
});
