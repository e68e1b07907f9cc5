import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { formatManifestIssue } from "../../../src/manifest/errors.js";
import { loadManifestIndex } from "../../../src/manifest/load.js";
import { validateManifestIndex } from "../../../src/manifest/validate.js";

// Each folder under broken/ is a small BOT_BOTTLE_HOME (and project cwd) with
// one kind of mistake, and expected.txt holds exactly what `validate` must say
// about it, with paths (in the file part and in messages) relative to the folder.
const corpus = fileURLToPath(new URL("../../fixtures/manifests/broken", import.meta.url));
const cases = readdirSync(corpus).sort();

describe("the broken manifest corpus", () => {
  it("has at least 60 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });

  it.each(cases)("%s", async (name) => {
    const dir = path.join(corpus, name);
    const expected = readFileSync(path.join(dir, "expected.txt"), "utf8").trimEnd().split("\n");
    const index = await loadManifestIndex({ home: dir, cwd: dir });
    const actual = validateManifestIndex(index).map((issue) =>
      formatManifestIssue({ ...issue, file: path.relative(dir, issue.file) }).replaceAll(`${dir}${path.sep}`, ""),
    );
    expect(actual).toEqual(expected);
  });
});
