/* stream.h: a connection's byte stream over a non-blocking socket, plain or TLS behind one
 * interface (in the manner of Redis's connection.h): the blocking client, the async
 * client and the coordinator connect, read and write through it and never see which
 * kind they hold. Every call returns at once; the caller waits with poll(2) or its event
 * loop, asking for writability while zkv_stream_want_write says so. The node's libuv
 * connections use the TLS session (tls.h) through server/uvstream.h instead. */
#ifndef ZKV_COMMON_STREAM_H
#define ZKV_COMMON_STREAM_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "common/buf.h"
#include "common/tls.h"

struct addrinfo;

typedef struct zkv_stream {
    int fd;        /* -1 while closed */
    zkv_tls *tls;  /* NULL: plain */
    zkv_buf cin;   /* TLS: ciphertext read, not yet taken */
    char err[256]; /* why the last call failed with ZKV_STREAM_TLS */
} zkv_stream;

/* Results of zkv_stream_recv beside a byte count. */
#define ZKV_STREAM_ERRNO (-1)  /* a socket error: errno */
#define ZKV_STREAM_CLOSED (-2) /* the peer closed the connection */
#define ZKV_STREAM_TLS (-3)    /* TLS failed or the peer does not speak it: s->err */

/* An empty, closed stream. */
void zkv_stream_init(zkv_stream *s);
/* Starts a non-blocking connect to ai: 0 connected, 1 in progress (wait for writability,
 * then zkv_stream_connected), -1 with errno. *fd is the socket on 0 and 1. */
int zkv_stream_connect(const struct addrinfo *ai, int *fd);
/* Finishes a connect that was in progress: 0 (TCP_NODELAY set), or the socket's error. */
int zkv_stream_connected(int fd);
/* Makes s the stream of connected socket fd, with TLS when ctx is given (peer_addr's
 * host is what the node's certificate must name) and its first handshake message
 * queued. 0, or -1 out of memory (fd is then closed). */
int zkv_stream_open(zkv_stream *s, int fd, const zkv_tls_ctx *ctx, const char *peer_addr);
/* Reads what the socket has and appends the plaintext to in: the bytes read from the
 * socket (0: nothing now), or ZKV_STREAM_ERRNO, ZKV_STREAM_CLOSED, ZKV_STREAM_TLS. */
ssize_t zkv_stream_recv(zkv_stream *s, zkv_buf *in);
/* Writes as much of out as the socket takes now (TLS: all of out is taken and
 * encrypted, its ciphertext written as far as it goes). 0, ZKV_STREAM_ERRNO or
 * ZKV_STREAM_TLS. */
int zkv_stream_send(zkv_stream *s, zkv_buf *out);
/* Whether there is something to write once the socket is writable. */
bool zkv_stream_want_write(const zkv_stream *s, const zkv_buf *out);
/* Closes the socket and ends the TLS session; s can be opened again. */
void zkv_stream_close(zkv_stream *s);
void zkv_stream_free(zkv_stream *s); /* closes and frees the buffers */

#endif
