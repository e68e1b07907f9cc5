import { UserError } from "../user-error.js";
import { closestMatch, didYouMean } from "./did-you-mean.js";
import { ManifestError } from "./errors.js";
import { resolveBottleConfig, type NameReference } from "./extends.js";
import { DEFAULT_RESOURCES } from "./resources.js";
import type { AgentFile, EffectiveBottle, Manifest, ManifestIndex } from "./schema.js";

// One agent plus the one effective bottle it runs in: everything downstream
// (plan, launch, provision) reads this, never the manifest files.

/**
 * `bottleNames`, when given, replace the agent's own `bottle:` (e.g. from a
 * --bottle flag); a list merges left to right, like `extends`.
 */
export function resolveManifest(index: ManifestIndex, agentName: string, bottleNames?: readonly string[]): Manifest {
  const agent = findAgent(index, agentName);
  const explicit = bottleNames !== undefined && bottleNames.length > 0;
  const declared = agent.config.bottle;
  const names = explicit ? [...bottleNames] : declared === undefined ? [] : typeof declared === "string" ? [declared] : declared;
  if (names.length === 0) {
    throw new ManifestError([
      { file: agent.source, keyPath: "", message: `agent "${agent.name}" names no bottle: add "bottle: NAME" to its frontmatter, or pass --bottle NAME` },
    ]);
  }
  const requestedBy: NameReference | undefined = explicit
    ? undefined
    : { file: agent.source, lines: agent.lines, key: "bottle", list: Array.isArray(declared) };
  const config = resolveBottleConfig(index, names, requestedBy);

  const template = config.agent_provider?.template;
  if (config.agent_provider === undefined || template === undefined) {
    const message =
      `no agent_provider.template in ${names.length === 1 ? "bottle" : "bottles"} ${names.map((n) => `"${n}"`).join(", ")} ` +
      "or the bottles they extend: set one (claude, codex or a plugin name)";
    const line = explicit ? undefined : agent.lines?.["bottle"];
    throw new ManifestError([{ file: agent.source, keyPath: explicit ? "" : "bottle", ...(line === undefined ? {} : { line }), message }]);
  }

  const bottle: EffectiveBottle = {
    names,
    env: config.env ?? {},
    agent_provider: { ...config.agent_provider, template },
    egress: { routes: config.egress?.routes ?? [], log: config.egress?.log ?? 2 },
    git_gate: {
      // The agent's commit identity overlays the bottle's, field by field.
      user: { ...config["git-gate"]?.user, ...agent.config["git-gate"]?.user },
      repos: config["git-gate"]?.repos ?? {},
    },
    backend: config.backend ?? null,
    pool: config.pool ?? 0,
    supervise: config.supervise ?? true,
    resources: { ...DEFAULT_RESOURCES, ...config.resources },
  };
  return { agent, bottle };
}

function findAgent(index: ManifestIndex, name: string): AgentFile {
  // hasOwn: a name like "toString" must not find Object.prototype's.
  const agent = Object.hasOwn(index.agents, name) ? index.agents[name] : undefined;
  if (agent) return agent;
  // A broken home agent keeps its name: a repository agent of that name is a conflict, never loaded.
  const broken = index.broken.find((b) => b.kind === "agent" && b.name === name);
  if (broken) throw new ManifestError(broken.issues);

  const known = Object.keys(index.agents).sort();
  const brokenNames = index.broken.filter((b) => b.kind === "agent").map((b) => b.name);
  const listing = known.length > 0 ? `the agents are: ${known.join(", ")}` : "there are no agents yet";
  const brokenListing = brokenNames.length > 0 ? ` (broken: ${brokenNames.join(", ")})` : "";
  const near = closestMatch(name, [...known, ...brokenNames]);
  throw new UserError(`no agent named "${name}"; ${listing}${brokenListing}${near === undefined ? "" : ` (${didYouMean(near)})`}`);
}
