#!/usr/bin/env bash
# compare.sh [--runs N] [--requests N] [--out FILE] [--zkv-flags "FLAGS"]
#            [--server-flags "FLAGS"] [--size BYTES]: zkv against Redis on loopback, in
# one run, with redis-benchmark's default shape: 50 clients, 100-byte values (--size),
# 100,000 keys, SET/PUT then GET, pipeline 1 and 16.
#
# Starts, in a temp dir and on free loopback ports: redis-server without persistence
# (--save '' --appendonly no, as its benchmark is usually run), a ZooKeeper, then in turn
# a 1-node zkv cluster (--replicas 1: no copies) and a 3-node cluster (--replicas 3: every
# write waits for the two in-sync replicas). Only one system runs at a time. Runs
# redis-benchmark and zkv-bench --runs times each (default 3) and prints, per test and
# pipeline depth, the median ops/s with the p50/p99 of the same runs (medians) and the
# ratio of zkv's median ops/s to Redis's, and the 3-node PUT over the 1-node PUT.
# --out FILE keeps every run as CSV. --zkv-flags passes more flags to zkv-bench (e.g.
# "--blocking" to measure the blocking client instead of the event-loop one);
# --server-flags passes more flags to every zkv-server (e.g. "--compaction-nice 0").
#
# Builds the release tree (scripts/build.sh release, RelWithDebInfo) unless ZKV_BUILD_DIR
# names a built tree. Installs Debian's redis-server and redis-tools with apt-get if they
# are missing. Kills everything it started, by pid, when it exits (even on failure or ^C).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs=3
requests=100000
out=""
zkv_flags=""
clients=50
size=100
keys=100000
pipelines=(1 16)

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="${2:?}"; shift 2 ;;
    --requests) requests="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    --zkv-flags) zkv_flags="${2?}"; shift 2 ;;
    --server-flags) server_flags="${2?}"; shift 2 ;;
    --size) size="${2:?}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "compare: unknown argument '$1'" >&2; usage ;;
  esac
done
case "$runs$requests$size" in *[!0-9]*) echo "compare: --runs, --requests and --size take numbers" >&2; exit 2 ;; esac

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
need_redis
find_bin

log "redis-server on a free port, no persistence"
start_redis
for run in $(seq 1 "$runs"); do
  for p in "${pipelines[@]}"; do
    log "redis-benchmark -P $p, run $run of $runs"
    redis-cli -p "$redis_port" flushall >/dev/null
    bench_redis "$run" "$clients" "$size" "$keys" "$p" "$requests"
  done
done
stop "$redis_pid"

start_zookeeper
log "ZooKeeper on $zk"

for shape in "zkv-1n-r1 1 1" "zkv-3n-r3 3 3"; do
  read -r system nodes replicas <<<"$shape"
  log "$system: $nodes node(s), --replicas $replicas"
  start_cluster "$system" "$nodes" "$replicas"
  for run in $(seq 1 "$runs"); do
    for p in "${pipelines[@]}"; do
      log "zkv-bench on $system -P $p, run $run of $runs"
      # shellcheck disable=SC2086 # zkv_flags is a list of flags
      bench_zkv "$system" "$system" "$run" "$clients" "$size" "$keys" "$p" put,get \
        -n "$requests" $zkv_flags
    done
  done
  stop_cluster
done
stop "$zk_pid"

[ -z "$out" ] || cp "$results" "$out"

# --- report ----------------------------------------------------------------------------------
echo "# zkv vs Redis on loopback: $(machine)"
echo "# $clients clients, $size-byte values, $keys keys, $requests requests per test," \
  "median of $runs runs; p50/p99 are the medians of the runs' percentiles (ms)"
python3 - "$results" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
systems = []
for r in rows:
    if r["system"] not in systems:
        systems.append(r["system"])
fmt = "{:<8} {:>2}  {:<10} {:>12} {:>8} {:>8} {:>10}"
print(fmt.format("test", "P", "system", "ops/s", "p50", "p99", "zkv/redis"))
for test in ("SET/PUT", "GET"):
    for p in ("1", "16"):
        base = None
        for s in systems:
            sel = [r for r in rows if r["system"] == s and r["test"] == test and r["pipeline"] == p]
            if not sel:
                print(fmt.format(test, p, s, "-", "-", "-", "-"))
                continue
            med = lambda k: statistics.median(float(r[k]) for r in sel)
            ops = med("ops_per_sec")
            if s == "redis":
                base = ops
                ratio = ""
            else:
                ratio = "%.3f" % (ops / base) if base else "-"
            print(fmt.format(test, p, s, "%.0f" % ops, "%.3f" % med("p50_ms"),
                             "%.3f" % med("p99_ms"), ratio))
for p in ("1", "16"):
    put = {}
    for s in ("zkv-1n-r1", "zkv-3n-r3"):
        sel = [float(r["ops_per_sec"]) for r in rows
               if r["system"] == s and r["test"] == "SET/PUT" and r["pipeline"] == p]
        put[s] = statistics.median(sel) if sel else 0
    if put["zkv-1n-r1"]:
        print("PUT -P %-2s zkv-3n-r3 / zkv-1n-r1: %.3f" % (p, put["zkv-3n-r3"] / put["zkv-1n-r1"]))
PY
echo "# every run (ops/s, p50 ms, p99 ms):"
tail -n +2 "$results" | cut -d, -f1-3,7- | sed 's/^/#   /'
