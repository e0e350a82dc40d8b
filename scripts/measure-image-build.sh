#!/usr/bin/env bash
# Time a cold image build (debootstrap base + wheels + docker build) and a no-change rebuild,
# and print the image size, without touching kato:fastapi or kato-base:bookworm-py311.
#
#   bash scripts/measure-image-build.sh
#
# It copies the checkout (without .venv and build/) to a temp dir, so the wheelhouse starts
# empty, and builds under throw-away tags (removed at the end), so no layer cache applies.
# pip's own download cache (~/.cache/pip) is used as is: clear it for a truly cold figure.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-.venv/bin/python}
run_id=$(date +%s)
base_tag=kato-base:measure-$run_id
tag=kato:measure-$run_id
work=$(mktemp -d /tmp/kato-measure.XXXXXX)

# Multi-stage builds leave their stage images untagged: remove every image on our base layer.
cleanup() {
  local base_layer image
  base_layer=$(docker image inspect -f '{{index .RootFS.Layers 0}}' "$base_tag" 2>/dev/null || true)
  docker image rm -f "$tag" >/dev/null 2>&1 || true
  if [ -n "$base_layer" ]; then
    for image in $(docker image ls -q -f dangling=true); do
      if [ "$(docker image inspect -f '{{index .RootFS.Layers 0}}' "$image")" = "$base_layer" ]; then
        docker image rm -f "$image" >/dev/null 2>&1 || true
      fi
    done
  fi
  docker image rm -f "$base_tag" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

tar --exclude=./.venv --exclude=./build --exclude=./.git --exclude='*/__pycache__' -c . \
  | tar -C "$work" -x

seconds() { local start=$1; echo "$(( $(date +%s%N) / 1000000 - start ))" | awk '{printf "%.1f", $1/1000}'; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

start=$(now_ms)
bash scripts/make-base-image.sh "$base_tag" 2>/dev/null
base_s=$(seconds "$start")

build() {
  "$python" -m container_manager.build.image --context "$work" --tag "$tag" --base-image "$base_tag" \
    2>"$work/build-$1.log" >/dev/null
}
start=$(now_ms); build cold; cold_s=$(seconds "$start")
start=$(now_ms); build warm; warm_s=$(seconds "$start")

size=$(docker image inspect --format '{{.Size}}' "$tag")
base_size=$(docker image inspect --format '{{.Size}}' "$base_tag")
printf 'debootstrap base image        %6s s  (%d MB)\n' "$base_s" $((base_size / 1000000))
printf 'cold build (wheels + docker)  %6s s\n' "$cold_s"
printf 'no-change rebuild             %6s s\n' "$warm_s"
printf 'image size                    %6d MB\n' $((size / 1000000))
