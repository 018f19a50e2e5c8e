#!/usr/bin/env bash
# cpu.sh [--nodes-a N] [--nodes-b N] [--pipeline P] BUILD_A BUILD_B [VALUE_BYTES] [KEYS] [OPS] [ROUNDS]
# [TEST]: what one request costs the nodes, two builds (or two cluster sizes) against each
# other in one run. Throughput on this machine swings 2x from run to run; the CPU time the
# nodes spend per request does not. Each round starts a fresh cluster of build A (N nodes,
# --replicas N; 1 unless --nodes-a), then of build B (--nodes-b), loads KEYS keys (default
# 2000) of VALUE_BYTES (default 100000), runs 5000 requests of TEST (get, the default, or
# put) to warm up, then OPS more (default 40000; zkv-bench -c 50 -P P, P 1 unless
# --pipeline) and reads the user and system CPU of every node (/proc/PID/stat) before and
# after. Prints, per build and round, the rate and the nodes' CPU microseconds per request
# (all nodes together), then the medians and B over A. Kills everything it started, by pid,
# when it exits.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
nodes_a=1 nodes_b=1 pipeline=1
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes-a) nodes_a="${2:?}"; shift 2 ;;
    --nodes-b) nodes_b="${2:?}"; shift 2 ;;
    --pipeline) pipeline="${2:?}"; shift 2 ;;
    *) break ;;
  esac
done
[ $# -ge 2 ] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
build_a="$(cd "$1" && pwd)"
build_b="$(cd "$2" && pwd)"
size="${3:-100000}" keys="${4:-2000}" ops="${5:-40000}" rounds="${6:-3}" test="${7:-get}"
case "$size$keys$ops$rounds$nodes_a$nodes_b$pipeline" in *[!0-9]*) echo "cpu: numbers expected" >&2; exit 2 ;; esac
case "$test" in get|put) ;; *) echo "cpu: TEST is get or put" >&2; exit 2 ;; esac

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
start_zookeeper
n=0
rows="$tmp/cpu.csv"
for r in $(seq 1 "$rounds"); do
  for v in A B; do
    if [ "$v" = A ]; then bin="$build_a" nodes="$nodes_a"; else bin="$build_b" nodes="$nodes_b"; fi
    n=$((n + 1))
    log "round $r of $rounds: build $v, $nodes node(s)"
    start_cluster "cpu$n" "$nodes" "$nodes"
    node_pids=("${cluster_pids[@]:0:$nodes}") # (the last pid is the coordinator)
    run() {
      "$bin/bench/zkv-bench" --zk "$zk" --cluster "cpu$n" -c 50 -d "$size" -r "$keys" \
        -P "$pipeline" -t "$1" -n "$2" --csv 2>"$tmp/zkv-bench.err"
    }
    run put "$keys" >/dev/null
    run "$test" 5000 >/dev/null
    c0="$(cpu_ticks "${node_pids[@]}")"
    rate="$(run "$test" "$ops" | awk -F, 'toupper($1) == toupper(t) { print $4 }' t="$test")"
    c1="$(cpu_ticks "${node_pids[@]}")"
    us="$(cpu_us_per "$c0" "$c1" "$ops")"
    echo "$v,$r,$rate,$us" >>"$rows"
    stop_cluster # (a 3-node round took twice the CPU per PUT after two others' files)
  done
done
stop "$zk_pid"

echo "# A: $build_a ($nodes_a node(s)); B: $build_b ($nodes_b node(s)); $(machine); ${test^^} of $size-byte values, $keys keys, $ops requests, pipeline $pipeline"
python3 - "$rows" <<'PY'
import csv, statistics, sys
rows = list(csv.reader(open(sys.argv[1])))
print("build round     req/s  nodes' us/req")
for b, r, rate, us in rows:
    print(f"{b:<5} {r:>5} {float(rate or 0):>9.0f} {float(us):>12.1f}")
med = {b: statistics.median(float(x[3]) for x in rows if x[0] == b) for b in ("A", "B")}
print(f"median nodes' us/req: A {med['A']:.1f}, B {med['B']:.1f}, B/A {med['B'] / med['A']:.2f}")
PY
