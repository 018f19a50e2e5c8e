#!/usr/bin/env bash
# ab.sh BUILD_A BUILD_B [ROUNDS]: two builds of zkv against each other in one run, to show
# what a change costs. Each round starts, against one ZooKeeper, a fresh 1-node cluster
# (--replicas 1) and a 3-node one (--replicas 3) of build A, then of build B, and runs
# zkv-bench -c 50 -d 100 -r 100000 -P 1 -t put,get -n 100000 on each; the builds
# alternate so they share whatever the machine does meanwhile. Prints every round's ops/s
# and the median per build. BUILD_A and BUILD_B are build trees (scripts/build.sh
# release, or cmake of an older commit in a git worktree). Kills everything it started,
# by pid, when it exits.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -ge 2 ] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
build_a="$(cd "$1" && pwd)"
build_b="$(cd "$2" && pwd)"
rounds="${3:-3}"
case "$rounds" in *[!0-9]*|"") echo "ab: ROUNDS is a number" >&2; exit 2 ;; esac

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
start_zookeeper
n=0
for r in $(seq 1 "$rounds"); do
  for v in A B; do
    if [ "$v" = A ]; then bin="$build_a"; else bin="$build_b"; fi
    for nodes in 1 3; do
      n=$((n + 1))
      log "round $r of $rounds: build $v, $nodes node(s)"
      start_cluster "ab$n" "$nodes" "$nodes"
      bench_zkv "$v-${nodes}n" "ab$n" "$r" 50 100 100000 1 put,get -n 100000
      stop "${cluster_pids[@]}"
    done
  done
done
stop "$zk_pid"

echo "# A: $build_a; B: $build_b; $(machine)"
python3 - "$results" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for test in ("SET/PUT", "GET"):
    for nodes in ("1n", "3n"):
        line = [test, nodes]
        for v in ("A", "B"):
            ops = [float(r["ops_per_sec"]) for r in rows
                   if r["system"] == v + "-" + nodes and r["test"] == test]
            line.append(" / ".join("%.0f" % o for o in ops) +
                        (" (median %.0f)" % statistics.median(ops) if ops else ""))
        print("%-8s %s  A: %s  B: %s" % tuple(line))
PY
