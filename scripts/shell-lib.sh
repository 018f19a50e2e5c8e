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
