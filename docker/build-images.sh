#!/usr/bin/env bash
# build-images.sh: builds the images of docker/compose.yaml from this source tree:
#   zkv-base:bookworm      when absent (docker/make-base.sh: debootstrap + docker import)
#   zkv:VERSION            docker/Dockerfile (context: the repository root); its build
#                          stage is tagged zkv-build:VERSION
#   zkv-zookeeper:VERSION  docker/zookeeper/Dockerfile
# VERSION is the project's (CMakeLists.txt), 0.1.0 today. The two images build at the same
# time, each `docker build --network host` (apt-get inside reaches the Debian mirror
# through the host's network), their output in a log each under ZKV_DOCKER_LOGS (default:
# a temporary directory, removed when both succeed); a failed build's log tail is printed.
# Uses the docker engine of DOCKER_HOST (or the default one).
# (The Dockerfiles keep the first step after each FROM different from the other image's:
# two builds at once would otherwise each make a layer for the same step, and a later
# build could take either as its cache and miss on every step after it.)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="$(sed -n 's/^project(zkv VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")"
[ -n "$version" ] || { echo "build-images: no version in CMakeLists.txt" >&2; exit 1; }

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

t="$(now)"
"$root/docker/make-base.sh"
echo "build-images: base image ready in $(since "$t") s"

logs="${ZKV_DOCKER_LOGS:-}"
keep_logs=1
if [ -z "$logs" ]; then logs="$(mktemp -d /tmp/zkv-images.XXXXXX)"; keep_logs=0; fi
mkdir -p "$logs"

pids=()
# shellcheck disable=SC2317 # runs from the trap
stop_builds() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap stop_builds EXIT
t="$(now)"
# (the build stage gets a tag too, zkv-build:VERSION: so it is no dangling image, and
# `docker image prune` keeps its layers, the build dependencies above all, for the next build)
{ docker build --network host -f "$root/docker/Dockerfile" --target build \
    -t "zkv-build:$version" "$root" \
  && docker build --network host -f "$root/docker/Dockerfile" -t "zkv:$version" "$root"; } \
  >"$logs/zkv.log" 2>&1 &
zkv_pid=$!
pids+=("$zkv_pid")
docker build --network host -t "zkv-zookeeper:$version" "$root/docker/zookeeper" \
  >"$logs/zookeeper.log" 2>&1 &
zk_pid=$!
pids+=("$zk_pid")
failed=0
for item in "zkv:$zkv_pid" "zookeeper:$zk_pid"; do
  name="${item%%:*}"
  if wait "${item##*:}"; then
    echo "build-images: built the $name image ($(since "$t") s since the builds started)"
  else
    echo "build-images: building the $name image failed; the end of $logs/$name.log:" >&2
    tail -n 40 "$logs/$name.log" >&2
    failed=1
  fi
done
if [ "$failed" = 1 ]; then exit 1; fi
if [ "$keep_logs" = 0 ]; then rm -rf "$logs"; fi
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' \
  | grep -E "^(zkv|zkv-zookeeper):$version |^zkv-base:bookworm " | sed 's/^/build-images: /'
