/* port.c: free loopback ports: bind 127.0.0.1:0, read the chosen port, close. The kernel
 * may hand a just-closed port out again, so ports already given are remembered and
 * skipped. */
#include "zkt/port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
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

static int bind_any(void)
{
    struct sockaddr_in sa;
    int fd = zkt__loopback_socket(0, &sa);
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

int zkt_free_port(void)
{
    pthread_mutex_lock(&g_lock);
    int port = -1;
    for (int attempt = 0; attempt < 100 && port < 0; attempt++) {
        int p = bind_any();
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
