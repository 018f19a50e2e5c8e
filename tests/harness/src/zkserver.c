/* zkserver.c: a standalone ZooKeeper server for one test: zoo.cfg in the run's temp dir,
 * the JVM started through the process registry, readiness by the `ruok` four-letter word,
 * stop/kill/restart on the same port and dataDir. */
#include "zkt/zkserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "zkt/port.h"
#include "zkt/proc.h"
#include "zkt/tmpdir.h"
#include "zkt/util.h"
#include "zkt/wait.h"

#define ZK_CLASSPATH "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"

char *zkt_zk_4lw(int port, const char *cmd, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return NULL;
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    uint64_t deadline = zkt_now_ms() + (uint64_t)timeout_ms;
    char *out = NULL;
    size_t len = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS)
        goto done;
    struct pollfd pf = {.fd = fd, .events = POLLOUT};
    if (poll(&pf, 1, timeout_ms) != 1 || (pf.revents & (POLLERR | POLLHUP)))
        goto done;
    if (send(fd, cmd, strlen(cmd), MSG_NOSIGNAL) != (ssize_t)strlen(cmd))
        goto done;
    out = calloc(1, 1);
    for (;;) {
        uint64_t now = zkt_now_ms();
        if (!out || now >= deadline)
            break;
        pf = (struct pollfd){.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, (int)(deadline - now)) != 1)
            break;
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            break; /* the server closes after answering */
        char *nb = realloc(out, len + (size_t)n + 1);
        if (!nb)
            break;
        out = nb;
        memcpy(out + len, buf, (size_t)n);
        len += (size_t)n;
        out[len] = '\0';
    }
    if (out && len == 0) {
        free(out);
        out = NULL;
    }
done:
    close(fd);
    return out;
}

bool zkt_zk_ruok(int port)
{
    char *a = zkt_zk_4lw(port, "ruok", 1000);
    bool ok = a && strncmp(a, "imok", 4) == 0;
    free(a);
    return ok;
}

typedef struct ready_arg {
    zkt_zkserver *z;
    bool died;
} ready_arg;

static bool zk_ready(void *p)
{
    ready_arg *a = p;
    if (!zkt_proc_alive(a->z->pid)) {
        a->died = true;
        return true;
    }
    if (!zkt_zk_ruok(a->z->port))
        return false;
    /* imok comes as soon as the process runs; srvr says whether it serves requests yet
     * ("This ZooKeeper instance is not currently serving requests" until the data
     * tree is loaded). */
    char *srvr = zkt_zk_4lw(a->z->port, "srvr", 1000);
    bool serving = srvr && strstr(srvr, "Zookeeper version") != NULL;
    free(srvr);
    return serving;
}

static int launch(zkt_zkserver *z)
{
    const char *argv[] = {"java",
                          "-Xmx256m",
                          "-cp",
                          ZK_CLASSPATH,
                          "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                          z->cfg,
                          NULL};
    uint64_t t0 = zkt_now_ms();
    z->pid = zkt_spawn("zookeeper", argv, z->log);
    if (z->pid <= 0) {
        z->pid = 0;
        return -1;
    }
    ready_arg a = {z, false};
    if (!zkt_wait_for(zk_ready, &a, ZKT_ZK_START_MS) || a.died) {
        zkt_log("ZooKeeper on port %d %s; see %s", z->port,
                a.died ? "exited" : "did not answer imok within 20 s", z->log);
        zkt_proc_kill(z->pid);
        z->pid = 0;
        return -1;
    }
    zkt_log("ZooKeeper up on %s in %d ms (pid %d)", z->connect, (int)(zkt_now_ms() - t0),
            (int)z->pid);
    return 0;
}

int zkt_zk_start(zkt_zkserver *z, const char *name)
{
    memset(z, 0, sizeof *z);
    z->port = zkt_free_port();
    if (z->port <= 0)
        return -1;
    snprintf(z->connect, sizeof z->connect, "127.0.0.1:%d", z->port);
    char data[PATH_MAX];
    if (zkt_path(z->dir, sizeof z->dir, "%s", name) != 0 ||
        zkt_path(data, sizeof data, "%s/data", name) != 0 ||
        zkt_path(z->cfg, sizeof z->cfg, "%s/zoo.cfg", name) != 0 ||
        zkt_path(z->log, sizeof z->log, "%s/zookeeper.log", name) != 0)
        return -1;
    if (zkt_mkdirs(data) != 0)
        return -1;
    char cfg[PATH_MAX + 512];
    int n = snprintf(cfg, sizeof cfg,
                     "tickTime=200\n"
                     "initLimit=10\n"
                     "syncLimit=5\n"
                     "dataDir=%s\n"
                     "clientPort=%d\n"
                     "clientPortAddress=127.0.0.1\n"
                     "admin.enableServer=false\n"
                     "4lw.commands.whitelist=srvr,ruok,mntr\n"
                     "minSessionTimeout=400\n"
                     "maxSessionTimeout=60000\n",
                     data, z->port);
    if (zkt_write_file(z->cfg, cfg, (size_t)n) != 0)
        return -1;
    return launch(z);
}

int zkt_zk_stop(zkt_zkserver *z)
{
    if (!z->pid)
        return 0;
    int code = zkt_proc_stop(z->pid, 10000);
    zkt_log("ZooKeeper on port %d stopped (exit %d)", z->port, code);
    z->pid = 0;
    return 0;
}

int zkt_zk_kill(zkt_zkserver *z)
{
    if (!z->pid)
        return 0;
    zkt_proc_kill(z->pid);
    zkt_log("ZooKeeper on port %d killed", z->port);
    z->pid = 0;
    return 0;
}

int zkt_zk_restart(zkt_zkserver *z)
{
    if (z->pid)
        zkt_zk_stop(z);
    return launch(z);
}
