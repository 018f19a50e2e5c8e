#!/usr/bin/env bash
# footprint.sh [--keys N] [--size BYTES] [--cache-mb MB] [--requests N]: a data set larger
# than zkv's caches, and what it costs in memory and disk beside Redis. Loads --keys keys
# (default 20,000,000) of --size bytes (default 100) into redis-server (no persistence,
# through redis-cli --pipe) and into a 1-node zkv cluster (--replicas 1, zkv-bench -t load
# at pipeline 16, each key once, in order), one system at a time; then 50 clients GET
# --requests (default 200,000) random keys of the set at pipeline 1 from each. zkv runs
# with --cache-mb (default 64: with LevelDB's 32 MiB block cache, well under a tenth of
# the data). Prints per system: load rate, GET rate, p50, p99, and per key the resident
# memory (Redis: used_memory and RSS; zkv: the node's RSS) and zkv's bytes on disk. Data
# under ZKV_BENCH_TMP (/tmp); builds the release tree unless ZKV_BUILD_DIR names a built
# tree; kills everything it started, by pid, when it exits.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
keys=20000000 size=100 cache_mb=64 requests=200000
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) keys="${2:?}"; shift 2 ;;
    --size) size="${2:?}"; shift 2 ;;
    --cache-mb) cache_mb="${2:?}"; shift 2 ;;
    --requests) requests="${2:?}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "footprint: unknown argument '$1'" >&2; usage ;;
  esac
done
case "$keys$size$cache_mb$requests" in *[!0-9]*) echo "footprint: numbers expected" >&2; exit 2 ;; esac

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
need_redis
find_bin
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# --- Redis: the same keys ("key:%012d") and values, loaded through the pipe protocol -------
start_redis
log "loading $keys keys of $size bytes into Redis"
t0=$(date +%s.%N)
python3 - "$keys" "$size" <<'PY' | redis-cli -p "$redis_port" --pipe >"$tmp/pipe.log"
import sys
n, size = int(sys.argv[1]), int(sys.argv[2])
val = b"x" * size
out = sys.stdout.buffer
tail = b"\r\n$%d\r\n%s\r\n" % (size, val)
chunk = []
for i in range(n):
    chunk.append(b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d" % i + tail)
    if len(chunk) == 10000:
        out.write(b"".join(chunk))
        chunk = []
out.write(b"".join(chunk))
PY
t1=$(date +%s.%N)
redis_load=$(awk -v n="$keys" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
[ "$(redis-cli -p "$redis_port" dbsize)" -eq "$keys" ] || die "Redis holds $(redis-cli -p "$redis_port" dbsize) keys, not $keys"
redis_mem=$(redis-cli -p "$redis_port" info memory | awk -F: '/^used_memory:/ { print $2 + 0 }')
redis_rss=$(( $(rss_kb "$redis_pid") * 1024 ))
log "Redis GETs"
redis-benchmark -h 127.0.0.1 -p "$redis_port" -c 50 -n "$requests" -r "$keys" -t get --csv \
  2>"$tmp/rb.err" | tr -d '"' | awk -F, '$1 == "GET" { print $2, $5, $7 }' >"$tmp/redis-get.txt"
stop "$redis_pid"

# --- zkv ------------------------------------------------------------------------------------
start_zookeeper
server_flags="--cache-mb $cache_mb"
start_cluster fp 1 1
node_pid="${cluster_pids[0]}"
log "loading $keys keys of $size bytes into zkv (--cache-mb $cache_mb)"
"$bin/bench/zkv-bench" --zk "$zk" --cluster fp -c 50 -d "$size" -r "$keys" -P 16 -t load --csv \
  2>"$tmp/load.err" | awk -F, '$1 == "LOAD" { printf "%.0f\n", $4 }' >"$tmp/zkv-load.txt"
log "zkv GETs"
"$bin/bench/zkv-bench" --zk "$zk" --cluster fp -c 50 -d "$size" -r "$keys" -n "$requests" -t get \
  --csv 2>"$tmp/get.err" | awk -F, '$1 == "GET" { print $4, $12, $14, $6 }' >"$tmp/zkv-get.txt"
zkv_rss=$(( $(rss_kb "$node_pid") * 1024 ))
zkv_disk=$(du -sb "$tmp/fp-node-1" | awk '{ print $1 }')
stop "${cluster_pids[@]}" "$zk_pid"

echo "# footprint.sh --keys $keys --size $size --cache-mb $cache_mb --requests $requests: $(machine)"
read -r rget rp50 rp99 <"$tmp/redis-get.txt"
read -r zget zp50 zp99 zmiss <"$tmp/zkv-get.txt"
awk -v k="$keys" -v rl="$redis_load" -v rm="$redis_mem" -v rr="$redis_rss" -v rg="$rget" \
    -v rp50="$rp50" -v rp99="$rp99" -v zl="$(cat "$tmp/zkv-load.txt")" -v zr="$zkv_rss" \
    -v zd="$zkv_disk" -v zg="$zget" -v zp50="$zp50" -v zp99="$zp99" -v zm="$zmiss" 'BEGIN {
  printf "| system | load keys/s | GET ops/s | GET p50 ms | GET p99 ms | memory per key | disk per key |\n"
  printf "|---|---:|---:|---:|---:|---:|---:|\n"
  printf "| Redis | %.0f | %.0f | %s | %s | %.0f B (used_memory), %.0f B (RSS) | - |\n", rl, rg, rp50, rp99, rm / k, rr / k
  printf "| zkv, 1 node | %.0f | %.0f | %s | %s | %.0f B (RSS) | %.0f B |\n", zl, zg, zp50, zp99, zr / k, zd / k
  if (zm > 0) printf "(zkv: %d GETs found no key)\n", zm
}'
