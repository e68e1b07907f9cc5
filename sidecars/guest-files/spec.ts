import { z } from "zod";

// The answers of the in-bottle files helper (main.ts), shared with the engine.

export const FilePart = z.object({
  path: z.string(),
  size: z.number().int(),
  offset: z.number().int(),
  /** Where the next part starts. */
  next_offset: z.number().int(),
  eof: z.boolean(),
  /** utf8: content is the text; base64: the bytes were not UTF-8 text. */
  encoding: z.enum(["utf8", "base64"]),
  content: z.string(),
});
export type FilePart = z.infer<typeof FilePart>;

export const FileWritten = z.object({ path: z.string(), size: z.number().int(), written: z.number().int() });
export type FileWritten = z.infer<typeof FileWritten>;

export const FolderEntry = z.object({
  name: z.string(),
  type: z.enum(["file", "folder", "symlink", "other"]),
  size: z.number().int(),
  /** Octal permission bits, e.g. 0644. */
  mode: z.string(),
  modified: z.string(),
});

export const FolderListing = z.object({ path: z.string(), entries: z.array(FolderEntry), truncated: z.boolean() });
export type FolderListing = z.infer<typeof FolderListing>;

export const FilesError = z.object({ error: z.string() });
