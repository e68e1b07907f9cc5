#!/usr/bin/env bash
# Build the local base image (default bot-bottle/base:bookworm) when it does not
# exist: a debootstrap minbase of Debian bookworm plus this machine's Node
# runtime. It stands in for the official node:20-bookworm image on machines that
# reach no image registry. Idempotent.
set -euo pipefail

IMAGE="${1:-${BOT_BOTTLE_BASE_IMAGE:-bot-bottle/base:bookworm}}"
log() { printf '[base-image] %s\n' "$*" >&2; }

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE already exists"
  exit 0
fi

# awk alone (no head) so pipefail cannot trip on SIGPIPE
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
  | awk '/^(deb|URIs:)[ \t]/ && $2 ~ /^https?:/ && $2 !~ /security/ {print $2; exit}' || true)
mirror="${mirror:-http://deb.debian.org/debian}"
node_bin=$(command -v node)
node_prefix=$(dirname "$(dirname "$(readlink -f "$node_bin")")")

root=$(mktemp -d /tmp/bot-bottle-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
log "debootstrap bookworm from $mirror into $root"
debootstrap --variant=minbase bookworm "$root" "$mirror" >/tmp/debootstrap.log 2>&1 || {
  tail -n 30 /tmp/debootstrap.log >&2; exit 1; }

log "adding Node from $node_prefix"
mkdir -p "$root/usr/local/bin" "$root/usr/local/lib"
cp "$(readlink -f "$node_bin")" "$root/usr/local/bin/node"
npm_dir=""
for d in "$node_prefix/lib/node_modules/npm" /usr/lib/node_modules/npm /usr/local/lib/node_modules/npm; do
  if [ -d "$d" ]; then npm_dir="$d"; break; fi
done
if [ -n "$npm_dir" ]; then
  mkdir -p "$root/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
fi
# The official node image has a `node` user with uid 1000; mirror it.
chroot "$root" /usr/sbin/groupadd --gid 1000 node
chroot "$root" /usr/sbin/useradd --uid 1000 --gid node --shell /bin/bash --create-home node
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*

log "importing as $IMAGE"
tar -C "$root" -c . | docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c 'CMD ["node"]' - "$IMAGE" >/dev/null
log "built $IMAGE"
