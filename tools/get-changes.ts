import { z } from "zod";
import { BottleChanges, describeChanges } from "../src/engine/git-gate/changes.js";
import { defineTool } from "./tool.js";

export const getChangesTool = defineTool({
  name: "get_changes",
  title: "Bring a bottle's work home as branches",
  description:
    "Fetch what a bottle pushed to its origin (the copy of the repository it was started in, served by its git gate) into that host " +
    "repository as branches bottle/<bottle_id>/<branch>, and return per branch its ref, commits (sha, subject, author) and a diffstat " +
    "against the commit the bottle started from. Nothing else in the host repository changes (no other branch, not HEAD, the index or " +
    "the working tree); review with `git log bottle/<id>/<branch>` and merge with `git merge`. With commit_workspace, first commit " +
    "the workspace's uncommitted state inside the bottle (on a branch workspace/<time>) and push it through the gate's secret scan, " +
    "so unpushed work is not lost; a push the scan refuses fails the call and nothing is imported. Works on a stopped bottle " +
    "(not with commit_workspace) until `gc` removes it.",
  input: z.object({
    bottle_id: z.string().min(1).describe("The bottle's id, from start_bottle or list_bottles."),
    commit_workspace: z.boolean().default(false).describe("First commit and push the workspace's uncommitted state (needs the bottle running)."),
    message: z.string().min(1).optional().describe("The workspace commit's message (default: \"Work left in the workspace of bottle <id>\")."),
  }),
  output: BottleChanges,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async run(args, { engine }) {
    const changes = await engine.changes(args.bottle_id, {
      commitWorkspace: args.commit_workspace ? { message: args.message } : undefined,
    });
    return { structured: changes, text: describeChanges(changes) };
  },
});
