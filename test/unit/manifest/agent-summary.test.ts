import path from "node:path";
import { describe, expect, it } from "vitest";
import { AgentListing, listAgents } from "../../../src/manifest/agent-summary.js";
import { loadManifestIndex } from "../../../src/manifest/load.js";
import { fixtureDir, manifest } from "./fixture-home.js";

describe("listAgents", () => {
  it("summarises each agent, says why one does not resolve, and lists broken files", async () => {
    const home = await fixtureDir({
      "bottles/claude.md": manifest("agent_provider: {template: claude}"),
      "bottles/bad.md": manifest("supervise: 2"),
      "agents/good.md": manifest("bottle: claude", "skills: [one, two]", "description: Does good"),
      "agents/lost.md": manifest("bottle: [claude, nowhere]"),
      "agents/open.md": manifest("model: opus"),
      "agents/broken.md": manifest("bottel: claude"),
    });
    const listing = listAgents(await loadManifestIndex({ home, cwd: await fixtureDir() }));
    expect(AgentListing.parse(listing)).toEqual(listing);
    expect(listing.agents.map(({ name, bottles, provider, skills, description }) => ({ name, bottles, provider, skills, description }))).toEqual([
      { name: "good", bottles: ["claude"], provider: "claude", skills: ["one", "two"], description: "Does good" },
      { name: "lost", bottles: ["claude", "nowhere"], provider: null, skills: [], description: null },
      { name: "open", bottles: [], provider: null, skills: [], description: null },
    ]);
    expect(listing.agents.map((a) => a.error)).toEqual([null, expect.stringContaining('bottle[1]: no bottle named "nowhere"'), null]);
    expect(listing.broken.map((b) => `${b.kind} ${b.name}`)).toEqual(["bottle bad", "agent broken"]);
    expect(listing.broken[1]?.error).toContain('bottel: unknown key (did you mean "bottle"?)');
  });

  it("shows each agent's origin, and lists a repository agent named like a home agent as a conflict, not as an agent", async () => {
    const home = await fixtureDir({
      "bottles/claude.md": manifest("agent_provider: {template: claude}"),
      "agents/helper.md": manifest("bottle: claude"),
    });
    const cwd = await fixtureDir({
      ".bot-bottle/agents/helper.md": manifest("bottle: claude", "skills: [secrets]"),
      ".bot-bottle/agents/theirs.md": manifest("bottle: claude"),
    });
    const listing = listAgents(await loadManifestIndex({ home, cwd }));
    expect(AgentListing.parse(listing)).toEqual(listing);
    expect(listing.agents.map(({ name, origin, source, skills }) => ({ name, origin, source, skills }))).toEqual([
      { name: "helper", origin: "home", source: path.join(home, "agents/helper.md"), skills: [] },
      { name: "theirs", origin: "repository", source: path.join(cwd, ".bot-bottle/agents/theirs.md"), skills: [] },
    ]);
    expect(listing.conflicts).toEqual([
      {
        name: "helper",
        source: path.join(cwd, ".bot-bottle/agents/helper.md"),
        home_source: path.join(home, "agents/helper.md"),
        message: expect.stringContaining("rename this file"),
      },
    ]);
  });
});
