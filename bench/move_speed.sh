#!/usr/bin/env bash
# move_speed.sh [--copy-rates "0 64 16"] [--runs N] [--keys N] [--value-size BYTES]
#               [--rate OPS] [--baseline SEC] [--out FILE]: how fast a range's copy moves to
# a node that has none, and what the copy costs foreground requests, per --copy-rate-mb.
#
# For each --copy-rate-mb value (default: 0 = unlimited, 64 = the default, 16) and run, on
# one ZooKeeper: a 4-node cluster (--replicas 3: every range has copies on three nodes, so
# one node holds none of it), every zkv-server with --copy-rate-mb set and --log-retain 1000
# (the owner's log no longer holds the range's whole history, so the new copy is a
# snapshot); --keys values of --value-size bytes (default 10,000 of 10 KB, about 100 MB)
# loaded into ONE range (zkv-bench -t load --no-key-prefix-hash: keys "key:%012lu" all fall
# in one range); a steady foreground load on other keys (zkv-bench --rate OPS, default
# 2,000/s, YCSB A: 50% get, 50% put, 100-byte values, 10,000 hash-prefixed keys over every
# range) measured for --baseline seconds (default 20), then again during `zkv admin move
# RANGE NODE` to the node with no copy, until NODE is in the range's in_sync (polled with
# `zkv --json ranges`; SIGUSR1 ends that zkv-bench run there); `zkv admin wait` then waits
# for the handoff. Prints the copy time (the move's submission to the owner's log line that
# puts NODE in in_sync) and MB/s, the owner's own figure for the snapshot (its "installed"
# log line), and the foreground p50/p99 during the copy against the baseline (medians per
# value when --runs > 1); the machine, the commit and the commands. --out FILE keeps the
# rows as CSV. Builds the release tree unless ZKV_BUILD_DIR names a built one; kills
# everything it started, by pid, when it exits.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
copy_rates="0 64 16"
runs=1
keys=10000
value_size=10240
rate=2000
baseline=20
out=""
fg_clients=20
fg_keys=10000
fg_size=100
warmup=2
log_retain=1000

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --copy-rates) copy_rates="${2:?}"; shift 2 ;;
    --runs) runs="${2:?}"; shift 2 ;;
    --keys) keys="${2:?}"; shift 2 ;;
    --value-size) value_size="${2:?}"; shift 2 ;;
    --rate) rate="${2:?}"; shift 2 ;;
    --baseline) baseline="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "move_speed: unknown argument '$1'" >&2; usage ;;
  esac
done
case "${copy_rates// /}$runs$keys$value_size$rate$baseline" in
  *[!0-9]*) echo "move_speed: the options take numbers" >&2; exit 2 ;;
esac

[ "$keys" -gt "$log_retain" ] || log_retain=$((keys / 2))

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
find_bin

rows="$tmp/move_speed.csv"
echo "copy_rate_mb,run,range,target,range_bytes,copy_s,copy_mb_s,snap_bytes,snap_s,snap_mb_s,base_p50_ms,base_p99_ms,base_ops_s,move_p50_ms,move_p99_ms,move_ops_s,errors,handoff_s" >"$rows"
commands=()
noting=1 # the first cluster's commands are printed at the end
note() { [ "$noting" = 0 ] || commands+=("$*"); }

zkv() { "$bin/repl/zkv" --zk "$zk" --cluster "$cluster" "$@"; }
# ranges_json: the cluster's ranges as JSON (zkv --json ranges).
ranges_json() { zkv --json ranges; }

# range_of KEY: "RANGE OWNER TARGET": the range holding KEY, its owner, and the one live
# node with no copy of it.
range_of() {
  python3 - "$1" "$(zkv --json ranges)" "$(zkv --json nodes)" <<'PY'
import json, re, sys
def unesc(s):
    return re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), s.encode())
key = sys.argv[1].encode()
rs = json.loads(sys.argv[2]); rs = rs.get("ranges", rs) if isinstance(rs, dict) else rs
ns = json.loads(sys.argv[3]); ns = ns.get("nodes", ns) if isinstance(ns, dict) else ns
for r in rs:
    s, e = unesc(r.get("start", "")), unesc(r.get("end", ""))
    if key >= s and (not e or key < e):
        held = {r["owner"], *r.get("replicas", [])}
        free = sorted(n["id"] for n in ns if n["id"] not in held)
        print(r["id"], r["owner"], free[0] if free else "-")
        sys.exit(0)
sys.exit(1)
PY
}

# synced RANGE NODE: NODE is in RANGE's in_sync, or already its owner (the handoff that
# follows can be quicker than one poll).
synced() {
  ranges_json | python3 -c '
import json, sys
rs = json.load(sys.stdin); rs = rs.get("ranges", rs) if isinstance(rs, dict) else rs
sys.exit(0 if any(r["id"] == sys.argv[1] and (sys.argv[2] in r.get("in_sync", []) or
                  r["owner"] == sys.argv[2]) for r in rs) else 1)
' "$1" "$2"
}

