#!/usr/bin/env bash
# Make sure Debian's wrk (an HTTP load generator) is there for bench/router.py, which measures
# the manager's builtin proxy against the container it fronts. Returns at once when `wrk` is on
# PATH. On a fresh Debian machine it installs the package with apt-get (needs root); elsewhere
# it says what is missing.
set -euo pipefail

log() { printf '[ensure-wrk] %s\n' "$*" >&2; }

# shellcheck source=scripts/apt-install.sh
source "$(dirname "$0")/apt-install.sh"

if install_missing "wrk" "bench/router.py cannot run" wrk; then
  log "installed $(wrk --version 2>&1 | head -n 1)"
fi
