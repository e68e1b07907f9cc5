import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { homePaths, projectAgentsDir, projectBottlesDir } from "../home.js";
import { type AgentListing, listAgents } from "./agent-summary.js";
import { loadManifestIndex } from "./load.js";

/** Homes and repositories remembered at once; the cwd comes from callers, so the map must not grow without bound. */
const MAX_ENTRIES = 16;

/**
 * What the listing was made from: every manifest file of the folders
 * loadManifestIndex reads, by name, inode, size, and modification and change
 * times (ctime moves on any write or rename and cannot be set back, so an
 * edit that keeps mtime and size still shows), and whether each folder exists.
 */
async function fingerprint(home: string, cwd: string): Promise<string> {
  const { bottles, agents } = homePaths(home);
  const parts = await Promise.all(
    [bottles, agents, projectBottlesDir(cwd), projectAgentsDir(cwd)].map(async (dir) => {
      let names: string[];
      try {
        names = (await readdir(dir)).filter((name) => name.endsWith(".md")).sort();
      } catch (error) {
        return `${dir}:${(error as NodeJS.ErrnoException).code ?? "error"}`;
      }
      const files = await Promise.all(
        names.map(async (name) => {
          const s = await stat(path.join(dir, name), { bigint: true }).catch(() => null);
          return s ? `${name}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}` : `${name}:gone`;
        }),
      );
      return `${dir}:${files.join(",")}`;
    }),
  );
  return parts.join("\n");
}

/**
 * The agent listing of a home and repository, made again only when one of
 * their manifest files changed: `list_agents` is the call an outer agent
 * makes most, and reading and validating every manifest each time cost it
 * most of its round trip.
 */
export class AgentListingCache {
  readonly #entries = new Map<string, { fingerprint: string; listing: AgentListing }>();

  async listing(home: string, cwd: string): Promise<AgentListing> {
    const key = `${home}\0${cwd}`;
    const current = await fingerprint(home, cwd);
    const cached = this.#entries.get(key);
    if (cached?.fingerprint === current) return cached.listing;
    const listing = listAgents(await loadManifestIndex({ home, cwd }));
    this.#entries.delete(key);
    this.#entries.set(key, { fingerprint: current, listing });
    if (this.#entries.size > MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
    return listing;
  }
}
