#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`.
# Where Docker already runs (a developer laptop, a CI runner with Docker) this returns at once.
# On a fresh Debian machine with no engine it installs docker.io and starts dockerd in the
# background, logging to ${KATO_DOCKERD_LOG:-/tmp/kato-dockerd.log}, and says so.
set -euo pipefail

log() { printf '[ensure-docker] %s\n' "$*" >&2; }

if docker info >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  log "no Docker engine found: installing docker.io (apt-get)"
  if [ "$(id -u)" != 0 ]; then
    log "installing Docker needs root; install Docker yourself and re-run"; exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq docker.io >/dev/null
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
    exit 0
  fi
  sleep 1
done
log "dockerd did not come up within 60 s; last lines of $logfile:"
tail -n 20 "$logfile" >&2 || true
exit 1
