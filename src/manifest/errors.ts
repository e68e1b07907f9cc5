import { UserError } from "../user-error.js";
import type { ManifestIssue } from "./schema.js";

/** `FILE:LINE: KEYPATH: MESSAGE (HINT)`, leaving out the parts an issue lacks. */
export function formatManifestIssue(issue: ManifestIssue): string {
  const where = issue.line === undefined ? issue.file : `${issue.file}:${issue.line}`;
  const key = issue.keyPath === "" ? "" : `${issue.keyPath}: `;
  const hint = issue.hint === undefined ? "" : ` (${issue.hint})`;
  return `${where}: ${key}${issue.message}${hint}`;
}

/** One or more problems in manifest files; the message lists them one per line. */
export class ManifestError extends UserError {
  constructor(readonly issues: readonly ManifestIssue[]) {
    super(issues.map(formatManifestIssue).join("\n"));
    this.name = "ManifestError";
  }
}

/**
 * `egress.routes[0].tls_passthrough`: dots between names, brackets for list
 * indexes and for names that would be ambiguous after a dot.
 */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (typeof segment === "string" && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}
