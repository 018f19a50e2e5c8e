#!/usr/bin/env bash
# restart_check.sh [--keys N] [--size BYTES] [--writes S] [--cold]: what the value log's
# check after a machine restart costs on N keys (default 1,000,000) of BYTES (default
# 2000, above --inline-max-bytes: every value in the value log). Loads them into a 1-node
# cluster (zkv-bench -t load -P 16), overwrites random keys for --writes seconds (default
# 20; 0: none) and kills the node with SIGKILL while they go on (its last writes, up to
# the ten seconds between durability marks, lie beyond the mark), gives its data dir
# another boot id (as a machine restart would), starts it again and reads from its log how
# many records the check went through, how many values it read back and how long it took
# (docs/internals.md, "After a machine restart"). --cold (root only) writes the page cache
# back and drops it before the restart, so the check reads from disk as after a real one.
# Data under ZKV_BENCH_TMP (/tmp); builds the release tree unless ZKV_BUILD_DIR names one;
# kills everything it started, by pid, when it exits.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
keys=1000000 size=2000 cold=0 writes=20
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) keys="${2:?}"; shift 2 ;;
    --size) size="${2:?}"; shift 2 ;;
    --cold) cold=1; shift ;;
    --writes) writes="${2:?}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "restart_check: unknown argument '$1'" >&2; usage ;;
  esac
done
case "$keys$size$writes" in *[!0-9]*) echo "restart_check: numbers expected" >&2; exit 2 ;; esac

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
find_bin
start_zookeeper
start_cluster rc 1 1
node_pid="${cluster_pids[0]}"
node_args=(--zk "$zk" --cluster rc --id node-1 --data-dir "$tmp/rc-node-1" --log-level info)

log "loading $keys keys of $size bytes"
t0=$(date +%s.%N)
"$bin/bench/zkv-bench" --zk "$zk" --cluster rc -c 50 -d "$size" -r "$keys" -P 16 -t load -q \
  >"$tmp/load.txt" 2>&1 || die "load failed: $(tail -n 3 "$tmp/load.txt")"
t1=$(date +%s.%N)
if [ "$writes" -gt 0 ]; then
  log "overwriting random keys for $writes s, then SIGKILL while they go on"
  "$bin/bench/zkv-bench" --zk "$zk" --cluster rc -c 50 -d "$size" -r "$keys" -P 1 -t put \
    --duration $((writes + 60)) -q >"$tmp/writes.txt" 2>&1 &
  writer=$!
  sleep "$writes" # the kill point: a workload's length, not a wait for a condition
fi
kill -KILL "$node_pid"
stop "$node_pid"
[ -z "${writer:-}" ] || { kill "$writer" 2>/dev/null; wait "$writer" 2>/dev/null || true; }
disk=$(du -sb "$tmp/rc-node-1" | cut -f1)

# another boot id: the node must take this start for one after a machine restart
cat /proc/sys/kernel/random/uuid >"$tmp/rc-node-1/boot_id"
if [ "$cold" = 1 ]; then
  [ "$(id -u)" -eq 0 ] || die "--cold drops the page cache: run as root"
  sync
  echo 3 >/proc/sys/vm/drop_caches
fi
free_port port
log "starting the node again"
start rc-node-1-again "$bin/server/zkv-server" "${node_args[@]}" --listen "127.0.0.1:$port"
line() { grep -m 1 "the check went through" "$tmp/rc-node-1-again.log"; }
wait_for 1800 line || die "no check in the log: $(tail -n 5 "$tmp/rc-node-1-again.log")"
echo "# restart check: $(machine)"
awk -v n="$keys" -v a="$t0" -v b="$t1" -v d="$disk" -v s="$size" -v c="$cold" 'BEGIN {
  printf "keys %d of %d bytes, loaded at %.0f keys/s; data dir %.2f GB; page cache %s\n",
    n, s, n / (b - a), d / 1e9, c ? "dropped" : "kept" }'
line | sed 's/.*value log: //'
