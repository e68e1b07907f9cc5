import { z } from "zod";
import { FolderListing } from "../sidecars/guest-files/spec.js";
import { defineTool } from "./tool.js";

const MAX_ENTRIES = 1000;

export const listFilesTool = defineTool({
  name: "list_files",
  title: "List a folder in a bottle",
  description:
    "List a folder inside a bottle, as the agent user unless told otherwise: each entry's name, type (file, folder, symlink, other), size, " +
    `mode and modification time, sorted by name, at most ${MAX_ENTRIES} (truncated says when there were more). A relative path is in the agent's workspace.`,
  input: z.object({
    bottle_id: z.string().min(1).describe("The bottle's id, from start_bottle or list_bottles."),
    path: z.string().min(1).describe('The folder, absolute or relative to the agent\'s workspace ("." for the workspace).'),
    user: z.string().min(1).optional().describe("The user to list as (default: the agent user)."),
  }),
  output: FolderListing,
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run(args, { engine }) {
    const listing = await engine.listFiles(args.bottle_id, args.path, { user: args.user, maxEntries: MAX_ENTRIES });
    const lines = listing.entries.map((e) => `${e.type === "folder" ? `${e.name}/` : e.name}\t${e.size}\t${e.mode}`);
    return { structured: listing, text: [`${listing.path}:`, ...lines, ...(listing.truncated ? [`(only the first ${MAX_ENTRIES})`] : [])].join("\n") };
  },
});
