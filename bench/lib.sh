# lib.sh: what bench/compare.sh and bench/curves.sh share, sourced by both (bash):
# finding the built programs, installing Redis, processes started in the background and
# killed by pid when the script exits, free loopback ports, bounded waits, a ZooKeeper and
# zkv clusters in a temp dir, and redis-benchmark / zkv-bench runs appended as CSV rows.
# The caller sets `root` (the repo) before sourcing.

# shellcheck source=scripts/shell-lib.sh
. "$root/scripts/shell-lib.sh"

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { log "$*"; exit 1; }

# need_redis: installs Debian's redis-server and redis-tools when missing.
need_redis() {
  command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null && return
  log "installing redis-server and redis-tools (Debian packages)"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # RUNLEVEL=1: the package's init script does not start a system Redis on 6379.
  $sudo env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -q redis-server redis-tools >&2 ||
    { $sudo apt-get update -q >&2 &&
      $sudo env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -q redis-server redis-tools >&2; } ||
    die "cannot install redis-server and redis-tools"
}

# find_bin: sets $bin to a built release tree (ZKV_BUILD_DIR, or builds one).
find_bin() {
  if [ -n "${ZKV_BUILD_DIR:-}" ]; then
    bin="$ZKV_BUILD_DIR"
  else
    log "building the release tree (scripts/build.sh release)"
    bin="$("$root/scripts/build.sh" release | tail -n 1)"
  fi
  local p
  for p in server/zkv-server coordinator/zkv-coordinator repl/zkv bench/zkv-bench; do
    [ -x "$bin/$p" ] || die "$bin/$p was not built"
  done
}

# --- processes we start, killed by pid on exit ----------------------------------------------
tmp="$(mktemp -d "${ZKV_BENCH_TMP:-/tmp}/zkv-bench.XXXXXX")"
pids=()
cleanup() {
  local rc=$?
  kill_pids "${pids[@]+"${pids[@]}"}"
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME COMMAND...: runs COMMAND in the background, log in $tmp/NAME.log; sets $started.
start() {
  local name="$1"; shift
  "$@" >"$tmp/$name.log" 2>&1 </dev/null &
  started=$!
  pids+=("$started")
}

# stop PID...: SIGTERM, then SIGKILL after 10 s; drops them from the list.
stop() {
  local pid keep=() p
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    case " $* " in *" $p "*) ;; *) keep+=("$p") ;; esac
  done
  pids=("${keep[@]+"${keep[@]}"}")
}


# --- Redis -------------------------------------------------------------------------------------
# start_redis: redis-server without persistence on a free port; sets $redis_port, $redis_pid.
start_redis() {
  free_port redis_port
  start redis redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$tmp" --daemonize no
  redis_pid=$started
  wait_for 10 redis-cli -p "$redis_port" ping || die "redis-server did not answer"
}

# --- ZooKeeper ---------------------------------------------------------------------------
# start_zookeeper: a standalone ZooKeeper on a free port; sets $zk, $zk_pid.
start_zookeeper() {
  free_port zk_port
  zk="127.0.0.1:$zk_port"
  local cmd
  cmd="$(zk_config "$tmp" "$zk_port")"
  # shellcheck disable=SC2086 # the command's words
  start zookeeper $cmd
  zk_pid=$started
  wait_for 30 zk_ok "$zk_port" || die "ZooKeeper did not answer on $zk within 30 s: $(tail -n 5 "$tmp/zookeeper.log")"
}

# --- zkv clusters ----------------------------------------------------------------------------
# ready CLUSTER REPLICAS: every range has an owner and REPLICAS-1 in-sync replicas.
ready() {
  local json
  json="$("$bin/repl/zkv" --zk "$zk" --cluster "$1" --json ranges)" || return 1
  python3 - "$2" "$json" <<'PY'
import json, sys
want = int(sys.argv[1]) - 1
ranges = json.loads(sys.argv[2])
if isinstance(ranges, dict):
    ranges = ranges.get("ranges", [])
ok = bool(ranges) and all(r.get("owner") and len(r.get("in_sync", [])) >= want for r in ranges)
sys.exit(0 if ok else 1)
PY
}

# start_cluster NAME NODES REPLICAS: sets $cluster_pids. Each zkv-server also gets
# $server_flags (a list of flags; the callers' --server-flags), the coordinator
# $coord_flags.
server_flags="${server_flags:-}"
coord_flags="${coord_flags:-}"
start_cluster() {
  local name="$1" nodes="$2" replicas="$3" i port
  cluster_pids=()
  cluster_name="$name"
  # shellcheck disable=SC2086 # server_flags is a list of flags
  for i in $(seq 1 "$nodes"); do
    free_port port
    start "$name-node-$i" "$bin/server/zkv-server" --zk "$zk" --cluster "$name" --id "node-$i" \
      --listen "127.0.0.1:$port" --data-dir "$tmp/$name-node-$i" --log-level warn $server_flags
    cluster_pids+=("$started")
  done
  # shellcheck disable=SC2086 # coord_flags is a list of flags
  start "$name-coordinator" "$bin/coordinator/zkv-coordinator" --zk "$zk" --cluster "$name" \
    --replicas "$replicas" --min-nodes "$nodes" --log-level warn $coord_flags
  cluster_pids+=("$started")
  wait_for 60 ready "$name" "$replicas" ||
    die "cluster $name not ready within 60 s; logs: $(tail -n 3 "$tmp/$name"-*.log)"
}

# stop_cluster: stops the cluster start_cluster started and deletes its data dirs at once:
# dirty pages left to the kernel's writeback would load whatever runs next (a 3-node
# cluster measured after a 1-node one ran at half its rate once the 1-node's files were
# written back under it).
stop_cluster() {
  stop "${cluster_pids[@]}"
  rm -rf "$tmp/$cluster_name"-node-*/
}

