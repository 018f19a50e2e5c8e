/* conn.c: one connection to one node (see conn.h), plain or TLS through common's stream
 * (stream.h). Non-blocking socket, every wait a poll(2) bounded by the call's deadline.
 * While it writes a pipelined group it also
 * reads answers, so a large group can never deadlock against a node that is waiting for
 * us to read. Any failure closes the socket: the stream position is then unknown. */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zkv/zkv.h"
#include "common/util.h"
#include "common/hello.h"
#include "conn.h"
#include "error.h"
#include "route.h"

#define READ_CHUNK (64u * 1024u)

zkv__conn *zkv__conn_new(const char *node_id, const char *addr, const zkv_tls_ctx *tls)
{
    zkv__conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return NULL;
    }
    atomic_init(&c->refs, 1);
    snprintf(c->node_id, sizeof c->node_id, "%s", node_id);
    snprintf(c->addr, sizeof c->addr, "%s", addr);
    zkv_stream_init(&c->s);
    c->tls = tls;
    c->next_id = 1;
    atomic_init(&c->skip_until_ms, 0);
    zkv_buf_init(&c->in);
    zkv_buf_init(&c->out);
    return c;
}

void zkv__conn_note(zkv__conn *c, int rc, uint64_t now_ms)
{
    if (rc == ZKV_ECONNECT || rc == ZKV_ETIMEOUT)
        atomic_store(&c->skip_until_ms, now_ms + ZKV__SKIP_MS);
    else if (rc == ZKV_OK)
        atomic_store(&c->skip_until_ms, 0);
}

bool zkv__conn_skipped(zkv__conn *c, uint64_t now_ms)
{
    return now_ms < atomic_load(&c->skip_until_ms);
}

void zkv__conn_ref(zkv__conn *c)
{
    atomic_fetch_add(&c->refs, 1);
}

