import { readdirSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { assetPaths } from "../../../src/package-root.js";
import { repoRoot } from "../../support/cli.js";

// The dashboard's script and stylesheet are served as they are, from the
// installed package: no build step makes them, so the package must carry them.

describe("the dashboard's assets", () => {
  it("ship in the package: npm pack takes the script and the stylesheet", async () => {
    const packed = await execa("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: repoRoot });
    const files = (JSON.parse(packed.stdout) as { files: { path: string }[] }[])[0]!.files.map((file) => file.path);
    const assets = readdirSync(assetPaths.uiAssets).map((name) => path.relative(repoRoot, path.join(assetPaths.uiAssets, name)));
    expect(assets.sort()).toEqual(["src/ui/assets/dashboard.css", "src/ui/assets/dashboard.js"]);
    expect(files).toEqual(expect.arrayContaining(assets));
  });
});
