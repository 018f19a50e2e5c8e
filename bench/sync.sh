#!/usr/bin/env bash
# sync.sh [--runs N] [--requests N] [--out FILE]: the cost of --sync (an fsync of
# LevelDB's log per group commit), zkv with it against zkv without it in one run: 50
# clients, PUTs of 100-byte and 10 KB values over 100,000 keys, pipeline 1 and 16, on a
# 1-node cluster (--replicas 1: the single-copy deployment --sync is for) and a 3-node one
# (--replicas 3). Then GETs, which --sync does not touch, as a check.
#
# In a temp dir on free loopback ports: a ZooKeeper, then for each run and shape a cluster
# without --sync and one with it in turn, so the two modes alternate and share whatever
# the machine does meanwhile. The data dirs are under ZKV_BENCH_TMP (/tmp): measure on the
# disk you mean to run on (tmpfs makes fsync free). Prints, per test, pipeline and shape,
# the median ops/s and p50/p99 of each mode and sync over off. --out FILE keeps every run
# as CSV. Builds the release tree unless ZKV_BUILD_DIR names a built tree; kills everything
# it started, by pid, when it exits.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs=3
requests=50000
out=""
clients=50
keys=100000

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="${2:?}"; shift 2 ;;
    --requests) requests="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "sync: unknown argument '$1'" >&2; usage ;;
  esac
done
case "$runs$requests" in *[!0-9]*) echo "sync: --runs and --requests take numbers" >&2; exit 2 ;; esac

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
find_bin
start_zookeeper
log "ZooKeeper on $zk; data dirs in $tmp ($(df --output=fstype "$tmp" | tail -n 1))"
for run in $(seq 1 "$runs"); do
  for shape in "1n-r1 1 1" "3n-r3 3 3"; do
    read -r name nodes replicas <<<"$shape"
    for mode in off sync; do
      cluster="$mode-$name-$run"
      server_flags=""
      [ "$mode" = off ] || server_flags="--sync"
      log "$cluster: $nodes node(s), --replicas $replicas, ${server_flags:-no --sync}"
      start_cluster "$cluster" "$nodes" "$replicas"
      for size in 100 10000; do
        for p in 1 16; do
          log "zkv-bench on $cluster -d $size -P $p"
          bench_zkv "$mode-$name-${size}B" "$cluster" "$run" "$clients" "$size" "$keys" "$p" \
            put,get -n "$requests"
        done
      done
      stop "${cluster_pids[@]}"
    done
  done
done
stop "$zk_pid"

[ -z "$out" ] || cp "$results" "$out"

echo "# zkv with --sync against without it: $(machine); data on $(df --output=fstype "$tmp" | tail -n 1)"
echo "# $clients clients, $keys keys, $requests requests per test, median of $runs runs;" \
  "p50/p99 are the medians of the runs' percentiles (ms)"
mode_table off sync
