import { UserError } from "../user-error.js";
import { closestMatch, didYouMean } from "./did-you-mean.js";
import { ManifestError } from "./errors.js";
import type { BottleFile, BottleFrontmatter, ManifestIndex, ManifestIssue } from "./schema.js";

// Bottle inheritance. Every named bottle merges after all of its ancestors, each
// bottle once (so a shared grandparent's routes are not repeated), parents left
// to right, the child last: the child wins.

/** A bottle's settings with its `extends` resolved away. */
export type BottleConfig = Omit<BottleFrontmatter, "extends">;

export type BottleSource = Pick<ManifestIndex, "bottles" | "broken">;

/** Where a list of bottle names was written (`extends` of a bottle, `bottle` of an agent), for errors. */
export interface NameReference {
  file: string;
  /** The referring file's key lines (see KeyLines), to give errors a line. */
  lines?: Record<string, number>;
  key: string;
  /** The names were written as a list, so errors point at `key[i]`. */
  list: boolean;
}

/** An issue about the name at `position` of a reference. */
export function referenceIssue(reference: NameReference, position: number, message: string, hint?: string): ManifestIssue {
  const keyPath = reference.list ? `${reference.key}[${position}]` : reference.key;
  const line = reference.lines?.[keyPath];
  return { file: reference.file, keyPath, ...(line === undefined ? {} : { line }), message, ...(hint === undefined ? {} : { hint }) };
}

/** `over` laid on `base` with the rules of `extends`. */
export function mergeBottleConfigs(base: BottleConfig, over: BottleConfig): BottleConfig {
  const merged: BottleConfig = {};
  if (base.env || over.env) merged.env = { ...base.env, ...over.env };
  if (base.agent_provider || over.agent_provider) merged.agent_provider = { ...base.agent_provider, ...over.agent_provider };
  if (base.egress || over.egress) {
    const routes = base.egress?.routes || over.egress?.routes ? [...(base.egress?.routes ?? []), ...(over.egress?.routes ?? [])] : undefined;
    const log = over.egress?.log ?? base.egress?.log;
    merged.egress = { ...(routes ? { routes } : {}), ...(log === undefined ? {} : { log }) };
  }
  const [baseGate, overGate] = [base["git-gate"], over["git-gate"]];
  if (baseGate || overGate) {
    merged["git-gate"] = {
      ...(baseGate?.user || overGate?.user ? { user: { ...baseGate?.user, ...overGate?.user } } : {}),
      ...(baseGate?.repos || overGate?.repos ? { repos: { ...baseGate?.repos, ...overGate?.repos } } : {}),
    };
  }
  const pool = over.pool ?? base.pool;
  if (pool !== undefined) merged.pool = pool;
  const backend = over.backend ?? base.backend;
  if (backend !== undefined) merged.backend = backend;
  const supervise = over.supervise ?? base.supervise;
  if (supervise !== undefined) merged.supervise = supervise;
  if (base.resources || over.resources) merged.resources = { ...base.resources, ...over.resources };
  return merged;
}

/**
 * The order in which `names` and their ancestors merge: every bottle after all
 * of its parents, each bottle once. `requestedBy` says where `names` were
 * written; without it they came from a caller (a --bottle flag, a tool argument).
 */
export function bottleLineage(index: BottleSource, names: readonly string[], requestedBy?: NameReference): string[] {
  const order: string[] = [];
  const visit = (name: string, stack: readonly string[], reference: NameReference | undefined, position: number) => {
    if (stack.includes(name)) throw cycleError(index, stack.slice(stack.indexOf(name)));
    if (order.includes(name)) return;
    const bottle = findBottle(index, name, reference, position);
    const parents = bottle.config.extends;
    const parentList = parents === undefined ? [] : typeof parents === "string" ? [parents] : parents;
    const parentReference = { file: bottle.source, lines: bottle.lines, key: "extends", list: Array.isArray(parents) };
    parentList.forEach((parent, i) => visit(parent, [...stack, name], parentReference, i));
    order.push(name);
  };
  names.forEach((name, i) => visit(name, [], requestedBy, i));
  return order;
}

/** `names` merged left to right, each after its ancestors (see bottleLineage). */
export function resolveBottleConfig(index: BottleSource, names: readonly string[], requestedBy?: NameReference): BottleConfig {
  return bottleLineage(index, names, requestedBy)
    .map((name) => withoutExtends(index.bottles[name] as BottleFile))
    .reduce(mergeBottleConfigs, {});
}

function withoutExtends(bottle: BottleFile): BottleConfig {
  const config: BottleFrontmatter = { ...bottle.config };
  delete config.extends;
  return config;
}

/**
 * One error per cycle, whichever bottle it was found from: the cycle starts at
 * its alphabetically first member and is reported where it closes.
 */
function cycleError(index: BottleSource, members: readonly string[]): ManifestError {
  const first = [...members].sort()[0] ?? "";
  const start = members.indexOf(first);
  const cycle = [...members.slice(start), ...members.slice(0, start)];
  const closing = index.bottles[cycle[cycle.length - 1] ?? ""] as BottleFile;
  const parents = closing.config.extends;
  const reference = { file: closing.source, lines: closing.lines, key: "extends", list: Array.isArray(parents) };
  const position = Array.isArray(parents) ? parents.indexOf(first) : 0;
  return new ManifestError([referenceIssue(reference, position, `cycle: ${[...cycle, first].join(" -> ")}`)]);
}

function findBottle(index: BottleSource, name: string, reference: NameReference | undefined, position: number): BottleFile {
  // hasOwn: a name like "constructor" must not find Object.prototype's.
  const bottle = Object.hasOwn(index.bottles, name) ? index.bottles[name] : undefined;
  if (bottle) return bottle;
  const broken = index.broken.find((b) => b.kind === "bottle" && b.name === name);
  if (broken) {
    const because = reference ? [referenceIssue(reference, position, `bottle "${name}" is broken (see its errors)`)] : [];
    throw new ManifestError([...because, ...broken.issues]);
  }
  const known = Object.keys(index.bottles).sort();
  const message = `no bottle named "${name}"; ${known.length > 0 ? `the bottles are: ${known.join(", ")}` : "there are no bottles yet"}`;
  const near = closestMatch(name, known);
  const hint = near === undefined ? undefined : didYouMean(near);
  if (!reference) throw new UserError(hint === undefined ? message : `${message} (${hint})`);
  throw new ManifestError([referenceIssue(reference, position, message, hint)]);
}
