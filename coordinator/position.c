/* position.c: RANGE_STATUS client of the leading coordinator (see position.h).
 *
 * Every target gets a stream (common/stream.h: plain or TLS); one poll(2) loop drives them all
 * until each is done or the deadline passes, so a node that accepts and then hangs (SIGSTOP) costs
 * the budget once, not once per node. Requests are pipelined: the node answers in
 * order, HELLO first (id 1), then RANGE_STATUS k with id 2 + k. The output buffer is
 * written while answers are read, so no amount of ranges can deadlock against the
 * node. */
#include "position.h"

#include "common/hello.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/frame.h"
#include "common/rangemap.h"
#include "common/stream.h"
#include "common/util.h"

#define ANSWER_MAX_FRAME (1024u * 1024u) /* a RANGE_STATUS answer is a few hundred bytes */
#define HELLO_ID 1u
#define FIRST_RANGE_ID 2u

typedef enum { L_CONNECTING, L_TALKING, L_DONE } peer_state;

typedef struct peer {
    zkv_stream s;
    peer_state st;
    zkv_buf out, in;
    size_t pending;         /* answers still expected, HELLO included */
    bool *seen;             /* per range: an answer (of any status) arrived */
    const char *cluster_id; /* the HELLO's (borrowed for the ask) */
} peer;

