/* async_conn.c: the asynchronous client's connections (async_int.h), one non-blocking
 * socket per node carrying pipelined requests. Nothing here waits: connect(2) starts
 * and finishes when the loop reports the socket writable, writes go as far as the
 * socket takes them, reads parse every whole answer and hand it to its request
 * (async_route.c) through the connection's pending table (common/pending.h), which matches
 * answers to requests by id, in order. The HELLO that opens a connection sits in that
 * table as a marker, and an attempt abandoned on the wire (past its deadline) as a
 * tombstone, so a late answer is matched and dropped rather than taken for the next
 * request's. A connection that fails takes every attempt pending on it down with it;
 * each is decided on by its request, and the node is skipped by reads that may fall
 * back for ZKV__SKIP_MS. The timer (async.c) checks deadlines here. */
#include <errno.h>
#include <poll.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "async_int.h"
#include "common/hello.h"
#include "conn.h"
#include "value.h"

static char hello_marker;
static char tombstone;

/* Tells the loop which events c wants now. */
static void watch(zkv_async *a, zkv__aconn *c)
{
    bool want_read = c->s.fd >= 0;
    bool want_write = c->s.fd >= 0 && (c->connecting || zkv_stream_want_write(&c->s, &c->out));
    if (want_read != c->reading) {
        (want_read ? a->h.add_read : a->h.del_read)(a->h.data, c->s.fd);
        c->reading = want_read;
    }
    if (want_write != c->writing) {
        (want_write ? a->h.add_write : a->h.del_write)(a->h.data, c->s.fd);
        c->writing = want_write;
    }
}

static void conn_close(zkv_async *a, zkv__aconn *c)
{
    if (c->s.fd < 0)
        return;
    if (c->reading)
        a->h.del_read(a->h.data, c->s.fd);
    if (c->writing)
        a->h.del_write(a->h.data, c->s.fd);
    c->reading = c->writing = false;
    zkv_stream_close(&c->s);
    c->gen++;
    c->connecting = c->ready = false;
    c->in.len = c->in.off = 0;
    c->out.len = c->out.off = 0;
}

typedef struct fail_ctx {
    zkv_async *a;
    int code;
    const char *why;
} fail_ctx;

static void fail_one(void *arg, uint64_t id, void *item)
{
    (void)id;
    fail_ctx *f = arg;
    if (item == &hello_marker || item == &tombstone)
        return;
    if (f->a->closing && !zkv__ahedge_failed(f->a, item))
        zkv__async_complete(f->a, item, f->code, NULL, f->why);
    else
        zkv__areq_attempt_failed(f->a, item, f->code, f->why);
}

/* A node that could not be reached or answer is skipped by reads that may fall back for
 * ZKV__SKIP_MS. Requests re-routed to this node go to a new connection (a fresh table). */
void zkv__aconn_fail(zkv_async *a, zkv__aconn *c, int code, const char *why)
{
    conn_close(a, c);
    if (code == ZKV_ECONNECT || code == ZKV_ETIMEOUT)
        c->skip_until = zkv__async_now(a) + ZKV__SKIP_MS;
    /* A fresh table first: failing an attempt may route it here again. Ids keep growing
     * (c->next_id), so a new connection never reuses an id of an old one's answers. */
    zkv_pending old = c->q;
    zkv_pending_init(&c->q, sizeof(zkv__apend));
    fail_ctx f = {.a = a, .code = code, .why = why};
    for (const zkv__apend *h; (h = zkv_pending_head(&old)) != NULL;) {
        zkv__apend e = *h;
        (void)zkv_pending_pop(&old, e.id, NULL);
        fail_one(&f, e.id, e.item);
    }
    zkv_pending_free(&old);
}

static void fail_errno(zkv_async *a, zkv__aconn *c, bool lost, int errnum)
{
    char why[ZKV__ERR_MAX];
    if (lost)
        snprintf(why, sizeof why, "connection to node %s at %s lost: %s", c->node_id, c->addr,
                 errnum ? strerror(errnum) : "closed by the node");
    else
        snprintf(why, sizeof why, "node %s at %s unreachable: %s", c->node_id, c->addr,
                 strerror(errnum));
    zkv__aconn_fail(a, c, ZKV_ECONNECT, why);
}

