#!/usr/bin/env bash
# Make sure Debian's chromium and chromium-driver are there for the dashboard's browser tests
# (tests/integration/session_manager/dashboard). Returns at once when both are installed.
# On a fresh Debian machine it installs them with apt-get (needs root); elsewhere it says how.
set -euo pipefail

log() { printf '[ensure-chromium] %s\n' "$*" >&2; }

# shellcheck source=scripts/apt-install.sh
source "$(dirname "$0")/apt-install.sh"

if install_missing "chromium chromedriver" "the browser tests will be skipped" \
  chromium chromium-driver; then
  log "$(chromium --version 2>/dev/null || echo 'chromium installed')"
fi
