#!/usr/bin/env bash
# tls.sh [--runs N] [--requests N] [--out FILE]: the cost of TLS, zkv over TLS against zkv
# in plain TCP in one run, with compare.sh's shape: 50 clients, 100-byte values, 100,000
# keys, PUT then GET, pipeline 1 and 16, on a 1-node cluster (--replicas 1) and a 3-node
# one (--replicas 3: replication runs over TLS too).
#
# Makes a test CA (scripts/test-ca.sh) and, in a temp dir on free loopback ports, a
# ZooKeeper; then for each run and each shape a plain cluster and a TLS one in turn (mutual
# TLS: nodes require client certificates, --tls-client-ca), so the two modes alternate
# and share whatever the machine does meanwhile. Prints, per test, pipeline and shape, the
# median ops/s and p50/p99 of each mode and TLS over plain. --out FILE keeps every run as
# CSV. Builds the release tree unless ZKV_BUILD_DIR names a built tree; kills everything
# it started, by pid, when it exits.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs=3
requests=100000
out=""
clients=50
size=100
keys=100000
pipelines=(1 16)

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="${2:?}"; shift 2 ;;
    --requests) requests="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "tls: unknown argument '$1'" >&2; usage ;;
  esac
done
case "$runs$requests" in *[!0-9]*) echo "tls: --runs and --requests take numbers" >&2; exit 2 ;; esac

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
find_bin
"$root/scripts/test-ca.sh" "$tmp/ca" >/dev/null
ca="$tmp/ca"
tls_node=(--tls-cert "$ca/node.pem" --tls-key "$ca/node.key" --tls-ca "$ca/ca.pem")

start_zookeeper
log "ZooKeeper on $zk"
for run in $(seq 1 "$runs"); do
  for shape in "1n-r1 1 1" "3n-r3 3 3"; do
    read -r name nodes replicas <<<"$shape"
    for mode in plain tls; do
      cluster="$mode-$name-$run"
      if [ "$mode" = tls ]; then
        server_flags="${tls_node[*]} --tls-client-ca $ca/ca.pem"
        coord_flags="${tls_node[*]}"
        export ZKV_TLS_CA="$ca/ca.pem" ZKV_TLS_CERT="$ca/client.pem" ZKV_TLS_KEY="$ca/client.key"
      else
        server_flags="" coord_flags=""
        unset ZKV_TLS_CA ZKV_TLS_CERT ZKV_TLS_KEY
      fi
      log "$cluster: $nodes node(s), --replicas $replicas"
      start_cluster "$cluster" "$nodes" "$replicas"
      for p in "${pipelines[@]}"; do
        log "zkv-bench on $cluster -P $p"
        bench_zkv "$mode-$name" "$cluster" "$run" "$clients" "$size" "$keys" "$p" put,get \
          -n "$requests"
      done
      stop "${cluster_pids[@]}"
    done
  done
done
stop "$zk_pid"

[ -z "$out" ] || cp "$results" "$out"

echo "# zkv over TLS against plain TCP on loopback: $(machine)"
echo "# $clients clients, $size-byte values, $keys keys, $requests requests per test," \
  "median of $runs runs; p50/p99 are the medians of the runs' percentiles (ms)"
mode_table plain tls
