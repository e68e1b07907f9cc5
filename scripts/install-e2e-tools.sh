#!/usr/bin/env bash
# Installs the real MCP clients the e2e tests drive (Claude Code, Codex, the MCP
# Inspector) at pinned versions into .e2e-tools/ (gitignored) inside the repo.
# Idempotent: a prefix that already holds exactly these versions is left alone.
set -euo pipefail

cd "$(dirname "$0")/.."
PREFIX=.e2e-tools
PACKAGES=(
  "@anthropic-ai/claude-code@2.1.197"
  "@openai/codex@0.169.0"
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
for spec in "${PACKAGES[@]}"; do
  installed "$spec" || missing+=("$spec")
done
if [ ${#missing[@]} -eq 0 ]; then
  log "all present in $PREFIX: ${PACKAGES[*]}"
  exit 0
fi

log "installing ${missing[*]} into $PREFIX"
mkdir -p "$PREFIX"
# A package.json of its own keeps npm from walking up to the repo's manifest.
[ -f "$PREFIX/package.json" ] || printf '{ "private": true, "description": "e2e test clients; see scripts/install-e2e-tools.sh" }\n' >"$PREFIX/package.json"
# --engine-strict=false: the Inspector declares node >= 22 but its CLI runs on 20.
npm install --prefix "$PREFIX" --no-fund --no-audit --engine-strict=false --save-exact "${PACKAGES[@]}" >&2
for spec in "${PACKAGES[@]}"; do
  installed "$spec" || { log "$spec did not install"; exit 1; }
done
log "installed: ${PACKAGES[*]}"
