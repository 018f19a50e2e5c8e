#!/usr/bin/env bash
# zk-leader-hang.sh: what a hung ZooKeeper leader costs zkv's writes (issue 13, item 8;
# docs/zookeeper.md). Starts a 3-server ZooKeeper ensemble on 127.0.0.1 (free ports chosen
# at run time) with the given tickTime/initLimit/syncLimit, a zkv cluster on it (one
# coordinator, three zkv-servers, 8 ranges, replication factor 3; every program gets the
# full 3-server connect string) and a writer that puts to every range back to back. Each
# trial finds the ensemble's leader ("srvr": Mode: leader), SIGSTOPs it, keeps it stopped
# until the other two have elected a new leader, at least --min-hang-ms have passed and
# writes work again on every range, SIGCONTs it, waits for the ensemble to be whole and
# the cluster settled, and prints one line: the longest time any range could not be
# written (between two acknowledged PUTs), with what the nodes logged (fenced, session
# expired, failovers). A summary line follows (max and median). With --hang-ms the leader
# is stopped for exactly that long instead (a GC-like pause of known length).
#
#   scripts/zk-leader-hang.sh [--tick MS] [--init-limit N] [--sync-limit N] [--trials N]
#       [--session-timeout MS] [--hang-ms MS] [--min-hang-ms MS] [--build DIR] [--no-build]
#       [--keep] [--check [--bound-ms MS]]
#
# Defaults: the sample zoo.cfg's (ZooKeeper's and Debian's: tickTime 2000, initLimit 10,
# syncLimit 5), 5 trials, zkv's own --session-timeout (4000). The build directory is
# --build DIR, else $ZKV_BUILD_DIR, else build/ in the repo; the needed targets are built
# there first (configured as Release when it has no CMakeCache.txt) unless --no-build;
# ZKV_SERVER_BIN,
# ZKV_COORDINATOR_BIN, ZKV_CLI_BIN and ZKV_LIBZKV override the paths of zkv-server,
# zkv-coordinator, zkv and libzkv.so found there. --keep leaves the logs in
# the temp dir (printed). --check runs one trial (unless --trials says otherwise) with the
# settings given and exits 1 when a trial's write unavailability exceeds the bound derived
# from them (printed; docs/zookeeper.md, "The bound"), or --bound-ms. Exit 2: bad flags.
#
# Everything listens on 127.0.0.1 only; every process started here is killed by pid on
# exit (a stopped one is continued first); every wait is bounded.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/shell-lib.sh
. "$root/scripts/shell-lib.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2; }
log() { printf '%s zk-leader-hang: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 1; }

tick=2000 init_limit=10 sync_limit=5 trials=5 session_timeout="" hang_ms=0 min_hang_ms=""
build="${ZKV_BUILD_DIR:-$root/build}" do_build=1 keep=0 check=0 bound_ms="" trials_set=0
num() { [[ "${2:-}" =~ ^[0-9]+$ ]] || { echo "zk-leader-hang: $1 needs a number" >&2; usage; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --tick) num "$1" "${2:-}"; tick="$2"; shift 2 ;;
    --init-limit) num "$1" "${2:-}"; init_limit="$2"; shift 2 ;;
    --sync-limit) num "$1" "${2:-}"; sync_limit="$2"; shift 2 ;;
    --trials) num "$1" "${2:-}"; trials="$2"; trials_set=1; shift 2 ;;
    --session-timeout) num "$1" "${2:-}"; session_timeout="$2"; shift 2 ;;
    --hang-ms) num "$1" "${2:-}"; hang_ms="$2"; shift 2 ;;
    --min-hang-ms) num "$1" "${2:-}"; min_hang_ms="$2"; shift 2 ;;
    --bound-ms) num "$1" "${2:-}"; bound_ms="$2"; shift 2 ;;
    --build) [ -n "${2:-}" ] || usage; build="$2"; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --keep) keep=1; shift ;;
    --check) check=1; shift ;;
    -h|--help) usage ;;
    *) echo "zk-leader-hang: unknown argument $1" >&2; usage ;;
  esac
done
if [ "$tick" -lt 100 ] || [ "$init_limit" -lt 1 ] || [ "$sync_limit" -lt 1 ] || [ "$trials" -lt 1 ]; then
  echo "zk-leader-hang: --tick >= 100, limits and --trials >= 1" >&2
  usage