void zkv__conn_unref(zkv__conn *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    zkv_stream_free(&c->s);
    zkv_buf_free(&c->in);
    zkv_buf_free(&c->out);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void zkv__conn_close(zkv__conn *c)
{
    zkv_stream_close(&c->s);
    c->in.len = c->in.off = 0;
    c->out.len = c->out.off = 0;
}

/* strerror with a lowercase first letter, to sit inside our sentences. */
static const char *reason(int errnum, char *buf, size_t len)
{
    snprintf(buf, len, "%s", strerror(errnum));
    buf[0] = (char)tolower((unsigned char)buf[0]);
    return buf;
}

static int remaining_ms(uint64_t deadline_ms)
{
    uint64_t now = zkv_now_ms();
    if (now >= deadline_ms)
        return 0;
    uint64_t left = deadline_ms - now;
    return left > 1000000 ? 1000000 : (int)left;
}

/* Waits for events on fd until the deadline. Returns revents, 0 on timeout, -1 on
 * error (errno). */
static int wait_fd(int fd, short events, uint64_t deadline_ms)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, remaining_ms(deadline_ms));
        if (rc > 0)
            return p.revents;
        if (rc == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* Closes c and reports an I/O failure: "node X at A unreachable: <errno>" when nothing
 * could be sent, else "connection to node X at A lost: <errno>". */
static int fail_io(zkv__conn *c, int code, char *err, size_t errlen, bool lost, int errnum)
{
    char buf[128];
    if (lost)
        zkv__err(code, err, errlen, "connection to node %s at %s lost: %s", c->node_id, c->addr,
                 reason(errnum, buf, sizeof buf));
    else
        zkv__err(code, err, errlen, "node %s at %s unreachable: %s", c->node_id, c->addr,
                 reason(errnum, buf, sizeof buf));
    zkv__conn_close(c);
    return code;
}

/* Connects one resolved address; returns the socket or -1 with *errnum set. */
static int connect_one(const struct addrinfo *ai, uint64_t deadline_ms, int *errnum)
{
    int fd = -1;
    int rc = zkv_stream_connect(ai, &fd);
    if (rc < 0) {
        *errnum = errno;
        return -1;
    }
    if (rc == 1) {
        int ev = wait_fd(fd, POLLOUT, deadline_ms);
        int soerr = ev <= 0 ? (ev == 0 ? ETIMEDOUT : errno) : zkv_stream_connected(fd);
        if (soerr != 0) {
            *errnum = soerr;
            close(fd);
            return -1;
        }
    }
    return fd;
}

int zkv__resolve_node(const char *node_id, const char *addr, struct addrinfo **res, char *err,
                      size_t errlen)
{
    char why[128];
    int rc = zkv_resolve_tcp(addr, res, why, sizeof why);
    if (rc == ZKV_RESOLVE_BADADDR)
        return zkv__err(ZKV_ECONNECT, err, errlen, "node %s has a bad address \"%s\"", node_id,
                        addr);
    if (rc != 0)
        return zkv__err(ZKV_ECONNECT, err, errlen, "node %s at %s unreachable: %s", node_id, addr,
                        why);
    return ZKV_OK;
}

static int tcp_connect(zkv__conn *c, uint64_t deadline_ms, char *err, size_t errlen)
{
    struct addrinfo *res = NULL;
    int rrc = zkv__resolve_node(c->node_id, c->addr, &res, err, errlen);
    if (rrc != ZKV_OK)
        return rrc;
    int errnum = ECONNREFUSED;
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = connect_one(ai, deadline_ms, &errnum);
    freeaddrinfo(res);
    if (fd < 0) {
        char buf[128];
        return zkv__err(
            ZKV_ECONNECT, err, errlen, "node %s at %s unreachable: %s", c->node_id, c->addr,
            errnum == ETIMEDOUT ? "connect timed out" : reason(errnum, buf, sizeof buf));
    }
    if (zkv_stream_open(&c->s, fd, c->tls, c->addr) != 0)
        return zkv__err(ZKV_ENOMEM, err, errlen, "out of memory starting TLS with node %s",
                        c->node_id);
    return ZKV_OK;
}

/* Reads what has arrived (stream.h's results); notes when bytes came. */
static ssize_t read_some(zkv__conn *c)
{
    ssize_t r = zkv_stream_recv(&c->s, &c->in);
    if (r > 0)
        c->last_read_ms = zkv_now_ms();
    return r;
}

/* Closes c and reports a failed read or write (a ZKV_STREAM_ result) as fail_io does, a
 * TLS failure as ZKV_EAUTH with its reason. */
static int fail_stream(zkv__conn *c, ssize_t r, char *err, size_t errlen, bool lost)
{
    if (r == ZKV_STREAM_TLS) { /* a certificate refused, or TLS against plain: no retry helps */
        zkv__err(ZKV_EAUTH, err, errlen, "node %s at %s: %s", c->node_id, c->addr, c->s.err);
        zkv__conn_close(c);
        return ZKV_EAUTH;
    }
    if (r == ZKV_STREAM_CLOSED) {
        zkv__err(ZKV_ECONNECT, err, errlen, "node %s at %s closed the connection", c->node_id,
                 c->addr);
        zkv__conn_close(c);
        return ZKV_ECONNECT;
    }
    return fail_io(c, errno == ENOMEM ? ZKV_ENOMEM : ZKV_ECONNECT, err, errlen, lost, errno);
}

int zkv__conn_send(zkv__conn *c, Zkv__Request *const *reqs, size_t n, uint64_t *first_id, char *err,
                   size_t errlen)
{
    if (c->s.fd < 0)
        return zkv__err(ZKV_ECONNECT, err, errlen, "connection to node %s is closed", c->node_id);
    *first_id = c->next_id;
    for (size_t i = 0; i < n; i++) {
        reqs[i]->id = c->next_id++;
        if (zkv_frame_append_request(&c->out, reqs[i]) != 0) {
            zkv__conn_close(c);
            return zkv__err(ZKV_ENOMEM, err, errlen, "out of memory encoding a request");
        }
    }
    int w = zkv_stream_send(&c->s, &c->out);
    if (w != 0)
        return fail_stream(c, w, err, errlen, false);
    return ZKV_OK;
}

/* A decoded answer made by the hand-written decoder (frame.h) is one block: the
 * message, then a copy of its bytes (the value's followed by a NUL); its unknown_fields
 * (protobuf-c's, never set with n_unknown_fields 0) points here to tell it from protobuf-c's. */
static ProtobufCMessageUnknownField fast_mark;

Zkv__Response *zkv__response_decode(const uint8_t *payload, size_t len)
{
    Zkv__Response tmp;
    if (!zkv_frame_decode_response_fast(payload, len, &tmp))
        return zkv__response__unpack(NULL, len, payload);
    Zkv__Response *r = malloc(sizeof *r + tmp.value.len + 1 + tmp.next_key.len);
    if (!r)
        return NULL;
    *r = tmp;
    uint8_t *p = (uint8_t *)(r + 1);
    if (tmp.value.len) {
        memcpy(p, tmp.value.data, tmp.value.len);
        r->value.data = p;
        p += tmp.value.len;
        *p++ = '\0'; /* a value that keeps the block reads as a C string too */
    }
    if (tmp.next_key.len) {
        memcpy(p, tmp.next_key.data, tmp.next_key.len);
        r->next_key.data = p;
    }
    r->base.unknown_fields = &fast_mark;
    return r;
}

bool zkv__response_is_block(const Zkv__Response *r)
{
    return r && r->base.unknown_fields == &fast_mark;
}

void zkv__response_free(Zkv__Response *r)
{
    if (zkv__response_is_block(r))
        free(r);
    else if (r)
        zkv__response__free_unpacked(r, NULL);
}

/* Decodes every whole frame in the input buffer into resps. Returns ZKV_OK or an
 * error (connection closed). */
static int parse_answers(zkv__conn *c, uint64_t first_id, size_t n, Zkv__Response **resps,
                         size_t *got, char *err, size_t errlen)
{
    while (*got < n) {
        const uint8_t *payload;
        size_t plen, consumed;
        zkv_frame_result fr = zkv_frame_parse(zkv_buf_head(&c->in), zkv_buf_unread(&c->in),
                                              ZKV_MAX_RESPONSE_FRAME, &payload, &plen, &consumed);
        if (fr == ZKV_FRAME_NEED_MORE)
            return ZKV_OK;
        if (fr == ZKV_FRAME_TOO_LARGE) {
            zkv__err(ZKV_EPROTOCOL, err, errlen,
                     "node %s at %s sent an answer of %zu bytes (limit %zu)", c->node_id, c->addr,
                     plen, ZKV_MAX_RESPONSE_FRAME);
            zkv__conn_close(c);
            return ZKV_EPROTOCOL;
        }
        Zkv__Response *r = zkv__response_decode(payload, plen);
        zkv_buf_consume(&c->in, consumed);
        if (!r) {
            zkv__err(ZKV_EPROTOCOL, err, errlen, "node %s at %s sent an undecodable answer",
                     c->node_id, c->addr);
            zkv__conn_close(c);
            return ZKV_EPROTOCOL;
        }
        uint64_t id = r->id;
        /* A node that could not decode a request answers with id 0; with a single
         * request outstanding that answer can only be for it. */
        if (id == 0 && n == 1)
            id = first_id;
        if (id < first_id && id && id <= c->abandoned) {
            zkv__response_free(r); /* the late answer of a hedged read that lost */
            if (c->n_abandoned)
                c->n_abandoned--;
            continue;
        }
        if (id < first_id || id - first_id >= n || resps[id - first_id]) {
            zkv__err(ZKV_EPROTOCOL, err, errlen, "node %s at %s answered unknown request id %llu",
                     c->node_id, c->addr, (unsigned long long)r->id);
            zkv__response_free(r);
            zkv__conn_close(c);
            return ZKV_EPROTOCOL;
        }
        c->peer_map_version = r->map_version;
        resps[id - first_id] = r;
        (*got)++;
    }
    return ZKV_OK;
}

short zkv__conn_events(const zkv__conn *c)
{
    return (short)(POLLIN | (zkv_stream_want_write(&c->s, &c->out) ? POLLOUT : 0));
}

int zkv__conn_take(zkv__conn *c, uint64_t first_id, size_t n, Zkv__Response **resps, size_t *got,
                   char *err, size_t errlen)
{
    if (c->s.fd < 0)
        return zkv__err(ZKV_ECONNECT, err, errlen, "connection to node %s at %s is closed",
                        c->node_id, c->addr);
    return parse_answers(c, first_id, n, resps, got, err, errlen);
}

int zkv__conn_io(zkv__conn *c, short revents, char *err, size_t errlen)
{
    if (revents & POLLOUT) {
        int w = zkv_stream_send(&c->s, &c->out);
        if (w != 0)
            return fail_stream(c, w, err, errlen, true);
    }
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t r = read_some(c);
        if (r < 0)
            return fail_stream(c, r, err, errlen, true);
    }
    return ZKV_OK;
}

