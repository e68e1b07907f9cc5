import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach } from "vitest";

const created: string[] = [];

afterEach(async () => {
  await Promise.all(created.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A temporary folder holding `files` (relative path -> text), removed after the test. */
export async function fixtureDir(files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "bot-bottle-manifest-"));
  created.push(dir);
  for (const [relative, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, relative)), { recursive: true });
    await writeFile(path.join(dir, relative), text);
  }
  return dir;
}

/** A manifest file's text: frontmatter lines, then a body. */
export const manifest = (...frontmatter: string[]) => `---\n${frontmatter.join("\n")}\n---\n\nBody.\n`;
