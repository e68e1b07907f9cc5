import { UserError } from "../user-error.js";
import { formatManifestIssue, ManifestError } from "./errors.js";
import { resolveBottleConfig } from "./extends.js";
import { resolveManifest } from "./manifest.js";
import type { ManifestFiles, ManifestIndex, ManifestIssue } from "./schema.js";

// What `validate` reports: every problem at once, each once, so a user can fix
// a whole home in one pass.

/** Broken files, repository agents named like home agents, then bottles whose `extends` fail, then agents that do not resolve. */
export function validateManifestIndex(index: ManifestIndex): ManifestIssue[] {
  const issues = index.broken.flatMap((broken) => broken.issues);
  issues.push(...index.conflicts.map((conflict) => ({ file: conflict.source, keyPath: "", message: conflict.message })));
  for (const name of Object.keys(index.bottles).sort()) {
    issues.push(...issuesOf(() => resolveBottleConfig(index, [name])));
  }
  for (const agent of Object.values(index.agents).sort((a, b) => a.name.localeCompare(b.name))) {
    // An agent without `bottle:` is valid: its caller must name the bottle.
    if (agent.config.bottle === undefined) continue;
    issues.push(...issuesOf(() => resolveManifest(index, agent.name), agent.source));
  }
  return unique(issues);
}

/** Files named on a command line are checked on their own: no cross-file resolution. */
export function validateManifestFiles(files: ManifestFiles): ManifestIssue[] {
  return files.broken.flatMap((broken) => broken.issues);
}

function issuesOf(resolve: () => unknown, file = ""): ManifestIssue[] {
  try {
    resolve();
    return [];
  } catch (err) {
    if (err instanceof ManifestError) return [...err.issues];
    if (err instanceof UserError) return [{ file, keyPath: "", message: err.message }];
    throw err;
  }
}

/** An agent using a broken bottle repeats that bottle's issues: keep the first of each. */
function unique(issues: readonly ManifestIssue[]): ManifestIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const text = formatManifestIssue(issue);
    if (seen.has(text)) return false;
    seen.add(text);
    return true;
  });
}
