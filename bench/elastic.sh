#!/usr/bin/env bash
# elastic.sh [--keys N] [--duration SEC] [--rate OPS] [--clients N]: the cluster changes
# shape while zkv-bench runs against it (issue 10's "done when"): 3 nodes grow to 5, are
# drained back to 3 (zkv admin drain, then SIGTERM), and the 3 are restarted one by one
# (SIGTERM, start again, wait until every range is served and in sync), under YCSB-A
# (50% read, 50% update, 100-byte values) at --rate ops/s (default 2000) for --duration
# seconds (default 90; it must outlast the changes, which are logged with their times).
#
# Passes when zkv-bench reports 0 failed requests, every key of the load reads back
# (a scan of the whole key space finds all --keys keys, default 200000), every range ends
# with an owner and 2 in-sync replicas, and owners end balanced (no node owns 2 more
# than another). Prints zkv-bench's result line and the shape at the end. Builds the
# release tree unless ZKV_BUILD_DIR names a built one; kills everything it started, by
# pid, when it exits. Exit 0 on pass, 1 on fail.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
keys=200000
duration=90
rate=2000
clients=20

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) keys="${2:?}"; shift 2 ;;
    --duration) duration="${2:?}"; shift 2 ;;
    --rate) rate="${2:?}"; shift 2 ;;
    --clients) clients="${2:?}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "elastic: unknown argument '$1'" >&2; usage ;;
  esac
done
case "$keys$duration$rate$clients" in *[!0-9]*) echo "elastic: the flags take numbers" >&2; exit 2 ;; esac

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
find_bin

name=elastic
t0=$(date +%s)
say() { log "[$(($(date +%s) - t0)) s] $*"; }
zkv() { "$bin/repl/zkv" --zk "$zk" --cluster "$name" "$@"; }

declare -A node_pid node_port
# start_node I: zkv-server node-I on a free port (the same port when it restarts).
start_node() {
  local i="$1"
  [ -n "${node_port[$i]:-}" ] || free_port "node_port[$i]"
  start "node-$i" "$bin/server/zkv-server" --zk "$zk" --cluster "$name" --id "node-$i" \
    --listen "127.0.0.1:${node_port[$i]}" --data-dir "$tmp/node-$i" --log-level info
  node_pid[$i]=$started
}
# stop_node I: SIGTERM (the node hands its ranges off first) and wait for it.
stop_node() { stop "${node_pid[$1]}"; unset "node_pid[$1]"; }

# settled NODES: NODES live nodes, every range owned by one of them with 2 in-sync
# replicas, no operation in progress, owners within one of each other.
settled() {
  local json ops
  json="$(zkv --json ranges 2>/dev/null)" || return 1
  ops="$(zkv --json admin status 2>/dev/null)" || return 1
  python3 - "$1" "$json" "$ops" <<'PY'
import json, sys
want = int(sys.argv[1])
doc = json.loads(sys.argv[2])
ranges = doc["ranges"] if isinstance(doc, dict) else doc
ops = json.loads(sys.argv[3])
owners = {}
for r in ranges:
    if not r.get("owner") or len(r.get("in_sync", [])) < 2 or r.get("handoff"):
        sys.exit(1)
    owners[r["owner"]] = owners.get(r["owner"], 0) + 1
if len(owners) != want or ops.get("operations"):
    sys.exit(1)
sys.exit(0 if max(owners.values()) - min(owners.values()) <= 1 else 1)
PY
}

wait_settled() {
  wait_for 180 settled "$1" || die "not settled with $1 nodes within 180 s: $(zkv ranges 2>&1 | head -20)"
  say "settled: $1 nodes, owners balanced, every range in sync"
}

start_zookeeper
for i in 1 2 3; do start_node "$i"; done
start coordinator "$bin/coordinator/zkv-coordinator" --zk "$zk" --cluster "$name" \
  --replicas 3 --min-nodes 3 --rebalance-delay-ms 5000 --log-level info
wait_settled 3
"$bin/bench/zkv-bench" --zk "$zk" --cluster "$name" -c "$clients" -d 100 -r "$keys" -t load -q \
  >/dev/null 2>"$tmp/load.err" || die "load failed: $(head -c 300 "$tmp/load.err")"
say "loaded $keys keys"

"$bin/bench/zkv-bench" --zk "$zk" --cluster "$name" -c "$clients" -d 100 -r "$keys" \
  --workload a --rate "$rate" --duration "$duration" --json >"$tmp/bench.json" 2>"$tmp/bench.err" &
bench_pid=$!
pids+=("$bench_pid")
say "zkv-bench YCSB-A at $rate ops/s for $duration s started"

start_node 4
start_node 5
say "node-4 and node-5 started"
wait_settled 5
for i in 4 5; do
  op="$(zkv admin drain "node-$i" 2>/dev/null | head -n 1)"
  zkv admin wait "$op" 300 >/dev/null || die "drain of node-$i: $(zkv admin status)"
  say "node-$i drained ($op)"
  stop_node "$i"
  say "node-$i stopped"
done
wait_settled 3
for i in 1 2 3; do
  stop_node "$i"
  start_node "$i"
  say "node-$i restarted"
  wait_settled 3
done
kill -0 "$bench_pid" 2>/dev/null || die "zkv-bench ended before the changes did: raise --duration"

bench_rc=0
wait "$bench_pid" || bench_rc=$?
say "zkv-bench done (exit $bench_rc)"
cat "$tmp/bench.json"
errors="$(python3 -c 'import json,sys; print(sum(json.loads(l).get("errors",0) for l in open(sys.argv[1]) if l.strip()))' "$tmp/bench.json")"
found="$(zkv scan limit "$((keys * 2))" 2>/dev/null | grep -c 'key:' || true)"
echo "# $(machine)"
echo "# commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown): failed requests $errors, keys found $found of $keys"
zkv nodes
fail=0
if [ "$bench_rc" -ne 0 ] || [ "$errors" -ne 0 ]; then
  log "FAIL: zkv-bench reported $errors failed requests (exit $bench_rc)"
  fail=1
fi
[ "$found" -eq "$keys" ] || { log "FAIL: $found of $keys keys read back"; fail=1; }
settled 3 || { log "FAIL: not balanced at the end"; fail=1; }
[ "$fail" -eq 0 ] && say "PASS"
exit "$fail"
