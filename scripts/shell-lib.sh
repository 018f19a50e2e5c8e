# shell-lib.sh: what the shell scripts that run a cluster share (scripts/cluster.sh,
# bench/lib.sh); sourced (bash): bounded waits, and a standalone ZooKeeper from Debian's
# zookeeper package. The C test harness has its own (tests/harness/src/zkserver.c).

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds or time is up.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# zk_ok PORT: ZooKeeper answers "srvr" on 127.0.0.1:PORT.
zk_ok() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && printf srvr >&3 && grep -q Mode <&3" 2>/dev/null
}

# zk_config DIR PORT: writes DIR/zoo.cfg for a server on 127.0.0.1:PORT with its data in
# DIR/zookeeper; prints the command that runs it.
zk_config() {
  local dir="$1" port="$2"
  mkdir -p "$dir/zookeeper"
  cat >"$dir/zoo.cfg" <<CFG
tickTime=2000
dataDir=$dir/zookeeper
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=srvr,ruok,mntr
CFG
  echo "java -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar" \
    "org.apache.zookeeper.server.quorum.QuorumPeerMain $dir/zoo.cfg"
}

zkv_ports_given=" "
# free_port VAR: sets VAR to a loopback port that nothing listens on or uses and that this
# shell has not handed out before, below the kernel's ephemeral range (where a connection's source
# port could take it between this check and the bind). Sets a variable rather than printing,
# so the list of ports handed out survives (a $(...) would lose it in a subshell); its
# locals have names no caller's VAR has.
free_port() {
  local zkv_fp_port zkv_fp_low
  zkv_fp_low="$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
  [ "$zkv_fp_low" -gt 21000 ] || zkv_fp_low=32768
  for _ in $(seq 1 500); do
    zkv_fp_port=$((20000 + RANDOM % (zkv_fp_low - 20000)))
    case "$zkv_ports_given" in *" $zkv_fp_port "*) continue ;; esac
    if (exec 3<>"/dev/tcp/127.0.0.1/$zkv_fp_port") 2>/dev/null; then continue; fi
    # nor in use in any state (TIME_WAIT, a connection's source port)
    if command -v ss >/dev/null && ss -Htan "( sport = :$zkv_fp_port or dport = :$zkv_fp_port )" | grep -q .; then
      continue
    fi
    zkv_ports_given+="$zkv_fp_port "
    printf -v "$1" '%s' "$zkv_fp_port"
    return 0
  done
  echo "free_port: no free loopback port found" >&2
  return 1
}

# kill_pids PID...: stops the processes, the last given first: SIGCONT (a stopped process
# would not act on SIGTERM) and SIGTERM to each, then SIGKILL to any still running 10 s
# later, then reaps the shell's own children.
kill_pids() {
  local zkv_kp_i zkv_kp_pids=("$@")
  for ((zkv_kp_i = ${#zkv_kp_pids[@]} - 1; zkv_kp_i >= 0; zkv_kp_i--)); do
    kill -0 "${zkv_kp_pids[$zkv_kp_i]}" 2>/dev/null || continue
    kill -CONT "${zkv_kp_pids[$zkv_kp_i]}" 2>/dev/null || true
    kill -TERM "${zkv_kp_pids[$zkv_kp_i]}" 2>/dev/null || true
  done
  for ((zkv_kp_i = ${#zkv_kp_pids[@]} - 1; zkv_kp_i >= 0; zkv_kp_i--)); do
    for _ in $(seq 1 100); do kill -0 "${zkv_kp_pids[$zkv_kp_i]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${zkv_kp_pids[$zkv_kp_i]}" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