fi
[ "$check" -eq 0 ] || [ "$trials_set" -eq 1 ] || trials=1
# The session timeout zkv asks for, and what ZooKeeper grants (clamped to 2..20 ticks).
st_ask="${session_timeout:-4000}"
st=$st_ask
[ "$st" -ge $((2 * tick)) ] || st=$((2 * tick))
[ "$st" -le $((20 * tick)) ] || st=$((20 * tick))
[ -n "$min_hang_ms" ] || min_hang_ms=$((2 * st))
sync_ms=$((sync_limit * tick))
# The bound (docs/zookeeper.md): the followers give up on the hung leader after
# syncLimit*tickTime; electing and syncing a new leader takes a tick or two (2 s allowed);
# a node's ZooKeeper client may spend 2/3 of the session timeout on the hung server once
# more before it reaches one that follows the new leader; then it re-reads the map and
# confirms its session (1 s allowed, plus the writer's retry granularity).
[ -n "$bound_ms" ] || bound_ms=$((sync_ms + 2 * tick + 2000 + st * 2 / 3 + 1000))

# --- build ------------------------------------------------------------------------------
if [ "$do_build" -eq 1 ]; then
  if [ ! -f "$build/CMakeCache.txt" ]; then
    log "configuring $build (Release)"
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  log "building zkv-server, zkv-coordinator, zkv and libzkv in $build"
  cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" \
    --target zkv-server zkv-coordinator zkv zkv_shared >"${TMPDIR:-/tmp}/zk-leader-hang-build.$$.log" 2>&1 ||
    die "the build failed: $(tail -n 20 "${TMPDIR:-/tmp}/zk-leader-hang-build.$$.log")"
  rm -f "${TMPDIR:-/tmp}/zk-leader-hang-build.$$.log"
fi
server_bin="${ZKV_SERVER_BIN:-$build/server/zkv-server}"
coord_bin="${ZKV_COORDINATOR_BIN:-$build/coordinator/zkv-coordinator}"
repl_bin="${ZKV_CLI_BIN:-$build/repl/zkv}" libzkv="${ZKV_LIBZKV:-$build/client/libzkv.so}"
for f in "$server_bin" "$coord_bin" "$repl_bin" "$libzkv"; do
  [ -e "$f" ] || die "$f is missing: build it, or drop --no-build"
done
command -v python3 >/dev/null || die "python3 is needed (the writer)"
[ -r /usr/share/java/zookeeper.jar ] || die "Debian's zookeeper package is not installed"

# --- processes we start, killed by pid on exit -------------------------------------------
tmp="$(mktemp -d /tmp/zk-leader-hang.XXXXXX)"
pids=()
writer_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  kill_pids "${pids[@]+"${pids[@]}"}" # a stopped leader is continued first
  if [ "$keep" -eq 1 ] || { [ "$rc" -ne 0 ] && [ "$check" -eq 1 ]; }; then
    log "logs kept in $tmp"
  else
    rm -rf "$tmp"
  fi
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


now_ms() { local t="${EPOCHREALTIME/[.,]/}"; echo $((t / 1000)); }
secs() { printf '%d.%01d' $(($1 / 1000)) $((($1 % 1000) / 100)); }

# --- ZooKeeper ensemble --------------------------------------------------------------------
declare -a cport qport eport zkpid
for i in 1 2 3; do free_port "cport[$i]"; free_port "qport[$i]"; free_port "eport[$i]"; done
zk="127.0.0.1:${cport[1]},127.0.0.1:${cport[2]},127.0.0.1:${cport[3]}"

start_zk() {
  local i="$1" d="$tmp/zk$1"
  mkdir -p "$d/data"
  echo "$i" >"$d/data/myid"
  cat >"$d/zoo.cfg" <<CFG
tickTime=$tick
initLimit=$init_limit
syncLimit=$sync_limit
dataDir=$d/data
clientPort=${cport[i]}
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=srvr,ruok,mntr
server.1=127.0.0.1:${qport[1]}:${eport[1]}
server.2=127.0.0.1:${qport[2]}:${eport[2]}
server.3=127.0.0.1:${qport[3]}:${eport[3]}
CFG
  start "zk$i" java -Xmx256m -Dorg.slf4j.simpleLogger.showDateTime=true \
    -Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$d/zoo.cfg"
  zkpid[i]=$started
}

