import { renameSync, writeFileSync } from "node:fs";
import { answerFile } from "../../sidecars/supervise/queue.js";

/**
 * Puts any text, valid or not, in place as the answer to `id`, the way every
 * real writer does: complete first, then renamed in, readable by the folder's
 * group (the bundle's daemons). A plain write could be read half-done by a
 * watcher in another process.
 */
export function placeRawAnswer(queueDir: string, id: string, text: string): void {
  const file = answerFile(queueDir, id);
  writeFileSync(`${file}.tmp`, text, { mode: 0o640 });
  renameSync(`${file}.tmp`, file);
}
