import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { homePaths, projectAgentsDir, projectBottlesDir } from "../home.js";
import { UserError } from "../user-error.js";
import { ManifestError } from "./errors.js";
import { parseAgentFile, parseBottleFile } from "./parse.js";
import type { AgentConflict, AgentFile, AgentOrigin, BottleFile, BrokenManifest, ManifestFiles, ManifestIndex, ManifestKind } from "./schema.js";

// Reading manifests from disk, and the trust boundary: bottles decide where
// traffic and credentials may go, so they come only from the user's home; a
// repository (the cwd) may ship agents, never bottles, and its agents never
// replace the user's own: a name the home defines keeps meaning the home's agent.

export const MANIFEST_FILE_NAME = /^[a-z][a-z0-9-]*\.md$/;
const FILE_NAME_RULE = `manifest file names must match ${MANIFEST_FILE_NAME.source} (lower case letters, digits and -)`;

export async function loadManifestIndex({ home, cwd }: { home: string; cwd: string }): Promise<ManifestIndex> {
  const paths = homePaths(home);
  const index: ManifestIndex = { home, cwd, bottles: {}, agents: {}, broken: [], conflicts: [], warnings: [] };

  for (const loaded of await loadFolder(paths.bottles, "bottle", parseBottleFile, index.warnings)) {
    if (isBroken(loaded)) index.broken.push(loaded);
    else index.bottles[loaded.name] = loaded;
  }
  for (const loaded of await loadFolder(paths.agents, "agent", agentParser("home"), index.warnings)) {
    if (isBroken(loaded)) index.broken.push(loaded);
    else index.agents[loaded.name] = loaded;
  }

  const projectBottles = projectBottlesDir(cwd);
  if (!samePath(projectBottles, paths.bottles) && (await exists(projectBottles))) {
    index.warnings.push(
      `ignored ${projectBottles}: bottles are read only from ${paths.bottles}, so that a repository cannot decide ` +
        `where the agent's traffic and credentials go (copy a bottle there yourself if you trust it)`,
    );
  }

  const projectAgents = projectAgentsDir(cwd);
  if (samePath(projectAgents, paths.agents)) return index; // the cwd is the home's parent: nothing more to read
  const homeAgentSources = new Map(
    [...Object.values(index.agents), ...index.broken.filter((b) => b.kind === "agent")].map((a) => [a.name, a.source]),
  );
  for (const loaded of await loadFolder(projectAgents, "agent", agentParser("repository"), index.warnings)) {
    const homeSource = homeAgentSources.get(loaded.name);
    if (homeSource !== undefined) index.conflicts.push(agentConflict(loaded.name, loaded.source, homeSource));
    else if (isBroken(loaded)) index.broken.push(loaded);
    else index.agents[loaded.name] = loaded;
  }
  return index;
}

function agentConflict(name: string, source: string, homeSource: string): AgentConflict {
  return {
    name,
    source,
    home_source: homeSource,
    message:
      `a home agent has the same name (${homeSource}): a repository agent never replaces a home agent, so this file is not loaded ` +
      `and "${name}" runs the home agent; rename this file to use it`,
  };
}

/**
 * Files named on a command line, each checked on its own. The kind comes from
 * the parent folder (`bottles/` or `agents/`), as it does in a home directory;
 * an agent outside `home`'s agents/ folder counts as a repository's.
 */
