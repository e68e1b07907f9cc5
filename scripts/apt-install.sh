#!/usr/bin/env bash
# Installs Debian packages quietly, without recommends: as root it runs
# apt-get; otherwise it says what to run and fails. Used by the setup scripts.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  printf '[apt-install] missing %s and not root: install them (apt-get install -y --no-install-recommends %s) and retry\n' "$*" "$*" >&2
  exit 1
fi
printf '[apt-install] installing %s from Debian'"'"'s packages\n' "$*" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "$@" >/dev/null