/* A failed read or write (stream.h's results): the socket's error, the node closing, or
 * TLS with its reason (ZKV_EAUTH: a certificate refused, or TLS against a plain node). */
static void fail_stream(zkv_async *a, zkv__aconn *c, ssize_t r)
{
    if (r != ZKV_STREAM_TLS) {
        fail_errno(a, c, true, r == ZKV_STREAM_CLOSED ? 0 : errno);
        return;
    }
    char why[ZKV__ERR_MAX];
    snprintf(why, sizeof why, "node %s at %s: %s", c->node_id, c->addr, c->s.err);
    zkv__aconn_fail(a, c, ZKV_EAUTH, why); /* as the blocking client: no retry helps */
}

void zkv__aconn_abandon(zkv__aconn *c, const zkv__areq *r)
{
    for (size_t k = 0; k < zkv_pending_count(&c->q); k++) {
        zkv__apend *e = zkv_pending_at(&c->q, k);
        if (e->item == r) {
            e->item = &tombstone;
            return;
        }
    }
}

zkv__aconn *zkv__aconn_get(zkv_async *a, const char *node_id, const char *addr)
{
    for (size_t i = 0; i < a->nconns; i++)
        if (strcmp(a->conns[i]->node_id, node_id) == 0 && strcmp(a->conns[i]->addr, addr) == 0)
            return a->conns[i];
    if (a->nconns == a->capconns) {
        size_t cap = a->capconns ? a->capconns * 2 : 8;
        zkv__aconn **n = realloc(a->conns, cap * sizeof(zkv__aconn *));
        if (!n)
            return NULL;
        a->conns = n;
        a->capconns = cap;
    }
    zkv__aconn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    zkv__copy_str(c->node_id, sizeof c->node_id, node_id);
    zkv__copy_str(c->addr, sizeof c->addr, addr);
    zkv_stream_init(&c->s);
    zkv_buf_init(&c->in);
    zkv_buf_init(&c->out);
    zkv_pending_init(&c->q, sizeof(zkv__apend));
    c->next_id = 1;
    a->conns[a->nconns++] = c;
    return c;
}

zkv__aconn *zkv__aconn_by_fd(zkv_async *a, int fd)
{
    for (size_t i = 0; i < a->nconns; i++)
        if (a->conns[i]->s.fd == fd && fd >= 0)
            return a->conns[i];
    return NULL;
}

void zkv__aconn_destroy(zkv__aconn *c)
{
    free(c->lent_data);
    zkv_stream_free(&c->s);
    zkv_buf_free(&c->in);
    zkv_buf_free(&c->out);
    zkv_pending_free(&c->q);
    free(c);
}

/* Starts a non-blocking connect and queues HELLO. ZKV_OK or ZKV_ECONNECT/ZKV_ENOMEM
 * (reason in err); nothing pending on c is touched on failure (it has nothing). */
static int conn_open(zkv_async *a, zkv__aconn *c, uint64_t map_version, uint64_t now, char *err,
                     size_t errlen)
{
    struct addrinfo *res = NULL;
    int rrc = zkv__resolve_node(c->node_id, c->addr, &res, err, errlen);
    if (rrc != ZKV_OK)
        return rrc;
    int fd = -1;
    int crc = zkv_stream_connect(res, &fd);
    int errnum = errno;
    freeaddrinfo(res);
    if (crc < 0)
        return zkv__err(ZKV_ECONNECT, err, errlen, "node %s at %s unreachable: %s", c->node_id,
                        c->addr, strerror(errnum));
    if (zkv_stream_open(&c->s, fd, a->c->tls, c->addr) != 0)
        return zkv__err(ZKV_ENOMEM, err, errlen, "out of memory starting TLS");
    c->connecting = crc == 1;
    c->ready = false;
    c->open_deadline = zkv__open_deadline(a->c, now, UINT64_MAX);
    Zkv__Request req;
    zkv_hello_request(&req, &(zkv_hello){.cluster_id = a->c->info.cluster_id,
                                         .client_name = a->c->opts.client_name,
                                         .map_version = map_version,
                                         .auth = a->c->opts.auth});
    zkv__apend *e = zkv_pending_push(&c->q, c->next_id);
    if (e) {
        e->item = &hello_marker;
        req.id = c->next_id++;
    }
    if (!e || zkv_frame_append_request(&c->out, &req) != 0) {
        zkv__aconn_fail(a, c, ZKV_ENOMEM, "out of memory");
        return zkv__err(ZKV_ENOMEM, err, errlen, "out of memory");
    }
    watch(a, c);
    return ZKV_OK;
}

