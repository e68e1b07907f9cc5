import { log } from "../log.js";
import { loadManifestIndex } from "../manifest/load.js";
import { resolveManifest } from "../manifest/manifest.js";
import { UserError } from "../user-error.js";
import type { Engine } from "./engine.js";
import { isGitRepository } from "./git-gate/plan.js";
import type { BottleSpec } from "./records.js";

// Warm pools: bottles launched and provisioned ahead of time, so that a start
// claims one instead of waiting for a launch. A pooled bottle is a real bottle
// (its own CA, secrets, network and sidecars), started from the agent's plain
// spec; what a pool cannot know in advance (the label, the copy of the cwd)
// is applied when a start claims it.

/** The starts a pooled bottle can serve: same agent, bottles and backend. */
export const poolKey = (spec: Pick<BottleSpec, "agent" | "bottles" | "backend">) =>
  JSON.stringify({ agent: spec.agent, bottles: spec.bottles ?? null, backend: spec.backend ?? null });

/**
 * Whether a start may take a pooled bottle. Not with a Dockerfile of its own
 * (another image), and not with a git repository as cwd: its copy is served as
 * `origin` by a git gate configured at launch.
 */
export const canClaim = (spec: BottleSpec, cwd: string | null) => spec.dockerfile === undefined && (cwd === null || !isGitRepository(cwd));

/** `AGENT=N` (the mcp command's --warm), as a pool target. */
export function parseWarmTarget(text: string): [string, number] {
  const match = /^([^=\s]+)=(\d+)$/.exec(text);
  const size = match ? Number(match[2]) : NaN;
  if (!match || size > 16) throw new UserError(`--warm ${text}: expected AGENT=N with N from 0 to 16`, 2);
  return [match[1]!, size];
}

/** Pool sizes the home's manifests ask for: each agent whose bottle sets `pool`. */
export async function manifestPoolTargets(home: string, cwd: string): Promise<Map<string, number>> {
  const index = await loadManifestIndex({ home, cwd });
  const targets = new Map<string, number>();
  for (const name of Object.keys(index.agents)) {
    try {
      const size = resolveManifest(index, name).bottle.pool;
      if (size > 0) targets.set(name, size);
    } catch {
      // An agent that does not resolve cannot be pooled; starting it says why.
    }
  }
  return targets;
}

/**
 * Keeps `size` unclaimed bottles of each agent launched, refilling after each
 * claim. Launches run in the background one agent at a time, each failure
 * logged; `close` removes the unclaimed bottles this process kept.
 */
export class WarmPool {
  readonly #filling = new Map<string, Promise<void>>();
  /** Launches in flight: aborted on release, so a closing server leaves no half-made or unowned warm bottle. */
  readonly #launches = new Set<AbortController>();
  #closed = false;

  constructor(
    private readonly engine: Engine,
    private readonly targets: ReadonlyMap<string, number>,
  ) {
    engine.onPoolClaim = (agent) => void this.fill(agent);
  }

  /** Unclaimed bottles of the agent's pool that this process keeps. */
  waiting(agent: string): string[] {
    const key = poolKey({ agent });
    return this.engine.state.ids().filter((id) => {
      const metadata = this.engine.state.readMetadata(id);
      return metadata?.status === "pooled" && metadata.pool?.key === key && metadata.pool.owner_pid === process.pid;
    });
  }

  /** Tops every pool (or one agent's) up to its size; resolves once the launches it started have ended. */
  async fill(only?: string): Promise<void> {
    const agents = only === undefined ? [...this.targets.keys()] : [only];
    await Promise.all(agents.map((agent) => this.#fillOne(agent)));
  }

  #fillOne(agent: string): Promise<void> {
    // One filler per agent: a claim during a fill is seen by the filler's next count.
    const running = this.#filling.get(agent);
    if (running) return running.then(() => this.#fillOne(agent));
    const filling = (async () => {
      const size = this.targets.get(agent) ?? 0;
      while (!this.#closed && this.waiting(agent).length < size) {
        const launch = new AbortController();
        this.#launches.add(launch);
        try {
          const prepared = await this.engine.plan({ agent });
          await this.engine.launch(prepared, { signal: launch.signal }, { key: poolKey({ agent }) });
        } catch (error) {
          if (!launch.signal.aborted) log.warn({ agent }, `the warm pool of ${agent} could not launch a bottle: ${(error as Error).message}`);
          return;
        } finally {
          this.#launches.delete(launch);
        }
      }
    })().finally(() => this.#filling.delete(agent));
    this.#filling.set(agent, filling);
    return filling;
  }

  /** Stops refilling; returns the unclaimed bottles this process keeps, for the caller to remove. */
  release(): string[] {
    this.#closed = true;
    // An aborted launch removes what it made, in this process, before it exits.
    for (const launch of this.#launches) launch.abort();
    return [...this.targets.keys()].flatMap((agent) => this.waiting(agent));
  }

  /** Stops refilling and removes the unclaimed bottles this process keeps (claimed ones are the starters'). */
  async close(): Promise<string[]> {
    this.release();
    await Promise.allSettled(this.#filling.values());
    const removed: string[] = [];
    for (const agent of this.targets.keys()) {
      for (const id of this.waiting(agent)) {
        try {
          removed.push(...(await this.engine.stop(id)).removed);
        } catch (error) {
          log.warn({ bottle: id }, `could not remove a warm bottle (\`bot-bottle gc\` will): ${(error as Error).message}`);
        }
      }
    }
    return removed;
  }
}
