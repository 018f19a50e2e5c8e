#!/usr/bin/env bash
# cpu_redis.sh [VALUE_BYTES] [KEYS] [OPS] [ROUNDS] [TEST]: what one request costs Redis and
# a 1-node zkv cluster, server and client apart, measured in turns in one run. On a 2-CPU
# machine the benchmark client shares the CPUs with the server, and both servers answer
# from one thread, so the ratio of their rates follows the ratio of what a request costs
# them. Starts redis-server (no persistence), a ZooKeeper and a 1-node cluster
# (--replicas 1); each round runs redis-benchmark, then zkv-bench, with 50 clients at
# pipeline 1: first KEYS writes (default 10000) of VALUE_BYTES (default 100000), then OPS
# (default 20000) requests of TEST (put, the default, or get), reading the servers' user and
# system CPU (/proc/PID/stat, all threads) around the measured part, and the client's
# with /usr/bin/time. Prints per round the rates and the microseconds of CPU per request,
# then the medians and zkv over Redis. Kills everything it started, by pid, when it exits.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
size="${1:-100000}" keys="${2:-10000}" ops="${3:-20000}" rounds="${4:-3}" test="${5:-put}"
case "$size$keys$ops$rounds" in *[!0-9]*) echo "cpu_redis: numbers expected" >&2; exit 2 ;; esac
case "$test" in get) rtest="get" ;; put) rtest="set" ;; *) echo "cpu_redis: TEST is get or put" >&2; exit 2 ;; esac

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
need_redis
find_bin
[ -x /usr/bin/time ] || die "needs /usr/bin/time (apt-get install time)"
start_redis
start_zookeeper
start_cluster cpu-redis 1 1
node="${cluster_pids[0]}"
rows="$tmp/cpu.csv"
# measure SYSTEM SERVER-PID CLIENT...: the client's rate (its CSV's 4th field for zkv-bench,
# 2nd for redis-benchmark), the server's and the client's CPU per request.
measure() {
  local sys="$1" pid="$2" c0 c1 rate
  shift 2
  c0="$(cpu_ticks "$pid")"
  rate="$(/usr/bin/time -o "$tmp/time" -f "%U %S" "$@" 2>"$tmp/client.err" | tr -d '"' |
    awk -F, -v s="$sys" 'toupper($1) == "PUT" || toupper($1) == "SET" || toupper($1) == "GET" {
      print (s == "redis" ? $2 : $4) }')"
  c1="$(cpu_ticks "$pid")"
  echo "$sys,$r,$rate,$(cpu_us_per "$c0" "$c1" "$ops"),$(awk -v n="$ops" '{ printf "%.1f", ($1 + $2) * 1e6 / n }' "$tmp/time")" >>"$rows"
}
for r in $(seq 1 "$rounds"); do
  log "round $r of $rounds"
  fill redis - "$size" "$keys" "$keys"
  measure redis "$redis_pid" redis-benchmark -h 127.0.0.1 -p "$redis_port" -c 50 -d "$size" \
    -r "$keys" -P 1 -t "$rtest" -n "$ops" --csv
  fill zkv cpu-redis "$size" "$keys" "$keys"
  measure zkv "$node" "$bin/bench/zkv-bench" --zk "$zk" --cluster cpu-redis -c 50 -d "$size" \
    -r "$keys" -P 1 -t "$test" -n "$ops" --csv
done
stop_cluster
stop "$redis_pid"
stop "$zk_pid"

echo "# Redis and 1 zkv node, in turns; $(machine); ${test^^} of $size-byte values, $keys keys, $ops requests, 50 clients, pipeline 1"
python3 - "$rows" <<'PY'
import csv, statistics, sys
rows = list(csv.reader(open(sys.argv[1])))
print("system round     req/s  server us/req  client us/req")
for s, r, rate, us, cl in rows:
    print(f"{s:<6} {r:>5} {float(rate or 0):>9.0f} {float(us):>14.1f} {float(cl):>14.1f}")
med = {s: [statistics.median(float(x[k]) for x in rows if x[0] == s) for k in (2, 3, 4)]
       for s in ("redis", "zkv")}
print("median: Redis %.0f/s, server %.1f us, client %.1f us; zkv %.0f/s, server %.1f us, client %.1f us"
      % (*med["redis"], *med["zkv"]))
print("zkv/Redis: rate %.2fx, server CPU per request %.2fx, client CPU per request %.2fx"
      % tuple(med["zkv"][k] / med["redis"][k] for k in range(3)))
PY