int zkv__aconn_send(zkv_async *a, zkv__aconn *c, Zkv__Request *req, void *item, uint64_t now,
                    char *err, size_t errlen)
{
    int rc;
    if (c->s.fd < 0 && (rc = conn_open(a, c, req->map_version, now, err, errlen)) != ZKV_OK) {
        if (rc == ZKV_ECONNECT)
            c->skip_until = now + ZKV__SKIP_MS;
        return rc;
    }
    /* Encode with the next id, taken once the push succeeded too: a failure leaves
     * nothing behind. */
    req->id = c->next_id;
    size_t saved = c->out.len;
    zkv__apend *e = NULL;
    if (zkv_frame_append_request(&c->out, req) != 0 || !(e = zkv_pending_push(&c->q, req->id))) {
        c->out.len = saved;
        return zkv__err(ZKV_ENOMEM, err, errlen, "out of memory");
    }
    e->item = item;
    c->next_id++;
    watch(a, c);
    return ZKV_OK;
}

/* Checks the answer to HELLO. false when the connection was failed. */
static bool hello_answer(zkv_async *a, zkv__aconn *c, const Zkv__Response *resp)
{
    char why[ZKV__ERR_MAX];
    int rc = zkv__hello_answer(resp, a->c->info.cluster_id, c->node_id, c->addr, why, sizeof why);
    if (rc == ZKV_OK) {
        c->ready = true;
        return true;
    }
    zkv__aconn_fail(a, c, rc, why);
    return false;
}

/* Parses and dispatches every whole answer in c's input. Stops early when the
 * connection fails or the context is being freed. */
static void parse_answers(zkv_async *a, zkv__aconn *c)
{
    unsigned gen = c->gen;
    while (c->s.fd >= 0 && c->gen == gen && !a->free_asked) {
        const uint8_t *payload;
        size_t plen, consumed;
        zkv_frame_result fr =
            zkv_frame_parse(zkv_buf_head(&c->in), zkv_buf_unread(&c->in),
                            (size_t)ZKV_MAX_RESPONSE_FRAME, &payload, &plen, &consumed);
        if (fr == ZKV_FRAME_NEED_MORE)
            return;
        char why[ZKV__ERR_MAX];
        if (fr == ZKV_FRAME_TOO_LARGE) {
            snprintf(why, sizeof why, "node %s at %s sent a frame of %zu bytes", c->node_id,
                     c->addr, plen);
            zkv__aconn_fail(a, c, ZKV_EPROTOCOL, why);
            return;
        }
        /* OK and NOT_FOUND answers are decoded in place (the bytes stay in c->in, past
         * the consumed frame, until the next read); the rest by protobuf-c. */
        Zkv__Response fast;
        bool in_place = !c->lending && zkv_frame_decode_response_fast(payload, plen, &fast);
        Zkv__Response *resp = in_place ? &fast : zkv__response__unpack(NULL, plen, payload);
        zkv_buf_consume(&c->in, consumed);
        zkv__apend e;
        if (!resp || zkv_pending_pop(&c->q, resp->id, &e) != 0) {
            snprintf(why, sizeof why, "node %s at %s sent %s", c->node_id, c->addr,
                     resp ? "an answer out of order" : "an undecodable answer");
            if (resp && !in_place)
                zkv__response__free_unpacked(resp, NULL);
            zkv__aconn_fail(a, c, ZKV_EPROTOCOL, why);
            return;
        }
        c->skip_until = 0; /* it answers */
        void *item = e.item;
        bool ok = true;
        if (item == &hello_marker) {
            ok = hello_answer(a, c, resp);
        } else if (item != &tombstone) {
            /* A value followed by more of its frame gets a NUL there (the frame is
             * consumed and its other fields decoded), so it is handed out as it is. */
            bool value_nul = in_place && resp->value.len > 0 &&
                             resp->value.data + resp->value.len < payload + plen;
            if (value_nul)
                resp->value.data[resp->value.len] = '\0';
            c->lending |= in_place; /* in_place: no answer of c is being lent already */
            zkv__areq_answer(a, item, resp, value_nul);
            if (in_place) {
                c->lending = false;
                free(c->lent_data); /* what a read in the callback moved away from */
                c->lent_data = NULL;
            }
        }
        if (!in_place)
            zkv__response__free_unpacked(resp, NULL);
        if (!ok)
            return;
    }
}

