#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info` and a Compose CLI is there.
# Where Docker already runs (a developer laptop, a CI runner with Docker) this returns at once.
# On a fresh Debian machine with no engine it installs docker.io and starts dockerd in the
# background, logging to ${KATO_DOCKERD_LOG:-/tmp/kato-dockerd.log}, and says so.
# When neither `docker compose` nor `docker-compose` works it installs Debian's docker-compose
# (tests/integration/test_compose.py validates docker-compose.fastapi.yml with it).
set -euo pipefail

log() { printf '[ensure-docker] %s\n' "$*" >&2; }

# shellcheck source=scripts/apt-install.sh
source "$(dirname "$0")/apt-install.sh"

ensure_compose() {
  if docker compose version >/dev/null 2>&1 || docker-compose version >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    log "no Compose CLI (docker compose / docker-compose) and installing one needs root: skipping"
    return 0
  fi
  log "no Compose CLI found: installing docker-compose (apt-get)"
  apt_install docker-compose
}

if docker info >/dev/null 2>&1; then
  ensure_compose
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  log "no Docker engine found: installing docker.io (apt-get)"
  if [ "$(id -u)" != 0 ]; then
    log "installing Docker needs root; install Docker yourself and re-run"; exit 1
  fi
  apt_install docker.io
fi

if [ "$(id -u)" != 0 ]; then
  log "Docker is installed but not running, and starting it needs root; start it (e.g. 'sudo systemctl start docker')"
  exit 1
fi

logfile=${KATO_DOCKERD_LOG:-/tmp/kato-dockerd.log}
log "starting dockerd in the background (log: $logfile)"
nohup dockerd >"$logfile" 2>&1 &

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    log "Docker engine is up"
    ensure_compose
    exit 0
  fi
  sleep 1
done
log "dockerd did not come up within 60 s; last lines of $logfile:"
tail -n 20 "$logfile" >&2 || true
exit 1
