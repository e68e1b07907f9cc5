import { z } from "zod";
import { FilePart } from "../sidecars/guest-files/spec.js";
import { defineTool } from "./tool.js";

const DEFAULT_MAX_BYTES = 256 * 1024;
const MAX_BYTES = 4 * 1024 * 1024;

export const readFileTool = defineTool({
  name: "read_file",
  title: "Read a file in a bottle",
  description:
    "Read a file inside a bottle, as the agent user unless told otherwise. A relative path is in the agent's workspace. " +
    `Returns at most max_bytes (default ${DEFAULT_MAX_BYTES}) from offset: text as it is (encoding utf8) or, when the bytes are not UTF-8 text, ` +
    "base64 (encoding base64). next_offset and eof say whether to read on: large files are read in parts.",
  input: z.object({
    bottle_id: z.string().min(1).describe("The bottle's id, from start_bottle or list_bottles."),
    path: z.string().min(1).describe("The file, absolute or relative to the agent's workspace."),
    offset: z.number().int().nonnegative().optional().describe("Start at this byte (default 0)."),
    max_bytes: z.number().int().positive().max(MAX_BYTES).optional().describe(`Read at most this many bytes (default ${DEFAULT_MAX_BYTES}, at most ${MAX_BYTES}).`),
    user: z.string().min(1).optional().describe("The user to read as (default: the agent user)."),
  }),
  output: FilePart,
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run(args, { engine }) {
    const part = await engine.readFile(args.bottle_id, args.path, { user: args.user, offset: args.offset ?? 0, maxBytes: args.max_bytes ?? DEFAULT_MAX_BYTES });
    const where = `${part.path}: bytes ${part.offset}-${part.next_offset} of ${part.size}${part.eof ? "" : ` (more from offset ${part.next_offset})`}`;
    return { structured: part, text: part.encoding === "utf8" ? `${where}\n${part.content}` : `${where}, not text; base64 in the structured result` };
  },
});
