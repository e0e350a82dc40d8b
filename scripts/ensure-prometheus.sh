#!/usr/bin/env bash
# Make sure Debian's prometheus (which ships promtool) is there for the monitoring tests
# (tests/integration/monitoring: `promtool check rules`, `promtool test rules`, and a real
# Prometheus scraping a real manager). Returns at once when both binaries are installed.
# On a fresh Debian machine it installs the package with apt-get (needs root); elsewhere it says how.
# The tests start their own Prometheus (temp dir, free loopback port) and never use the
# package's system service: when the install started that service, it is stopped and disabled
# here so it does not keep port 9090 and a TSDB under /var/lib/prometheus for nothing.
set -euo pipefail

log() { printf '[ensure-prometheus] %s\n' "$*" >&2; }

# shellcheck source=scripts/apt-install.sh
source "$(dirname "$0")/apt-install.sh"

if ! install_missing "prometheus promtool" "the monitoring tests will be skipped" prometheus; then
  exit 0
fi
# The package starts its own service (systemd, or its init script where there is no systemd).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now prometheus >/dev/null 2>&1 || true
elif [ -x /etc/init.d/prometheus ]; then
  /etc/init.d/prometheus stop >/dev/null 2>&1 || true
  update-rc.d prometheus disable >/dev/null 2>&1 || true
fi
log "$(prometheus --version 2>&1 | head -n 1); its system service is stopped and disabled (the tests start their own)"
