#!/usr/bin/env bash
# Create a local Debian bookworm base image with Python 3.11 when no registry is reachable.
#
#   bash scripts/make-base-image.sh [TAG]        (default TAG: kato-base:bookworm-py311)
#
# Dockerfile.fastapi wants `python3 -m venv` and `useradd` from its base; python:3.11-slim has
# both, and so does this image. It is built once: when TAG already exists locally this returns
# at once. The rootfs comes from debootstrap (minbase) and is imported with `docker import`;
# apt lists, docs, man pages and locales are removed to keep it small.
# Env: KATO_DEBIAN_MIRROR (default http://deb.debian.org/debian), KATO_DEBIAN_SUITE (bookworm).
set -euo pipefail

tag=${1:-kato-base:bookworm-py311}
mirror=${KATO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${KATO_DEBIAN_SUITE:-bookworm}
packages=python3,python3-venv,ca-certificates,passwd

log() { printf '[make-base-image] %s\n' "$*" >&2; }

if docker image inspect "$tag" >/dev/null 2>&1; then
  log "$tag exists: nothing to do"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  log "debootstrap needs root; run as root or pass a base image (KATO_BASE_IMAGE)"
  exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap (apt-get)"
  # shellcheck source=scripts/apt-install.sh
  source "$(dirname "$0")/apt-install.sh"
  apt_install debootstrap
fi

rootfs=$(mktemp -d /tmp/kato-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

log "debootstrap $suite ($mirror) into $rootfs"
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >&2

log "trimming the rootfs"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/log/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
  "$rootfs"/usr/share/locale/* "$rootfs"/usr/share/lintian "$rootfs"/var/cache/debconf/*-old \
  "$rootfs"/debootstrap

log "importing as $tag"
tar -C "$rootfs" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --message "debootstrap $suite minbase + $packages" \
  - "$tag" >&2
log "done: $(docker image inspect --format '{{.Size}}' "$tag") bytes"
