#!/usr/bin/env bash
# compare.sh [--runs N] [--requests N] [--out FILE]: zkv against Redis on loopback, in one
# run, with redis-benchmark's default shape: 50 clients, 100-byte values, 100,000 keys,
# SET/PUT then GET, pipeline 1 and 16.
#
# Starts, in a temp dir and on free loopback ports: redis-server without persistence
# (--save '' --appendonly no, as its benchmark is usually run), a ZooKeeper, then in turn
# a 1-node zkv cluster (--replicas 1: no copies) and a 3-node cluster (--replicas 3: every
# write waits for the two in-sync replicas). Only one system runs at a time. Runs
# redis-benchmark and zkv-bench --runs times each (default 3) and prints, per test and
# pipeline depth, the median ops/s with the p50/p99 of the same runs (medians) and the
# ratio of zkv's median ops/s to Redis's. --out FILE keeps every run as CSV.
#
# Builds the release tree (scripts/build.sh release, RelWithDebInfo) unless ZKV_BUILD_DIR
# names a built tree. Installs Debian's redis-server and redis-tools with apt-get if they
# are missing. Kills everything it started, by pid, when it exits (even on failure or ^C).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs=3
requests=100000
out=""
clients=50
size=100
keys=100000
pipelines=(1 16)

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="${2:?}"; shift 2 ;;
    --requests) requests="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "compare: unknown argument '$1'" >&2; usage ;;
  esac
done
case "$runs$requests" in *[!0-9]*) echo "compare: --runs and --requests take numbers" >&2; exit 2 ;; esac

log() { printf 'compare: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# --- what is needed ------------------------------------------------------------------------
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  log "installing redis-server and redis-tools (Debian packages)"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # RUNLEVEL=1: the package's init script does not start a system Redis on 6379.
  $sudo env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -q redis-server redis-tools >&2 ||
    { $sudo apt-get update -q >&2 &&
      $sudo env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -q redis-server redis-tools >&2; } ||
    die "cannot install redis-server and redis-tools"
fi
if [ -n "${ZKV_BUILD_DIR:-}" ]; then
  bin="$ZKV_BUILD_DIR"
else
  log "building the release tree (scripts/build.sh release)"
  bin="$("$root/scripts/build.sh" release | tail -n 1)"
fi
for p in server/zkv-server coordinator/zkv-coordinator repl/zkv bench/zkv-bench; do
  [ -x "$bin/$p" ] || die "$bin/$p was not built"
done

# --- processes we start, killed by pid on exit ----------------------------------------------
tmp="$(mktemp -d /tmp/zkv-compare.XXXXXX)"
pids=()
cleanup() {
  local rc=$? i pid
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid="${pids[$i]}"
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
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

used_ports=" "
# free_port: a loopback port nothing listens on and that this script did not hand out.
free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 40000))
    case "$used_ports" in *" $port "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      used_ports+="$port "
      echo "$port"
      return
    fi
  done
  die "no free port found"
}

wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# --- ZooKeeper ---------------------------------------------------------------------------
zk_port="$(free_port)"
zk="127.0.0.1:$zk_port"
zk_ok() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$zk_port && printf srvr >&3 && grep -q Mode <&3"
}
start_zookeeper() {
  mkdir -p "$tmp/zookeeper"
  cat >"$tmp/zoo.cfg" <<CFG
tickTime=2000
dataDir=$tmp/zookeeper
clientPort=$zk_port
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=srvr,ruok,mntr
CFG
  start zookeeper java -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$tmp/zoo.cfg"
  zk_pid=$started
  wait_for 30 zk_ok || die "ZooKeeper did not answer on $zk within 30 s: $(tail -n 5 "$tmp/zookeeper.log")"
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

# start_cluster NAME NODES REPLICAS: sets $cluster_pids.
start_cluster() {
  local name="$1" nodes="$2" replicas="$3" i port
  cluster_pids=()
  for i in $(seq 1 "$nodes"); do
    port="$(free_port)"
    start "$name-node-$i" "$bin/server/zkv-server" --zk "$zk" --cluster "$name" --id "node-$i" \
      --listen "127.0.0.1:$port" --data-dir "$tmp/$name-node-$i" --log-level warn
    cluster_pids+=("$started")
  done
  start "$name-coordinator" "$bin/coordinator/zkv-coordinator" --zk "$zk" --cluster "$name" \
    --replicas "$replicas" --min-nodes "$nodes" --log-level warn
  cluster_pids+=("$started")
  wait_for 60 ready "$name" "$replicas" ||
    die "cluster $name not ready within 60 s; logs: $(tail -n 3 "$tmp/$name"-*.log)"
}

# --- benchmarks ------------------------------------------------------------------------------
results="$tmp/results.csv"
echo "system,test,pipeline,run,ops_per_sec,p50_ms,p99_ms" >"$results"

# redis-benchmark --csv: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",
# "p95_latency_ms","p99_latency_ms","max_latency_ms".
bench_redis() {
  local port="$1" p="$2" run="$3"
  redis-benchmark -h 127.0.0.1 -p "$port" -c "$clients" -n "$requests" -d "$size" -r "$keys" \
    -P "$p" -t set,get --csv 2>"$tmp/redis-benchmark.err" | tr -d '"' |
    awk -F, -v p="$p" -v run="$run" '$1 == "SET" || $1 == "GET" {
      printf "redis,%s,%s,%s,%s,%s,%s\n", ($1 == "SET" ? "SET/PUT" : "GET"), p, run, $2, $5, $7 }' \
      >>"$results"
}

