import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadManifestIndex } from "../../../src/manifest/load.js";
import { resolveManifest } from "../../../src/manifest/manifest.js";
import { CLAUDE_BOTTLE, CODEX_BOTTLE, writeScaffold } from "../../../src/manifest/scaffold.js";
import { validateManifestIndex } from "../../../src/manifest/validate.js";
import { UserError } from "../../../src/user-error.js";
import { fixtureDir } from "./fixture-home.js";

const examplesHome = fileURLToPath(new URL("../../../examples/home/", import.meta.url));

describe("writeScaffold", () => {
  it("writes a home that validates, whose agent resolves", async () => {
    const home = await fixtureDir();
    const written = await writeScaffold(home);
    expect(written).toEqual(["bottles/claude.md", "bottles/codex.md", "agents/example.md"].map((f) => path.join(home, f)));
    const index = await loadManifestIndex({ home, cwd: await fixtureDir() });
    expect(validateManifestIndex(index)).toEqual([]);
    expect(resolveManifest(index, "example").bottle.egress.routes).toEqual([
      { host: "api.anthropic.com", auth: { scheme: "Bearer", token_ref: "CLAUDE_CODE_OAUTH_TOKEN" } },
    ]);
    expect(index.bottles.claude?.config.agent_provider?.auth_token).toBe("CLAUDE_CODE_OAUTH_TOKEN");
    expect(index.bottles.codex?.config).toMatchObject({
      agent_provider: { template: "codex", forward_host_credentials: true },
      egress: { routes: [{ host: "api.openai.com" }, { host: "chatgpt.com" }] },
    });
  });

  it("refuses, writing nothing, when any of its files exists", async () => {
    const home = await fixtureDir({ "agents/example.md": "mine" });
    await expect(writeScaffold(home)).rejects.toThrow(UserError);
    await expect(writeScaffold(home)).rejects.toThrow(`refusing to overwrite ${path.join(home, "agents/example.md")}`);
    expect(existsSync(path.join(home, "bottles"))).toBe(false);
    expect(readFileSync(path.join(home, "agents/example.md"), "utf8")).toBe("mine");
  });

  it("writes the same claude and codex bottles that examples/home documents", () => {
    expect(readFileSync(path.join(examplesHome, "bottles/claude.md"), "utf8")).toBe(CLAUDE_BOTTLE);
    expect(readFileSync(path.join(examplesHome, "bottles/codex.md"), "utf8")).toBe(CODEX_BOTTLE);
  });
});
