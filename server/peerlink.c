/* peerlink.c: one replication connection to another node (see peerlink.h). */
#include "peerlink.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/frame.h"
#include "common/hello.h"
#include "common/log.h"
#include "common/pending.h"
#include "common/rangemap.h"
#include "common/util.h"
#include "uvstream.h"
#include "ship_wire.h"
#include "shipper.h"

typedef enum { LINK_DOWN, LINK_CONNECTING, LINK_HELLO, LINK_READY } link_state;

struct zkv_peerlink {
    zkv_peerlink_cfg cfg;
    char peer_id[ZKV_ID_MAX];
    char addr[ZKV_ADDR_MAX];
    link_state st;
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_timer_t timer;
    uv_write_t wreq;
    bool tcp_open, timer_open, writing, released;
    zkv_buf in, out, wbuf;
    zkv_uvstream io;   /* plain, or TLS when the node has a TLS client context */
    zkv_pending q;     /* requests in flight, records of cfg.rec_size bytes */
    uint8_t *rec;      /* the record of the answer being handled (the ring may move meanwhile) */
    uint64_t hello_id; /* the HELLO's request id (answered before anything else) */
    uint32_t backoff_ms;
    bool logged_down;
};

static void link_connect(zkv_peerlink *l);

static void free_link(zkv_peerlink *l)
{
    zkv_buf_free(&l->in);
    zkv_buf_free(&l->out);
    zkv_buf_free(&l->wbuf);
    zkv_uvstream_free(&l->io);
    zkv_pending_free(&l->q);
    free(l->rec);
    free(l);
}

/* A released link goes once libuv is done with it. */
static void maybe_free(zkv_peerlink *l)
{
    if (l->released && !l->tcp_open && !l->timer_open && !l->writing)
        free_link(l);
}

static void on_retry(uv_timer_t *t)
{
    zkv_peerlink *l = t->data;
    if (!l->released && l->st == LINK_DOWN && !l->tcp_open)
        link_connect(l);
}

static void on_timer_closed(uv_handle_t *h)
{
    zkv_peerlink *l = h->data;
    l->timer_open = false;
    (*l->cfg.open_handles)--;
    maybe_free(l);
}

static void on_tcp_closed(uv_handle_t *h)
{
    zkv_peerlink *l = h->data;
    l->tcp_open = false;
    l->writing = false;
    (*l->cfg.open_handles)--;
    l->in.len = l->in.off = 0;
    l->out.len = l->out.off = 0;
    l->wbuf.len = l->wbuf.off = 0;
    zkv_uvstream_free(&l->io);
    if (l->released) {
        maybe_free(l);
        return;
    }
    l->backoff_ms = zkv_ship_backoff_next(l->backoff_ms);
    uv_timer_start(&l->timer, on_retry, l->backoff_ms, 0);
}

/* Drops the connection; the owner hears of it (unless released). */
static void close_tcp(zkv_peerlink *l)
{
    zkv_pending_clear(&l->q);
    bool was_up = l->st != LINK_DOWN;
    l->st = LINK_DOWN;
    if (was_up && !l->released)
        l->cfg.on_down(l->cfg.ctx);
    if (l->tcp_open && !uv_is_closing((uv_handle_t *)&l->tcp))
        uv_close((uv_handle_t *)&l->tcp, on_tcp_closed);
}

void zkv_peerlink_fail(zkv_peerlink *l, const char *why)
{
    if (l->st == LINK_DOWN && !l->tcp_open)
        return;
    if (!l->logged_down && !l->released)
        ZKV_WARN("replication connection to %s (%s): %s; reconnecting", l->peer_id, l->addr, why);
    l->logged_down = true;
    close_tcp(l);
}

static void *record(zkv_peerlink *l, uint64_t id)
{
    zkv_peerlink_rec *r = zkv_pending_push(&l->q, id);
    if (!r) {
        zkv_peerlink_fail(l, "out of memory");
        return NULL;
    }
    r->sent_ms = zkv_now_ms();
    return r;
}

/* APPENDs through the hand encoder of ship_wire.h (the same bytes as protobuf-c, a tenth of
 * the work), everything else through protobuf-c. */
int zkv_peerlink_frame(zkv_buf *out, const Zkv__Request *req)
{
    if (req->op == ZKV__OP__APPEND && zkv_wire_append_frame(out, req) == 0)
        return 0;
    return zkv_frame_append_request(out, req);
}

void *zkv_peerlink_send(zkv_peerlink *l, Zkv__Request *req)
{
    req->id = ++*l->cfg.next_id;
    if (zkv_peerlink_frame(&l->out, req) != 0) {
        zkv_peerlink_fail(l, "out of memory");
        return NULL;
    }
    return record(l, req->id);
}