void zkv__aconn_on_writable(zkv_async *a, zkv__aconn *c)
{
    if (c->connecting) {
        /* Adapters may try a write before polling for it (libuv.h does): a connect still
         * in progress reports no error yet, so ask whether it finished. */
        struct pollfd p = {.fd = c->s.fd, .events = POLLOUT};
        if (poll(&p, 1, 0) == 0) {
            watch(a, c);
            return;
        }
        int soerr = zkv_stream_connected(c->s.fd);
        if (soerr != 0) {
            fail_errno(a, c, false, soerr);
            return;
        }
        c->connecting = false;
    }
    int w = zkv_stream_send(&c->s, &c->out);
    if (w != 0) {
        fail_stream(a, c, w);
        return;
    }
    if (zkv_buf_unread(&c->out) == 0)
        c->out.len = c->out.off = 0;
    watch(a, c);
}

void zkv__aconn_on_readable(zkv_async *a, zkv__aconn *c)
{
    unsigned gen = c->gen;
    for (bool first = true;; first = false) {
        if (c->lending && !c->lent_data) {
            /* Called from a callback whose value points into c->in: keep that memory
             * where it is until the callback returns, read on in a copy. */
            zkv_buf fresh;
            zkv_buf_init(&fresh);
            if (zkv_buf_append(&fresh, zkv_buf_head(&c->in), zkv_buf_unread(&c->in)) != 0) {
                zkv_buf_free(&fresh);
                zkv__aconn_fail(a, c, ZKV_ENOMEM, "out of memory reading an answer");
                return;
            }
            c->lent_data = c->in.data;
            c->in = fresh;
        }
        if (!first && a->held > 0)
            a->now = zkv_now_ms(); /* the entry point's clock, once per read(2) */
        ssize_t r = zkv_stream_recv(&c->s, &c->in);
        if (r > 0) {
            parse_answers(a, c);
            if (c->gen != gen || a->free_asked)
                return;
            continue;
        }
        if (r == 0) {
            watch(a, c); /* TLS: the handshake may have released queued requests */
            return;
        }
        fail_stream(a, c, r);
        return;
    }
}

/* A connection that did not complete HELLO in time fails as unreachable; a request past
 * its attempt deadline leaves a tombstone and is decided on (a fallback read moves on to
 * a replica; otherwise ZKV_ETIMEOUT). */
void zkv__aconn_check(zkv_async *a, zkv__aconn *c, uint64_t now)
{
    if (c->s.fd >= 0 && !c->ready && now >= c->open_deadline) {
        char why[ZKV__ERR_MAX];
        snprintf(why, sizeof why, "node %s at %s unreachable: no hello answer within %d ms",
                 c->node_id, c->addr, a->c->opts.failfast_ms > 250 ? a->c->opts.failfast_ms : 250);
        zkv__aconn_fail(a, c, ZKV_ECONNECT, why);
        return;
    }
    for (size_t k = 0; k < zkv_pending_count(&c->q) && !a->free_asked; k++) {
        zkv__apend *e = zkv_pending_at(&c->q, k);
        if (e->item == &hello_marker || e->item == &tombstone)
            continue;
        zkv__areq *r = e->item;
        if (r->hedge_at && now >= r->hedge_at && now < r->attempt_deadline) {
            zkv__ahedge_fire(a, r); /* its copy goes on another connection's wire */
            continue;
        }
        if (r->hedge_at && (!a->hedge_due || r->hedge_at < a->hedge_due))
            a->hedge_due = r->hedge_at;
        if (now < r->attempt_deadline)
            continue;
        e->item = &tombstone;
        c->skip_until = now + ZKV__SKIP_MS;
        char why[ZKV__ERR_MAX];
        snprintf(why, sizeof why, "node %s at %s did not answer", c->node_id, c->addr);
        zkv__areq_attempt_failed(a, r, ZKV_ETIMEOUT, why);
    }
}