# zk_mode I: the Mode line of server I's "srvr" (leader, follower; empty when it does not
# serve, e.g. while it elects a leader).
zk_mode() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/${cport[$1]} && printf srvr >&3 && cat <&3" \
    2>/dev/null | sed -n 's/^Mode: //p' || true
}

# ensemble_whole: every server serves, one of them leads. Sets $leader.
ensemble_whole() {
  local i m n=0
  leader=""
  for i in 1 2 3; do
    m="$(zk_mode "$i")"
    case "$m" in
      leader) n=$((n + 1)); leader=$i ;;
      follower) ;;
      *) return 1 ;;
    esac
  done
  [ "$n" -eq 1 ]
}

log "ZooKeeper ensemble: tickTime=$tick initLimit=$init_limit syncLimit=$sync_limit, clients $zk"
for i in 1 2 3; do start_zk "$i"; done
wait_for 90 ensemble_whole || die "the ensemble did not form within 90 s: $(tail -n 5 "$tmp"/zk*.log)"

# --- zkv cluster -----------------------------------------------------------------------------
cluster=hang
st_flag=()
[ -z "$session_timeout" ] || st_flag=(--session-timeout "$session_timeout")
declare -a node_pid
for i in 1 2 3; do
  free_port port
  start "node-$i" "$server_bin" --zk "$zk" --cluster "$cluster" --id "node-$i" \
    --listen "127.0.0.1:$port" --data-dir "$tmp/node-$i" --leave-timeout-ms 0 "${st_flag[@]}"
  node_pid[i]=$started
done
start coordinator "$coord_bin" --zk "$zk" --cluster "$cluster" --ranges 8 --replicas 3 \
  --min-nodes 3 "${st_flag[@]}"

# ready: every range has an owner and two in-sync replicas (and the nodes all run).
ready() {
  local json i
  for i in 1 2 3; do kill -0 "${node_pid[i]}" 2>/dev/null || return 1; done
  json="$(timeout 10 "$repl_bin" --zk "$zk" --cluster "$cluster" --json ranges 2>/dev/null)" || return 1
  python3 - "$json" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
if isinstance(r, dict):
    r = r.get("ranges", [])
sys.exit(0 if r and all(x.get("owner") and len(x.get("in_sync", [])) >= 2 for x in r) else 1)
PY
}
wait_for 120 ready || die "the zkv cluster was not ready within 120 s; logs in $tmp"

# --- the writer ------------------------------------------------------------------------------
# One thread per range, each with its own libzkv client, puts to a key of its range back to
# back (call timeout 2 s, libzkv's failfast 1 s) and notes every acknowledgement. Commands
# on stdin, one answer line each on stdout:
#   client ZK   (re)create the clients with ZooKeeper connect string ZK
#   begin       start a window: owners noted, gaps and failures counted from now
#   mark        note now
#   allok       "yes" when every range had a PUT acknowledged since the mark and its
#               last PUT succeeded, else "no RANGES"
#   report      the window: for every range the longest time between two acknowledged
#               PUTs (an outage still going on counts until now)
cat >"$tmp/writer.py" <<'PY'
import ctypes as C, json, re, sys, threading, time

lib = C.CDLL(sys.argv[1])
cluster = sys.argv[2].encode()
V = C.c_void_p
lib.zkv_options_create.restype = V
lib.zkv_options_free.argtypes = [V]
for f in ("zkv_options_set_zk", "zkv_options_set_cluster"):
    getattr(lib, f).argtypes = [V, C.c_char_p]
for f in ("zkv_options_set_timeout", "zkv_options_set_connect_timeout"):
    getattr(lib, f).argtypes = [V, C.c_int]
lib.zkv_client_create.argtypes = [V, C.POINTER(V)]
lib.zkv_client_free.argtypes = [V]
lib.zkv_put.argtypes = [V, C.c_char_p, C.c_size_t, C.c_char_p, C.c_size_t, C.c_int, C.c_uint, V]
lib.zkv_last_error.restype = C.c_char_p
lib.zkv_describe.argtypes = [V, C.POINTER(V)]
lib.zkv_free.argtypes = [V]