void *zkv_peerlink_send_framed(zkv_peerlink *l, const uint8_t *frame, size_t len, uint64_t id)
{
    if (zkv_buf_append(&l->out, frame, len) != 0) {
        zkv_peerlink_fail(l, "out of memory");
        return NULL;
    }
    return record(l, id);
}

static void on_write(uv_write_t *w, int status)
{
    zkv_peerlink *l = w->data;
    l->writing = false;
    l->wbuf.len = l->wbuf.off = 0;
    if (l->released) {
        maybe_free(l);
        return;
    }
    if (status < 0) {
        zkv_peerlink_fail(l, uv_strerror(status));
        return;
    }
    zkv_peerlink_flush(l);
}

void zkv_peerlink_flush(zkv_peerlink *l)
{
    if (l->writing || !l->tcp_open || l->st == LINK_DOWN || l->st == LINK_CONNECTING ||
        (zkv_buf_unread(&l->out) == 0 && zkv_uvstream_held(&l->io) == 0))
        return;
    int rc = zkv_uvstream_send(&l->io, &l->tcp, &l->out, &l->wbuf, &l->wreq, on_write, l, true);
    if (rc < 0) {
        zkv_peerlink_fail(l, rc == UV_EPROTO && l->io.tls ? zkv_tls_error(l->io.tls)
                                                          : uv_strerror(rc));
        return;
    }
    l->writing = rc == 1;
}

/* The answer to the HELLO: up, or failed. */
static void hello_answer(zkv_peerlink *l, const Zkv__Response *resp)
{
    char why[300], msg[320];
    if (zkv_hello_check(resp, l->cfg.cluster_id, why, sizeof(why)) != ZKV_HELLO_OK) {
        snprintf(msg, sizeof(msg), "hello refused: %s", why);
        zkv_peerlink_fail(l, msg);
        return;
    }
    if (l->logged_down)
        ZKV_INFO("replication connection to %s (%s) up", l->peer_id, l->addr);
    l->logged_down = false;
    l->st = LINK_READY;
    l->backoff_ms = 0;
    l->cfg.on_up(l->cfg.ctx);
}

