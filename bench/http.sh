#!/usr/bin/env bash
# http.sh [--seconds S] [--runs N]: zkv-http-gateway measured with wrk (Debian's, installed
# when missing) against its own GET /kv/KEY: a 3-node cluster (--replicas 3) with 10,000
# keys of 100 bytes, the gateway with 8 threads, wrk with 2 threads and 50 connections for S
# seconds (20) on one key and then on a rotating set of keys (a Lua script), N runs (3). For
# scale, zkv-bench's GET on the same cluster and key set (50 clients, pipeline 1) runs in
# the same loop. Prints the medians: requests/s and latency (p50, p99) of each.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds=20
runs=3
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="${2:?}"; shift 2 ;;
    --runs) runs="${2:?}"; shift 2 ;;
    *) echo "http: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
find_bin
if ! command -v wrk >/dev/null; then
  log "installing wrk (Debian's package)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >&2 ||
    die "wrk is needed: apt-get install wrk"
fi
start_zookeeper
start_cluster http 3 3
"$bin/bench/zkv-bench" --zk "$zk" --cluster http -c 50 -d 100 -r 10000 --no-key-prefix-hash -t load -q >/dev/null
free_port port
start gateway "$bin/client/examples/http-gateway/zkv-http-gateway" --zk "$zk" --cluster http \
  --listen-port "$port" --threads 8
wait_for 20 curl -s -o /dev/null "http://127.0.0.1:$port/kv/x" || die "the gateway did not answer"
cat >"$tmp/keys.lua" <<'LUA'
-- GET /kv/key:000000000000 .. key:000000009999 in turn (zkv-bench's load keys)
local n = 0
request = function()
  n = (n + 1) % 10000
  return wrk.format("GET", string.format("/kv/key%%3A%012d", n))
end
LUA
out="$tmp/http.csv"
echo "what,run,rps,p50_ms,p99_ms" >"$out"
wrk_run() { # wrk_run NAME RUN ARGS...
  local name="$1" run="$2"
  shift 2
  wrk -t2 -c50 -d"${seconds}s" --latency "$@" >"$tmp/wrk.txt"
  if grep -q "Non-2xx" "$tmp/wrk.txt"; then
    die "$name: answers that were not 200: $(grep Non-2xx "$tmp/wrk.txt")"
  fi
  awk -v w="$name" -v r="$run" '
    /Requests\/sec:/ { rps = $2 }
    /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
    function ms(x) { if (x ~ /us$/) return x / 1000; if (x ~ /ms$/) return x + 0; if (x ~ /s$/) return x * 1000; return x }
    END { printf "%s,%s,%s,%.3f,%.3f\n", w, r, rps, ms(p50), ms(p99) }' "$tmp/wrk.txt" >>"$out"
}
for run in $(seq 1 "$runs"); do
  log "run $run: wrk, one key"
  wrk_run "gateway GET one key" "$run" "http://127.0.0.1:$port/kv/key%3A000000000042"
  log "run $run: wrk, 10,000 keys"
  wrk_run "gateway GET 10000 keys" "$run" -s "$tmp/keys.lua" "http://127.0.0.1:$port"
  log "run $run: zkv-bench GET"
  "$bin/bench/zkv-bench" --zk "$zk" --cluster http -c 50 -d 100 -r 10000 --no-key-prefix-hash \
    -t get --duration "$seconds" --csv | awk -F, -v r="$run" '$1 == "GET" {
      printf "zkv-bench GET (libzkv direct),%s,%s,%s,%s\n", r, $4, $12, $14 }' >>"$out"
done
echo "# zkv-http-gateway (8 threads) with wrk -t2 -c50 against a 3-node cluster: $(machine)"
echo "# median of $runs runs of $seconds s"
python3 - "$out" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for what in dict.fromkeys(r["what"] for r in rows):
    rs = [r for r in rows if r["what"] == what]
    med = lambda k: statistics.median(float(r[k]) for r in rs)
    print("%-34s %10.0f req/s   p50 %6.2f ms   p99 %6.2f ms" % (what, med("rps"), med("p50_ms"), med("p99_ms")))
PY