export async function loadManifestFiles(filePaths: readonly string[], home: string): Promise<ManifestFiles> {
  const kinds = new Map<string, ManifestKind>();
  const unplaced: string[] = [];
  for (const filePath of filePaths) {
    const kind = kindOfFolder(path.basename(path.dirname(path.resolve(filePath))));
    if (kind === undefined) unplaced.push(filePath);
    else kinds.set(filePath, kind);
  }
  if (unplaced.length > 0) {
    throw new UserError(
      `cannot tell whether ${unplaced.join(", ")} ${unplaced.length === 1 ? "is" : "are"} a bottle or an agent: ` +
        "a manifest must sit in a folder named bottles/ or agents/",
    );
  }

  const files: ManifestFiles = { bottles: [], agents: [], broken: [] };
  for (const [filePath, kind] of kinds) {
    const fileName = path.basename(filePath);
    const name = fileName.replace(/\.md$/, "");
    if (!MANIFEST_FILE_NAME.test(fileName)) {
      files.broken.push(brokenFile(kind, name, filePath, new ManifestError([{ file: filePath, keyPath: "", message: FILE_NAME_RULE }])));
    } else if (kind === "bottle") {
      const loaded = await loadFile("bottle", name, filePath, parseBottleFile);
      if (isBroken(loaded)) files.broken.push(loaded);
      else files.bottles.push(loaded);
    } else {
      const origin = samePath(path.dirname(filePath), homePaths(home).agents) ? "home" : "repository";
      const loaded = await loadFile("agent", name, filePath, agentParser(origin));
      if (isBroken(loaded)) files.broken.push(loaded);
      else files.agents.push(loaded);
    }
  }
  return files;
}

function kindOfFolder(folder: string): ManifestKind | undefined {
  if (folder === "bottles") return "bottle";
  if (folder === "agents") return "agent";
  return undefined;
}

/** Text of one file -> its typed form (throws a ManifestError). */
type Parser<T> = (text: string, source: string, name: string) => T;

const agentParser =
  (origin: AgentOrigin): Parser<AgentFile> =>
  (text, source, name) =>
    parseAgentFile(text, source, name, origin);

const isBroken = <T extends object>(loaded: T | BrokenManifest): loaded is BrokenManifest => "issues" in loaded;

async function loadFolder<T extends BottleFile | AgentFile>(
  dir: string,
  kind: ManifestKind,
  parse: Parser<T>,
  warnings: string[],
): Promise<Array<T | BrokenManifest>> {
  let fileNames: string[];
  try {
    fileNames = (await readdir(dir)).sort();
  } catch (err) {
    if (errorCode(err) === "ENOENT") return []; // a home without agents (or bottles) is fine
    if (errorCode(err) === "ENOTDIR") {
      warnings.push(`ignored ${dir}: not a folder`);
      return [];
    }
    throw err;
  }
  const loaded: Array<T | BrokenManifest> = [];
  for (const fileName of fileNames) {
    if (!fileName.endsWith(".md")) continue; // READMEs, editor backups and the like
    const source = path.join(dir, fileName);
    if (!MANIFEST_FILE_NAME.test(fileName)) {
      warnings.push(`skipped ${source}: ${FILE_NAME_RULE}`);
      continue;
    }
    loaded.push(await loadFile(kind, fileName.slice(0, -".md".length), source, parse));
  }
  return loaded;
}

async function loadFile<T>(kind: ManifestKind, name: string, source: string, parse: Parser<T>): Promise<T | BrokenManifest> {
  let text: string;
  try {
    text = await readFile(source, "utf8");
  } catch (err) {
    const reason = errorCode(err) === "ENOENT" ? "no such file" : errorCode(err) === "EISDIR" ? "it is a folder" : (err as Error).message;
    return brokenFile(kind, name, source, new ManifestError([{ file: source, keyPath: "", message: `cannot read the file: ${reason}` }]));
  }
  try {
    return parse(text, source, name);
  } catch (err) {
    if (err instanceof ManifestError) return brokenFile(kind, name, source, err);
    throw err;
  }
}

function brokenFile(kind: ManifestKind, name: string, source: string, error: ManifestError): BrokenManifest {
  return { kind, name, source, error: error.message, issues: [...error.issues] };
}

async function exists(target: string): Promise<boolean> {
  return stat(target).then(
    () => true,
    () => false,
  );
}

const samePath = (a: string, b: string) => path.resolve(a) === path.resolve(b);

const errorCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;
