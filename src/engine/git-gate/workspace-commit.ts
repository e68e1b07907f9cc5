import type { Bottle } from "../../../backends/backend.js";
import { UserError } from "../../user-error.js";
import { ORIGIN_URL } from "./plan.js";

// `get_changes` with commit_workspace: what the agent left in its workspace
// without committing or pushing comes home too. Inside the bottle, as the
// agent user, the workspace's whole state (tracked, untracked, deletions;
// .gitignore honoured) is committed through a throwaway index, so the
// agent's own index, branch and files stay as they were, and pushed to the
// gate's origin on a branch of its own, through the same scan as any push.

const TIMEOUT_MS = 10 * 60_000;

// $1 branch, $2 message, $3 the gate's origin URL, $4... commits origin already has.
const SCRIPT = `set -eu
branch=$1; message=$2; url=$3; shift 3
git rev-parse --git-dir >/dev/null 2>&1 || { echo "the workspace is not a git repository" >&2; exit 3; }
index=$(mktemp)
trap 'rm -f "$index"' EXIT
real=$(git rev-parse --git-path index)
if [ -f "$real" ]; then cp "$real" "$index"; else rm -f "$index"; fi
export GIT_INDEX_FILE="$index"
git add --all
tree=$(git write-tree)
git config user.name >/dev/null || export GIT_AUTHOR_NAME="bot-bottle agent" GIT_COMMITTER_NAME="bot-bottle agent"
git config user.email >/dev/null || export GIT_AUTHOR_EMAIL="agent@bottle.invalid" GIT_COMMITTER_EMAIL="agent@bottle.invalid"
if parent=$(git rev-parse --verify --quiet 'HEAD^{commit}'); then
  if [ "$tree" = "$(git rev-parse "$parent^{tree}")" ]; then commit=$parent; else commit=$(git commit-tree "$tree" -p "$parent" -m "$message"); fi
else
  commit=$(git commit-tree "$tree" -m "$message")
fi
for known in "$@"; do [ "$commit" = "$known" ] && { echo "unchanged $commit"; exit 0; }; done
git push --quiet --no-verify "$url" "$commit:refs/heads/$branch" >&2
echo "pushed $commit"
`;

/** The branch a workspace commit is pushed to: `workspace/<UTC time>`. */
export const workspaceBranch = (now: Date) => `workspace/${now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}`;

/**
 * Commits and pushes the workspace's state; null when there is nothing the
 * origin does not already have. A refused push (a secret in it) is a UserError
 * carrying the gate's explanation.
 */
export async function commitWorkspace(
  bottle: Bottle,
  where: { user: string; workspace: string; id: string },
  branch: string,
  message: string,
  known: string[],
): Promise<{ branch: string; sha: string } | null> {
  const result = await bottle.exec(["sh", "-c", SCRIPT, "sh", branch, message, ORIGIN_URL, ...known], {
    user: where.user,
    cwd: where.workspace,
    timeoutMs: TIMEOUT_MS,
  });
  const said = /^(pushed|unchanged) ([0-9a-f]{40,64})$/m.exec(result.stdout);
  if (result.exit_code !== 0 || !said) {
    throw new UserError(
      `committing bottle ${where.id}'s workspace failed (exit ${result.exit_code}); nothing was imported:\n${(result.stderr || result.stdout).trim().slice(-4000)}`,
    );
  }
  return said[1] === "pushed" ? { branch, sha: said[2]! } : null;
}