static void set_error(zkv_position_target *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records the first reason something went unanswered. */
static void set_error(zkv_position_target *t, const char *fmt, ...)
{
    if (t->error[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->error, sizeof(t->error), fmt, ap);
    va_end(ap);
}

static void finish(peer *l)
{
    zkv_stream_close(&l->s);
    l->st = L_DONE;
}

static void fail(peer *l, zkv_position_target *t, int errnum, const char *what)
{
    if (errnum)
        set_error(t, "%s: %s", what, strerror(errnum));
    else
        set_error(t, "%s", what);
    finish(l);
}

/* HELLO, then one RANGE_STATUS per range, framed into l->out. 0 or -1 (ENOMEM). */
static int build_requests(peer *l, const zkv_position_target *t, const char *cluster_id,
                          const char *auth)
{
    l->cluster_id = cluster_id;
    Zkv__Request req;
    zkv_hello_request(&req, &(zkv_hello){.cluster_id = cluster_id,
                                         .node_id = ZKV_COORDINATOR_NODE_ID,
                                         .client_name = "zkv-coordinator",
                                         .auth = auth});
    req.id = HELLO_ID;
    if (zkv_frame_append_request(&l->out, &req) != 0)
        return -1;
    for (size_t k = 0; k < t->n_ranges; k++) {
        Zkv__Request rs = ZKV__REQUEST__INIT;
        rs.id = FIRST_RANGE_ID + k;
        rs.op = ZKV__OP__RANGE_STATUS;
        rs.range_id = (char *)t->range_ids[k];
        if (zkv_frame_append_request(&l->out, &rs) != 0)
            return -1;
    }
    return 0;
}

/* Starts a non-blocking connect to the first address of t->addr that accepts one. */
static void start(peer *l, zkv_position_target *t, const zkv_tls_ctx *tls)
{
    struct addrinfo *res = NULL;
    char why[128];
    int rrc = zkv_resolve_tcp(t->addr, &res, why, sizeof(why));
    if (rrc == ZKV_RESOLVE_BADADDR) {
        fail(l, t, 0, "bad address");
        return;
    }
    if (rrc != 0) {
        set_error(t, "cannot resolve %s: %s", t->addr, why);
        finish(l);
        return;
    }
    int errnum = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai && l->st != L_DONE; ai = ai->ai_next) {
        int fd = -1;
        int rc = zkv_stream_connect(ai, &fd);
        if (rc >= 0) {
            freeaddrinfo(res);
            l->st = rc == 0 ? L_TALKING : L_CONNECTING;
            if (zkv_stream_open(&l->s, fd, tls, t->addr) != 0)
                fail(l, t, ENOMEM, "starting TLS");
            return;
        }
        errnum = errno;
    }
    freeaddrinfo(res);
    fail(l, t, errnum, "connect");
}

static void take_answer(peer *l, zkv_position_target *t, const Zkv__Response *r)
{
    const char *msg = r->message && r->message[0] ? r->message : "";
    if (r->id == HELLO_ID) {
        char why[200];
        if (zkv_hello_check(r, l->cluster_id, why, sizeof(why)) != ZKV_HELLO_OK) {
            set_error(t, "hello refused: %s: %s", zkv_status_name((int)r->status), why);
            finish(l);
            return;
        }
        l->pending--;
        return;
    }
    if (r->id < FIRST_RANGE_ID || r->id - FIRST_RANGE_ID >= t->n_ranges) {
        set_error(t, "answer to unknown request id %llu%s%s%s", (unsigned long long)r->id,
                  r->status != ZKV__STATUS__OK ? " (" : "",
                  r->status != ZKV__STATUS__OK ? zkv_status_name((int)r->status) : "",
                  r->status != ZKV__STATUS__OK ? ")" : "");
        finish(l);
        return;
    }
    size_t k = (size_t)(r->id - FIRST_RANGE_ID);
    if (l->seen[k]) {
        set_error(t, "two answers to request id %llu", (unsigned long long)r->id);
        finish(l);
        return;
    }
    l->seen[k] = true;
    l->pending--;
    const char *rid = t->range_ids[k];
    if (r->status != ZKV__STATUS__OK) {
        set_error(t, "%s: %s%s%s", rid, zkv_status_name((int)r->status), msg[0] ? ": " : "", msg);
        return;
    }
    if (r->range_id && r->range_id[0] != '\0' && strcmp(r->range_id, rid) != 0) {
        set_error(t, "%s: answer names range %s", rid, r->range_id);
        return;
    }
    t->answers[k].answered = true;
    t->answers[k].epoch = r->range_epoch;
    t->answers[k].seq = r->range_seq;
}

/* Decodes every whole frame that has arrived. */
static void parse(peer *l, zkv_position_target *t)
{
    while (l->st != L_DONE && l->pending > 0) {
        const uint8_t *payload;
        size_t plen, consumed;
        zkv_frame_result fr = zkv_frame_parse(zkv_buf_head(&l->in), zkv_buf_unread(&l->in),
                                              ANSWER_MAX_FRAME, &payload, &plen, &consumed);
        if (fr == ZKV_FRAME_NEED_MORE)
            return;
        if (fr == ZKV_FRAME_TOO_LARGE) {
            set_error(t, "answer of %zu bytes (limit %u)", plen, ANSWER_MAX_FRAME);
            finish(l);
            return;
        }
        Zkv__Response *r = zkv__response__unpack(NULL, plen, payload);
        zkv_buf_consume(&l->in, consumed);
        if (!r) {
            fail(l, t, 0, "undecodable answer");
            return;
        }
        take_answer(l, t, r);
        zkv__response__free_unpacked(r, NULL);
    }
    if (l->pending == 0)
        finish(l);
}

static void on_ready(peer *l, zkv_position_target *t, short revents)
{
    if (l->st == L_CONNECTING) {
        int soerr = zkv_stream_connected(l->s.fd);
        if (soerr != 0) {
            fail(l, t, soerr, "connect");
            return;
        }
        if (!(revents & POLLOUT))
            return;
        l->st = L_TALKING;
    }
    if ((revents & POLLOUT) && zkv_stream_want_write(&l->s, &l->out)) {
        int w = zkv_stream_send(&l->s, &l->out);
        if (w == ZKV_STREAM_TLS) {
            set_error(t, "%s", l->s.err);
            finish(l);
            return;
        }
        if (w != 0) {
            fail(l, t, errno, "send");
            return;
        }
    }
    if (!(revents & (POLLIN | POLLHUP | POLLERR)))
        return;
    ssize_t got = zkv_stream_recv(&l->s, &l->in);
    if (got > 0)
        parse(l, t);
    else if (got == ZKV_STREAM_CLOSED) {
        parse(l, t);
        if (l->st != L_DONE)
            fail(l, t, 0, "closed the connection");
    } else if (got == ZKV_STREAM_TLS) {
        set_error(t, "%s", l->s.err);
        finish(l);
    } else if (got < 0) {
        fail(l, t, errno, "read");
    }
}

void zkv_position_ask(zkv_position_target *targets, size_t n, const char *cluster_id,
                      const char *auth, const zkv_tls_ctx *tls, int budget_ms)
{
    if (n == 0)
        return;
    uint64_t deadline = zkv_now_ms() + (uint64_t)(budget_ms > 0 ? budget_ms : 0);
    peer *peers = calloc(n, sizeof(*peers));
    struct pollfd *pfd = calloc(n, sizeof(*pfd));
    size_t *who = calloc(n, sizeof(*who));
    for (size_t i = 0; i < n; i++) {
        zkv_position_target *t = &targets[i];
        t->error[0] = '\0';
        for (size_t k = 0; k < t->n_ranges; k++)
            t->answers[k] = (zkv_position_answer){0};
    }
    if (!peers || !pfd || !who) {
        for (size_t i = 0; i < n; i++)
            set_error(&targets[i], "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        peer *l = &peers[i];
        zkv_position_target *t = &targets[i];
        zkv_stream_init(&l->s);
        zkv_buf_init(&l->out);
        zkv_buf_init(&l->in);
        l->pending = 1 + t->n_ranges;
        l->seen = calloc(t->n_ranges ? t->n_ranges : 1, sizeof(*l->seen));
        if (!l->seen || build_requests(l, t, cluster_id ? cluster_id : "", auth) != 0) {
            fail(l, t, ENOMEM, "encoding requests");
            continue;
        }
        start(l, t, tls);
    }

    for (;;) {
        size_t np = 0;
        for (size_t i = 0; i < n; i++) {
            peer *l = &peers[i];
            if (l->st == L_DONE)
                continue;
            short ev = POLLIN;
            if (l->st == L_CONNECTING || zkv_stream_want_write(&l->s, &l->out))
                ev |= POLLOUT;
            if (l->st == L_CONNECTING)
                ev = POLLOUT;
            pfd[np] = (struct pollfd){.fd = l->s.fd, .events = ev};
            who[np++] = i;
        }
        uint64_t now = zkv_now_ms();
        if (np == 0 || now >= deadline)
            break;
        int rc = poll(pfd, np, (int)(deadline - now));
        if (rc < 0 && errno != EINTR) {
            for (size_t j = 0; j < np; j++)
                fail(&peers[who[j]], &targets[who[j]], errno, "poll");
            break;
        }
        for (size_t j = 0; rc > 0 && j < np; j++)
            if (pfd[j].revents)
                on_ready(&peers[who[j]], &targets[who[j]], pfd[j].revents);
    }

    for (size_t i = 0; i < n; i++) {
        peer *l = &peers[i];
        if (l->st == L_CONNECTING)
            set_error(&targets[i], "connect timed out after %d ms", budget_ms);
        else if (l->st == L_TALKING)
            set_error(&targets[i], "no answer within %d ms", budget_ms);
        finish(l);
        zkv_stream_free(&l->s);
        zkv_buf_free(&l->out);
        zkv_buf_free(&l->in);
        free(l->seen);
    }
out:
    free(peers);
    free(pfd);
    free(who);
}
