#!/usr/bin/env bash
# curves.sh [--runs N] [--quick] [--out DIR] [--zkv-flags "FLAGS"] [--sweeps LIST]
# [--sizes LIST]: throughput and p99 of a
# 1-node zkv cluster (--replicas 1) as the load changes, with Redis (no persistence)
# measured alongside as the reference of the same session:
#   clients     1 to 256 (100-byte values, 100,000 keys, pipeline 1)          zkv and Redis
#   value size  10 B to 100 KB (50 clients, 10,000 keys, pipeline 1)          zkv and Redis
#   data set    10,000 to 10,000,000 keys, loaded in key order (zkv-bench -t load,
#               pipeline 16), then PUT and GET (50 clients, 100-byte values)  zkv only
# Each point runs --runs times (default 3), Redis then zkv, each filled first (fill in
# lib.sh); the tables give the median ops/s with the medians of the runs' p50 and p99, and
# zkv/Redis. --quick stops each sweep early (up to
# 64 clients, 10 KB, 1,000,000 keys) for a check of the script itself. --out DIR keeps
# the CSV of every run. --sweeps runs only some of clients,sizes,data (default: all three);
# --sizes replaces the value sizes (comma-separated bytes). Uses bench/lib.sh as compare.sh
# does (release build, temp dir, free ports, everything killed by pid on exit).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs=3
quick=0
out=""
zkv_flags=""
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
sweeps=",clients,sizes,data,"
sizes_arg=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="${2:?}"; shift 2 ;;
    --quick) quick=1; shift ;;
    --out) out="${2:?}"; shift 2 ;;
    --zkv-flags) zkv_flags="${2?}"; shift 2 ;;
    --sweeps) sweeps=",${2:?},"; shift 2 ;;
    --sizes) sizes_arg="${2:?}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "curves: unknown argument '$1'" >&2; usage ;;
  esac
done
case "$runs" in ''|*[!0-9]*) echo "curves: --runs takes a number" >&2; exit 2 ;; esac
for w in ${sweeps//,/ }; do
  case "$w" in clients|sizes|data) ;; *) echo "curves: --sweeps takes clients, sizes, data" >&2; exit 2 ;; esac