def new_client(zk):
    o = lib.zkv_options_create()
    lib.zkv_options_set_zk(o, zk.encode())
    lib.zkv_options_set_cluster(o, cluster)
    lib.zkv_options_set_timeout(o, 2000)
    lib.zkv_options_set_connect_timeout(o, 5000)
    c = V()
    rc = lib.zkv_client_create(o, C.byref(c))
    lib.zkv_options_free(o)
    if rc != 0:
        raise RuntimeError("zkv_client_create: %s" % lib.zkv_last_error().decode())
    return c

def describe(c):
    p = V()
    if lib.zkv_describe(c, C.byref(p)) != 0:
        return None
    d = json.loads(C.string_at(p).decode())
    lib.zkv_free(p)
    return d

def unescape(s):
    return re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), s.encode())

now = time.monotonic
lock = threading.Lock()
zk_conn = [sys.argv[3], 0]  # connect string, generation

class Range:
    def __init__(self, rid, start, end):
        self.id, self.key, self.end = rid, start + b"\x00zk-leader-hang", end
        if end and not self.key < end:
            raise RuntimeError("no key for range %s" % rid)
        self.gen = -1
        self.last_ok = now()
        self.last_rc = 0
        self.reset(now())

    def reset(self, t):
        self.gap = 0.0
        self.gap_from = self.gap_to = t
        self.fails = self.oks = 0
        self.errors = {}

    def run(self):
        c = None
        n = 0
        while True:
            with lock:
                zk, gen = zk_conn
            if gen != self.gen:
                if c:
                    lib.zkv_client_free(c)
                    c = None
                try:
                    c = new_client(zk)
                except RuntimeError as e:
                    print(e, file=sys.stderr, flush=True)
                    time.sleep(0.2)
                    continue
                self.gen = gen
            n += 1
            v = b"%d" % n
            rc = lib.zkv_put(c, self.key, len(self.key), v, len(v), 0, 0, None)
            t = now()
            err = None if rc == 0 else lib.zkv_last_error().decode(errors="replace")
            with lock:
                self.last_rc = rc
                if rc == 0:
                    self.oks += 1
                    if t - self.last_ok > self.gap:
                        self.gap, self.gap_from, self.gap_to = t - self.last_ok, self.last_ok, t
                    self.last_ok = t
                else:
                    self.fails += 1
                    self.errors[err[:90]] = self.errors.get(err[:90], 0) + 1
            if rc != 0:
                time.sleep(0.01)

first = new_client(sys.argv[3])
d = describe(first)
ranges = [Range(r["id"], unescape(r.get("start", "")), unescape(r.get("end", "")))
          for r in sorted(d["ranges"], key=lambda r: r["id"])]
for r in ranges:
    threading.Thread(target=r.run, daemon=True).start()
begin_t = mark_t = now()
owners = {}

def answer(s):
    sys.stdout.write(s + "\n")
    sys.stdout.flush()

for line in sys.stdin:
    w = line.split()
    if not w:
        continue
    cmd = w[0]
    if cmd == "client":
        lib.zkv_client_free(first)
        first = new_client(w[1])
        with lock:
            zk_conn[0] = w[1]
            zk_conn[1] += 1
            gen = zk_conn[1]
        deadline = now() + 30
        while now() < deadline and any(r.gen != gen for r in ranges):
            time.sleep(0.05)
        answer("ok" if all(r.gen == gen for r in ranges) else "timeout")
    elif cmd == "begin":
        d = describe(first)
        owners = {r["id"]: r.get("owner", "-") for r in d["ranges"]} if d else {}
        with lock:
            begin_t = now()
            for r in ranges:
                r.reset(begin_t)
        answer("ok")
    elif cmd == "mark":
        mark_t = now()
        answer("ok")
    elif cmd == "allok":
        with lock:
            bad = [r.id for r in ranges if r.last_rc != 0 or r.last_ok <= mark_t]
        answer("yes" if not bad else "no " + ",".join(bad))
    elif cmd == "report":
        t = now()
        out = []
        with lock:
            for r in ranges:
                gap, f, to = r.gap, r.gap_from, r.gap_to
                if r.last_rc != 0 and t - r.last_ok > gap:
                    gap, f, to = t - r.last_ok, r.last_ok, t
                out.append({"range": r.id, "owner": owners.get(r.id, "?"), "gap_ms": round(gap * 1000),
                            "from_ms": round((f - begin_t) * 1000), "to_ms": round((to - begin_t) * 1000),
                            "fails": r.fails, "oks": r.oks,
                            "errors": sorted(r.errors.items(), key=lambda e: -e[1])[:2]})
        answer(json.dumps(out))
    elif cmd == "quit":
        break
    else:
        answer("unknown command")