int zkv__conn_fail_wait(zkv__conn *c, int ev, char *err, size_t errlen)
{
    if (ev < 0)
        return fail_io(c, ZKV_ECONNECT, err, errlen, true, errno);
    zkv__err(ZKV_ETIMEOUT, err, errlen, "node %s at %s did not answer", c->node_id, c->addr);
    zkv__conn_close(c);
    return ZKV_ETIMEOUT;
}

void zkv__conn_abandon(zkv__conn *c, uint64_t id)
{
    if (id > c->abandoned)
        c->abandoned = id;
    c->n_abandoned++;
}

int zkv__conn_recv(zkv__conn *c, uint64_t first_id, size_t n, Zkv__Response **resps,
                   uint64_t deadline_ms, char *err, size_t errlen)
{
    size_t got = 0;
    for (size_t i = 0; i < n; i++)
        if (resps[i])
            got++;
    for (;;) {
        int rc = zkv__conn_take(c, first_id, n, resps, &got, err, errlen);
        if (rc != ZKV_OK || got == n)
            return rc;
        int ev = wait_fd(c->s.fd, zkv__conn_events(c), deadline_ms);
        if (ev <= 0)
            return zkv__conn_fail_wait(c, ev, err, errlen);
        if ((rc = zkv__conn_io(c, (short)ev, err, errlen)) != ZKV_OK)
            return rc;
    }
}

