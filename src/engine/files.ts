import type { Bottle } from "../../backends/backend.js";
import { FilePart, FilesError, FileWritten, FolderListing } from "../../sidecars/guest-files/spec.js";
import { UserError } from "../user-error.js";
import { GUEST_PATHS } from "../../sidecars/contract.js";

// Files inside a bottle, read and written by the in-bottle helper
// (sidecars/guest-files) as the given user, through the Bottle handle.

/** The helper's own answers are small but for a file part: room for a base64 part of the largest read. */
const ANSWER_CAP = 16 * 1024 * 1024;

async function helper(bottle: Bottle, user: string, args: string[], stdin?: string): Promise<unknown> {
  const result = await bottle.exec(["node", GUEST_PATHS.guestFiles, ...args], { user, cwd: "/", stdin, maxOutputBytes: ANSWER_CAP });
  let answer: unknown;
  try {
    answer = JSON.parse(result.stdout);
  } catch {
    throw new Error(`the bottle's files helper failed (exit ${result.exit_code}): ${result.stderr.trim() || result.stdout.slice(0, 200)}`);
  }
  const refused = FilesError.safeParse(answer);
  if (refused.success) throw new UserError(refused.data.error);
  return answer;
}

export async function readFileIn(bottle: Bottle, user: string, file: string, offset: number, maxBytes: number): Promise<FilePart> {
  return FilePart.parse(await helper(bottle, user, ["read", file, String(offset), String(maxBytes)]));
}

/** Writes `bytes` at `offset`, or replaces the whole file when offset is null. */
export async function writeFileIn(bottle: Bottle, user: string, file: string, bytes: Buffer, offset: number | null, mode: string | null): Promise<FileWritten> {
  return FileWritten.parse(await helper(bottle, user, ["write", file, offset === null ? "-" : String(offset), mode ?? "-"], bytes.toString("base64")));
}

export async function listFilesIn(bottle: Bottle, user: string, folder: string, maxEntries: number): Promise<FolderListing> {
  return FolderListing.parse(await helper(bottle, user, ["list", folder, String(maxEntries)]));
}