done
case "$sizes_arg" in *[!0-9,]*) echo "curves: --sizes takes bytes, comma-separated" >&2; exit 2 ;; esac
# has SWEEP: the sweep is to run
has() { case "$sweeps" in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
need_redis
find_bin

clients_list=(1 2 4 8 16 32 64 128 256)
sizes=(10 100 1000 10000 100000)
datasets=(10000 100000 1000000 10000000)
if [ "$quick" = 1 ]; then
  clients_list=(1 8 64); sizes=(10 1000 10000); datasets=(10000 1000000)
fi
[ -z "$sizes_arg" ] || IFS=, read -r -a sizes <<<"$sizes_arg"
has clients || clients_list=()
has sizes || sizes=()
has data || datasets=()
# requests N: how many requests a point runs: about 3 s at the expected rate, and no more
# than 1 GB of values written per run.
requests() {
  local c="$1" d="$2" n
  n=$((c < 8 ? 20000 * c : 150000))
  [ $((n * d)) -le 1000000000 ] || n=$((1000000000 / d))
  echo "$n"
}

# point SYSTEM CLUSTER RUN CLIENTS SIZE KEYS: one measured point (SET/PUT then GET).
point() {
  local sys="$1" cluster="$2" run="$3" c="$4" d="$5" r="$6" n
  n="$(requests "$c" "$d")"
  log "$sys clients=$c size=$d run $run of $runs"
  if [ "$sys" = redis ]; then
    bench_redis "$run" "$c" "$d" "$r" 1 "$n"
  else
    # shellcheck disable=SC2086 # zkv_flags is a list of flags
    bench_zkv zkv "$cluster" "$run" "$c" "$d" "$r" 1 put,get -n "$n" $zkv_flags
  fi
}

# The clients sweep, then the value-size sweep, each on fresh state (a new zkv cluster; an
# emptied Redis), so that the compactions left by large values do not run under the next
# points. Each is filled first (fill, lib.sh: 3 x the keys of writes at random keys, 95% of
# them; once for the clients, before every point for the sizes, whose value size changes),
# so that neither system is measured while its first writes take new pages, as a running
# service is not (a fresh Redis ran 100 KB SETs at 18k/s, the same Redis warm at
# 40-47k/s). At every point Redis runs first, then zkv: a swing of this machine's speed (2x
# within minutes on the VM of docs/performance.md) falls on both sides of a ratio.
log "redis-server on a free port, no persistence"
start_redis
start_zookeeper
log "ZooKeeper on $zk"
start_cluster zkv-clients 1 1
if [ ${#clients_list[@]} -gt 0 ]; then
  for sys in redis zkv; do fill "$sys" zkv-clients 100 100000 300000; done
fi
for run in $(seq 1 "$runs"); do
  for c in "${clients_list[@]}"; do
    for sys in redis zkv; do point "$sys" zkv-clients "$run" "$c" 100 100000; done
  done
done
redis-cli -p "$redis_port" flushall >/dev/null
stop_cluster
start_cluster zkv-sizes 1 1
for run in $(seq 1 "$runs"); do
  for d in "${sizes[@]}"; do
    for sys in redis zkv; do
      fill "$sys" zkv-sizes "$d" 10000 30000
      point "$sys" zkv-sizes "$run" 50 "$d" 10000
    done
  done
done
stop_cluster
stop "$redis_pid"

# The data set sweep: a new cluster, grown in place (each load rewrites the keys below it
# and adds the rest), each size measured --runs times.
start_cluster zkv-data 1 1
for r in "${datasets[@]}"; do
  log "zkv data set: loading $r keys"
  # shellcheck disable=SC2086
  bench_zkv zkv-data zkv-data 1 50 100 "$r" 16 load $zkv_flags
  for run in $(seq 1 "$runs"); do
    log "zkv data set $r keys, run $run of $runs"
    # shellcheck disable=SC2086
    bench_zkv zkv-data zkv-data "$run" 50 100 "$r" 1 put,get -n 150000 $zkv_flags
  done
done
du -sh "$tmp/zkv-data-node-1" | sed 's/^/# data dir after the largest data set: /' >"$tmp/du.txt"
stop_cluster
stop "$zk_pid"

if [ -n "$out" ]; then
  mkdir -p "$out"
  cp "$results" "$out/curves.csv"
fi

# --- report ----------------------------------------------------------------------------------
echo "# zkv curves: $(machine)"
echo "# 1 zkv node (--replicas 1) and redis-server (no persistence), one at a time, in turns at each point; median of" \
  "$runs runs; p50/p99 are the medians of the runs' percentiles (ms)"
cat "$tmp/du.txt"
python3 - "$results" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))

def med(sel, k):
    return statistics.median(float(r[k]) for r in sel)

def table(title, var, where, values, systems):
    print("\n## " + title)
    head = "| %s | test | zkv ops/s | zkv p50 | zkv p99 |" % var
    line = "|---:|---|---:|---:|---:|"
    if "redis" in systems:
        head += " Redis ops/s | Redis p99 | zkv/Redis |"
        line += "---:|---:|---:|"
    print(head)
    print(line)
    for v in values:
        for test in ("SET/PUT", "GET"):
            sel = {s: [r for r in rows if r["system"] == s and r["test"] == test and where(r, v)]
                   for s in systems}
            z = sel["zkv"]
            if not z:
                continue
            cells = ["%.0f" % med(z, "ops_per_sec"), "%.3f" % med(z, "p50_ms"),
                     "%.3f" % med(z, "p99_ms")]
            if "redis" in systems:
                rd = sel["redis"]
                if rd:
                    cells += ["%.0f" % med(rd, "ops_per_sec"), "%.3f" % med(rd, "p99_ms"),
                              "%.2f" % (med(z, "ops_per_sec") / med(rd, "ops_per_sec"))]
                else:
                    cells += ["-", "-", "-"]
            print("| %s | %s | %s |" % (v, "PUT" if test == "SET/PUT" else test, " | ".join(cells)))

def values(key, pred):
    out = []
    for r in rows:
        if pred(r) and r[key] not in out:
            out.append(r[key])
    return out

by_clients = lambda r, v: r["clients"] == v and r["size"] == "100" and r["keys"] == "100000"
by_size = lambda r, v: r["size"] == v and r["clients"] == "50" and r["keys"] == "10000"
table("Clients (100-byte values, 100,000 keys, pipeline 1)", "clients", by_clients,
      values("clients", lambda r: r["size"] == "100" and r["keys"] == "100000"), ("zkv", "redis"))
table("Value size in bytes (50 clients, 10,000 keys, pipeline 1)", "bytes", by_size,
      values("size", lambda r: r["clients"] == "50" and r["keys"] == "10000"), ("zkv", "redis"))
rows = [r for r in rows if r["system"] == "zkv-data"]
loads = [r for r in rows if r["test"] == "LOAD"]
print("\n## Data set size (keys loaded in order at pipeline 16; then 50 clients, pipeline 1)")
print("| keys | load ops/s | PUT ops/s | PUT p99 | GET ops/s | GET p99 |")
print("|---:|---:|---:|---:|---:|---:|")
for ld in loads:
    k = ld["keys"]
    i = rows.index(ld)  # its runs are the rows after it, up to the next load
    nxt = [j for j in range(i + 1, len(rows)) if rows[j]["test"] == "LOAD"]
    after = rows[i + 1:nxt[0] if nxt else len(rows)]
    put = [r for r in after if r["test"] == "SET/PUT"]
    get = [r for r in after if r["test"] == "GET"]
    cell = lambda sel, k2, f: (f % med(sel, k2)) if sel else "-"
    print("| %s | %s | %s | %s | %s | %s |" % (k, "%.0f" % float(ld["ops_per_sec"]),
          cell(put, "ops_per_sec", "%.0f"), cell(put, "p99_ms", "%.3f"),
          cell(get, "ops_per_sec", "%.0f"), cell(get, "p99_ms", "%.3f")))
PY