/* A connection that answered within this many ms is taken as alive without a check. */
#define IDLE_CHECK_MS 100

/* True when an idle connection has something to read: the peer closed it (EOF, reset)
 * or sent bytes nobody asked for. Either way it is no longer usable. A connection that
 * answered in the last IDLE_CHECK_MS is not checked: the poll(2) would cost a system
 * call per request on a busy connection, and the check only narrows the window in which
 * a request meets a node that closed the connection (a node restarted while we were idle);
 * it cannot close it, so a busy connection loses nothing that matters. */
static bool idle_conn_dead(const zkv__conn *c)
{
    if (zkv_now_ms() - c->last_read_ms < IDLE_CHECK_MS || c->n_abandoned)
        return false; /* (a late answer to drop is not a dead connection) */
    struct pollfd p = {.fd = c->s.fd, .events = POLLIN};
    return poll(&p, 1, 0) != 0;
}

int zkv__hello_answer(const Zkv__Response *resp, const char *cluster_id, const char *node_id,
                      const char *addr, char *err, size_t errlen)
{
    char why[ZKV__ERR_MAX];
    zkv_hello_outcome o = zkv_hello_check(resp, cluster_id, why, sizeof why);
    if (o == ZKV_HELLO_OK)
        return ZKV_OK;
    return zkv__err(o == ZKV_HELLO_WRONG_CLUSTER ? ZKV_ENOCLUSTER
                    : o == ZKV_HELLO_AUTH_FAILED ? ZKV_EAUTH
                                                 : zkv__status_to_code(resp->status),
                    err, errlen, "node %s at %s refused hello: %s", node_id, addr, why);
}

static int hello(zkv__conn *c, const zkv__hello *h, uint64_t deadline_ms, char *err, size_t errlen)
{
    Zkv__Request req;
    zkv_hello_request(&req, &(zkv_hello){.cluster_id = h->cluster_id,
                                         .client_name = h->client_name,
                                         .map_version = h->map_version,
                                         .auth = h->auth});
    Zkv__Request *reqs[1] = {&req};
    uint64_t id = 0;
    int rc = zkv__conn_send(c, reqs, 1, &id, err, errlen);
    if (rc != ZKV_OK)
        return rc;
    Zkv__Response *resp = NULL;
    rc = zkv__conn_recv(c, id, 1, &resp, deadline_ms, err, errlen);
    if (rc == ZKV_OK && resp)
        rc = zkv__hello_answer(resp, h->cluster_id, c->node_id, c->addr, err, errlen);
    else if (rc == ZKV_OK) /* (recv answers what it returns ZKV_OK for; for the analysers) */
        rc = zkv__err(ZKV_EPROTOCOL, err, errlen, "node %s gave no answer to hello", c->node_id);
    zkv__response_free(resp);
    if (rc != ZKV_OK)
        zkv__conn_close(c);
    return rc;
}

int zkv__conn_open(zkv__conn *c, const zkv__hello *h, uint64_t deadline_ms, char *err,
                   size_t errlen)
{
    if (c->s.fd >= 0 && idle_conn_dead(c))
        zkv__conn_close(c);
    if (c->s.fd >= 0)
        return ZKV_OK;
    int rc = tcp_connect(c, deadline_ms, err, errlen);
    if (rc != ZKV_OK)
        return rc;
    return hello(c, h, deadline_ms, err, errlen);
}
