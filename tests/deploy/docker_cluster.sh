#!/usr/bin/env bash
# docker_cluster.sh SOURCE_DIR: the containers, built and run for real (ctest deploy_docker;
# docker/README.md):
#  - a Docker engine: DOCKER_HOST's or the default socket's when one answers, else (as root)
#    a dockerd of its own with its state under ZKV_DOCKER_STATE (default /var/tmp/zkv-docker,
#    kept, so a rerun reuses the images and layers built before), its own socket, exec root
#    and pid file, no bridge and no iptables rules (everything runs on the host's network),
#    killed by pid at the end;
#  - the images: docker/build-images.sh (the base image by debootstrap when absent, then
#    zkv:VERSION and zkv-zookeeper:VERSION);
#  - docker/compose.yaml on free loopback ports, a project of its own: waits (bounded) for the
#    three zkv nodes to be healthy (their /ready), writes and reads keys across the whole key
#    space with the REPL container (`docker-compose run --rm -T repl`), SIGKILLs the
#    container of a node that owns ranges, and waits (bounded) until every key, those of the
#    dead node's ranges included, is read from an owner (--strict) and written again;
#  - `docker-compose down -v` and the removal of what it made, on every exit path.
# Prints the time of each phase. Traffic goes to 127.0.0.1 only (host networking).
# Exit 0, 1 with the reason, or 77 ("SKIPPED: why") without dockerd, docker-compose or
# debootstrap, or when no engine answers and none can be started (not root, say).
set -euo pipefail
src="$(cd "${1:?usage: docker_cluster.sh SOURCE_DIR}" && pwd)"
state="${ZKV_DOCKER_STATE:-/var/tmp/zkv-docker}"
version="$(sed -n 's/^project(zkv VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")"

log() { printf 'docker_cluster: %s\n' "$*"; }
skip() { echo "SKIPPED: $*"; exit 77; }
fail() { log "FAILED: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
t_start="$(now)"
timings=()
t_phase="$t_start"
phase_done() { # phase_done NAME: prints and records how long the phase since the last took
  local took; took="$(since "$t_phase")"
  timings+=("$(printf '%-32s %6s s' "$1" "$took")")
  log "phase '$1' done in $took s"
  t_phase="$(now)"
}

# wait_for (bounded polling) and free_port
# shellcheck source=scripts/shell-lib.sh
. "$src/scripts/shell-lib.sh"

for tool in docker dockerd docker-compose debootstrap; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/install-deps.sh installs docker.io, docker-compose and debootstrap)"
done
[ -n "$version" ] || fail "no version in $src/CMakeLists.txt"

# --- cleanup, on every exit path ---------------------------------------------------------
dockerd_pid=""    # the engine this script started (or took over), killed at the end
project=""        # the compose project, taken down at the end
work="$(mktemp -d /tmp/zkv-docker-test.XXXXXX)"
compose() { docker-compose -f "$src/docker/compose.yaml" -p "$project" "$@"; }

# remove_project NAME: its containers, volumes and networks, whatever state they are in.
remove_project() {
  local name="$1" ids
  timeout 120 docker-compose -f "$src/docker/compose.yaml" -p "$name" --profile tools \
    down -v --remove-orphans -t 20 >"$work/down.log" 2>&1 || cat "$work/down.log"
  ids="$(docker ps -aq --filter "label=com.docker.compose.project=$name")"
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086 # the ids
    docker rm -f -v $ids >/dev/null 2>&1 || true
  fi
  ids="$(docker volume ls -q --filter "label=com.docker.compose.project=$name")"
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086 # the names
    docker volume rm -f $ids >/dev/null 2>&1 || true
  fi
}

