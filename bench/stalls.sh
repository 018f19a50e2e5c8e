#!/usr/bin/env bash
# stalls.sh [--size BYTES] [--rate OPS] [--duration SEC] [--keys N] [--server-flags "FLAGS"]:
# do writes at a steady rate wait for LevelDB's compactions? One node (--replicas 1, with
# --metrics) takes PUTs of --size-byte values (default 10000) at --rate per second (default
# 2000) from 50 clients for --duration seconds (default 60) over --keys keys (default
# 100,000), open loop (zkv-bench --rate: latency counts from when a request was due). Then
# prints the PUTs' p50, p99, p99.9 and max, and what the node's metrics say of its LevelDB
# writes (docs/metrics.md): the longest, how many took 100 ms or more, the waits by cause,
# level 0's files, and compaction work; and the node's own view of the PUTs (decoded to
# answered: a loop-thread stall before a request is read is not in it). --server-flags go
# to zkv-server (e.g. "--write-buffer-mb 64"). Data under ZKV_BENCH_TMP (/tmp); builds the
# release tree unless ZKV_BUILD_DIR names a built tree; kills everything it started, by
# pid, when it exits.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
size=10000 rate=2000 duration=60 keys=100000 flags=""
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size="${2:?}"; shift 2 ;;
    --rate) rate="${2:?}"; shift 2 ;;
    --duration) duration="${2:?}"; shift 2 ;;
    --keys) keys="${2:?}"; shift 2 ;;
    --server-flags) flags="${2-}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "stalls: unknown argument '$1'" >&2; usage ;;
  esac
done
case "$size$rate$duration$keys" in *[!0-9]*) echo "stalls: numbers expected" >&2; exit 2 ;; esac

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
find_bin
start_zookeeper
metrics_port="" # set by free_port
free_port metrics_port
server_flags="--metrics 127.0.0.1:$metrics_port $flags"
start_cluster stalls 1 1
log "PUT of $size-byte values at $rate/s for $duration s, zkv-server $server_flags"
"$bin/bench/zkv-bench" --zk "$zk" --cluster stalls -c 50 -d "$size" -r "$keys" -t put \
  --rate "$rate" --duration "$duration" --csv >"$tmp/bench.csv" 2>"$tmp/bench.err" ||
  log "zkv-bench reported failures: $(head -c 300 "$tmp/bench.err")"
curl -sf "http://127.0.0.1:$metrics_port/metrics" >"$tmp/metrics.txt" || die "no metrics from the node"
stop "${cluster_pids[@]}" "$zk_pid"

echo "# stalls.sh --size $size --rate $rate --duration $duration --keys $keys --server-flags \"$flags\": $(machine)"
python3 - "$tmp/bench.csv" "$tmp/metrics.txt" <<'PY'
import csv, re, sys
row = next(r for r in csv.DictReader(open(sys.argv[1])) if r["test"] == "PUT")
m = {}
for line in open(sys.argv[2]):
    if line.startswith("#"):
        continue
    k, v = line.rsplit(" ", 1)
    m[k] = float(v)
def g(k):
    return m.get(k, 0.0)
buckets = [(float(re.search(r'le="([^"]+)"', k).group(1)), v) for k, v in m.items()
           if k.startswith("zkv_leveldb_write_duration_seconds_bucket") and "+Inf" not in k]
count = g("zkv_leveldb_write_duration_seconds_count")
under_100ms = max((v for le, v in buckets if le <= 0.1), default=0)
print("PUT: %.0f ops/s (target %s), p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.1f ms, errors %s"
      % (float(row["ops_per_sec"]), row["target_rate"], float(row["p50_ms"]), float(row["p99_ms"]),
         float(row["p99_9_ms"]), float(row["max_ms"]), row["errors"]))
# the node's own view of the PUTs (decoded to answered), from its histogram
hb = sorted((float(re.search(r'le="([^"]+)"', k).group(1)), v) for k, v in m.items()
            if k.startswith('zkv_request_duration_seconds_bucket{op="put"') and "+Inf" not in k)
n = g('zkv_request_duration_seconds_count{op="put"}')
def q(x):
    return next((le for le, v in hb if v >= x * n), float("inf")) * 1000
print("the node's PUT latency (decoded to answered): p50 <= %g ms, p99 <= %g ms, p99.9 <= %g ms"
      % (q(0.5), q(0.99), q(0.999)))
print("LevelDB writes: %d, longest %.1f ms, %d took over 100 ms" %
      (count, g("zkv_leveldb_write_max_seconds") * 1000, count - under_100ms))
print("waits (count, seconds):", ", ".join(
    "%s %d %.2f" % (c, g('zkv_leveldb_write_waits_total{cause="%s"}' % c),
                    g('zkv_leveldb_write_wait_seconds_total{cause="%s"}' % c))
    for c in ("level0_slowdown", "level0_stop", "memtable", "sync")))
print("level 0 files now %d; compaction %.1f s, %.0f MiB written" %
      (g('zkv_leveldb_files{level="0"}'), g("zkv_leveldb_compaction_seconds_total"),
       g("zkv_leveldb_compaction_written_bytes_total") / 1048576))
PY