# zkv-bench --csv: test,requests,seconds,ops_per_sec,errors,misses,reads,updates,rmws,avg_ms,
# min_ms,p50_ms,p90_ms,p99_ms,...
bench_zkv() {
  local system="$1" cluster="$2" p="$3" run="$4"
  "$bin/bench/zkv-bench" --zk "$zk" --cluster "$cluster" -c "$clients" -n "$requests" \
    -d "$size" -r "$keys" -P "$p" -t put,get --csv 2>"$tmp/zkv-bench.err" |
    awk -F, -v s="$system" -v p="$p" -v run="$run" '$1 == "PUT" || $1 == "GET" {
      printf "%s,%s,%s,%s,%s,%s,%s\n", s, ($1 == "PUT" ? "SET/PUT" : "GET"), p, run, $4, $12, $14 }' \
      >>"$results" || log "zkv-bench reported failures: $(head -c 300 "$tmp/zkv-bench.err")"
}

log "redis-server on a free port, no persistence"
redis_port="$(free_port)"
start redis redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$tmp" --daemonize no
redis_pid=$started
wait_for 10 redis-cli -p "$redis_port" ping || die "redis-server did not answer"
for run in $(seq 1 "$runs"); do
  for p in "${pipelines[@]}"; do
    log "redis-benchmark -P $p, run $run of $runs"
    redis-cli -p "$redis_port" flushall >/dev/null
    bench_redis "$redis_port" "$p" "$run"
  done
done
stop "$redis_pid"

log "ZooKeeper on $zk"
start_zookeeper

for shape in "zkv-1n-r1 1 1" "zkv-3n-r3 3 3"; do
  read -r system nodes replicas <<<"$shape"
  log "$system: $nodes node(s), --replicas $replicas"
  start_cluster "$system" "$nodes" "$replicas"
  for run in $(seq 1 "$runs"); do
    for p in "${pipelines[@]}"; do
      log "zkv-bench on $system -P $p, run $run of $runs"
      bench_zkv "$system" "$system" "$p" "$run"
    done
  done
  stop "${cluster_pids[@]}"
done
stop "$zk_pid"

[ -z "$out" ] || cp "$results" "$out"

# --- report ----------------------------------------------------------------------------------
echo "# zkv vs Redis on loopback: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs:" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "# $clients clients, $size-byte values, $keys keys, $requests requests per test," \
  "median of $runs runs; p50/p99 are the medians of the runs' percentiles (ms)"
python3 - "$results" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
systems = []
for r in rows:
    if r["system"] not in systems:
        systems.append(r["system"])
fmt = "{:<8} {:>2}  {:<10} {:>12} {:>8} {:>8} {:>10}"
print(fmt.format("test", "P", "system", "ops/s", "p50", "p99", "zkv/redis"))
for test in ("SET/PUT", "GET"):
    for p in ("1", "16"):
        base = None
        for s in systems:
            sel = [r for r in rows if r["system"] == s and r["test"] == test and r["pipeline"] == p]
            if not sel:
                print(fmt.format(test, p, s, "-", "-", "-", "-"))
                continue
            med = lambda k: statistics.median(float(r[k]) for r in sel)
            ops = med("ops_per_sec")
            if s == "redis":
                base = ops
                ratio = ""
            else:
                ratio = "%.3f" % (ops / base) if base else "-"
            print(fmt.format(test, p, s, "%.0f" % ops, "%.3f" % med("p50_ms"),
                             "%.3f" % med("p99_ms"), ratio))
PY
echo "# every run (ops/s, p50 ms, p99 ms):"
tail -n +2 "$results" | sed 's/^/#   /'
