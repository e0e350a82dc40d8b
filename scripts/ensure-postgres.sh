#!/usr/bin/env bash
# Make sure a PostgreSQL server (initdb, pg_ctl) is there for the PostgreSQL store's tests
# (tests/integration/kato/processor and everything on the `postgres_server` fixture) and for
# bench/processor.py. Returns at once when they are on PATH or in Debian's
# /usr/lib/postgresql/<major>/bin (where the package puts them, off PATH). On a fresh Debian
# machine it installs postgresql-15 with apt-get (needs root); elsewhere it says what is missing.
# The tests run their own cluster (kato/testing/postgres.py: initdb in a temporary directory, a
# free loopback port) and never the package's: when the install started the package's own
# cluster, it is stopped and its service disabled here, so it keeps neither port 5432 nor a
# server running for nothing.
set -euo pipefail

log() { printf '[ensure-postgres] %s\n' "$*" >&2; }

# shellcheck source=scripts/apt-install.sh
source "$(dirname "$0")/apt-install.sh"

server_bin() {
  local dir
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v initdb)")"
    return 0
  fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

if bin=$(server_bin); then
  log "found $("$bin/postgres" --version) in $bin"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  log "postgresql-15 missing and installing needs root: the PostgreSQL tests will be skipped"
  exit 0
fi
log "installing postgresql-15 (apt-get)"
apt_install postgresql-15 || { log "apt-get could not install postgresql-15"; exit 1; }
# The package makes a cluster "15 main" and starts it; the tests do not use it.
if command -v pg_ctlcluster >/dev/null 2>&1; then
  pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
fi
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now postgresql >/dev/null 2>&1 || true
elif [ -x /etc/init.d/postgresql ]; then
  update-rc.d postgresql disable >/dev/null 2>&1 || true
fi
bin=$(server_bin) || { log "postgresql-15 installed but initdb/pg_ctl not found"; exit 1; }
log "installed $("$bin/postgres" --version) in $bin; the package's own cluster is stopped and its service disabled (the tests start their own)"