# --- benchmark runs, appended to $results as CSV rows ----------------------------------------
# Row: system,test,pipeline,clients,size,keys,run,ops_per_sec,p50_ms,p99_ms
results="$tmp/results.csv"
echo "system,test,pipeline,clients,size,keys,run,ops_per_sec,p50_ms,p99_ms" >"$results"

# bench_redis RUN CLIENTS SIZE KEYS PIPELINE REQUESTS: redis-benchmark SET and GET.
# Its --csv: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",
# "p95_latency_ms","p99_latency_ms","max_latency_ms".
bench_redis() {
  local run="$1" c="$2" d="$3" r="$4" p="$5" n="$6"
  redis-benchmark -h 127.0.0.1 -p "$redis_port" -c "$c" -n "$n" -d "$d" -r "$r" -P "$p" \
    -t set,get --csv 2>"$tmp/redis-benchmark.err" | tr -d '"' |
    awk -F, -v v="$p,$c,$d,$r,$run" '$1 == "SET" || $1 == "GET" {
      printf "redis,%s,%s,%s,%s,%s\n", ($1 == "SET" ? "SET/PUT" : "GET"), v, $2, $5, $7 }' \
      >>"$results"
}

# fill SYSTEM CLUSTER SIZE KEYS WRITES: unmeasured, WRITES writes of SIZE bytes at random
# keys of KEYS, 50 clients, into Redis (SYSTEM redis; CLUSTER unused) or the zkv cluster
# CLUSTER: what a system holds before it is measured.
fill() {
  local sys="$1" cluster="$2" d="$3" r="$4" n="$5"
  if [ "$sys" = redis ]; then
    redis-benchmark -h 127.0.0.1 -p "$redis_port" -c 50 -n "$n" -d "$d" -r "$r" -t set \
      >/dev/null 2>&1
  else
    "$bin/bench/zkv-bench" --zk "$zk" --cluster "$cluster" -c 50 -d "$d" -r "$r" -t put -n "$n" \
      >/dev/null 2>&1
  fi
}

# bench_zkv SYSTEM CLUSTER RUN CLIENTS SIZE KEYS PIPELINE TESTS ZKV-BENCH-ARGS...: zkv-bench
# --csv: test,requests,seconds,ops_per_sec,errors,misses,reads,updates,rmws,avg_ms,min_ms,
# p50_ms,p90_ms,p99_ms,...
bench_zkv() {
  local s="$1" cluster="$2" run="$3" c="$4" d="$5" r="$6" p="$7" t="$8"
  shift 8
  "$bin/bench/zkv-bench" --zk "$zk" --cluster "$cluster" -c "$c" -d "$d" -r "$r" -P "$p" \
    -t "$t" --csv "$@" 2>"$tmp/zkv-bench.err" |
    awk -F, -v s="$s" -v v="$p,$c,$d,$r,$run" '$1 == "PUT" || $1 == "GET" || $1 == "LOAD" {
      printf "%s,%s,%s,%s,%s,%s\n", s, ($1 == "PUT" ? "SET/PUT" : $1), v, $4, $12, $14 }' \
      >>"$results" || log "zkv-bench reported failures: $(head -c 300 "$tmp/zkv-bench.err")"
}

# mode_table A B: the results of two modes of zkv measured in one run (systems named
# MODE-SHAPE, e.g. plain-1n-r1 and tls-1n-r1) side by side: per test, pipeline and shape,
# the median ops/s, p50 and p99 (ms) of each and B's ops/s over A's; then every run.
mode_table() {
  python3 - "$results" "$1" "$2" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
a, b = sys.argv[2], sys.argv[3]
shapes = sorted({r["system"][len(a) + 1:] for r in rows if r["system"].startswith(a + "-")})
w = max([5] + [len(x) for x in shapes])
fmt = "{:<8} {:>2}  {:<%d} {:>10} {:>7} {:>7} {:>10} {:>7} {:>7} {:>9}" % w
print(fmt.format("test", "P", "shape", a + "/s", "p50", "p99", b + "/s", "p50", "p99", b + "/" + a))
for test in ("SET/PUT", "GET"):
    for p in sorted({r["pipeline"] for r in rows}, key=int):
        for shape in shapes:
            m = {}
            for mode in (a, b):
                sel = [r for r in rows if r["system"] == mode + "-" + shape and
                       r["test"] == test and r["pipeline"] == p]
                med = lambda k: statistics.median(float(r[k]) for r in sel) if sel else 0.0
                m[mode] = (med("ops_per_sec"), med("p50_ms"), med("p99_ms"))
            if not m[a][0] and not m[b][0]:
                continue
            ratio = "%.3f" % (m[b][0] / m[a][0]) if m[a][0] else "-"
            print(fmt.format(test, p, shape, "%.0f" % m[a][0], "%.3f" % m[a][1],
                             "%.3f" % m[a][2], "%.0f" % m[b][0], "%.3f" % m[b][1],
                             "%.3f" % m[b][2], ratio))
PY
  echo "# every run (ops/s, p50 ms, p99 ms):"
  tail -n +2 "$results" | cut -d, -f1-3,7- | sed 's/^/#   /'
}

# cpu_ticks PID...: the user and system clock ticks the processes have used ($ticks a
# second); cpu_us_per A B N: microseconds per request of N requests between two readings.
ticks="$(getconf CLK_TCK)"
cpu_ticks() {
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t"
}
cpu_us_per() {
  awk -v a="$1" -v b="$2" -v t="$ticks" -v n="$3" 'BEGIN { printf "%.1f", (b - a) * 1e6 / t / n }'
}

# machine: one line naming the date, CPUs and kernel.
machine() {
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs:" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), Linux $(uname -r)"
}
