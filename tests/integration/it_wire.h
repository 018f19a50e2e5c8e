/* it_wire.h: a raw client of the zkv wire protocol for tests that must talk to one
 * node directly, bypassing libzkv's routing: blocking loopback connections, framed
 * requests (common/frame.h, zkv.pb-c.h), raw frames, responses with a deadline, and
 * detection of a connection the node closed. */
#ifndef ZKV_IT_WIRE_H
#define ZKV_IT_WIRE_H
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/buf.h"
#include "common/frame.h"
#include "zkt/zkt.h"
#include "zkv.pb-c.h"

#define IO_TIMEOUT_MS 10000

typedef struct conn {
    int fd;
    zkv_buf in;
    bool eof;
} conn;

static inline int conn_open(conn *c, int port)
{
    memset(c, 0, sizeof *c);
    zkv_buf_init(&c->in);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {IO_TIMEOUT_MS / 1000, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return connect(c->fd, (struct sockaddr *)&sa, sizeof sa);
}

static inline void conn_close(conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    zkv_buf_free(&c->in);
}

static inline int send_all(conn *c, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(c->fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static inline int send_req(conn *c, const Zkv__Request *req)
{
    zkv_buf out;
    zkv_buf_init(&out);
    int rc = zkv_frame_append_request(&out, req);
    if (rc == 0)
        rc = send_all(c, zkv_buf_head(&out), zkv_buf_unread(&out));
    zkv_buf_free(&out);
    return rc;
}

static inline int send_frame(conn *c, const void *payload, uint32_t len)
{
    uint8_t hdr[ZKV_FRAME_HEADER_LEN];
    zkv_frame_put_header(hdr, len);
    if (send_all(c, hdr, sizeof hdr) != 0)
        return -1;
    return len ? send_all(c, payload, len) : 0;
}

/* Next response, or NULL on EOF (c->eof set) or timeout. Caller frees with
 * zkv__response__free_unpacked. */
static inline Zkv__Response *recv_resp(conn *c, int timeout_ms)
{
    uint64_t deadline = zkt_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        const uint8_t *payload;
        size_t plen, used;
        zkv_frame_result fr = zkv_frame_parse(zkv_buf_head(&c->in), zkv_buf_unread(&c->in),
                                              ZKV_MAX_RESPONSE_FRAME, &payload, &plen, &used);
        if (fr == ZKV_FRAME_OK) {
            Zkv__Response *r = zkv__response__unpack(NULL, plen, payload);
            zkv_buf_consume(&c->in, used);
            if (!r)
                zkt_log("undecodable response frame (%zu bytes)", plen);
            return r;
        }
        if (fr == ZKV_FRAME_TOO_LARGE) {
            zkt_log("response frame declared %zu bytes", plen);
            return NULL;
        }
        uint64_t now = zkt_now_ms();
        if (now >= deadline || c->eof)
            return NULL;
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        if (poll(&pf, 1, (int)(deadline - now)) <= 0)
            continue;
        zkv_buf_compact(&c->in);
        if (zkv_buf_reserve(&c->in, 65536) != 0)
            return NULL;
        ssize_t n = recv(c->fd, c->in.data + c->in.len, 65536, 0);
        if (n > 0)
            c->in.len += (size_t)n;
        else if (n == 0 || (errno != EINTR && errno != EAGAIN))
            c->eof = true;
    }
}

/* true when the peer closed the connection within timeout_ms (pending answers skipped;
 * *answers counts them and *bad the BAD_REQUEST ones). */
static inline bool closed_by_peer(conn *c, int timeout_ms, int *answers, int *bad)
{
    uint64_t deadline = zkt_now_ms() + (uint64_t)timeout_ms;
    while (zkt_now_ms() < deadline) {
        Zkv__Response *r = recv_resp(c, (int)(deadline - zkt_now_ms()));
        if (r) {
            (*answers)++;
            *bad += r->status == ZKV__STATUS__BAD_REQUEST;
            zkv__response__free_unpacked(r, NULL);
            continue;
        }
        if (c->eof)
            return true;
    }
    return false;
}

static inline Zkv__Response *call(conn *c, Zkv__Request *req)
{
    if (send_req(c, req) != 0)
        return NULL;
    return recv_resp(c, IO_TIMEOUT_MS);
}

static inline Zkv__Response *hello(conn *c, const char *cluster_id, uint64_t id)
{
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.id = id;
    req.op = ZKV__OP__HELLO;
    req.cluster_id = (char *)cluster_id;
    req.protocol = 1;
    req.client_name = "zkv-protocol-test";
    return call(c, &req);
}

/* Opens c to port and says HELLO (request id 1) for cluster_id: both must work (fatal
 * assertions, as in the test that calls it). */
static inline void conn_open_hello(conn *c, int port, const char *cluster_id)
{
    CU_ASSERT_FATAL(conn_open(c, port) == 0);
    Zkv__Response *r = hello(c, cluster_id, 1);
    CU_ASSERT_FATAL(r && r->status == ZKV__STATUS__OK);
    zkv__response__free_unpacked(r, NULL);
}

static inline Zkv__Response *simple(conn *c, Zkv__Op op, uint64_t id, const void *key, size_t klen,
                                    const void *val, size_t vlen)
{
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.id = id;
    req.op = op;
    req.key.data = (uint8_t *)key;
    req.key.len = klen;
    req.value.data = (uint8_t *)val;
    req.value.len = vlen;
    return call(c, &req);
}

static inline void log_resp(const char *what, const Zkv__Response *r)
{
    if (!r) {
        zkt_log("%s: no answer", what);
        return;
    }
    zkt_log("%s: id %llu %s \"%s\" map_version %llu", what, (unsigned long long)r->id,
            zkv_status_name(r->status), r->message ? r->message : "",
            (unsigned long long)r->map_version);
}

#endif
