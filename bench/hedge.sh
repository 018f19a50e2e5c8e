#!/usr/bin/env bash
# hedge.sh [--runs N] [--seconds S] [--pause-ms MS] [--every-ms MS] [--out FILE]: what hedged
# reads buy when a node stalls (a GC pause, a slow disk, a noisy neighbour), measured as
# GET latency on a 3-node cluster (--replicas 3) with one node stopped (SIGSTOP) for
# --pause-ms (100) every --every-ms (1000), its sessions untouched, against the same
# cluster without stalls. Each run measures GETs of 100-byte values over 100,000 keys for
# --seconds (20) with 50 clients at a fixed rate (open loop, 5,000 ops/s: a stall shows as
# latency, not as fewer requests), reading from the owner (the default) and hedged after
# 10 ms (--read hedge), no stall then stalls, the modes alternating. Prints per mode the
# median of the runs' ops/s, p50, p99 and p99.9 (a hedged answer a replica gave is stale:
# docs/api.md, "Replica reads"). --out FILE keeps every run as CSV. Builds the release
# tree unless ZKV_BUILD_DIR names a built tree; kills everything it started, by pid, when
# it exits.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs=3
seconds=20
pause_ms=100
every_ms=1000
out=""
clients=50
size=100
keys=100000
rate=5000

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="${2:?}"; shift 2 ;;
    --seconds) seconds="${2:?}"; shift 2 ;;
    --pause-ms) pause_ms="${2:?}"; shift 2 ;;
    --every-ms) every_ms="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "hedge: unknown argument '$1'" >&2; usage ;;
  esac
done
case "$runs$seconds$pause_ms$every_ms" in
  *[!0-9]*) echo "hedge: --runs, --seconds, --pause-ms and --every-ms take numbers" >&2; exit 2 ;;
esac
[ "$pause_ms" -lt "$every_ms" ] || { echo "hedge: --pause-ms must be below --every-ms" >&2; exit 2; }

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
find_bin

# staller PID: stops PID for pause_ms every every_ms until killed; always leaves it running.
staller() {
  local pid="$1" p e
  p="$(awk -v m="$pause_ms" 'BEGIN { printf "%.3f", m / 1000 }')"
  e="$(awk -v m="$every_ms" -v q="$pause_ms" 'BEGIN { printf "%.3f", (m - q) / 1000 }')"
  trap 'kill -CONT "$pid" 2>/dev/null; exit 0' TERM
  while kill -0 "$pid" 2>/dev/null; do
    sleep "$e"
    kill -STOP "$pid" 2>/dev/null || break
    sleep "$p"
    kill -CONT "$pid" 2>/dev/null || break
  done
}

start_zookeeper
log "ZooKeeper on $zk"
start_cluster hedge 3 3
log "loading $keys keys"
"$bin/bench/zkv-bench" --zk "$zk" --cluster hedge -c "$clients" -d "$size" -r "$keys" -t load \
  -q >/dev/null
victim="${cluster_pids[0]}" # node-1, the owner of about a third of the ranges

results_hedge="$tmp/hedge.csv"
echo "mode,stall,run,ops_per_sec,p50_ms,p99_ms,p99_9_ms,errors" >"$results_hedge"
for run in $(seq 1 "$runs"); do
  for stall in none stall; do
    staller_pid=""
    if [ "$stall" = stall ]; then
      staller "$victim" &
      staller_pid=$!
      pids+=("$staller_pid")
    fi
    for mode in owner hedge; do
      log "run $run, $stall, --read $mode"
      "$bin/bench/zkv-bench" --zk "$zk" --cluster hedge -c "$clients" -d "$size" -r "$keys" \
        -t get --duration "$seconds" --rate "$rate" --read "$mode" --hedge-ms 10 --csv \
        2>"$tmp/zkv-bench.err" |
        awk -F, -v m="$mode" -v s="$stall" -v r="$run" '$1 == "GET" {
          printf "%s,%s,%s,%s,%s,%s,%s,%s\n", m, s, r, $4, $12, $14, $15, $5 }' \
          >>"$results_hedge" || log "zkv-bench reported failures: $(head -c 300 "$tmp/zkv-bench.err")"
    done
    if [ -n "$staller_pid" ]; then
      stop "$staller_pid"
      kill -CONT "$victim" 2>/dev/null || true
    fi
  done
done
stop "${cluster_pids[@]}"
stop "$zk_pid"

[ -z "$out" ] || cp "$results_hedge" "$out"

echo "# hedged GETs (10 ms) against owner GETs, one of 3 nodes stopped ${pause_ms} ms every" \
  "${every_ms} ms: $(machine)"
echo "# $clients clients at $rate GET/s (open loop), $size-byte values, $keys keys, $seconds s" \
  "a run, median of $runs runs (ms)"
python3 - "$results_hedge" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
fmt = "{:<6} {:<6} {:>9} {:>8} {:>8} {:>9} {:>7}"
print(fmt.format("stall", "read", "ops/s", "p50", "p99", "p99.9", "errors"))
for stall in ("none", "stall"):
    for mode in ("owner", "hedge"):
        rs = [r for r in rows if r["mode"] == mode and r["stall"] == stall]
        if not rs:
            continue
        med = lambda k: statistics.median(float(r[k]) for r in rs)
        print(fmt.format(stall, mode, "%.0f" % med("ops_per_sec"), "%.2f" % med("p50_ms"),
                         "%.2f" % med("p99_ms"), "%.2f" % med("p99_9_ms"),
                         "%d" % sum(int(r["errors"]) for r in rs)))
PY
