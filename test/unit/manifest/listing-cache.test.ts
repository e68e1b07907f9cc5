import { mkdirSync, mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { AgentListingCache } from "../../../src/manifest/listing-cache.js";

// The cached agent listing is the one a fresh load would give: reused while
// no manifest changed, made again after any edit, addition, removal or rename.

function home() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bb-listing-"));
  mkdirSync(path.join(dir, "bottles"));
  mkdirSync(path.join(dir, "agents"));
  writeFileSync(path.join(dir, "bottles", "b.md"), "---\nagent_provider:\n  template: claude\n---\n");
  writeFileSync(path.join(dir, "agents", "one.md"), "---\nbottle: b\ndescription: first\n---\n");
  return dir;
}

describe("agent listing cache", () => {
  it("reuses the listing while nothing changed, and sees every kind of change", async () => {
    const dir = home();
    const cache = new AgentListingCache();
    const first = await cache.listing(dir, dir);
    expect(first.agents.map((a) => a.description)).toEqual(["first"]);
    expect(await cache.listing(dir, dir)).toBe(first);

    // An edit that keeps the size and sets the modification time back.
    const file = path.join(dir, "agents", "one.md");
    const { atime, mtime } = statSync(file);
    writeFileSync(file, "---\nbottle: b\ndescription: FIRST\n---\n");
    utimesSync(file, atime, mtime);
    expect((await cache.listing(dir, dir)).agents.map((a) => a.description)).toEqual(["FIRST"]);

    writeFileSync(path.join(dir, "agents", "two.md"), "---\nbottle: b\n---\n");
    expect((await cache.listing(dir, dir)).agents.map((a) => a.name)).toEqual(["one", "two"]);
    renameSync(path.join(dir, "agents", "two.md"), path.join(dir, "agents", "three.md"));
    expect((await cache.listing(dir, dir)).agents.map((a) => a.name)).toEqual(["one", "three"]);
    // A bottle's change matters too: the agents resolve through it.
    rmSync(path.join(dir, "bottles", "b.md"));
    expect((await cache.listing(dir, dir)).agents.every((a) => a.error !== null)).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps repositories apart, and sees a repository's agents folder appear", async () => {
    const dir = home();
    const repo = mkdtempSync(path.join(os.tmpdir(), "bb-listing-repo-"));
    const cache = new AgentListingCache();
    expect((await cache.listing(dir, repo)).agents.map((a) => a.name)).toEqual(["one"]);
    mkdirSync(path.join(repo, ".bot-bottle", "agents"), { recursive: true });
    writeFileSync(path.join(repo, ".bot-bottle", "agents", "repo-agent.md"), "---\nbottle: b\n---\n");
    expect((await cache.listing(dir, repo)).agents.map((a) => `${a.name}:${a.origin}`)).toEqual(["one:home", "repo-agent:repository"]);
    expect((await cache.listing(dir, dir)).agents.map((a) => a.name)).toEqual(["one"]);
    rmSync(dir, { recursive: true, force: true });
    rmSync(repo, { recursive: true, force: true });
  });
});