stop_dockerd() {
  local pid="$1"
  if kill -TERM "$pid" 2>/dev/null; then
    wait_for 60 bash -c "! kill -0 $pid" || { log "dockerd (pid $pid) did not stop in 60 s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; }
  fi
  # what dockerd leaves mounted under its exec root (its netns/default)
  awk -v p="$state/exec/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r \
    | while IFS= read -r m; do umount "$m" 2>/dev/null || true; done
}

# The script's own stdout and stderr: a signal's trap can run inside a function whose
# output is redirected to a file, and the cleanup must still be seen.
exec 7>&1 8>&2
cleanup() {
  local rc=$?
  exec 1>&7 2>&8
  trap - EXIT INT TERM HUP
  local t; t="$(now)"
  if [ -n "$project" ]; then
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
      log "the end of the containers' logs:"
      timeout 30 docker-compose -f "$src/docker/compose.yaml" -p "$project" logs --no-color --tail 25 2>&1 | sed 's/^/  /' || true
    fi
    remove_project "$project"
    log "removed project $project (containers, volumes) in $(since "$t") s"
  fi
  if [ -n "$dockerd_pid" ]; then
    stop_dockerd "$dockerd_pid"
    log "stopped dockerd (pid $dockerd_pid)"
  fi
  rm -rf "$work"
  if [ "${#timings[@]}" -gt 0 ]; then
    log "timings:"
    printf '  %s\n' "${timings[@]}"
  fi
  log "total $(since "$t_start") s, exit $rc"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# --- the engine --------------------------------------------------------------------------
engine_ok() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if [ -n "${DOCKER_HOST:-}" ] && engine_ok; then
  log "using the engine at DOCKER_HOST=$DOCKER_HOST"
elif [ -z "${DOCKER_HOST:-}" ] && [ -S /var/run/docker.sock ] && engine_ok; then
  log "using the engine at /var/run/docker.sock"
else
  [ "$(id -u)" -eq 0 ] || skip "no Docker engine answers (DOCKER_HOST=${DOCKER_HOST:-unset}) and starting one needs root"
  mkdir -p "$state"
  # One run at a time owns the engine of $state.
  exec 9>"$state/lock"
  flock -w 300 9 || fail "another run held $state/lock for 300 s"
  export DOCKER_HOST="unix://$state/docker.sock"
  pidfile="$state/dockerd.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && engine_ok; then
    # a run killed before its cleanup left it: take it over (and stop it at the end)
    dockerd_pid="$(cat "$pidfile")"
    log "taking over the dockerd a previous run left (pid $dockerd_pid)"
  else
    setsid dockerd --data-root "$state/data" --exec-root "$state/exec" \
      -H "$DOCKER_HOST" --pidfile "$pidfile" \
      --bridge=none --iptables=false --ip-masq=false --ip-forward=false \
      >"$state/dockerd.log" 2>&1 </dev/null 7>&- 8>&- 9>&- &
    dockerd_pid=$!
    # (a dockerd that cannot run here, in an unprivileged container say, exits at once)
    engine_or_dead() { engine_ok || ! kill -0 "$dockerd_pid" 2>/dev/null; }
    wait_for 60 engine_or_dead || true
    if ! engine_ok; then
      tail -n 20 "$state/dockerd.log" | sed 's/^/  /'
      if kill -0 "$dockerd_pid" 2>/dev/null; then stop_dockerd "$dockerd_pid"; fi
      dockerd_pid=""
      skip "dockerd did not start (log: $state/dockerd.log)"
    fi
    dockerd_pid="$(cat "$pidfile")"
    log "started dockerd (pid $dockerd_pid), state in $state, socket $DOCKER_HOST"
  fi
  # Compose projects of earlier runs of this script that were killed before cleaning up.
  for old in $(docker ps -a --filter label=com.docker.compose.project \
                 --format '{{.Label "com.docker.compose.project"}}' | grep '^zkvtest' | sort -u); do
    log "removing project $old, left by an earlier run"
    remove_project "$old"
  done
fi
phase_done "engine"

# --- the images --------------------------------------------------------------------------
if ! ZKV_DOCKER_LOGS="$work/build-logs" "$src/docker/build-images.sh" | sed 's/^/  /'; then
  fail "building the images failed"
fi
if [ -n "$dockerd_pid" ]; then
  # this engine is the test's own: drop the images earlier builds left untagged (the build
  # stages of older sources), so $state does not grow with every change to the sources
  docker image prune -f >/dev/null || true
fi
phase_done "images"

# --- free loopback ports -----------------------------------------------------------------
for var in ZK1_PORT ZK2_PORT ZK3_PORT ZK1_PEER_PORT ZK2_PEER_PORT ZK3_PEER_PORT \
           ZK1_ELECTION_PORT ZK2_ELECTION_PORT ZK3_ELECTION_PORT ZKV1_PORT ZKV2_PORT ZKV3_PORT \
           ZKV1_METRICS_PORT ZKV2_METRICS_PORT ZKV3_METRICS_PORT \
           COORD1_METRICS_PORT COORD2_METRICS_PORT; do
  free_port "$var" || fail "no free port found"
  export "${var?}"
done
export ZKV_IMAGE="zkv:$version" ZK_IMAGE="zkv-zookeeper:$version"
export ZKV_RESTART=no ZKV_CLUSTER=docker-test
log "ports: ZooKeeper $ZK1_PORT $ZK2_PORT $ZK3_PORT, nodes $ZKV1_PORT $ZKV2_PORT $ZKV3_PORT," \
  "metrics $ZKV1_METRICS_PORT $ZKV2_METRICS_PORT $ZKV3_METRICS_PORT, coordinators $COORD1_METRICS_PORT $COORD2_METRICS_PORT"

# --- the cluster -------------------------------------------------------------------------
project="zkvtest-$$-$(date +%s)"
log "docker-compose -p $project up -d"
if ! timeout 300 docker-compose -f "$src/docker/compose.yaml" -p "$project" up -d \
     >"$work/up.log" 2>&1; then
  sed 's/^/  /' "$work/up.log"
  fail "docker-compose up failed"
fi
# the ZooKeeper settings the compose file ships (docs/zookeeper.md)
zkcfg="$(compose exec -T zk1 cat /var/lib/zookeeper/zoo.cfg 2>&1)" || { printf '%s\n' "$zkcfg"; fail "reading zk1's zoo.cfg failed"; }
for want in tickTime=1000 initLimit=20 syncLimit=2; do
  printf '%s\n' "$zkcfg" | grep -qx "$want" || { printf '%s\n' "$zkcfg" | sed 's/^/  /'; fail "zk1's zoo.cfg lacks $want"; }
done
log "zk1 runs with tickTime=1000 initLimit=20 syncLimit=2"
phase_done "compose up (ZooKeeper healthy)"

health() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$(compose ps -q "$1")" 2>/dev/null; }
all_healthy() {
  local s
  for svc in zkv1 zkv2 zkv3; do
    s="$(health "$svc")"
    [ "$s" = healthy ] || return 1
  done
}
if ! wait_for 180 all_healthy; then
  for svc in zkv1 zkv2 zkv3 coordinator1 coordinator2; do log "$svc: $(health "$svc")"; done
  fail "the three nodes were not all healthy within 180 s"
fi
phase_done "nodes healthy"

# repl ARGS...: the REPL container, commands on stdin (a script) or as arguments.
repl() { timeout 60 docker-compose -f "$src/docker/compose.yaml" -p "$project" run --rm -T repl "$@"; }

# Ranges are cut on the first two key bytes, so keys starting with 00, 10, ... f0 fall
# in every one of the initial ranges (8 by default), two keys each.
# The keys are \xHHdocker (the REPL's escape), the value of each VERSION-HH.
firsts=(00 10 20 30 40 50 60 70 80 90 a0 b0 c0 d0 e0 f0)
script_put() { local h; for h in "${firsts[@]}"; do printf 'put "\\x%sdocker" %s-%s\n' "$h" "$1" "$h"; done; }
script_get() { local h; for h in "${firsts[@]}"; do printf 'get "\\x%sdocker"\n' "$h"; done; }
expect_values() { # expect_values VERSION < the output of script_get: every key's value, in order
  local want h; want="$(for h in "${firsts[@]}"; do printf '%s-%s\n' "$1" "$h"; done)"
  [ "$(cat)" = "$want" ]
}

# wait until the cluster takes writes everywhere (every range has its owner)
write_all() { script_put "$1" | repl >"$work/put.out" 2>"$work/put.err"; }
if ! wait_for 120 write_all v1; then
  sed 's/^/  /' "$work/put.out" "$work/put.err"
  fail "writing ${#firsts[@]} keys with the REPL container did not succeed within 120 s"
fi
script_get | repl --strict >"$work/get.out" 2>"$work/get.err" || { sed 's/^/  /' "$work/get.err"; fail "reading the keys back failed"; }
expect_values v1 <"$work/get.out" || { sed 's/^/  /' "$work/get.out"; fail "the keys read back are not the values written"; }
log "wrote and read back ${#firsts[@]} keys with the REPL container"
phase_done "REPL writes and reads"

# --- failover ----------------------------------------------------------------------------
ranges() { repl ranges >"$work/ranges.$1" 2>"$work/ranges.err" || { cat "$work/ranges.err"; fail "zkv ranges failed"; }; }
ranges before
sed 's/^/  /' "$work/ranges.before"
owned_by() { awk -v n="$1" 'NR > 1 && $3 == n { c++ } END { print c + 0 }' "$work/ranges.before"; }
victim=""
for n in zkv2 zkv1 zkv3; do
  if [ "$(owned_by "$n")" -gt 0 ]; then victim="$n"; break; fi
done
[ -n "$victim" ] || fail "no node owns a range"
# keys_of NODE: the keys (their first byte, HH) in the ranges NODE owns in ranges.before;
# a RANGE is START..END, each -inf, +inf or key bytes, \xHH escaped (compared on 2 bytes).
keys_of() {
  awk -v n="$1" -v firsts="${firsts[*]}" '
    function bound(b,   v, i, k, c) {
      if (b == "-inf") return -1
      if (b == "+inf") return 65536
      v = 0; k = 0
      for (i = 1; i <= length(b) && k < 2; k++) {
        if (substr(b, i, 2) == "\\x") { c = hex(substr(b, i + 2, 2)); i += 4 }
        else { c = ord[substr(b, i, 1)]; i++ }
        v = v * 256 + c
      }
      return k == 2 ? v : v * 256
    }
    function hex(h) { return index("0123456789abcdef", substr(h, 1, 1)) * 16 + index("0123456789abcdef", substr(h, 2, 1)) - 17 }
    BEGIN { for (i = 32; i < 127; i++) ord[sprintf("%c", i)] = i; split(firsts, f, " ") }
    NR > 1 && $3 == n {
      split($2, se, "\\.\\.")
      lo = bound(se[1]); hi = bound(se[2])
      for (j = 1; j in f; j++) { key = hex(f[j]) * 256 + 100; if (key >= lo && key < hi) out = out " " f[j] }
    }
    END { print substr(out, 2) }' "$work/ranges.before"
}
victim_keys="$(keys_of "$victim")"
log "killing $victim (SIGKILL), the owner of $(owned_by "$victim") ranges:" \
  "$(awk -v n="$victim" 'NR > 1 && $3 == n { printf " %s [%s)", $1, $2 }' "$work/ranges.before")," \
  "which hold the keys starting with: ${victim_keys:-none}"
[ -n "$victim_keys" ] || fail "no key written falls in a range of $victim"
compose kill -s SIGKILL "$victim" >"$work/kill.log" 2>&1 || { cat "$work/kill.log"; fail "docker-compose kill $victim failed"; }
t_kill="$(now)"

# every key written again and read from an owner, the dead node's ranges' keys included
failed_over() {
  write_all v2 || return 1
  script_get | repl --strict >"$work/get.out" 2>"$work/get.err" || return 1
  expect_values v2 <"$work/get.out"
}
if ! wait_for 120 failed_over; then
  sed 's/^/  /' "$work/put.out" "$work/put.err" "$work/get.out" "$work/get.err"
  repl ranges 2>&1 | sed 's/^/  /' || true
  fail "the keys were not all written and read again within 120 s of killing $victim"
fi
log "every key written and read from an owner again $(since "$t_kill") s after $victim was killed"
ranges after
sed 's/^/  /' "$work/ranges.after"
awk -v n="$victim" 'NR > 1 && $3 == n { bad++ } END { exit bad ? 1 : 0 }' "$work/ranges.after" \
  || fail "$victim, dead, still owns ranges"
phase_done "failover"

# --- down --------------------------------------------------------------------------------
remove_project "$project"
project=""
phase_done "compose down -v"
log "ok"