# fg_args: the foreground load's zkv-bench arguments (JSON on stdout).
fg_args() {
  fg=("$bin/bench/zkv-bench" --zk "$zk" --cluster "$cluster" -c "$fg_clients" -d "$fg_size"
    -r "$fg_keys" --workload a --rate "$rate" --warmup "$warmup" --json)
}

now() { date +%s.%N; }

start_zookeeper
log "ZooKeeper on $zk"
for run in $(seq 1 "$runs"); do
  for cr in $copy_rates; do
    cluster="mv-$cr-$run"
    log "$cluster: 4 nodes, --replicas 3, --copy-rate-mb $cr"
    # --log-retain below --keys: the owner's log no longer holds the range's whole history, so
    # the new copy is a snapshot (a range with a short history streams its log instead)
    server_flags="--log-level info --log-retain $log_retain --copy-rate-mb $cr"
    start_cluster "$cluster" 4 3
    note "zkv-server --zk $zk --cluster $cluster --id node-I --listen 127.0.0.1:PORT --data-dir DIR --log-level info --log-retain $log_retain --copy-rate-mb $cr   (I = 1..4)"
    note "zkv-coordinator --zk $zk --cluster $cluster --replicas 3 --min-nodes 4"
    log "loading $keys values of $value_size bytes into one range"
    t0="$(now)"
    "$bin/bench/zkv-bench" --zk "$zk" --cluster "$cluster" -c 20 -P 4 -d "$value_size" -r "$keys" \
      -t load --no-key-prefix-hash -q >/dev/null 2>"$tmp/zkv-bench.err" ||
      die "load failed: $(head -c 300 "$tmp/zkv-bench.err")"
    note "zkv-bench -c 20 -P 4 -d $value_size -r $keys -t load --no-key-prefix-hash -q"
    log "loaded in $(python3 -c "print(f'{$(now) - $t0:.1f}')") s; foreground keys"
    "$bin/bench/zkv-bench" --zk "$zk" --cluster "$cluster" -c 20 -P 16 -d "$fg_size" -r "$fg_keys" \
      -t load -q >/dev/null 2>"$tmp/zkv-bench.err" || die "load failed: $(head -c 300 "$tmp/zkv-bench.err")"
    note "zkv-bench -c 20 -P 16 -d $fg_size -r $fg_keys -t load -q"
    wait_for 60 ready "$cluster" 3 || die "$cluster: replicas not in sync after the load"
    read -r range owner target < <(range_of "key:000000000000") || die "no range holds the keys"
    [ "$target" != "-" ] || die "every node holds a copy of $range"
    log "range $range (owner $owner); $target holds no copy of it"

    log "baseline: $baseline s of YCSB-A at $rate ops/s"
    fg_args
    "${fg[@]}" --duration "$baseline" >"$tmp/base.json" 2>"$tmp/fg.err" || log "baseline reported failures: $(head -c 300 "$tmp/fg.err")"
    note "zkv-bench -c $fg_clients -d $fg_size -r $fg_keys --workload a --rate $rate --warmup $warmup --json --duration $baseline   (baseline)"

    log "moving $range to $target under the same load"
    "${fg[@]}" --duration 600 >"$tmp/move.json" 2>"$tmp/fg-move.err" &
    fg_pid=$! # zkv-bench itself: SIGUSR1 must reach it
    pids+=("$fg_pid")
    note "zkv-bench -c $fg_clients -d $fg_size -r $fg_keys --workload a --rate $rate --warmup $warmup --json --duration 600   (during the copy; ended by SIGUSR1)"
    sleep "$warmup" # the foreground's own warm-up, then the move
    t0="$(now)"
    op="$(zkv admin move "$range" "$target" 2>/dev/null | head -n 1)"
    [ -n "$op" ] || die "zkv admin move $range $target failed"
    note "zkv admin move $range $target"
    wait_for 600 synced "$range" "$target" || die "$target not in sync of $range within 600 s"
    t1="$(now)"
    note "zkv --json ranges   (polled until $target is in $range's in_sync)"
    kill -USR1 "$fg_pid"
    wait "$fg_pid" || log "the foreground reported failures: $(head -c 300 "$tmp/fg-move.err")"
    stop "$fg_pid"
    zkv admin wait "$op" 300 >/dev/null || log "$op did not finish: $(zkv admin status 2>&1 | head -n 5)"
    t2="$(now)"
    note "zkv admin wait $op 300"
    # the owner's figure: "snapshot at seq N installed on TARGET: B bytes in T ms"
    snap="$(grep -h "range $range: snapshot at seq .* installed on $target: " "$tmp/$cluster"-node-*.log |
      tail -n 1 | sed -E 's/.*installed on [^:]*: ([0-9]+) bytes in ([0-9]+) ms.*/\1 \2/')" || true
    python3 - "$cr" "$run" "$range" "$target" "$keys" "$value_size" "$t0" "$t1" "$t2" \
      "${snap:-0 0}" "$tmp/base.json" "$tmp/move.json" "$tmp/$cluster-$owner.log" >>"$rows" <<'PY'
