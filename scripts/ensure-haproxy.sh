#!/usr/bin/env bash
# Make sure HAProxy (Debian's haproxy package, 2.6 on bookworm) is there for KATO_ROUTER=haproxy
# (session_manager/routing/haproxy.py) and its tests (tests/integration/session_manager/routing).
# Returns at once when `haproxy` is on PATH. On a fresh Debian machine it installs the package
# with apt-get (needs root); elsewhere it says what is missing. The manager starts its own
# HAProxy (a config and a runtime socket under KATO_STATE_DIR/haproxy), never the package's:
# when the install started the package's service, it is stopped and disabled here, so it keeps
# neither a port nor a process running for nothing.
set -euo pipefail

log() { printf '[ensure-haproxy] %s\n' "$*" >&2; }

# shellcheck source=scripts/apt-install.sh
source "$(dirname "$0")/apt-install.sh"

if install_missing "haproxy" "the HAProxy router's tests will be skipped" haproxy; then
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now haproxy >/dev/null 2>&1 || true
  elif [ -x /etc/init.d/haproxy ]; then
    /etc/init.d/haproxy stop >/dev/null 2>&1 || true
    update-rc.d haproxy disable >/dev/null 2>&1 || true
  fi
  log "installed $(haproxy -v | head -1); the package's own service is stopped and disabled (the manager starts its own)"
elif command -v haproxy >/dev/null 2>&1; then
  log "found $(haproxy -v | head -1)"
fi