PY

coproc WRITER { exec python3 "$tmp/writer.py" "$libzkv" "$cluster" "$zk" 2>>"$tmp/writer.log"; }
# shellcheck disable=SC2153 # WRITER_PID is set by coproc
writer_pid=$WRITER_PID
pids+=("$writer_pid")
exec {w_in}>&"${WRITER[1]}" {w_out}<&"${WRITER[0]}"

# ask COMMAND [SECONDS]: sends COMMAND to the writer, prints its answer (bounded wait).
ask() {
  local line
  printf '%s\n' "$1" >&"$w_in" || die "the writer is gone; see $tmp/writer.log"
  IFS= read -r -t "${2:-30}" -u "$w_out" line || die "no answer from the writer to '$1'; see $tmp/writer.log"
  printf '%s\n' "$line"
}
writer_ok() { [ "$(ask allok)" = yes ]; }

# lines NAME: how many lines NAME.log has now.
lines() { wc -l <"$tmp/$1.log"; }
# new_lines NAME FROM PATTERN: lines after line FROM of NAME.log matching PATTERN.
new_lines() { tail -n "+$(($2 + 1))" "$tmp/$1.log" | grep -c -E "$3" || true; }

version="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ), repo at $version, programs from $build, $(nproc) CPUs:" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "# ZooKeeper $(dpkg-query -W -f='${Version}' zookeeper 2>/dev/null || echo '?'):" \
  "tickTime=$tick initLimit=$init_limit syncLimit=$sync_limit (followers drop a silent leader" \
  "after $(secs "$sync_ms") s); zkv --session-timeout $st_ask (granted $st ms," \
  "fenced $(secs $((st * 3 / 4))) s after the last confirmed round trip)"
[ "$hang_ms" -eq 0 ] &&
  echo "# leader stopped until a new one is elected, writes work on every range and at least $(secs "$min_hang_ms") s passed" ||
  echo "# leader stopped for $(secs "$hang_ms") s"

declare -a results elect_times
failed=0
for trial in $(seq 1 "$trials"); do
  wait_for 120 ensemble_whole || die "trial $trial: the ensemble is not whole"
  wait_for 180 ready || die "trial $trial: the cluster is not ready (ranges without owner or replicas out of sync)"
  L=$leader
  others=() other_zk=""
  for i in 1 2 3; do
    [ "$i" -eq "$L" ] && continue
    others+=("$i")
    other_zk+="${other_zk:+,}127.0.0.1:${cport[i]}"
  done
  # The writer's own ZooKeeper sessions (libzkv's map watch) go to the two servers that stay
  # up: what is measured is the nodes' unavailability, not a map refresh of the client
  # stuck on the hung server (docs/zookeeper.md).
  [ "$(ask "client $other_zk" 40)" = ok ] || die "trial $trial: the writer could not reconnect"
  ask mark >/dev/null
  wait_for 60 writer_ok || die "trial $trial: writes do not work on every range before the hang: $(ask allok)"
  declare -A from=()
  for n in node-1 node-2 node-3 coordinator; do from[$n]=$(lines "$n"); done

  ask begin >/dev/null
  t0=$(now_ms)
  t0_wall="$(date -u +%H:%M:%S.%3N)"
  kill -STOP "${zkpid[L]}"
  t_elect=0 new_leader="" marked=0
  deadline=$((t0 + sync_ms + init_limit * tick + 90000))
  while :; do
    t=$(now_ms)
    [ "$t" -lt "$deadline" ] || die "trial $trial: no recovery within $(secs $((t - t0))) s of stopping zk$L"
    if [ "$t_elect" -eq 0 ]; then
      for i in "${others[@]}"; do
        if [ "$(zk_mode "$i")" = leader ]; then t_elect=$(now_ms); new_leader=$i; fi
      done
    fi
    if [ "$hang_ms" -gt 0 ]; then
      [ $((t - t0)) -lt "$hang_ms" ] || break
    elif [ "$t_elect" -gt 0 ] && [ $((t - t0)) -ge "$min_hang_ms" ]; then
      if [ "$marked" -eq 0 ]; then ask mark >/dev/null; marked=1; fi
      writer_ok && break
    fi
    sleep 0.1
  done
  t_cont=$(now_ms)
  kill -CONT "${zkpid[L]}"
  wait_for $((60 + init_limit * tick / 1000)) ensemble_whole ||
    die "trial $trial: the ensemble was not whole within $((60 + init_limit * tick / 1000)) s of SIGCONT"
  t_whole=$(now_ms)
  # Settle: the old leader rejoining must not cost anything either; watch a session timeout
  # and more, then until every range takes writes.
  sleep "$(secs $((st + 2000)))"
  ask mark >/dev/null
  wait_for 90 writer_ok || log "trial $trial: writes still fail after the ensemble is whole: $(ask allok)"
  rep="$(ask report)"
  printf '%s\n' "$rep" >"$tmp/trial-$trial.json"
  # Who fenced, whose session expired, what the coordinator did, from the logs.
  fenced="" expired="" lost=""
  for n in node-1 node-2 node-3; do
    [ "$(new_lines "$n" "${from[$n]}" 'fenced:')" -eq 0 ] || fenced+="${fenced:+,}$n"
    [ "$(new_lines "$n" "${from[$n]}" 'session expired')" -eq 0 ] || expired+="${expired:+,}$n"
    [ "$(new_lines "$n" "${from[$n]}" 'connection lost')" -eq 0 ] || lost+="${lost:+,}$n"
  done
  failovers=$(new_lines coordinator "${from[coordinator]}" 'failover ')
  summary="$(python3 - "$rep" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