import datetime, json, sys
cr, run, rng, target, keys, vsize, t0, t1, t2, snap, base, move, olog = sys.argv[1:]
keys, vsize, t0, t1, t2 = int(keys), int(vsize), float(t0), float(t1), float(t2)
sbytes, sms = (int(x) for x in snap.split())
# When the owner confirmed the target in in_sync ("range R: in_sync is now [..]" in its
# log, wall clock like t0): the end of the copy, more exact than the poll (t1).
t_sync = t1
for line in open(olog, errors="replace"):
    if f"range {rng}: in_sync is now [" in line and target in line.split("[", 1)[1]:
        ts = datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
        t = ts.replace(tzinfo=datetime.timezone.utc).timestamp()
        if t >= t0:
            t_sync = min(t_sync, t)
            break
def last(path):
    lines = [l for l in open(path) if l.startswith("{")]
    return json.loads(lines[-1]) if lines else {"latency_ms": {}, "errors": 0}
b, m = last(base), last(move)
nbytes = keys * (vsize + len("key:000000000000"))
copy = t_sync - t0
print(",".join(str(x) for x in [
    cr, run, rng, target, nbytes, f"{copy:.2f}", f"{nbytes / 1e6 / copy:.1f}",
    sbytes, f"{sms / 1000:.2f}", f"{sbytes / 1e6 / (sms / 1000):.1f}" if sms else "",
    b["latency_ms"].get("p50", ""), b["latency_ms"].get("p99", ""), b.get("ops_per_sec", ""),
    m["latency_ms"].get("p50", ""), m["latency_ms"].get("p99", ""), m.get("ops_per_sec", ""),
    int(b.get("errors", 0)) + int(m.get("errors", 0)), f"{t2 - t_sync:.2f}"]))
PY
    tail -n 1 "$rows" | sed 's/^/move_speed: row: /' >&2
    stop "${cluster_pids[@]}"
    noting=0
  done
done
stop "$zk_pid"

[ -n "$out" ] && cp "$rows" "$out"
echo "# $(machine)"
echo "# commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)');" \
  "$keys values of $value_size bytes in one range; foreground YCSB-A at $rate ops/s," \
  "$fg_clients clients, $fg_size-byte values, $fg_keys keys; baseline $baseline s; $runs run(s)"
echo "# commands (the first cluster's; every zkv and zkv-bench also got --zk $zk --cluster NAME):"
for c in "${commands[@]}"; do echo "#   $c"; done
python3 - "$rows" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print(f"{'copy-rate':>9} {'run':>3} {'range':>5} {'to':>6} {'MB':>6} {'copy s':>7} {'MB/s':>6} "
      f"{'snap s':>6} {'snap MB/s':>9} {'base p50':>8} {'base p99':>8} {'move p50':>8} "
      f"{'move p99':>8} {'ops/s':>6} {'errors':>6} {'handoff s':>9}")
for r in rows:
    cr = "unlimited" if r["copy_rate_mb"] == "0" else r["copy_rate_mb"] + " MiB/s"
    print(f"{cr:>9} {r['run']:>3} {r['range']:>5} {r['target']:>6} "
          f"{int(r['range_bytes']) / 1e6:>6.1f} {r['copy_s']:>7} {r['copy_mb_s']:>6} "
          f"{r['snap_s']:>6} {r['snap_mb_s']:>9} {float(r['base_p50_ms'] or 0):>8.3f} "
          f"{float(r['base_p99_ms'] or 0):>8.3f} {float(r['move_p50_ms'] or 0):>8.3f} "
          f"{float(r['move_p99_ms'] or 0):>8.3f} {float(r['move_ops_s'] or 0):>6.0f} "
          f"{r['errors']:>6} {r['handoff_s']:>9}")
runs = {r["run"] for r in rows}
if len(runs) > 1:
    import statistics
    print(f"\nmedians of {len(runs)} runs:")
    print(f"{'copy-rate':>9} {'copy s':>7} {'MB/s':>6} {'snap s':>6} {'base p50':>8} {'base p99':>8} "
          f"{'move p50':>8} {'move p99':>8} {'errors':>6}")
    for cr in dict.fromkeys(r["copy_rate_mb"] for r in rows):
        g = [r for r in rows if r["copy_rate_mb"] == cr]
        med = lambda k: statistics.median(float(r[k] or 0) for r in g)
        name = "unlimited" if cr == "0" else cr + " MiB/s"
        print(f"{name:>9} {med('copy_s'):>7.2f} {med('copy_mb_s'):>6.1f} {med('snap_s'):>6.2f} "
              f"{med('base_p50_ms'):>8.3f} {med('base_p99_ms'):>8.3f} {med('move_p50_ms'):>8.3f} "
              f"{med('move_p99_ms'):>8.3f} {sum(int(r['errors']) for r in g):>6}")
PY
