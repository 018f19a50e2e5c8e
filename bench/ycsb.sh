#!/usr/bin/env bash
# ycsb.sh [--runs N] [--requests N] [--keys N] [--workload W] [--distribution D]
#         [--out FILE] [--server-flags "FLAGS"]: a read-after-write workload on hot keys,
# YCSB A (50% read, 50% update) with zipfian keys by default, on a 1-node cluster
# (--replicas 1) and a 3-node cluster (--replicas 3), at pipeline 1 and 16.
#
# It measures what committed owner reads cost: a read of a key whose newest write is not
# yet applied by every in-sync replica waits for it (docs/guarantees.md), and hot keys are
# where reads meet writes in flight. Each cluster is loaded once (zkv-bench -t load), then
# the workload runs --runs times (default 3) per pipeline depth, 50 clients, 100-byte
# values, --keys keys (default 100,000). Prints, per cluster and depth, the median ops/s
# and the medians of the read and update p50/p99 latencies. --out FILE keeps every run as
# CSV. Builds the release tree unless ZKV_BUILD_DIR names a built one; kills everything it
# started, by pid, when it exits.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs=3
requests=200000
keys=100000
workload=a
distribution=zipfian
out=""
clients=50
size=100
pipelines=(1 16)

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="${2:?}"; shift 2 ;;
    --requests) requests="${2:?}"; shift 2 ;;
    --keys) keys="${2:?}"; shift 2 ;;
    --workload) workload="${2:?}"; shift 2 ;;
    --distribution) distribution="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    --server-flags) server_flags="${2?}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "ycsb: unknown argument '$1'" >&2; usage ;;
  esac
done
case "$runs$requests$keys" in *[!0-9]*) echo "ycsb: --runs, --requests and --keys take numbers" >&2; exit 2 ;; esac

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
find_bin

rows="$tmp/ycsb.csv"
echo "system,pipeline,run,ops_per_sec,read_p50_ms,read_p99_ms,update_p50_ms,update_p99_ms,errors" >"$rows"

start_zookeeper
log "ZooKeeper on $zk"
for shape in "zkv-1n-r1 1 1" "zkv-3n-r3 3 3"; do
  read -r system nodes replicas <<<"$shape"
  log "$system: $nodes node(s), --replicas $replicas"
  start_cluster "$system" "$nodes" "$replicas"
  "$bin/bench/zkv-bench" --zk "$zk" --cluster "$system" -c "$clients" -d "$size" -r "$keys" \
    -t load -q >/dev/null 2>"$tmp/zkv-bench.err" || die "load failed: $(head -c 300 "$tmp/zkv-bench.err")"
  for run in $(seq 1 "$runs"); do
    for p in "${pipelines[@]}"; do
      log "YCSB-${workload^^} ($distribution) on $system -P $p, run $run of $runs"
      # CSV columns: 4 ops/s, 5 errors, 24-27 read p50/p99, update p50/p99 (zkv-bench --help)
      "$bin/bench/zkv-bench" --zk "$zk" --cluster "$system" -c "$clients" -d "$size" \
        -r "$keys" -P "$p" --workload "$workload" --distribution "$distribution" \
        -n "$requests" --csv 2>"$tmp/zkv-bench.err" |
        awk -F, -v s="$system" -v p="$p" -v run="$run" '$1 ~ /^YCSB-/ {
          printf "%s,%s,%s,%s,%s,%s,%s,%s,%s\n", s, p, run, $4, $24, $25, $26, $27, $5 }' \
          >>"$rows" || log "zkv-bench reported failures: $(head -c 300 "$tmp/zkv-bench.err")"
    done
  done
  stop "${cluster_pids[@]}"
done
stop "$zk_pid"

[ -n "$out" ] && cp "$rows" "$out"
echo "# $(machine)"
echo "# commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown), YCSB-${workload^^}" \
  "$distribution, $clients clients, ${size}-byte values, $keys keys, $requests requests, median of $runs"
python3 - "$rows" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
groups = {}
for r in rows:
    groups.setdefault((r["system"], int(r["pipeline"])), []).append(r)
print(f"{'system':<11} {'P':>3} {'ops/s':>10} {'read p50':>9} {'read p99':>9} {'upd p50':>9} {'upd p99':>9} {'errors':>7}")
for (s, p), g in sorted(groups.items()):
    med = lambda k: statistics.median(float(x[k]) for x in g)
    errs = sum(int(x["errors"]) for x in g)
    print(f"{s:<11} {p:>3} {med('ops_per_sec'):>10.0f} {med('read_p50_ms'):>9.3f} "
          f"{med('read_p99_ms'):>9.3f} {med('update_p50_ms'):>9.3f} {med('update_p99_ms'):>9.3f} {errs:>7}")
PY
