/* proxy.c: the partition proxy: one thread polls the listening socket, every pair of
 * (accepted, upstream) sockets and a wake-up pipe; bytes read on one side are written to
 * the other. In blackhole mode it polls only the pipe, so nothing moves and nothing is
 * accepted until it is healed. */
#include "zkt/proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "internal.h"
#include "zkt/port.h"
#include "zkt/util.h"
#include "zkt/wait.h"

#define MAX_PAIRS 64

struct zkt_proxy {
    int listen_fd;
    int port;
    int target_port;
    int wake[2];
    atomic_bool blackhole;
    atomic_bool stop;
    atomic_int reset_asked, reset_done; /* zkt_proxy_reset: requests, and those carried out */
    pthread_t thread;
    int pairs[MAX_PAIRS][2]; /* [accepted, upstream]; -1 when free */
};

static int connect_target(int port)
{
    struct sockaddr_in sa;
    int fd = zkt__loopback_socket(port, &sa);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void close_pair(zkt_proxy *p, int i)
{
    close(p->pairs[i][0]);
    close(p->pairs[i][1]);
    p->pairs[i][0] = p->pairs[i][1] = -1;
}

static void *proxy_main(void *arg)
{
    zkt_proxy *p = arg;
    struct pollfd pf[2 + 2 * MAX_PAIRS];
    int who[2 + 2 * MAX_PAIRS]; /* pair index * 2 + side */
    while (!atomic_load(&p->stop)) {
        int n = 0;
        pf[n++] = (struct pollfd){.fd = p->wake[0], .events = POLLIN};
        bool open = !atomic_load(&p->blackhole);
        if (open) {
            pf[n++] = (struct pollfd){.fd = p->listen_fd, .events = POLLIN};
            for (int i = 0; i < MAX_PAIRS; i++) {
                if (p->pairs[i][0] < 0)
                    continue;
                for (int s = 0; s < 2; s++) {
                    who[n] = i * 2 + s;
                    pf[n++] = (struct pollfd){.fd = p->pairs[i][s], .events = POLLIN};
                }
            }
        }
        if (poll(pf, (nfds_t)n, 1000) <= 0)
            continue;
        if (pf[0].revents) {
            char buf[64];
            ssize_t r = read(p->wake[0], buf, sizeof buf);
            (void)r;
            int asked = atomic_load(&p->reset_asked);
            if (asked != atomic_load(&p->reset_done)) {
                for (int i = 0; i < MAX_PAIRS; i++)
                    if (p->pairs[i][0] >= 0)
                        close_pair(p, i);
                atomic_store(&p->reset_done, asked);
            }
            continue; /* state changed: rebuild the poll set */
        }
        if (!open)
            continue;
        if (pf[1].revents) {
            int a = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            int b = a >= 0 ? connect_target(p->target_port) : -1;
            int slot = -1;
            for (int i = 0; i < MAX_PAIRS && slot < 0; i++)
                if (p->pairs[i][0] < 0)
                    slot = i;
            if (a >= 0 && b >= 0 && slot >= 0) {
                int one = 1;
                setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                p->pairs[slot][0] = a;
                p->pairs[slot][1] = b;
            } else {
                if (a >= 0)
                    close(a);
                if (b >= 0)
                    close(b);
            }
        }
        for (int k = 2; k < n; k++) {
            if (!pf[k].revents)
                continue;
            int i = who[k] / 2, s = who[k] % 2;
            if (p->pairs[i][0] < 0)
                continue; /* closed earlier in this round */
            char buf[65536];
            ssize_t r = recv(p->pairs[i][s], buf, sizeof buf, 0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0 || write_all(p->pairs[i][1 - s], buf, (size_t)r) != 0)
                close_pair(p, i);
        }
    }
    return NULL;
}

zkt_proxy *zkt_proxy_start(int target_port)
{
    zkt_proxy *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    for (int i = 0; i < MAX_PAIRS; i++)
        p->pairs[i][0] = p->pairs[i][1] = -1;
    p->target_port = target_port;
    p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bool ok = false;
    for (int attempt = 0; attempt < 20 && !ok && p->listen_fd >= 0; attempt++) {
        p->port = zkt_free_port();
        sa.sin_port = htons((uint16_t)p->port);
        ok = p->port > 0 && bind(p->listen_fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    }
    if (!ok || listen(p->listen_fd, 64) != 0 || pipe2(p->wake, O_CLOEXEC) != 0) {
        zkt_log("proxy: cannot listen: %s", strerror(errno));
        if (p->listen_fd >= 0)
            close(p->listen_fd);
        free(p);
        return NULL;
    }
    if (pthread_create(&p->thread, NULL, proxy_main, p) != 0) {
        close(p->listen_fd);
        close(p->wake[0]);
        close(p->wake[1]);
        free(p);
        return NULL;
    }
    zkt_log("proxy 127.0.0.1:%d -> 127.0.0.1:%d", p->port, target_port);
    return p;
}

int zkt_proxy_port(const zkt_proxy *p)
{
    return p->port;
}

void zkt_proxy_set_blackhole(zkt_proxy *p, bool on)
{
    atomic_store(&p->blackhole, on);
    ssize_t w = write(p->wake[1], "x", 1);
    (void)w;
    zkt_log("proxy :%d -> :%d %s", p->port, p->target_port,
            on ? "BLACKHOLED (partition)" : "healed");
}

void zkt_proxy_reset(zkt_proxy *p)
{
    int want = atomic_fetch_add(&p->reset_asked, 1) + 1;
    ssize_t w = write(p->wake[1], "x", 1);
    (void)w;
    for (int i = 0; i < 500 && atomic_load(&p->reset_done) != want; i++)
        zkt_pause_ms(2);
    zkt_log("proxy :%d -> :%d: connections closed, bytes held back dropped", p->port,
            p->target_port);
}

void zkt_proxy_stop(zkt_proxy *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, true);
    ssize_t w = write(p->wake[1], "x", 1);
    (void)w;
    pthread_join(p->thread, NULL);
    for (int i = 0; i < MAX_PAIRS; i++)
        if (p->pairs[i][0] >= 0)
            close_pair(p, i);
    close(p->listen_fd);
    close(p->wake[0]);
    close(p->wake[1]);
    free(p);
}
