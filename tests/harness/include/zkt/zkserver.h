/* zkserver.h: a real standalone ZooKeeper server for a test, on a free loopback port with
 * its data in the run's temp dir (tickTime 200 ms, sessions 400..60000 ms). Started with
 * `java -cp zookeeper.jar:slf4j-simple.jar QuorumPeerMain zoo.cfg` (java from PATH) and
 * considered up when `ruok` answers `imok`. Can be stopped and restarted on the same port
 * and dataDir (ZooKeeper restart tests). */
#ifndef ZKT_ZKSERVER_H
#define ZKT_ZKSERVER_H
#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#define ZKT_ZK_START_MS 20000

typedef struct zkt_zkserver {
    int port;
    char connect[64]; /* "127.0.0.1:PORT" */
    char dir[PATH_MAX];
    char cfg[PATH_MAX];
    char log[PATH_MAX];
    pid_t pid; /* 0 while stopped */
} zkt_zkserver;

/* Writes DIR/zoo.cfg (DIR = <tmpdir>/<name>), starts the server and waits until it
 * answers imok. Returns 0 or -1. */
int zkt_zk_start(zkt_zkserver *z, const char *name);
/* Stops it (SIGTERM, bounded wait, then SIGKILL). Returns 0 or -1. */
int zkt_zk_stop(zkt_zkserver *z);
/* SIGKILL: a crash. Returns 0 or -1. */
int zkt_zk_kill(zkt_zkserver *z);
/* Starts it again with the same port and dataDir and waits for imok. Returns 0 or -1. */
int zkt_zk_restart(zkt_zkserver *z);
/* Sends a four-letter word ("ruok", "srvr", "mntr") and returns the answer (malloc'd) or
 * NULL when nothing answered within timeout_ms. */
char *zkt_zk_4lw(int port, const char *cmd, int timeout_ms);
/* true when the server on port answers ruok with imok. */
bool zkt_zk_ruok(int port);

#endif
