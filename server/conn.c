/* conn.c: one client connection: read, frame, dispatch, queue answers in order, write.
 *
 * The read callback appends to the connection's input buffer and handles every whole
 * frame in it. Answers go to c->out in request order; they are written only by
 * zkv_conn_flush, which the loop calls before sleeping, after the group commit of the
 * turn's writes (server.c), so no write is acknowledged before it is in LevelDB. One
 * write per connection per turn: straight to the socket (zkv_uvstream_send), and what it does
 * not take by one uv_write, c->out and c->wout swapping roles; a large GET value goes
 * from where the store holds it, not copied (outq.h). On a TLS node
 * (--tls-cert) each connection has a TLS session (uvstream.h); the first bytes tell a
 * plain client, which is answered that TLS is required.
 *
 * Oversized frames are answered TOO_LARGE as soon as their id is readable, and their
 * bytes are dropped as they arrive (c->skip). Undecodable frames get BAD_REQUEST; the
 * third bad frame in a row closes the connection.
 *
 * Limits (connlimits.h decides, this file acts): each connection has a class (client, peer,
 * probation, refused) counted in srv->classes; reading stops while its answers queue up
 * (pause_reading, resumed from on_write); its queued bytes are accounted in
 * srv->out_total; the loop's sweep (server.c) calls zkv_conn_check_timeout, which uses
 * the times of the last I/O and of the first byte of the frame being received. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/frame.h"
#include "common/log.h"
#include "common/util.h"
#include "server_int.h"
#include "ship_wire.h"

/* Bytes of payload needed to read the id of a frame: field tag + 10-byte varint. */
#define PEEK_BYTES 11u
#define LIMITS_LOG_MS 1000 /* at most one line a second for each kind of limit */

static size_t queued_output(const zkv_conn *c)
{
    return zkv_outq_unread(&c->out) + zkv_outq_unread(&c->wout) + zkv_acks_held_bytes(c) +
           zkv_uvstream_held(&c->st);
}

/* Brings srv->out_total up to date with c's queue (0 once closing). */
static void account(zkv_conn *c)
{
    size_t q = c->closing ? 0 : queued_output(c);
    c->srv->out_total = c->srv->out_total - c->accounted + q;
    c->accounted = q;
}

static size_t *class_count(zkv_server *s, zkv_conn_class k)
{
    switch (k) {
    case ZKV_CONN_CLIENT:
        return &s->classes.clients;
    case ZKV_CONN_PEER:
        return &s->classes.peers;
    case ZKV_CONN_PROBATION:
        return &s->classes.probation;
    case ZKV_CONN_REFUSED:
        break;
    }
    return NULL;
}

static void set_class(zkv_conn *c, zkv_conn_class k)
{
    size_t *from = class_count(c->srv, c->cls), *to = class_count(c->srv, k);
    if (from)
        (*from)--;
    if (to)
        (*to)++;
    c->cls = k;
}

static void unpause(zkv_conn *c)
{
    if (c->paused) {
        c->paused = false;
        c->srv->n_paused--;
    }
}

void zkv_conn_mark_dirty(zkv_conn *c)
{
    if (c->dirty || c->closing)
        return;
    c->dirty = true;
    c->dirty_next = c->srv->dirty;
    c->srv->dirty = c;
}

static void unlink_dirty(zkv_conn *c)
{
    if (!c->dirty)
        return;
    for (zkv_conn **p = &c->srv->dirty; *p; p = &(*p)->dirty_next) {
        if (*p == c) {
            *p = c->dirty_next;
            break;
        }
    }
    c->dirty = false;
}