w = max(r, key=lambda x: x["gap_ms"])
hit = [x for x in r if x["gap_ms"] >= 200]
fails = sum(x["fails"] for x in r)
err = w["errors"][0][0] if w["errors"] else ""
print(w["gap_ms"], "%s (owner %s, from +%.1f s to +%.1f s)" % (w["range"], w["owner"], w["from_ms"] / 1000,
      w["to_ms"] / 1000), "%d of %d ranges >= 0.2 s, %d failed PUTs%s" % (len(hit), len(r), fails,
      ("; e.g. \"%s\"" % err) if err else ""), sep="\t")
PY
)"
  IFS=$'\t' read -r gap where what <<<"$summary"
  results+=("$gap")
  el=$((t_elect > 0 ? t_elect - t0 : -1))
  elect_times+=("$el")
  printf 'trial %d: zk%d (leader) stopped at %s for %s s, zk%s elected after %s s, whole %s s after SIGCONT;' \
    "$trial" "$L" "$t0_wall" "$(secs $((t_cont - t0)))" "${new_leader:-?}" \
    "$([ "$el" -ge 0 ] && secs "$el" || echo '?')" "$(secs $((t_whole - t_cont)))"
  printf ' writes: longest outage %d ms on %s; %s; ZooKeeper connection lost: %s; fenced: %s;' \
    "$gap" "$where" "$what" "${lost:-none}" "${fenced:-none}"
  printf ' session expired: %s; failovers: %d\n' "${expired:-none}" "$failovers"
  if [ "$check" -eq 1 ] && [ "$gap" -gt "$bound_ms" ]; then failed=$((failed + 1)); fi
done

# stats N...: "max X ms, median Y ms" of the numbers that are not negative.
stats() { printf '%s\n' "$@" | awk '$1 >= 0' | sort -n | awk '{ a[NR] = $1 } END {
  if (NR == 0) { printf "none"; exit }
  m = (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2); printf "max %d ms, median %d ms", a[NR], m }'; }
echo "summary: tickTime=$tick initLimit=$init_limit syncLimit=$sync_limit session-timeout=$st ms," \
  "$trials trial(s): write unavailability $(stats "${results[@]}");" \
  "new leader elected after $(stats "${elect_times[@]}")"
if [ "$check" -eq 1 ]; then
  if [ "$failed" -gt 0 ]; then
    echo "check FAILED: $failed trial(s) above the bound of $bound_ms ms" \
      "(syncLimit*tickTime $sync_ms + 2 ticks + 2000 + 2/3 of the session timeout + 1000)"
    exit 1
  fi
  echo "check ok: every trial within the bound of $bound_ms ms" \
    "(syncLimit*tickTime $sync_ms + 2 ticks + 2000 + 2/3 of the session timeout + 1000)"
fi
