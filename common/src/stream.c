/* stream.c: plain and TLS streams over a non-blocking socket (stream.h). Plain reads go
 * straight into the caller's buffer and writes straight from it; TLS reads ciphertext
 * into s->cin and hands it to the session, and writes the session's outbox. send(2)
 * uses MSG_NOSIGNAL, so a peer that closed never raises SIGPIPE in the application. */
#include "common/stream.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"

#define READ_CHUNK ((size_t)64 * 1024)

void zkv_stream_init(zkv_stream *s)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

int zkv_stream_connect(const struct addrinfo *ai, int *fd)
{
    *fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (*fd < 0)
        return -1;
    if (connect(*fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return zkv_stream_connected(*fd) == 0 ? 0 : -1;
    if (errno == EINPROGRESS)
        return 1;
    int e = errno;
    close(*fd);
    *fd = -1;
    errno = e;
    return -1;
}

int zkv_stream_connected(int fd)
{
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
        return errno;
    if (soerr != 0)
        return soerr;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;
}

int zkv_stream_open(zkv_stream *s, int fd, const zkv_tls_ctx *ctx, const char *peer_addr)
{
    s->fd = fd;
    s->err[0] = '\0';
    if (!ctx)
        return 0;
    char host[256];
    int port = 0;
    if (zkv_parse_hostport(peer_addr, host, sizeof host, &port) != 0)
        snprintf(host, sizeof host, "%s", peer_addr);
    s->tls = zkv_tls_new(ctx, host);
    if (!s->tls || zkv_tls_start(s->tls) != ZKV_TLS_OK) {
        zkv_stream_close(s);
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

static int tls_failed(zkv_stream *s, const char *why)
{
    snprintf(s->err, sizeof s->err, "%s", why);
    return ZKV_STREAM_TLS;
}

/* Writes b to the socket as far as it takes it. */
static int send_some(int fd, zkv_buf *b)
{
    while (zkv_buf_unread(b) > 0) {
        ssize_t w = send(fd, zkv_buf_head(b), zkv_buf_unread(b), MSG_NOSIGNAL);
        if (w > 0) {
            zkv_buf_consume(b, (size_t)w);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        return ZKV_STREAM_ERRNO;
    }
    return 0;
}

/* recv(2) into b's free room: bytes, 0 for nothing now, or a ZKV_STREAM_ code. */
static ssize_t recv_into(int fd, zkv_buf *b)
{
    zkv_buf_compact(b);
    if (zkv_buf_reserve(b, READ_CHUNK) != 0) {
        errno = ENOMEM;
        return ZKV_STREAM_ERRNO;
    }
    for (;;) {
        ssize_t r = recv(fd, b->data + b->len, b->cap - b->len, 0);
        if (r > 0) {
            b->len += (size_t)r;
            return r;
        }
        if (r == 0)
            return ZKV_STREAM_CLOSED;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : ZKV_STREAM_ERRNO;
    }
}

ssize_t zkv_stream_recv(zkv_stream *s, zkv_buf *in)
{
    if (!s->tls)
        return recv_into(s->fd, in);
    ssize_t r = recv_into(s->fd, &s->cin);
    if (r == ZKV_STREAM_CLOSED && !zkv_tls_established(s->tls))
        return tls_failed(s, "TLS: the peer closed the connection during the handshake (a node "
                             "without TLS, or one that refused this certificate)");
    if (r <= 0)
        return r;
    int rc = zkv_tls_recv(s->tls, zkv_buf_head(&s->cin), zkv_buf_unread(&s->cin), in);
    zkv_buf_consume(&s->cin, zkv_buf_unread(&s->cin));
    if (rc == ZKV_TLS_CLOSED)
        return ZKV_STREAM_CLOSED;
    /* Handshake answers and alerts go out now; a failure's alert is best effort. */
    int sent = send_some(s->fd, zkv_tls_outbox(s->tls));
    if (rc != ZKV_TLS_OK)
        return tls_failed(s, zkv_tls_error(s->tls));
    return sent == 0 ? r : ZKV_STREAM_ERRNO;
}

int zkv_stream_send(zkv_stream *s, zkv_buf *out)
{
    if (!s->tls)
        return send_some(s->fd, out);
    if (zkv_buf_unread(out) > 0 && zkv_tls_send(s->tls, out) != ZKV_TLS_OK)
        return tls_failed(s, zkv_tls_error(s->tls));
    return send_some(s->fd, zkv_tls_outbox(s->tls));
}

bool zkv_stream_want_write(const zkv_stream *s, const zkv_buf *out)
{
    if (!s->tls)
        return zkv_buf_unread(out) > 0;
    return zkv_buf_unread(zkv_tls_outbox(s->tls)) > 0 ||
           (zkv_buf_unread(out) > 0 && zkv_tls_established(s->tls));
}

void zkv_stream_close(zkv_stream *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    zkv_tls_free(s->tls);
    s->tls = NULL;
    s->cin.len = s->cin.off = 0;
}

void zkv_stream_free(zkv_stream *s)
{
    zkv_stream_close(s);
    zkv_buf_free(&s->cin);
}