static void on_close(uv_handle_t *h)
{
    zkv_conn *c = h->data;
    zkv_server *s = c->srv;
    unlink_dirty(c);
    if (c->in_held_list) {
        for (zkv_conn **p = &s->held_conns; *p; p = &(*p)->held_next) {
            if (*p == c) {
                *p = c->held_next;
                break;
            }
        }
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    unpause(c);
    set_class(c, ZKV_CONN_REFUSED); /* counted nowhere any more */
    zkv_buf_free(&c->in);
    zkv_outq_free(&c->out);
    zkv_outq_free(&c->wout);
    zkv_buf_free(&c->held_bytes);
    zkv_uvstream_free(&c->st);
    free(c->held);
    free(c);
    s->n_conns--;
    zkv_server_conn_closed(s);
}

void zkv_conn_close(zkv_conn *c)
{
    if (c->closing)
        return;
    unlink_dirty(c);
    c->closing = true;
    account(c);
    ZKV_DEBUG("connection from %s closed", c->peer);
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void stop_reading(zkv_conn *c)
{
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

static void pause_reading(zkv_conn *c)
{
    stop_reading(c);
    if (c->paused)
        return;
    c->paused = true;
    c->srv->n_paused++;
    c->srv->stats.conn_pauses++;
    c->frame_start_ms = 0; /* a frame's time does not run while the node does not read */
}

void zkv_conn_drain(zkv_conn *c)
{
    stop_reading(c);
    unpause(c);
    c->close_after_flush = true;
    zkv_conn_mark_dirty(c);
}

/* Whether the answer to req (in s->reply) must wait, and for what: a request for a range
 * that is moving for the move to end (dispatch set moving), a write for its replica acks,
 * an owner read for the write it reflects to commit (dispatch set wait_seq). Sets the range
 * and the seq it waits for. */
static zkv_held_kind answer_waits(zkv_server *s, const Zkv__Request *req, const zkv_range **rg,
                                  uint64_t *seq)
{
    *rg = NULL;
    *seq = s->reply.resp.seq;
    if (s->reply.moving && s->reply.range) {
        *rg = s->reply.range;
        return ZKV_HELD_MOVED;
    }
    if (s->reply.wait_seq && s->reply.range) {
        *rg = s->reply.range;
        *seq = s->reply.wait_seq;
        return ZKV_HELD_READ;
    }
    if (!req ||
        (req->op != ZKV__OP__PUT && req->op != ZKV__OP__DELETE && req->op != ZKV__OP__MULTI_WRITE &&
         req->op != ZKV__OP__EXPIRE) ||
        s->reply.resp.status != ZKV__STATUS__OK ||
        (req->flags & ZKV__REQUEST_FLAG__FLAG_ACK_OWNER) || !s->map || !s->shipper)
        return ZKV_HELD_NONE;
    *rg = s->reply.range; /* dispatch routed the key already */
    if (!*rg)
        *rg = zkv_rangemap_find(s->map, req->key.data, req->key.len);
    return *rg && zkv_shipper_needs_acks(s->shipper, (*rg)->id) ? ZKV_HELD_WRITE : ZKV_HELD_NONE;
}

/* Appends r's answer to c's output: a GET's large value, on a plain connection, by
 * reference (outq.h) with r's hold on it, else copied. */
static int append_answer(zkv_conn *c, zkv_reply *r)
{
    const Zkv__Response *resp = &r->resp;
    size_t vlen = resp->value.len;
    if (vlen >= ZKV_OUTQ_SPLICE_MIN && !c->st.tls && resp->value.data == r->value.view.value &&
        zkv_outq_reserve(&c->out) == 0 &&
        zkv_frame_append_response_head(zkv_outq_bytes(&c->out), resp, vlen) == 0) {
        zkv_outq_add(&c->out, &r->value, resp->value.data, vlen);
        return 0;
    }
    return zkv_frame_append_response(zkv_outq_bytes(&c->out), resp);
}

/* Appends the current reply to the output, or holds it until replica acks (acks.h). A
 * connection that cannot hold its answers (out of memory) is closed. */
static void queue_reply(zkv_conn *c, const Zkv__Request *req)
{
    zkv_server *s = c->srv;
    zkv_metrics_op op = req ? zkv_metrics_op_of(req->op) : ZKV_MOP_OTHER;
    s->stats.requests[op][zkv_metrics_status_of(s->reply.resp.status)]++;
    const zkv_range *rg;
    uint64_t seq;
    zkv_held_kind kind = answer_waits(s, req, &rg, &seq);
    if (kind == ZKV_HELD_READ)
        s->stats.reads_held++;
    if (zkv_acks_must_hold(c, kind)) {
        if (zkv_acks_hold(c, &s->reply.resp, kind, rg ? rg->id : NULL,
                          rg && kind != ZKV_HELD_WRITE ? rg->epoch : s->reply.resp.epoch, seq, op,
                          s->req_start_us) != 0) {
            ZKV_WARN("connection from %s: cannot hold an answer (out of memory); closing", c->peer);
            zkv_acks_drop(c);
            zkv_outq_clear(&c->out);
            c->close_after_flush = true;
        }
        zkv_reply_reset(&s->reply);
        return;
    }
    if (append_answer(c, &s->reply) != 0) {
        ZKV_WARN("connection from %s: cannot queue an answer (out of memory); closing", c->peer);
        zkv_outq_clear(&c->out);
        c->close_after_flush = true;
    }
    zkv_metrics_observe(&s->stats.latency, op, zkv_now_us() - s->req_start_us);
    zkv_reply_reset(&s->reply);
}

/* Once per LIMITS_LOG_MS for each kind: true when a line is due, *skipped the lines left
 * out since the last one. */
static bool log_due(zkv_server *s, zkv_ratelog *r, uint64_t *skipped)
{
    return zkv_ratelog_due(r, uv_now(&s->loop), LIMITS_LOG_MS, skipped);
}

/* Answers request id "too many connections" and closes c once the answer is out. */
static void refuse(zkv_conn *c, uint64_t id)
{
    zkv_server *s = c->srv;
    set_class(c, ZKV_CONN_REFUSED);
    s->stats.conns_refused++;
    uint64_t skipped;
    if (log_due(s, &s->log_refused, &skipped))
        ZKV_WARN("connection from %s refused: too many connections (%zu clients of --max-conns "
                 "%zu, %zu peers and %zu on probation of the reserve of %zu; %llu more refused "
                 "since the last such line)",
                 c->peer, s->classes.clients, s->limits.max_conns, s->classes.peers,
                 s->classes.probation, s->limits.peer_reserve, (unsigned long long)skipped);
    zkv_dispatch_error(&s->env, &s->reply, id, ZKV__STATUS__UNAVAILABLE,
                       "too many connections (max %zu)", s->limits.max_conns);
    queue_reply(c, NULL);
    zkv_conn_drain(c);
}

/* The first frame of a connection on probation says what it is (connlimits.h): true when it
 * is admitted; otherwise it is refused (answered, closing). known_peer: a HELLO naming a
 * node of the cluster or the coordinator. */
static bool admitted(zkv_conn *c, uint64_t id, bool known_peer)
{
    if (c->cls != ZKV_CONN_PROBATION)
        return true;
    zkv_conn_class k = zkv_limits_classify(&c->srv->limits, &c->srv->classes, c->cls, known_peer);
    if (k == ZKV_CONN_REFUSED) {
        refuse(c, id);
        return false;
    }
    set_class(c, k);
    return true;
}

static void bad_frame(zkv_conn *c)
{
    if (++c->bad_frames >= ZKV_MAX_BAD_FRAMES) {
        ZKV_WARN("connection from %s: %d bad frames in a row; closing", c->peer, c->bad_frames);
        zkv_conn_drain(c);
    }
}

static void handle_frame(zkv_conn *c, const uint8_t *payload, size_t len)
{
    zkv_server *s = c->srv;
    s->req_start_us = zkv_now_us(); /* the answer's latency runs from here */
    /* GET/PUT/DELETE and APPEND decode by hand, their bytes pointing into c->in (consumed
     * only after this call; the arena, which holds APPEND's range_id and entries, is reset
     * after the reply is queued); everything else through protobuf-c into the arena. */
    Zkv__Request fast, *req = &fast;
    if (!zkv_frame_decode_request_fast(payload, len, &fast) &&
        !zkv_wire_decode_append(payload, len, &s->arena, &fast))
        req = zkv__request__unpack(&s->arena.pb, len, payload);
    if (!req) {
        uint64_t id = 0;
        zkv_frame_peek_id(payload, len, &id);
        if (!admitted(c, id, false)) {
            zkv_arena_reset(&s->arena);
            return;
        }
        zkv_dispatch_error(&s->env, &s->reply, id, ZKV__STATUS__BAD_REQUEST,
                           "undecodable request frame (%zu bytes)", len);
        zkv_arena_reset(&s->arena);
        queue_reply(c, NULL);
        bad_frame(c);
        return;
    }
    c->bad_frames = 0;
    if (req->op == ZKV__OP__HELLO && c->st.tls &&
        !zkv_tls_peer_cn(c->st.tls, c->sess.cert_cn, sizeof(c->sess.cert_cn)))
        c->sess.cert_cn[0] = '\0';
    bool known_peer = req->op == ZKV__OP__HELLO && zkv_limits_known_peer(s->map, req->node_id);
    if (!admitted(c, req->id, known_peer)) {
        zkv_arena_reset(&s->arena);
        return;
    }
    zkv_dispatch_result res = zkv_dispatch(&s->env, &c->sess, req, &s->reply);
    if (known_peer && c->cls == ZKV_CONN_CLIENT && c->sess.hello_done)
        set_class(c, zkv_limits_classify(&s->limits, &s->classes, c->cls, true));
    if (res == ZKV_DISPATCH_CLOSE)
        ZKV_INFO("connection from %s refused: %s", c->peer, s->reply.message);
    queue_reply(c, req);
    zkv_arena_reset(&s->arena);
    if (res == ZKV_DISPATCH_CLOSE)
        zkv_conn_drain(c);
    if (zkv_store_failed(s->store))
        zkv_server_fatal(s, "storage failure while serving a read");
}

/* After process: when the frame being received began (its request timeout runs from
 * there), given whether a frame was consumed. A connection on probation keeps its accept
 * time; a paused one has none (the node is not reading). */
static void track_frame(zkv_conn *c, bool consumed)
{
    if (c->cls == ZKV_CONN_PROBATION)
        return;
    bool partial = c->skip || zkv_buf_unread(&c->in);
    if (!partial || c->paused || c->close_after_flush)
        c->frame_start_ms = 0;
    else if (consumed || !c->frame_start_ms)
        c->frame_start_ms = uv_now(&c->srv->loop);
}

/* Handles every whole frame buffered in c->in. */
static void process(zkv_conn *c)
{
    zkv_server *s = c->srv;
    zkv_server_check_lease(s);
    bool consumed = false;
    while (!c->closing && !c->close_after_flush && !s->shutting_down) {
        size_t own = queued_output(c);
        /* peers answer small frames and are never the ones that do not read: only their own
         * cap applies */
        size_t node = c->cls == ZKV_CONN_PEER ? 0 : s->out_total - c->accounted + own;
        if (!zkv_limits_keep_reading(&s->limits, false, own, node)) {
            pause_reading(c);
            break;
        }
        size_t avail = zkv_buf_unread(&c->in);
        if (c->skip) {
            size_t n = avail < c->skip ? avail : (size_t)c->skip;
            zkv_buf_consume(&c->in, n);
            c->skip -= n;
            consumed = true;
            if (c->skip)
                break;
            continue;
        }
        if (avail == 0)
            break;
        const uint8_t *payload;
        size_t plen, used;
        zkv_frame_result fr =
            zkv_frame_parse(zkv_buf_head(&c->in), avail, s->max_frame, &payload, &plen, &used);
        if (fr == ZKV_FRAME_NEED_MORE)
            break;
        if (fr == ZKV_FRAME_TOO_LARGE) {
            size_t peek = plen < PEEK_BYTES ? plen : PEEK_BYTES;
            if (avail < ZKV_FRAME_HEADER_LEN + peek)
                break; /* wait for the id */
            uint64_t id = 0;
            zkv_frame_peek_id(zkv_buf_head(&c->in) + ZKV_FRAME_HEADER_LEN, peek, &id);
            if (!admitted(c, id, false))
                break;
            zkv_dispatch_error(&s->env, &s->reply, id, ZKV__STATUS__TOO_LARGE,
                               "frame of %zu bytes exceeds the limit of %zu bytes (keys up to "
                               "%zu bytes, values up to %zu bytes)",
                               plen, s->max_frame, s->env.max_key, s->env.max_value);
            queue_reply(c, NULL);
            c->skip = (uint64_t)ZKV_FRAME_HEADER_LEN + plen;
            bad_frame(c);
            continue;
        }
        handle_frame(c, payload, plen);
        zkv_server_after_request(s);
        zkv_buf_consume(&c->in, used);
        consumed = true;
    }
    track_frame(c, consumed);
    account(c);
    if (zkv_outq_unread(&c->out) || c->close_after_flush)
        zkv_conn_mark_dirty(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    zkv_conn *c = h->data;
    size_t want = ZKV_CONN_READ_CHUNK;
    size_t avail = zkv_buf_unread(&c->in);
    if (c->skip == 0 && avail >= ZKV_FRAME_HEADER_LEN) {
        /* A partial frame: make room for all of it at once. */
        const uint8_t *payload;
        size_t plen, consumed;
        zkv_frame_result fr = zkv_frame_parse(zkv_buf_head(&c->in), avail, c->srv->max_frame,
                                              &payload, &plen, &consumed);
        if (fr == ZKV_FRAME_NEED_MORE) {
            const uint8_t *p = zkv_buf_head(&c->in);
            size_t total = ZKV_FRAME_HEADER_LEN + (((size_t)p[0] << 24) | ((size_t)p[1] << 16) |
                                                   ((size_t)p[2] << 8) | p[3]);
            if (total > avail && total - avail > want)
                want = total - avail;
        }
    }
    zkv_uvstream_read_buf(&c->st, &c->in, want, buf);
}

/* The first bytes of a connection say whether it speaks TLS. A plain client of a TLS
 * node is answered that TLS is required (refuse_plain); a TLS client of a plain node is
 * closed (it could not read a plain answer), with a line in the log. False when c closes. */
static bool check_first_bytes(zkv_conn *c, const uint8_t *b, size_t n)
{
    c->saw_bytes = true;
    bool tls = zkv_tls_looks_like_tls(b, n);
    if (c->st.tls && !tls) {
        if (zkv_buf_append(&c->in, b, n) != 0) {
            zkv_conn_close(c);
            return false;
        }
        zkv_uvstream_free(&c->st);
        c->plain_on_tls = true;
    } else if (!c->st.tls && tls) {
        ZKV_WARN("connection from %s speaks TLS, but this node has no --tls-cert; closing",
                 c->peer);
        zkv_conn_close(c);
        return false;
    }
    return true;
}

/* A plain client of a TLS node: its first request is answered that the node requires TLS,
 * and the connection closes. Waits until the request's id has arrived. */
static void refuse_plain(zkv_conn *c)
{
    size_t avail = zkv_buf_unread(&c->in);
    const uint8_t *p = zkv_buf_head(&c->in);
    if (avail < ZKV_FRAME_HEADER_LEN)
        return;
    size_t plen = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
    size_t peek = plen < PEEK_BYTES ? plen : PEEK_BYTES;
    if (avail < ZKV_FRAME_HEADER_LEN + peek)
        return;
    uint64_t id = 0;
    zkv_frame_peek_id(p + ZKV_FRAME_HEADER_LEN, peek, &id);
    zkv_server *s = c->srv;
    uint64_t skipped;
    if (log_due(s, &s->log_refused, &skipped))
        ZKV_WARN("connection from %s refused: plain TCP to a TLS node", c->peer);
    zkv_dispatch_error(&s->env, &s->reply, id, ZKV__STATUS__BAD_REQUEST,
                       "this node requires TLS: connect with TLS (libzkv's zkv_options_set_tls, "
                       "--tls-ca; docs/security.md)");
    queue_reply(c, NULL);
    zkv_conn_drain(c);
    zkv_buf_consume(&c->in, avail);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    zkv_conn *c = st->data;
    if (nread > 0) {
        c->srv->stats.bytes_read += (uint64_t)nread;
        c->last_io_ms = uv_now(&c->srv->loop);
        bool first = !c->saw_bytes;
        if (first && !check_first_bytes(c, (const uint8_t *)buf->base, (size_t)nread))
            return;
        int rc = ZKV_TLS_OK;
        if (!(first && c->plain_on_tls)) /* (those bytes are in c->in already) */
            rc = zkv_uvstream_got(&c->st, &c->in, (size_t)nread);
        if (c->plain_on_tls) {
            refuse_plain(c);
            return;
        }
        if (rc != ZKV_TLS_OK) {
            if (rc == ZKV_TLS_FAILED)
                ZKV_INFO("connection from %s: %s", c->peer, zkv_tls_error(c->st.tls));
            zkv_conn_drain(c); /* answer what was asked (TLS: an alert may be queued) */
            if (zkv_uvstream_held(&c->st))
                zkv_conn_mark_dirty(c);
            return;
        }
        process(c);
        if (zkv_uvstream_held(&c->st))
            zkv_conn_mark_dirty(c); /* TLS handshake messages */
        return;
    }
    if (nread == 0)
        return; /* EAGAIN */
    if (nread == UV_EOF) {
        ZKV_DEBUG("connection from %s: end of stream", c->peer);
        zkv_conn_drain(c); /* answer what was asked, then close */
        return;
    }
    ZKV_DEBUG("connection from %s: read error: %s", c->peer, uv_strerror((int)nread));
    zkv_conn_close(c);
}

static void start_reading(zkv_conn *c)
{
    if (c->reading || c->closing || c->close_after_flush)
        return;
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc != 0) {
        ZKV_WARN("connection from %s: cannot read: %s", c->peer, uv_strerror(rc));
        zkv_conn_close(c);
        return;
    }
    c->reading = true;
}

static void on_write(uv_write_t *req, int status)
{
    zkv_conn *c = req->data;
    c->writing = false;
    zkv_outq_clear(&c->wout); /* releases the values it sent */
    if (c->wout.b.cap > ZKV_CONN_KEEP_BUFFER)
        zkv_buf_free(&c->wout.b); /* do not keep a big page's buffer around */
    if (c->closing)
        return;
    if (status < 0) {
        ZKV_DEBUG("connection from %s: write error: %s", c->peer, uv_strerror(status));
        zkv_conn_close(c);
        return;
    }
    zkv_server *s = c->srv;
    c->last_io_ms = uv_now(&s->loop);
    account(c);
    size_t own = queued_output(c);
    size_t node = c->cls == ZKV_CONN_PEER ? 0 : s->out_total;
    if (c->paused && zkv_limits_keep_reading(&s->limits, true, own, node)) {
        unpause(c);
        process(c);
        if (!c->paused)
            start_reading(c);
    }
    if (zkv_outq_unread(&c->out) || c->close_after_flush || zkv_uvstream_held(&c->st))
        zkv_conn_mark_dirty(c);
}

void zkv_conn_flush(zkv_conn *c)
{
    if (c->closing || c->writing)
        return;
    size_t before = zkv_outq_unread(&c->out);
    c->srv->stats.bytes_written += before; /* all of it goes out below */
    /* A paused connection resumes from on_write, so it keeps the queued path. A TLS
     * connection's queue holds bytes only (append_answer). */
    int rc = c->st.tls
                 ? zkv_uvstream_send(&c->st, &c->tcp, &c->out.b, &c->wout.b, &c->wreq, on_write, c,
                                     !c->paused)
                 : zkv_outq_send(&c->out, &c->wout, &c->tcp, &c->wreq, on_write, c, !c->paused);
    if (rc < 0) {
        ZKV_DEBUG("connection from %s: write error: %s", c->peer, uv_strerror(rc));
        zkv_conn_close(c);
        return;
    }
    if (zkv_outq_unread(&c->out) + zkv_outq_unread(&c->wout) < before)
        c->last_io_ms = uv_now(&c->srv->loop);
    account(c);
    if (rc == 1) {
        c->writing = true;
        return;
    }
    if (c->out.b.cap > ZKV_CONN_KEEP_BUFFER)
        zkv_buf_free(&c->out.b); /* do not keep a big page's buffer around */
    if (c->close_after_flush && c->held_n == 0)
        zkv_conn_close(c);
}

static void peer_name(uv_tcp_t *t, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    snprintf(out, outlen, "?");
    if (uv_tcp_getpeername(t, (struct sockaddr *)&ss, &len) != 0)
        return;
    char host[INET6_ADDRSTRLEN];
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        uv_ip4_name(a, host, sizeof(host));
        snprintf(out, outlen, "%s:%d", host, ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, host, sizeof(host));
        snprintf(out, outlen, "[%s]:%d", host, ntohs(a->sin6_port));
    }
}

void zkv_conn_check_timeout(zkv_conn *c, uint64_t now)
{
    zkv_server *s = c->srv;
    if (c->closing)
        return;
    if (c->close_after_flush) {
        /* closing once its answers are out: as long as a request to take them */
        if (c->held_n == 0 && now - c->last_io_ms >= zkv_limits_request_ms(&s->limits, true))
            zkv_conn_close(c);
        return;
    }
    bool probation = c->cls == ZKV_CONN_PROBATION;
    zkv_conn_clock k = {.last_io_ms = c->last_io_ms,
                        .frame_start_ms = c->frame_start_ms,
                        .probation = probation,
                        .idle_exempt = c->cls == ZKV_CONN_PEER || c->held_n > 0};
    zkv_timeout t = zkv_limits_timeout(&s->limits, &k, now);
    if (t == ZKV_TIMEOUT_NONE)
        return;
    uint64_t skipped;
    if (t == ZKV_TIMEOUT_IDLE) {
        s->stats.conns_idle_closed++;
        if (log_due(s, &s->log_timeout, &skipped))
            ZKV_INFO("connection from %s idle for %llu ms (--idle-timeout-ms); closing (%llu more "
                     "timed out since the last such line)",
                     c->peer, (unsigned long long)(now - c->last_io_ms),
                     (unsigned long long)skipped);
        zkv_conn_close(c);
        return;
    }
    uint64_t limit = zkv_limits_request_ms(&s->limits, probation);
    s->stats.conns_request_timeouts++;
    if (log_due(s, &s->log_timeout, &skipped))
        ZKV_INFO("connection from %s: %s within %llu ms (--request-timeout-ms); closing (%llu "
                 "more timed out since the last such line)",
                 c->peer, probation ? "no first request" : "request not received whole",
                 (unsigned long long)limit, (unsigned long long)skipped);
    uint64_t id = 0;
    size_t avail = zkv_buf_unread(&c->in);
    if (c->skip == 0 && avail > ZKV_FRAME_HEADER_LEN)
        zkv_frame_peek_id(zkv_buf_head(&c->in) + ZKV_FRAME_HEADER_LEN, avail - ZKV_FRAME_HEADER_LEN,
                          &id);
    if (probation)
        set_class(c, ZKV_CONN_REFUSED); /* its reserve slot is free at once */
    zkv_dispatch_error(&s->env, &s->reply, id, ZKV__STATUS__TIMEOUT,
                       probation ? "no request within %llu ms of connecting; closing"
                                 : "request not received whole within %llu ms; closing",
                       (unsigned long long)limit);
    queue_reply(c, NULL);
    zkv_conn_drain(c);
    account(c);
}

void zkv_conn_accept(zkv_server *s)
{
    zkv_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        ZKV_WARN("cannot accept a connection: out of memory");
        return;
    }
    c->srv = s;
    c->cls = ZKV_CONN_REFUSED; /* counted nowhere until admitted below */
    c->last_io_ms = uv_now(&s->loop);
    zkv_buf_init(&c->in);
    zkv_outq_init(&c->out);
    zkv_outq_init(&c->wout);
    zkv_buf_init(&c->held_bytes);
    uv_tcp_init(&s->loop, &c->tcp);
    c->tcp.data = c;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->n_conns++;
    s->stats.conns_accepted++;
    int rc = uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&c->tcp);
    if (rc != 0) {
        ZKV_WARN("accept failed: %s", uv_strerror(rc));
        zkv_conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    peer_name(&c->tcp, c->peer, sizeof(c->peer));
    if (s->tls_accept && !(c->st.tls = zkv_tls_new(s->tls_accept, NULL))) {
        ZKV_WARN("connection from %s: out of memory starting TLS", c->peer);
        zkv_conn_close(c);
        return;
    }
    ZKV_DEBUG("connection from %s", c->peer);
    zkv_conn_class k = zkv_limits_admit(&s->limits, &s->classes);
    if (k == ZKV_CONN_REFUSED) {
        refuse(c, 0); /* the reserve is full too: no waiting for a first frame */
        account(c);
        return;
    }
    set_class(c, k);
    if (k == ZKV_CONN_PROBATION)
        c->frame_start_ms = c->last_io_ms; /* its first frame must come within the timeout */
    start_reading(c);
}
