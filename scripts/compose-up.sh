#!/usr/bin/env bash
# Start the seed deployment (docker-compose.fastapi.yml): session manager + `primary` processor.
#
#   bash scripts/compose-up.sh            # extra arguments go to `up`, e.g. --force-recreate
#
# The manager runs as uid 10001 and reaches the engine through the mounted socket, so it joins
# the socket's group: KATO_DOCKER_GID is read from the socket here. Needs the image (katoctl build).
set -euo pipefail
cd "$(dirname "$0")/.."

socket=${DOCKER_SOCKET:-/var/run/docker.sock}
KATO_DOCKER_GID=$(stat -c %g "$socket")
export KATO_DOCKER_GID

if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
else
  compose=(docker-compose)
fi
exec "${compose[@]}" -f docker-compose.fastapi.yml up -d "$@"
