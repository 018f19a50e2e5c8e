#!/usr/bin/env bash
# ab.sh BUILD_A BUILD_B [ROUNDS] [PIPELINES] [VALUE_BYTES] [REQUESTS]: two builds of zkv
# against each other in one run, to show what a change costs. Each round starts, against
# one ZooKeeper, a fresh 1-node cluster (--replicas 1) and a 3-node one (--replicas 3) of
# build A, then of build B, and runs zkv-bench -c 50 -d VALUE_BYTES (100) -r REQUESTS -P P
# -t put,get -n REQUESTS (100000) on each, for each P of PIPELINES (comma-separated,
# default 1); the builds alternate so they share whatever
# the machine does meanwhile. Prints both builds' medians side by side (B over A), then
# every run. BUILD_A and BUILD_B are build trees (scripts/build.sh
# release, or cmake of an older commit in a git worktree). Kills everything it started,
# by pid, when it exits.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -ge 2 ] || { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
build_a="$(cd "$1" && pwd)"
build_b="$(cd "$2" && pwd)"
rounds="${3:-3}"
pipelines="${4:-1}"
size="${5:-100}"
requests="${6:-100000}"
case "$rounds" in *[!0-9]*|"") echo "ab: ROUNDS is a number" >&2; exit 2 ;; esac
case "$pipelines" in *[!0-9,]*|"") echo "ab: PIPELINES are numbers, comma-separated" >&2; exit 2 ;; esac
case "$size$requests" in *[!0-9]*) echo "ab: VALUE_BYTES and REQUESTS are numbers" >&2; exit 2 ;; esac

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
start_zookeeper
n=0
for r in $(seq 1 "$rounds"); do
  for v in A B; do
    if [ "$v" = A ]; then bin="$build_a"; else bin="$build_b"; fi
    for nodes in 1 3; do
      n=$((n + 1))
      log "round $r of $rounds: build $v, $nodes node(s)"
      start_cluster "ab$n" "$nodes" "$nodes"
      for p in ${pipelines//,/ }; do
        bench_zkv "$v-${nodes}n" "ab$n" "$r" 50 "$size" "$requests" "$p" put,get -n "$requests"
      done
      stop_cluster
    done
  done
done
stop "$zk_pid"

echo "# A: $build_a; B: $build_b; $(machine)"
mode_table A B
