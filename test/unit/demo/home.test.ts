import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { demoHome, writeDemoManifests } from "../../../src/demo/home.js";
import { loadManifestIndex } from "../../../src/manifest/load.js";
import { resolveManifest } from "../../../src/manifest/manifest.js";
import { assetPaths } from "../../../src/package-root.js";
import { resolveProvider } from "../../../src/providers/registry.js";
import { repoRoot } from "../../support/cli.js";

describe("the demo's home", () => {
  it("is a folder of its own in the user's cache folder, never BOT_BOTTLE_HOME", () => {
    expect(demoHome({ XDG_CACHE_HOME: "/var/cache/me", BOT_BOTTLE_HOME: "/home/me/.bot-bottle" })).toBe("/var/cache/me/bot-bottle/demo");
    expect(demoHome({ BOT_BOTTLE_HOME: "/home/me/.bot-bottle" })).toBe(path.join(os.homedir(), ".cache", "bot-bottle", "demo"));
    // A relative XDG_CACHE_HOME is invalid by the XDG spec: ignored, as the spec says.
    expect(demoHome({ XDG_CACHE_HOME: "cache" })).toBe(path.join(os.homedir(), ".cache", "bot-bottle", "demo"));
  });
});

describe("the built-in demo manifests, as written into a demo home", () => {
  const home = mkdtempSync(path.join(os.tmpdir(), "bb-demo-home-"));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it("load cleanly: the demo agent runs in the demo bottle, which declares example.com on https only and keeps supervise on", async () => {
    writeDemoManifests(home);
    const index = await loadManifestIndex({ home, cwd: home });
    expect(index.broken).toEqual([]);
    expect(index.warnings).toEqual([]);
    const manifest = resolveManifest(index, "demo");
    expect(manifest.bottle.agent_provider.template).toBe("demo");
    expect(manifest.bottle.egress.routes).toEqual([{ host: "example.com" }]);
    expect(manifest.bottle.supervise).toBe(true);
  });

  it("bring their provider plugin: the agent runs its task with the image's Node, and registering supervise writes down its URL", async () => {
    writeDemoManifests(home);
    const provider = await resolveProvider("demo", home);
    expect(provider.dockerfile).toBe(path.join(home, "contrib", "demo", "Dockerfile"));
    const argv = provider.headless.argv({ prompt: "tidy up" }, "/home/node/.prompt");
    expect(argv.slice(0, 3)).toEqual(["node", "--input-type=module", "-e"]);
    expect(argv.slice(4)).toEqual(["--", "tidy up"]);
    expect(argv[3]).toContain('"request-approval"');
    expect(provider.mcpRegistration("supervise", "http://127.0.0.1:9100/mcp", 30)).toEqual([
      ["sh", "-c", 'mkdir -p "$HOME/.demo-agent" && printf "%s\\n" "$2" > "$HOME/.demo-agent/$1.url"', "register", "supervise", "http://127.0.0.1:9100/mcp"],
    ]);
  });

  it("ship in the package: npm pack takes every file of the demo home", async () => {
    const packed = await execa("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: repoRoot });
    const files = (JSON.parse(packed.stdout) as { files: { path: string }[] }[])[0]!.files.map((file) => file.path);
    const demoFiles = readdirSync(assetPaths.demoHome, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(repoRoot, path.join(entry.parentPath, entry.name)));
    expect(demoFiles.length).toBeGreaterThanOrEqual(5);
    expect(files).toEqual(expect.arrayContaining(demoFiles));
  });
});
