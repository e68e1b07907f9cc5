import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll } from "vitest";

/**
 * A temporary folder for one describe block: made in its beforeAll and
 * removed in its afterAll, so a block that is skipped or filtered out leaves
 * nothing behind. Read `path` only from hooks and tests.
 */
export function useTempDir(prefix: string): { readonly path: string } {
  let dir: string | undefined;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return {
    get path() {
      if (!dir) throw new Error(`the ${prefix} folder exists only while its block's hooks and tests run`);
      return dir;
    },
  };
}
