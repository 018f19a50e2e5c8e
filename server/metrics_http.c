/* metrics_http.c: the libmicrohttpd shell of --metrics (see metrics_http.h). The listening
 * socket is made here (getaddrinfo, SO_REUSEADDR, bind, listen) and handed to the daemon,
 * so a failure to bind comes back with its errno ("Address already in use") instead of
 * libmicrohttpd's bare NULL. Requests are answered on the daemon's internal thread from a
 * copy of the published text taken under the mutex; nothing here prints. */
#include "metrics_http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct zkv_metrics_http {
    struct MHD_Daemon *daemon;
    pthread_mutex_t mu;
    zkv_buf text; /* the latest rendering (guarded by mu) */
};

static enum MHD_Result queue_text(struct MHD_Connection *conn, unsigned int code, const char *body,
                                  size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free((void *)body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ZKV_METRICS_CONTENT_TYPE);
    enum MHD_Result rc = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    zkv_metrics_http *h = cls;
    static const char NOT_FOUND[] = "not found: the metrics are at /metrics\n";
    static const char BAD_METHOD[] = "method not allowed\n";
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return queue_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, BAD_METHOD, sizeof(BAD_METHOD) - 1,
                          MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/metrics") != 0)
        return queue_text(conn, MHD_HTTP_NOT_FOUND, NOT_FOUND, sizeof(NOT_FOUND) - 1,
                          MHD_RESPMEM_PERSISTENT);
    pthread_mutex_lock(&h->mu);
    size_t len = zkv_buf_unread(&h->text);
    char *copy = malloc(len ? len : 1);
    if (copy && len)
        memcpy(copy, zkv_buf_head(&h->text), len);
    pthread_mutex_unlock(&h->mu);
    if (!copy)
        return MHD_NO;
    return queue_text(conn, MHD_HTTP_OK, copy, len, MHD_RESPMEM_MUST_FREE);
}

/* A listening socket on host:port; -1 with the reason in err. *ipv6 says its family. */
static int listen_on(const char *host, int port, int *ipv6, char *err, size_t errlen)
{
    char ports[16];
    snprintf(ports, sizeof(ports), "%d", port);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int grc = getaddrinfo(host, ports, &hints, &res);
    if (grc != 0) {
        snprintf(err, errlen, "cannot resolve %s:%d: %s", host, port, gai_strerror(grc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    *ipv6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return fd;
}

int zkv_metrics_http_start(const char *host, int port, zkv_metrics_http **out, char *err,
                           size_t errlen)
{
    *out = NULL;
    zkv_metrics_http *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int ipv6 = 0;
    int fd = listen_on(host, port, &ipv6, err, errlen);
    if (fd < 0) {
        free(h);
        return -1;
    }
    pthread_mutex_init(&h->mu, NULL);
    zkv_buf_init(&h->text);
    /* epoll (or poll), never select: a node with over 1,024 connections has descriptors
     * beyond FD_SETSIZE, and MHD's select loop cannot serve those. */
    unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | (ipv6 ? MHD_USE_IPv6 : 0);
    h->daemon =
        MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_LISTEN_SOCKET,
                         (MHD_socket)fd, MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, errlen, "cannot start the HTTP server on %s:%d", host, port);
        close(fd);
        pthread_mutex_destroy(&h->mu);
        free(h);
        return -1;
    }
    *out = h;
    return 0;
}

void zkv_metrics_http_publish(zkv_metrics_http *h, zkv_buf *text)
{
    pthread_mutex_lock(&h->mu);
    zkv_buf old = h->text;
    h->text = *text;
    pthread_mutex_unlock(&h->mu);
    *text = old;
    text->len = text->off = 0;
}

void zkv_metrics_http_stop(zkv_metrics_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon); /* joins its thread and closes the listening socket */
    zkv_buf_free(&h->text);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
