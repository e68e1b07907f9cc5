import { z } from "zod";
import { FileWritten } from "../sidecars/guest-files/spec.js";
import { UserError } from "../src/user-error.js";
import { defineTool } from "./tool.js";

/** Per call; larger files are written in parts with offset. */
const MAX_BYTES = 4 * 1024 * 1024;

export const writeFileTool = defineTool({
  name: "write_file",
  title: "Write a file in a bottle",
  description:
    "Write a file inside a bottle, as the agent user unless told otherwise (so the agent can use it). A relative path is in the agent's workspace. " +
    "content is text, or base64 with encoding base64 (for binary files). Without offset the file is replaced whole; with offset the bytes are " +
    `written there (offset 0 creates the file), so a file larger than ${MAX_BYTES} bytes is written in parts. mode sets permissions (octal, e.g. "0755").`,
  input: z.object({
    bottle_id: z.string().min(1).describe("The bottle's id, from start_bottle or list_bottles."),
    path: z.string().min(1).describe("The file, absolute or relative to the agent's workspace."),
    content: z.string().describe("The text, or base64 when encoding is base64."),
    encoding: z.enum(["utf8", "base64"]).optional().describe("utf8 (default) or base64."),
    offset: z.number().int().nonnegative().optional().describe("Write at this byte instead of replacing the file."),
    mode: z.string().regex(/^0?[0-7]{3}$/, "an octal file mode such as 0644").optional().describe('Permissions, octal, e.g. "0644".'),
    user: z.string().min(1).optional().describe("The user to write as (default: the agent user)."),
  }),
  output: FileWritten,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async run(args, { engine }) {
    const bytes = Buffer.from(args.content, args.encoding ?? "utf8");
    if (bytes.length > MAX_BYTES) throw new UserError(`content is ${bytes.length} bytes; write at most ${MAX_BYTES} per call (use offset to write in parts)`);
    const written = await engine.writeFile(args.bottle_id, args.path, bytes, { user: args.user, offset: args.offset ?? null, mode: args.mode ?? null });
    return { structured: written, text: `wrote ${written.written} bytes to ${written.path} (now ${written.size} bytes)` };
  },
});
