import { shellQuote } from "../../shell-quote.js";

// The workspace is a copy of the host repository, and a repository's config
// is where hosts keep credentials: tokens in remote URLs, `http.extraHeader`
// with an Authorization header (what CI checkouts write), credential helpers,
// `url.*.insteadOf` rewrites carrying tokens, includes of host files. None of
// it may reach the bottle (invariant 2), so each config is rewritten to the
// few keys a working copy needs; everything not named here is dropped.

/** One `key=value` of `git config --list`; a key written without `=` has value null. */
export interface GitConfigEntry {
  key: string;
  value: string | null;
}

/** A config file of the copy (its path relative to the workspace) with the entries that stay in it. */
export interface ScrubbedConfig {
  file: string;
  entries: GitConfigEntry[];
}

/**
 * core keys a checkout needs to read its index and files as the host wrote
 * them. Left out on purpose: core.worktree, core.hooksPath,
 * core.excludesFile, core.attributesFile (host paths), core.sshCommand,
 * core.askPass, core.editor, core.pager, core.fsmonitor (host commands).
 */
const CORE_KEYS = new Set([
  "repositoryformatversion",
  "bare",
  "filemode",
  "logallrefupdates",
  "ignorecase",
  "precomposeunicode",
  "symlinks",
  "autocrlf",
  "eol",
  "safecrlf",
  "quotepath",
  "checkstat",
  "trustctime",
  "sparsecheckout",
  "sparsecheckoutcone",
  "splitindex",
  "untrackedcache",
  "commitgraph",
  "multipackindex",
  "compression",
  "loosecompression",
  "bigfilethreshold",
  "abbrev",
]);

/** Branch keys that keep tracking and pull settings; the remotes they name are the gate's. */
const BRANCH_KEYS = new Set(["remote", "merge", "rebase", "description"]);

/** Whether a key (as `git config --list` prints it: section and name lower-cased) stays in the bottle's copy. */
export function keepsGitConfigKey(key: string): boolean {
  const first = key.indexOf(".");
  const last = key.lastIndexOf(".");
  if (first <= 0 || last === key.length - 1) return false;
  const section = key.slice(0, first);
  const name = key.slice(last + 1);
  const subsection = first === last ? null : key.slice(first + 1, last);
  if (section === "extensions") return subsection === null;
  if (section === "core") return subsection === null && CORE_KEYS.has(name);
  if (section === "branch") return subsection !== null && BRANCH_KEYS.has(name);
  return false;
}

/** Parses `git config --list -z`: entries end in NUL, a newline splits key from value, a key alone has none. */
export function parseGitConfigList(output: string): GitConfigEntry[] {
  return output
    .split("\0")
    .filter((record) => record.length > 0)
    .map((record) => {
      const newline = record.indexOf("\n");
      return newline < 0 ? { key: record, value: null } : { key: record.slice(0, newline), value: record.slice(newline + 1) };
    });
}

/** The entries of one config that the bottle's copy keeps, in their order. */
export function scrubGitConfig(entries: GitConfigEntry[]): GitConfigEntry[] {
  return entries.filter((entry) => keepsGitConfigKey(entry.key));
}

/**
 * A /bin/sh script, run as root, that replaces each config
 * file of the copy with one holding only its kept entries, built by git
 * itself (so quoting follows git's rules, not ours). A file is replaced whole
 * by rename: whatever else the copy carried is gone, not edited around.
 */
export function rewriteGitConfigsScript(workspace: string, configs: ScrubbedConfig[]): string {
  const lines = [
    "set -e",
    `cd ${shellQuote(workspace)}`,
    "command -v git >/dev/null || { echo 'the image has no git, which is needed to take the host repository credentials out of the copied .git config' >&2; exit 1; }",
  ];
  for (const { file, entries } of configs) {
    const target = shellQuote(file);
    const fresh = shellQuote(`${file}.bot-bottle-new`);
    lines.push(`rm -f ${fresh}`, `: > ${fresh}`);
    for (const { key, value } of entries) {
      // A key git printed without a value is a boolean set to true.
      lines.push(`git config --file ${fresh} --add -- ${shellQuote(key)} ${shellQuote(value ?? "true")}`);
    }
    lines.push(`mv -f ${fresh} ${target}`);
  }
  return lines.join("\n");
}
