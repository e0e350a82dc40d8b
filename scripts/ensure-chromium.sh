#!/usr/bin/env bash
# Make sure Debian's chromium and chromium-driver are there for the dashboard's browser tests
# (tests/integration/session_manager/dashboard). Returns at once when both are installed.
# On a fresh Debian machine it installs them with apt-get (needs root); elsewhere it says how.
set -euo pipefail

log() { printf '[ensure-chromium] %s\n' "$*" >&2; }

# shellcheck source=scripts/apt-install.sh
source "$(dirname "$0")/apt-install.sh"

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  log "chromium/chromium-driver missing and installing them needs root: the browser tests will be skipped"
  exit 0
fi
log "installing chromium and chromium-driver (apt-get)"
apt_install chromium chromium-driver
log "$(chromium --version 2>/dev/null || echo 'chromium installed')"
