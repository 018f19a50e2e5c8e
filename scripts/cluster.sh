#!/usr/bin/env bash
# cluster.sh: a local zkv cluster for trying zkv out: ZooKeeper, one coordinator and three
# zkv-server nodes on loopback, state under .local/cluster/ in the repo.
#
#   scripts/cluster.sh up       install what is missing, build, start, open the REPL
#   scripts/cluster.sh start    start what is not running, with the binaries there are
#                               (built first only when missing; --rebuild: build anyway)
#   scripts/cluster.sh build    install what is missing and build
#   scripts/cluster.sh repl     open the REPL against the running cluster
#   scripts/cluster.sh status   what runs, and the ranges table
#   scripts/cluster.sh rolling-restart
#                               restart the nodes one at a time (SIGTERM: each hands its
#                               ranges off first), waiting for every range to be served and
#                               every replica in sync before the next
#   scripts/cluster.sh down     stop everything (data stays; "down --wipe" removes it)
#
# Unknown commands and options are refused (exit 2).
# Environment: ZKV_ZK_PORT (2181), ZKV_NODES (3), ZKV_BASE_PORT (7401), ZKV_CLUSTER.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/shell-lib.sh
. "$root/scripts/shell-lib.sh"
state="$root/.local/cluster"
zk_port="${ZKV_ZK_PORT:-2181}"
nodes="${ZKV_NODES:-3}"
base_port="${ZKV_BASE_PORT:-7401}"
cluster="${ZKV_CLUSTER:-default}"
zk="127.0.0.1:$zk_port"
bin="$root/build"
export ZKV_ZK="$zk" ZKV_CLUSTER="$cluster"

log() { printf 'cluster: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }


# ZooKeeper answers "srvr" only once it serves requests ("ruok" answers earlier).
# start_daemon NAME COMMAND...: runs COMMAND in the background, logs and pid under $state.
start_daemon() {
  local name="$1"; shift
  if alive "$state/$name.pid"; then log "$name already running (pid $(cat "$state/$name.pid"))"; return; fi
  setsid "$@" >>"$state/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$state/$name.pid"
  log "started $name (pid $!), log: .local/cluster/logs/$name.log"
}

start_zookeeper() {
  if alive "$state/zookeeper.pid"; then return; fi
  if zk_ok "$zk_port"; then die "something else already answers on 127.0.0.1:$zk_port; set ZKV_ZK_PORT to a free port"; fi
  local cmd
  cmd="$(zk_config "$state" "$zk_port")"
  # shellcheck disable=SC2086 # the command's words
  start_daemon zookeeper $cmd
  wait_for 30 zk_ok "$zk_port" || die "ZooKeeper did not answer on $zk within 30 s; see .local/cluster/logs/zookeeper.log"
}

# all_served: every range has an owner that answers (its SEQ is known, not "?") and is
# registered (its ADDRESS is not "(down)").
all_served() {
  local out
  out="$("$bin/repl/zkv" ranges 2>/dev/null)" || return 1
  printf '%s\n' "$out" | awk 'NR > 1 { n++; if ($3 == "-" || $7 == "?" || $10 == "(down)") bad++ }
    END { exit (n > 0 && bad == 0) ? 0 : 1 }'
}

# all_in_sync: every range is served and lists as many in-sync replicas as replicas.
all_in_sync() {
  all_served || return 1
  "$bin/repl/zkv" ranges 2>/dev/null | awk 'NR > 1 {
      r = ($4 == "-") ? 0 : split($4, a, ","); s = ($5 == "-") ? 0 : split($5, b, ",")
      if (r != s) bad++ }
    END { exit bad ? 1 : 0 }'
}

start_node() {
  local i="$1"
  start_daemon "node-$i" "$bin/server/zkv-server" --id "node-$i" \
    --listen "127.0.0.1:$((base_port + i - 1))" --data-dir "$state/node-$i"
}

rolling_restart() {
  [ -x "$bin/server/zkv-server" ] || die "not built; run scripts/cluster.sh start first"
  for i in $(seq 1 "$nodes"); do
    local pidfile="$state/node-$i.pid"
    alive "$pidfile" || { log "node-$i is not running; starting it"; start_node "$i"; continue; }
    wait_for 120 all_in_sync || die "not every replica is in sync; not restarting node-$i"
    local pid; pid="$(cat "$pidfile")"
    log "node-$i: SIGTERM (it hands its ranges to in-sync replicas, then exits)"
    kill -TERM "$pid"
    wait_for 60 bash -c "! kill -0 $pid" || die "node-$i (pid $pid) did not exit within 60 s"
    rm -f "$pidfile"
    start_node "$i"
    wait_for 120 all_served || die "ranges not all served within 120 s after node-$i restarted"
  done
  wait_for 120 all_in_sync || die "replicas not all in sync within 120 s"
  log "rolling restart done: every range served, every replica in sync"
}

build() {
  "$root/scripts/install-deps.sh"
  "$root/scripts/build.sh" release >/dev/null
}

built() {
  [ -x "$bin/server/zkv-server" ] && [ -x "$bin/coordinator/zkv-coordinator" ] && [ -x "$bin/repl/zkv" ]
}

start() {
  if [ "${1:-}" = rebuild ] || ! built; then build; fi
  mkdir -p "$state/logs"
  start_zookeeper
  for i in $(seq 1 "$nodes"); do
    start_node "$i"
  done
  start_daemon coordinator "$bin/coordinator/zkv-coordinator" --min-nodes "$nodes"
  wait_for 60 all_served || die "ranges not all served within 60 s; see .local/cluster/logs/"
  log "cluster '$cluster' is up (every range served): ZooKeeper at $zk, $nodes nodes from 127.0.0.1:$base_port"
}

stop() {
  for pidfile in "$state"/coordinator.pid "$state"/node-*.pid "$state"/zookeeper.pid; do
    [ -f "$pidfile" ] || continue
    local pid name
    pid="$(cat "$pidfile")"; name="$(basename "$pidfile" .pid)"
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait_for 15 bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
      log "stopped $name (pid $pid)"
    fi
    rm -f "$pidfile"
  done
}

status() {
  for pidfile in "$state"/*.pid; do
    [ -f "$pidfile" ] || { log "nothing runs"; return; }
    if alive "$pidfile"; then s=running; else s=dead; fi
    printf '%-12s pid %-8s %s\n' "$(basename "$pidfile" .pid)" "$(cat "$pidfile")" "$s"
  done
  "$bin/repl/zkv" ranges || true
}

usage() {
  echo "usage: scripts/cluster.sh [up [--rebuild] | start [--rebuild] | build | repl | status | rolling-restart | down [--wipe]]" >&2
  exit 2
}

cmd="${1:-up}"
[ "$#" -eq 0 ] || shift
opt=""
case "$cmd:$*" in
  up:|start:|build:|repl:|status:|rolling-restart:|down:|stop:) ;;
  up:--rebuild|start:--rebuild) opt=rebuild ;;
  down:--wipe|stop:--wipe) opt=wipe ;;
  *) log "unknown command or option: $cmd${*:+ $*}"; usage ;;
esac
case "$cmd" in
  up) build; start; exec "$bin/repl/zkv" ;;
  start) start "$opt" ;;
  build) build ;;
  repl) exec "$bin/repl/zkv" ;;
  status) status ;;
  rolling-restart) rolling_restart ;;
  down|stop) stop; if [ "$opt" = wipe ]; then rm -rf "$state"; log "removed .local/cluster"; fi ;;
esac
