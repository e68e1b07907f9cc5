#!/usr/bin/env bash
# Make sure a Docker engine answers on this (Debian) machine: install Debian's
# engine when missing, start dockerd in the background when nothing answers,
# and wait until `docker info` succeeds. Idempotent.
set -euo pipefail

log() { printf '[docker-engine] %s\n' "$*" >&2; }

if docker info >/dev/null 2>&1; then
  log "engine already answers"
  exit 0
fi

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
if [ ${#need[@]} -gt 0 ]; then
  bash "$(dirname "$0")/apt-install.sh" "${need[@]}"
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  log "starting dockerd (log: /tmp/dockerd.log)"
  nohup dockerd >/tmp/dockerd.log 2>&1 &
fi

for _ in $(seq 1 120); do
  if docker info >/dev/null 2>&1; then
    log "engine is up ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 0.5
done
log "dockerd did not answer within 60 s; tail of /tmp/dockerd.log:"
tail -n 30 /tmp/dockerd.log >&2 || true
exit 1
