/* port.c: free loopback ports. A port is taken from below the kernel's ephemeral range
 * (net.ipv4.ip_local_port_range), where no outgoing connection's source port can take it
 * between this check and the server's bind (a port from bind(0) can be: a ZooKeeper
 * client connecting meanwhile got one such port), and checked by binding it. Ports
 * already given are remembered and skipped. When the range leaves no room below it, the
 * kernel picks (bind 127.0.0.1:0). */
#include "zkt/port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

#define ZKT_MAX_PORTS 1024

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_given[ZKT_MAX_PORTS];
static int g_n_given;

int zkt__loopback_socket(int port, struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa->sin_port = htons((uint16_t)port);
    return fd;
}

/* Binds 127.0.0.1:want (0: the kernel picks); returns the port bound, or -1. */
static int bind_port(int want)
{
    struct sockaddr_in sa;
    int fd = zkt__loopback_socket(want, &sa);
    if (fd < 0)
        return -1;
    socklen_t sl = sizeof sa;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

#define LOW_PORT 10000 /* candidates are [LOW_PORT, start of the ephemeral range) */

/* The first port of the ephemeral range (32768 when it cannot be read). */
static int ephemeral_start(void)
{
    int lo = 32768, hi = 0;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d %d", &lo, &hi) != 2)
            lo = 32768;
        fclose(f);
    }
    return lo;
}

static int candidate(void)
{
    static unsigned state;
    int top = ephemeral_start();
    if (top - LOW_PORT < 1000)
        return bind_port(0);
    if (state == 0)
        state = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);
    state = state * 1103515245u + 12345u;
    return bind_port(LOW_PORT + (int)((state >> 8) % (unsigned)(top - LOW_PORT)));
}

int zkt_free_port(void)
{
    pthread_mutex_lock(&g_lock);
    int port = -1;
    for (int attempt = 0; attempt < 100 && port < 0; attempt++) {
        int p = candidate();
        if (p <= 0)
            continue;
        int seen = 0;
        for (int i = 0; i < g_n_given; i++)
            if (g_given[i] == p)
                seen = 1;
        if (!seen)
            port = p;
    }
    if (port > 0 && g_n_given < ZKT_MAX_PORTS)
        g_given[g_n_given++] = port;
    pthread_mutex_unlock(&g_lock);
    return port;
}