static void process(zkv_peerlink *l)
{
    uint8_t *rec = l->rec;
    while (l->tcp_open && l->st != LINK_DOWN && !l->released) {
        const uint8_t *payload;
        size_t plen, consumed;
        zkv_frame_result fr = zkv_frame_parse(zkv_buf_head(&l->in), zkv_buf_unread(&l->in),
                                              ZKV_MAX_RESPONSE_FRAME, &payload, &plen, &consumed);
        if (fr == ZKV_FRAME_NEED_MORE)
            break;
        if (fr == ZKV_FRAME_TOO_LARGE) {
            zkv_peerlink_fail(l, "oversized answer");
            break;
        }
        /* the fields the shipper reads, by hand (ship_wire.h); protobuf-c for odd shapes */
        Zkv__Response light;
        char msg[512];
        Zkv__Response *resp = &light, *unpacked = NULL;
        if (!zkv_wire_decode_answer(payload, plen, &light, msg, sizeof(msg)))
            resp = unpacked = zkv__response__unpack(NULL, plen, payload);
        zkv_buf_consume(&l->in, consumed);
        /* the record is copied out: the answer may send more, moving the ring */
        if (!resp || zkv_pending_pop(&l->q, resp->id, rec) != 0) {
            if (unpacked)
                zkv__response__free_unpacked(unpacked, NULL);
            zkv_peerlink_fail(l, resp ? "answer out of order" : "undecodable answer");
            break;
        }
        if (((const zkv_peerlink_rec *)rec)->id == l->hello_id && l->st == LINK_HELLO)
            hello_answer(l, resp);
        else
            l->cfg.on_answer(l->cfg.ctx, rec, resp);
        if (unpacked)
            zkv__response__free_unpacked(unpacked, NULL);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    zkv_peerlink *l = h->data;
    zkv_uvstream_read_buf(&l->io, &l->in, (size_t)64 * 1024, buf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    zkv_peerlink *l = s->data;
    if (nread > 0) {
        int rc = zkv_uvstream_got(&l->io, &l->in, (size_t)nread);
        if (rc != ZKV_TLS_OK) {
            zkv_peerlink_fail(l, rc == ZKV_TLS_CLOSED ? "TLS session closed by the replica"
                                                      : zkv_tls_error(l->io.tls));
            return;
        }
        process(l);
        zkv_peerlink_flush(l); /* TLS: handshake messages, requests it held back */
        return;
    }
    if (nread == 0)
        return;
    zkv_peerlink_fail(l, nread != UV_EOF ? uv_strerror((int)nread)
                         : l->io.tls && !zkv_tls_established(l->io.tls)
                             ? "closed by the replica during the TLS handshake (a node without "
                               "TLS, or one that refused this node's certificate)"
                             : "closed by the replica");
}

static void on_connect(uv_connect_t *c, int status)
{
    zkv_peerlink *l = c->data;
    if (l->released || l->st != LINK_CONNECTING)
        return;
    if (status < 0) {
        zkv_peerlink_fail(l, uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(&l->tcp, 1);
    const zkv_tls_ctx *tls = l->cfg.tls ? *l->cfg.tls : NULL;
    if (tls) {
        char host[ZKV_ADDR_MAX];
        int port = 0;
        if (zkv_parse_hostport(l->addr, host, sizeof(host), &port) != 0 ||
            !(l->io.tls = zkv_tls_new(tls, host)) || zkv_tls_start(l->io.tls) != ZKV_TLS_OK) {
            zkv_peerlink_fail(l, "cannot start TLS");
            return;
        }
    }
    int rc = uv_read_start((uv_stream_t *)&l->tcp, on_alloc, on_read);
    if (rc != 0) {
        zkv_peerlink_fail(l, uv_strerror(rc));
        return;
    }
    Zkv__Request req;
    zkv_hello_request(&req, &(zkv_hello){.cluster_id = l->cfg.cluster_id,
                                         .node_id = l->cfg.node_id,
                                         .client_name = "zkv-server replication",
                                         .auth = l->cfg.auth});
    l->st = LINK_HELLO;
    if (zkv_peerlink_send(l, &req)) {
        l->hello_id = req.id;
        zkv_peerlink_flush(l);
    }
}

static int resolve(const char *addr, struct sockaddr_storage *ss)
{
    struct addrinfo *res = NULL;
    char why[128];
    if (zkv_resolve_tcp(addr, &res, why, sizeof(why)) != 0)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static void link_connect(zkv_peerlink *l)
{
    if (l->cfg.cluster_id[0] == '\0' || l->tcp_open || l->released)
        return;
    struct sockaddr_storage ss;
    if (l->addr[0] == '\0' || resolve(l->addr, &ss) != 0) {
        l->backoff_ms = zkv_ship_backoff_next(l->backoff_ms);
        uv_timer_start(&l->timer, on_retry, l->backoff_ms, 0);
        return;
    }
    uv_tcp_init(l->cfg.loop, &l->tcp);
    l->tcp.data = l;
    l->tcp_open = true;
    (*l->cfg.open_handles)++;
    l->st = LINK_CONNECTING;
    l->creq.data = l;
    int rc = uv_tcp_connect(&l->creq, &l->tcp, (struct sockaddr *)&ss, on_connect);
    if (rc != 0)
        zkv_peerlink_fail(l, uv_strerror(rc));
}

zkv_peerlink *zkv_peerlink_new(const zkv_peerlink_cfg *cfg, const char *peer_id)
{
    if (cfg->rec_size < sizeof(zkv_peerlink_rec))
        return NULL;
    zkv_peerlink *l = calloc(1, sizeof(*l));
    if (!l || !(l->rec = malloc(cfg->rec_size))) {
        free(l);
        return NULL;
    }
    l->cfg = *cfg;
    zkv_pending_init(&l->q, cfg->rec_size);
    snprintf(l->peer_id, sizeof(l->peer_id), "%s", peer_id);
    zkv_buf_init(&l->in);
    zkv_buf_init(&l->out);
    zkv_buf_init(&l->wbuf);
    uv_timer_init(cfg->loop, &l->timer);
    l->timer.data = l;
    l->timer_open = true;
    (*cfg->open_handles)++;
    return l;
}

void zkv_peerlink_set_addr(zkv_peerlink *l, const char *addr)
{
    if (strcmp(l->addr, addr) == 0)
        return;
    snprintf(l->addr, sizeof(l->addr), "%s", addr);
    if (l->st == LINK_DOWN && !l->tcp_open) {
        uv_timer_stop(&l->timer);
        l->backoff_ms = 0;
        link_connect(l);
    }
}

void zkv_peerlink_start(zkv_peerlink *l)
{
    if (l->st == LINK_DOWN && !l->tcp_open && !uv_is_active((uv_handle_t *)&l->timer))
        link_connect(l);
}

void zkv_peerlink_tick(zkv_peerlink *l)
{
    if (!l->released && l->st == LINK_DOWN && !l->tcp_open &&
        !uv_is_active((uv_handle_t *)&l->timer))
        uv_timer_start(&l->timer, on_retry, l->backoff_ms, 0);
}

bool zkv_peerlink_ready(const zkv_peerlink *l)
{
    return l->st == LINK_READY;
}

void zkv_peerlink_release(zkv_peerlink *l)
{
    if (!l || l->released)
        return;
    l->released = true;
    close_tcp(l);
    if (l->timer_open && !uv_is_closing((uv_handle_t *)&l->timer))
        uv_close((uv_handle_t *)&l->timer, on_timer_closed);
    maybe_free(l);
}

void zkv_peerlink_free(zkv_peerlink *l)
{
    if (l)
        free_link(l);
}
