#!/usr/bin/env bash
# Make sure Debian's chromium is installed: the dashboard's browser tests
# (test/integration/ui) drive it through playwright-core, which downloads no
# browser of its own. Idempotent.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1; then
  bash "$(dirname "$0")/apt-install.sh" chromium
fi
printf '[chromium] %s\n' "$(chromium --version 2>/dev/null || echo "chromium is installed")" >&2
