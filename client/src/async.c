/* async.c: the asynchronous API (zkv_async.h), an event-loop-driven twin of call.c.
 * One non-blocking connection per node (aconn) carries pipelined requests; each
 * connection's pending table (apending.h) matches answers to requests by id, in order.
 * Nothing here blocks or sleeps: connecting, writing and reading happen when the
 * adapter reports a ready fd, and one timer (armed through the hooks while requests are
 * pending) re-routes requests after a backoff and ends attempts whose time ran out.
 *
 * Every request follows route.c's decisions exactly as zkv__call does, one step per
 * event instead of one loop: route on the client's cached map (zkv__route_key: owner,
 * replica fallback, READ_REPLICA, zone), send, and feed what happened (an answer, a lost
 * or refused connection, a timeout, no node to ask) to zkv__route_decide, then carry out
 * its verdict: complete, re-route at once (the next candidate), or wait on the timer for
 * the backoff (NOT_OWNER, or no node can serve: the failfast wait for a new owner). A map
 * reload is only requested from the client's refresher thread, never waited for.
 * A request on the normal path costs one allocation (the areq with its key and value);
 * the state of retries (nodes that failed, why) is allocated on its first failure.
 * An attempt abandoned while on the wire (timed out, or a fallback read that gave up on
 * a silent owner) leaves a tombstone in its connection's table, so a late answer is
 * matched and dropped.
 * Callbacks run only from the handle_* entry points and from zkv_async_free, counted in
 * `depth`, so a zkv_async_free from inside a callback is carried out when the entry
 * point returns. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zkv/zkv_async.h"
#include "common/util.h"
#include "conn.h"
#include "apending.h"
#include "batch.h"
#include "client.h"
#include "error.h"
#include "value.h"

#define TICK_MS 50 /* deadline checks while requests are pending */
#define READ_CHUNK (64u * 1024u)

typedef enum { AREQ_GET, AREQ_PUT, AREQ_DEL } areq_op;

/* What a request keeps once an attempt failed: nodes to skip this round (with why), and
 * the texts its final error is made of (as zkv__call keeps them). */
typedef struct aslow {
    zkv__down down;
    bool owner_answered;            /* owner_why is the owner's UNAVAILABLE answer */
    char owner_why[ZKV__WHY_MAX];   /* why the owner failed */
    char replica_why[ZKV__WHY_MAX]; /* why the last replica failed ("node x: ...") */
    char last[ZKV__ERR_MAX];        /* the last failure, in full */
} aslow;

/* One accepted request, owned by the async context until its callback ran. It is in
 * exactly one place: a connection's table, the waiting list, or in hand. */
typedef struct areq {
    struct areq *next; /* on the waiting list (backoff) */
    areq_op op;
    bool to_replica; /* the attempt on the wire went to a replica */
    unsigned flags;
    size_t klen, vlen;
    uint64_t started;
    uint64_t attempt_deadline; /* on the wire: the attempt counts as timed out then */
    uint64_t retry_at;         /* waiting: when to route again */
    zkv__call_state st;        /* route.h's state across attempts (deadline, retries) */
    aslow *slow;               /* NULL until an attempt failed */
    zkv_async_cb cb;
    void *priv;
    char node[ZKV_ID_MAX]; /* node of the last attempt */
    uint8_t kv[];          /* the key, then the value */
} areq;

/* The HELLO that opens each connection sits in the pending table as this marker, and an
 * abandoned attempt as the tombstone. */
static char hello_marker;
static char tombstone;

/* One non-blocking connection to one node. */
typedef struct aconn {
    char node_id[ZKV_ID_MAX];
    char addr[ZKV_ADDR_MAX];
    int fd;                 /* -1 while closed */
    bool connecting;        /* connect(2) in progress */
    bool ready;             /* HELLO answered */
    bool reading;           /* add_read is in force */
    bool writing;           /* add_write is in force */
    unsigned gen;           /* closes so far: a reader notices its socket was replaced */
    uint64_t open_deadline; /* connect + HELLO must be done by then (zkv__open_deadline) */
    uint64_t skip_until;    /* reads that may fall back skip the node until then */
    zkv_buf in, out;
    zkv__apq q; /* requests sent (or queued in out), in id order */
} aconn;

struct zkv_async {
    zkv_client *c;
    zkv_async_hooks h;
    bool hooked;
    aconn **conns;
    size_t nconns, capconns;
    areq *waiting;   /* requests waiting for their retry time */
    size_t live;     /* requests whose callback has not run */
    int depth;       /* entry points and callbacks running */
    bool free_asked; /* zkv_async_free while depth > 0 */
    bool closing;    /* inside the real free */
    bool timer_on;
    uint64_t timer_due;
    struct abatch *ready; /* batches whose operations all ended: callback on the timer */
    /* map reloads the decisions asked for, sent to the refresher once per entry point */
    bool want_refresh, want_force;
    int64_t want_version;
    uint64_t want_gen;
};

static void req_free(areq *r)
{
    if (!r)
        return;
    free(r->slow);
    free(r);
}

static const uint8_t *req_key(const areq *r)
{
    return r->kv;
}

static zkv__op_kind op_kind(const areq *r)
{
    return r->op == AREQ_GET ? ZKV__READ : ZKV__WRITE;
}

/* A read that replicas may answer. */
static bool may_fall_back(const areq *r)
{
    return r->op == AREQ_GET && !(r->flags & ZKV_FLAG_OWNER_ONLY);
}

/* Runs r's callback and frees r. why is the reason of a failure. */
static void complete(zkv_async *a, areq *r, int status, const zkv_value *v, const char *why)
{
    a->live--;
    if (status != ZKV_OK && status != ZKV_ENOTFOUND)
        zkv__fail(status, "%s", why ? why : zkv_strerror(status));
    else
        zkv__clear_error();
    a->depth++;
    r->cb(a, status, v, r->priv);
    a->depth--;
    req_free(r);
}

/* --- timer and map reloads ---------------------------------------------------------------- */

/* Arms the timer for the earliest of: the next deadline tick, the next retry. */
static void rearm(zkv_async *a)
{
    if (!a->hooked || a->closing)
        return;
    if (a->live == 0) {
        if (a->timer_on) {
            a->h.set_timer(a->h.data, -1);
            a->timer_on = false;
        }
        return;
    }
    uint64_t now = zkv_now_ms();
    uint64_t due = a->ready ? now : now + TICK_MS;
    for (areq *r = a->waiting; r; r = r->next)
        if (r->retry_at < due)
            due = r->retry_at < now ? now : r->retry_at;
    if (a->timer_on && a->timer_due <= due)
        return;
    a->timer_on = true;
    a->timer_due = due;
    a->h.set_timer(a->h.data, (long)(due - now));
}

/* Passes the reloads decided since the last call to the refresher (never waits). */
static void flush_refresh(zkv_async *a)
{
    if (!a->want_refresh)
        return;
    zkv__mapcache_refresh(&a->c->mc, a->want_force, a->want_version, a->want_gen, 0, NULL, 0);
    a->want_refresh = a->want_force = false;
    a->want_version = 0;
}

/* --- connections ---------------------------------------------------------------------- */

static void watch(zkv_async *a, aconn *c)
{
    bool want_read = c->fd >= 0;
    bool want_write = c->fd >= 0 && (c->connecting || zkv_buf_unread(&c->out) > 0);
    if (want_read != c->reading) {
        (want_read ? a->h.add_read : a->h.del_read)(a->h.data, c->fd);
        c->reading = want_read;
    }
    if (want_write != c->writing) {
        (want_write ? a->h.add_write : a->h.del_write)(a->h.data, c->fd);
        c->writing = want_write;
    }
}

static void conn_close(zkv_async *a, aconn *c)
{
    if (c->fd < 0)
        return;
    if (c->reading)
        a->h.del_read(a->h.data, c->fd);
    if (c->writing)
        a->h.del_write(a->h.data, c->fd);
    c->reading = c->writing = false;
    close(c->fd);
    c->fd = -1;
    c->gen++;
    c->connecting = c->ready = false;
    c->in.len = c->in.off = 0;
    c->out.len = c->out.off = 0;
}

static void attempt_failed(zkv_async *a, areq *r, int code, const char *why);

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
    if (f->a->closing)
        complete(f->a, item, f->code, NULL, f->why);
    else
        attempt_failed(f->a, item, f->code, f->why);
}

/* Closes c; every request pending on it failed its attempt with code (each is decided
 * on: re-routed, left to wait, or completed). A node that could not be reached or
 * answer is skipped by reads that may fall back for ZKV__SKIP_MS. Requests re-routed to
 * this node go to a new connection (a fresh table). */
static void conn_fail(zkv_async *a, aconn *c, int code, const char *why)
{
    conn_close(a, c);
    if (code == ZKV_ECONNECT || code == ZKV_ETIMEOUT)
        c->skip_until = zkv_now_ms() + ZKV__SKIP_MS;
    zkv__apq old = c->q;
    zkv__apq_init(&c->q);
    c->q.next_id = old.next_id;
    fail_ctx f = {.a = a, .code = code, .why = why};
    zkv__apq_drain(&old, fail_one, &f);
    zkv__apq_free(&old);
}

static void conn_fail_errno(zkv_async *a, aconn *c, bool lost, int errnum)
{
    char why[ZKV__ERR_MAX];
    if (lost)
        snprintf(why, sizeof why, "connection to node %s at %s lost: %s", c->node_id, c->addr,
                 errnum ? strerror(errnum) : "closed by the node");
    else
        snprintf(why, sizeof why, "node %s at %s unreachable: %s", c->node_id, c->addr,
                 strerror(errnum));
    conn_fail(a, c, ZKV_ECONNECT, why);
}

static aconn *conn_get(zkv_async *a, const char *node_id, const char *addr)
{
    for (size_t i = 0; i < a->nconns; i++)
        if (strcmp(a->conns[i]->node_id, node_id) == 0 && strcmp(a->conns[i]->addr, addr) == 0)
            return a->conns[i];
    if (a->nconns == a->capconns) {
        size_t cap = a->capconns ? a->capconns * 2 : 8;
        aconn **n = realloc(a->conns, cap * sizeof *n);
        if (!n)
            return NULL;
        a->conns = n;
        a->capconns = cap;
    }
    aconn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    zkv__copy_str(c->node_id, sizeof c->node_id, node_id);
    zkv__copy_str(c->addr, sizeof c->addr, addr);
    c->fd = -1;
    zkv_buf_init(&c->in);
    zkv_buf_init(&c->out);
    zkv__apq_init(&c->q);
    a->conns[a->nconns++] = c;
    return c;
}

static aconn *conn_by_fd(zkv_async *a, int fd)
{
    for (size_t i = 0; i < a->nconns; i++)
        if (a->conns[i]->fd == fd && fd >= 0)
            return a->conns[i];
    return NULL;
}

/* Starts a non-blocking connect and queues HELLO. ZKV_OK or ZKV_ECONNECT/ZKV_ENOMEM
 * (reason in err); nothing pending on c is touched on failure (it has nothing). */
static int conn_open(zkv_async *a, aconn *c, uint64_t map_version, uint64_t now, char *err,
                     size_t errlen)
{
    struct addrinfo *res = NULL;
    int rrc = zkv__resolve_node(c->node_id, c->addr, &res, err, errlen);
    if (rrc != ZKV_OK)
        return rrc;
    int fd =
        socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, res->ai_protocol);
    int errnum = errno;
    bool connecting = false;
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        errnum = errno;
        if (errnum == EINPROGRESS) {
            connecting = true;
        } else {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return zkv__err(ZKV_ECONNECT, err, errlen, "node %s at %s unreachable: %s", c->node_id,
                        c->addr, strerror(errnum));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->connecting = connecting;
    c->ready = false;
    c->open_deadline = zkv__open_deadline(a->c, now, UINT64_MAX);
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.op = ZKV__OP__HELLO;
    req.cluster_id = a->c->info.cluster_id;
    req.client_name = a->c->opts.client_name ? a->c->opts.client_name : "";
    req.map_version = map_version;
    req.protocol = 1;
    if (zkv__apq_push(&c->q, &hello_marker, &req.id) != 0 ||
        zkv_frame_append_request(&c->out, &req) != 0) {
        conn_fail(a, c, ZKV_ENOMEM, "out of memory");
        return zkv__err(ZKV_ENOMEM, err, errlen, "out of memory");
    }
    watch(a, c);
    return ZKV_OK;
}

/* --- routing ------------------------------------------------------------------------------ */

/* Queues r on the connection of the node rt chose. ZKV_OK, or the attempt's failure
 * (ZKV_ECONNECT: unreachable or skipped; ZKV_ENOMEM) with the reason in err. */
static int send_to(zkv_async *a, areq *r, const zkv__route *rt, char *err, size_t errlen)
{
    aconn *c = conn_get(a, rt->node->id, rt->node->addr);
    if (!c)
        return zkv__err(ZKV_ENOMEM, err, errlen, "out of memory");
    uint64_t now = zkv_now_ms();
    bool fallback = may_fall_back(r) && rt->n_candidates > 1;
    /* As zkv__exchange's may_skip: a node that failed just now costs reads one wait. */
    if (fallback && r->st.retries == 0 && now < c->skip_until)
        return zkv__err(ZKV_ECONNECT, err, errlen,
                        "node %s at %s unreachable: failed less than %d ms ago", c->node_id,
                        c->addr, ZKV__SKIP_MS);
    uint64_t mv = r->st.map_version > 0 ? (uint64_t)r->st.map_version : 0;
    int rc;
    if (c->fd < 0 && (rc = conn_open(a, c, mv, now, err, errlen)) != ZKV_OK) {
        if (rc == ZKV_ECONNECT)
            c->skip_until = now + ZKV__SKIP_MS;
        return rc;
    }
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.op = r->op == AREQ_GET ? ZKV__OP__GET : r->op == AREQ_PUT ? ZKV__OP__PUT : ZKV__OP__DELETE;
    req.key.data = r->kv;
    req.key.len = r->klen;
    req.value.data = r->vlen ? r->kv + r->klen : NULL;
    req.value.len = r->vlen;
    req.map_version = mv;
    req.flags = zkv__wire_flags(op_kind(r), r->flags, rt->replica);
    /* Encode with the id the push will assign, so a failure leaves nothing behind. */
    req.id = c->q.next_id;
    size_t saved = c->out.len;
    uint64_t id = 0;
    if (zkv_frame_append_request(&c->out, &req) != 0 || zkv__apq_push(&c->q, r, &id) != 0) {
        c->out.len = saved;
        return zkv__err(ZKV_ENOMEM, err, errlen, "out of memory");
    }
    zkv__copy_str(r->node, sizeof r->node, c->node_id);
    r->to_replica = rt->replica;
    /* A read that may fall back leaves half its budget for the replicas (as zkv__call). */
    r->attempt_deadline = r->st.deadline_ms;
    if (fallback && !rt->replica && now < r->st.deadline_ms)
        r->attempt_deadline = now + (r->st.deadline_ms - now) / 2;
    watch(a, c);
    return ZKV_OK;
}

/* Allocates r's retry state. false on ENOMEM. */
static bool ensure_slow(areq *r)
{
    if (!r->slow)
        r->slow = calloc(1, sizeof *r->slow);
    return r->slow != NULL;
}

/* Records a failed attempt on node (to a replica or not): its text in full and its
 * short reason, as zkv__call does for its messages. */
static void note_failure(areq *r, const char *node, bool replica, bool answered, const char *text,
                         const char *why)
{
    aslow *s = r->slow;
    zkv__copy_str(s->last, sizeof s->last, text);
    if (replica)
        snprintf(s->replica_why, sizeof s->replica_why, "node %s: %s", node, why);
    else {
        zkv__copy_str(s->owner_why, sizeof s->owner_why, why);
        s->owner_answered = answered;
    }
}

/* The message of a request no node could serve (zkv__unavailable_message), with the
 * route it failed on, or (rt NULL) the key's route on the current map. */
static void unserved_text(zkv_async *a, const areq *r, const zkv__route *rt, char *out,
                          size_t outlen)
{
    zkv__mapsnap *snap = NULL;
    zkv__route fresh;
    if (!rt) {
        snap = zkv__mapcache_snapshot(&a->c->mc);
        zkv__route_key(snap->map, req_key(r), r->klen, op_kind(r), r->flags, a->c->opts.zone, NULL,
                       &fresh);
        rt = &fresh;
    }
    if (!rt->range) {
        snprintf(out, outlen, "map version %lld does not cover the key",
                 (long long)r->st.map_version);
    } else {
        const aslow *s = r->slow;
        bool read_replica = r->op == AREQ_GET && (r->flags & ZKV_FLAG_READ_REPLICA);
        bool fallback = may_fall_back(r);
        size_t asked_owner = rt->range->owner[0] && !read_replica ? 1 : 0;
        zkv__unserved u = {
            .range = rt->range->id,
            .owner = rt->range->owner,
            .state = rt->owner,
            .owner_why = s ? s->owner_why : "",
            .owner_answered = s && s->owner_answered,
            .fallback = fallback,
            .read_replica = read_replica,
            .n_replicas =
                fallback && rt->n_candidates > asked_owner ? rt->n_candidates - asked_owner : 0,
            .replica_why = s ? s->replica_why : "",
        };
        zkv__unavailable_message(&u, op_kind(r), out, outlen);
    }
    if (snap)
        zkv__mapsnap_release(snap);
}

/* Hands a successful answer to the callback (route.c said DONE with code). */
static void deliver(zkv_async *a, areq *r, int code, const Zkv__Response *resp)
{
    if (r->op == AREQ_DEL) {
        complete(a, r, ZKV_OK, NULL, NULL); /* deleting a missing key is fine */
    } else if (r->op == AREQ_PUT && code == ZKV_OK) {
        complete(a, r, ZKV_OK, NULL, NULL);
    } else if (r->op == AREQ_PUT) {
        char why[ZKV__ERR_MAX];
        snprintf(why, sizeof why, "node %s answered NOT_FOUND to a put", r->node);
        complete(a, r, ZKV_EPROTOCOL, NULL, why);
    } else if (code == ZKV_ENOTFOUND) {
        complete(a, r, ZKV_ENOTFOUND, NULL, "key not found");
    } else {
        zkv_version ver = {resp->epoch, resp->seq};
        zkv_version pos = {resp->range_epoch, resp->range_seq};
        zkv_value *v = zkv__value_new(resp->value.data, resp->value.len, ver, pos,
                                      resp->stale || r->to_replica ? 1 : 0, r->node);
        if (v)
            complete(a, r, ZKV_OK, v, NULL);
        else
            complete(a, r, ZKV_ENOMEM, NULL, "out of memory");
        zkv_value_free(v);
    }
}

/* Carries out route.c's decision nx on r after outcome o (text: the attempt's failure
 * in full; rt: the route when o came from routing, else NULL). Returns true when r is to
 * be routed again at once; otherwise r completed (and was freed) or waits. */
static bool apply(zkv_async *a, areq *r, const zkv__outcome *o, const zkv__next *nx,
                  const Zkv__Response *resp, const char *node, const char *text,
                  const zkv__route *rt, char *sync_err, int *sync_rc)
{
    if (nx->kind == ZKV__NEXT_DONE) {
        deliver(a, r, nx->code, resp);
        return false;
    }
    if (nx->kind == ZKV__NEXT_FAIL) {
        char msg[ZKV__ERR_MAX];
        const char *last = text && text[0] ? text : r->slow ? r->slow->last : "";
        unsigned long long el = (unsigned long long)(zkv_now_ms() - r->started);
        if (nx->unserved)
            unserved_text(a, r, rt, msg, sizeof msg);
        else if (nx->code == ZKV_ENOTOWNER)
            zkv__err(nx->code, msg, sizeof msg, "routing did not settle within %llu ms: %s", el,
                     last);
        else if (nx->code == ZKV_ETIMEOUT && o->event == ZKV__EV_IO)
            zkv__err(nx->code, msg, sizeof msg, "%s within %llu ms", last, el);
        else
            snprintf(msg, sizeof msg, "%s", last[0] ? last : zkv_strerror(nx->code));
        if (sync_rc) { /* from the call that queues r: no callback, the call fails */
            *sync_rc = zkv__err(nx->code, sync_err, ZKV__ERR_MAX, "%s", msg);
            return false;
        }
        complete(a, r, nx->code, NULL, msg);
        return false;
    }
    if (!ensure_slow(r)) {
        if (sync_rc)
            *sync_rc = zkv__err(ZKV_ENOMEM, sync_err, ZKV__ERR_MAX, "out of memory");
        else
            complete(a, r, ZKV_ENOMEM, NULL, "out of memory");
        return false;
    }
    if (text && text[0])
        zkv__copy_str(r->slow->last, sizeof r->slow->last, text);
    if (nx->unserved) {
        r->st.unserved_since = nx->unserved_since;
        zkv__copy_str(r->st.unserved_owner, sizeof r->st.unserved_owner, o->owner ? o->owner : "");
    }
    if (nx->mark_down && node && node[0])
        zkv__down_add(&r->slow->down, node);
    if (nx->clear_down)
        zkv__down_clear(&r->slow->down);
    if (o->event == ZKV__EV_NO_OWNER)
        r->st.forced_refresh = true;
    if (nx->refresh) {
        if (!a->want_refresh)
            a->want_gen = atomic_load(&a->c->mc.gen);
        a->want_refresh = true;
        a->want_force |= nx->force_refresh;
        if (o->event == ZKV__EV_RESPONSE && (int64_t)o->node_map_version > a->want_version)
            a->want_version = (int64_t)o->node_map_version;
    }
    if (!nx->backoff_ms)
        return true;
    r->retry_at = zkv_now_ms() + nx->backoff_ms;
    r->st.retries++;
    r->next = a->waiting;
    a->waiting = r;
    return false;
}

/* Routes r until it is on a connection, waiting, or completed. From the call that
 * queues r (sync_rc set) a failure is returned there (*sync_rc, reason in sync_err)
 * instead of running the callback; r is then the caller's. */
static void route(zkv_async *a, areq *r, char *sync_err, int *sync_rc)
{
    zkv__mapcache *mc = &a->c->mc;
    if (atomic_load(&mc->stale)) /* ask the refresher, never wait for it */
        zkv__mapcache_refresh(mc, false, 0, atomic_load(&mc->gen), 0, NULL, 0);
    for (;;) {
        zkv__mapsnap *snap = zkv__mapcache_snapshot(mc);
        zkv__route rt;
        zkv__route_key(snap->map, req_key(r), r->klen, op_kind(r), r->flags, a->c->opts.zone,
                       r->slow ? &r->slow->down : NULL, &rt);
        r->st.map_version = snap->map->version;
        zkv__outcome o = {.fallback = may_fall_back(r),
                          .to_replica = rt.replica,
                          .owner = rt.range ? rt.range->owner : "",
                          .owner_live = rt.owner == ZKV__OWNER_LIVE};
        char text[ZKV__ERR_MAX]; /* not zeroed: 512 bytes per request on the hot path */
        text[0] = '\0';
        const char *node = NULL;
        if (rt.kind == ZKV__ROUTE_SEND) {
            int rc = send_to(a, r, &rt, text, sizeof text);
            if (rc == ZKV_OK) {
                zkv__mapsnap_release(snap);
                return;
            }
            node = rt.node->id;
            if (!ensure_slow(r)) {
                rc = ZKV_ENOMEM;
                zkv__copy_str(text, sizeof text, "out of memory");
            } else {
                note_failure(r, node, rt.replica, false, text, zkv__short_reason(text));
            }
            o.event = ZKV__EV_IO;
            o.io_code = rc;
        } else {
            o.event = rt.kind == ZKV__ROUTE_ALL_DOWN ? ZKV__EV_ALL_DOWN : ZKV__EV_NO_OWNER;
        }
        r->st.now_ms = zkv_now_ms();
        zkv__next nx = zkv__route_decide(&o, &r->st);
        bool again = apply(a, r, &o, &nx, NULL, node, text, &rt, sync_err, sync_rc);
        zkv__mapsnap_release(snap);
        if (!again)
            return;
    }
}

/* Decides on r after an event of its attempt on the wire. */
static void settle(zkv_async *a, areq *r, const zkv__outcome *o, const Zkv__Response *resp,
                   const char *text)
{
    r->st.now_ms = zkv_now_ms();
    zkv__next nx = zkv__route_decide(o, &r->st);
    if (apply(a, r, o, &nx, resp, r->node, text, NULL, NULL, NULL))
        route(a, r, NULL, NULL);
}

/* The attempt of r on the wire failed without an answer (io_code, why in full). */
static void attempt_failed(zkv_async *a, areq *r, int code, const char *why)
{
    if (!ensure_slow(r)) {
        complete(a, r, ZKV_ENOMEM, NULL, "out of memory");
        return;
    }
    note_failure(r, r->node, r->to_replica, false, why, zkv__short_reason(why));
    zkv__outcome o = {.event = ZKV__EV_IO,
                      .io_code = code,
                      .fallback = may_fall_back(r),
                      .to_replica = r->to_replica,
                      .owner = r->to_replica ? "" : r->node,
                      .owner_live = !r->to_replica};
    settle(a, r, &o, NULL, why);
}

/* The answer to r, which left its connection's table. */
static void answer(zkv_async *a, areq *r, const Zkv__Response *resp)
{
    zkv__outcome o = {.event = ZKV__EV_RESPONSE,
                      .status = resp->status,
                      .node_map_version = resp->map_version,
                      .fallback = may_fall_back(r),
                      .to_replica = r->to_replica,
                      .owner = r->to_replica ? "" : r->node,
                      .owner_live = !r->to_replica};
    if (resp->status == ZKV__STATUS__OK || resp->status == ZKV__STATUS__NOT_FOUND) {
        settle(a, r, &o, resp, NULL);
        return;
    }
    if (!ensure_slow(r)) {
        complete(a, r, ZKV_ENOMEM, NULL, "out of memory");
        return;
    }
    char text[ZKV__ERR_MAX], why[ZKV__WHY_MAX];
    const char *msg = resp->message ? resp->message : "";
    if (resp->status == ZKV__STATUS__NOT_OWNER)
        snprintf(text, sizeof text,
                 "node %s does not own the key (node map version %llu, ours %lld)%s%s", r->node,
                 (unsigned long long)resp->map_version, (long long)r->st.map_version,
                 msg[0] ? ": " : "", msg);
    else
        snprintf(text, sizeof text, "node %s: %s", r->node,
                 msg[0] ? msg : zkv_status_name(resp->status));
    zkv__attempt_why(resp, NULL, why, sizeof why);
    if (resp->status == ZKV__STATUS__UNAVAILABLE)
        note_failure(r, r->node, r->to_replica, true, text, why);
    else
        zkv__copy_str(r->slow->last, sizeof r->slow->last, text);
    settle(a, r, &o, resp, text);
}

/* Checks the answer to HELLO. false when the connection was failed. */
static bool hello_answer(zkv_async *a, aconn *c, const Zkv__Response *resp)
{
    char why[ZKV__ERR_MAX];
    int rc = ZKV_OK;
    const char *cid = a->c->info.cluster_id;
    if (resp->status != ZKV__STATUS__OK) {
        rc = zkv__status_to_code(resp->status);
        if (resp->status == ZKV__STATUS__BAD_REQUEST && resp->message &&
            strstr(resp->message, "cluster"))
            rc = ZKV_ENOCLUSTER;
        snprintf(why, sizeof why, "node %s at %s refused hello: %s", c->node_id, c->addr,
                 resp->message && resp->message[0] ? resp->message : zkv_status_name(resp->status));
    } else if (resp->cluster_id && resp->cluster_id[0] && strcmp(resp->cluster_id, cid) != 0) {
        rc = ZKV_ENOCLUSTER;
        snprintf(why, sizeof why, "node %s at %s belongs to cluster id %s, not %s", c->node_id,
                 c->addr, resp->cluster_id, cid);
    }
    if (rc == ZKV_OK) {
        c->ready = true;
        return true;
    }
    conn_fail(a, c, rc, why);
    return false;
}

/* Parses and dispatches every whole answer in c's input. Stops early when the
 * connection fails or the context is being freed. */
static void parse_answers(zkv_async *a, aconn *c)
{
    unsigned gen = c->gen;
    while (c->fd >= 0 && c->gen == gen && !a->free_asked) {
        const uint8_t *payload;
        size_t plen, consumed;
        zkv_frame_result fr = zkv_frame_parse(zkv_buf_head(&c->in), zkv_buf_unread(&c->in),
                                              ZKV_MAX_RESPONSE_FRAME, &payload, &plen, &consumed);
        if (fr == ZKV_FRAME_NEED_MORE)
            return;
        char why[ZKV__ERR_MAX];
        if (fr == ZKV_FRAME_TOO_LARGE) {
            snprintf(why, sizeof why, "node %s at %s sent a frame of %zu bytes", c->node_id,
                     c->addr, plen);
            conn_fail(a, c, ZKV_EPROTOCOL, why);
            return;
        }
        Zkv__Response *resp = zkv__response__unpack(NULL, plen, payload);
        zkv_buf_consume(&c->in, consumed);
        void *item = NULL;
        if (!resp || zkv__apq_pop(&c->q, resp->id, &item) != 0) {
            snprintf(why, sizeof why, "node %s at %s sent %s", c->node_id, c->addr,
                     resp ? "an answer out of order" : "an undecodable answer");
            if (resp)
                zkv__response__free_unpacked(resp, NULL);
            conn_fail(a, c, ZKV_EPROTOCOL, why);
            return;
        }
        c->skip_until = 0; /* it answers */
        if (item == &hello_marker) {
            bool ok = hello_answer(a, c, resp);
            zkv__response__free_unpacked(resp, NULL);
            if (!ok)
                return;
            continue;
        }
        if (item != &tombstone)
            answer(a, item, resp);
        zkv__response__free_unpacked(resp, NULL);
    }
}

/* --- entry points ------------------------------------------------------------------------- */

static void really_free(zkv_async *a);
static void deliver_batches(zkv_async *a);

static void enter(zkv_async *a)
{
    a->depth++;
}

static void leave(zkv_async *a)
{
    a->depth--;
    if (a->depth == 0 && a->free_asked) {
        really_free(a);
        return;
    }
    if (a->depth == 0) {
        flush_refresh(a);
        rearm(a);
    }
}

void zkv_async_handle_write(zkv_async *a, int fd)
{
    if (!a)
        return;
    aconn *c = conn_by_fd(a, fd);
    if (!c)
        return;
    enter(a);
    if (c->connecting) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            soerr = errno;
        if (soerr != 0) {
            conn_fail_errno(a, c, false, soerr);
            leave(a);
            return;
        }
        c->connecting = false;
    }
    while (zkv_buf_unread(&c->out) > 0) {
        ssize_t w = send(fd, zkv_buf_head(&c->out), zkv_buf_unread(&c->out), MSG_NOSIGNAL);
        if (w > 0) {
            zkv_buf_consume(&c->out, (size_t)w);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        conn_fail_errno(a, c, true, errno);
        leave(a);
        return;
    }
    if (zkv_buf_unread(&c->out) == 0)
        c->out.len = c->out.off = 0;
    watch(a, c);
    leave(a);
}

void zkv_async_handle_read(zkv_async *a, int fd)
{
    if (!a)
        return;
    aconn *c = conn_by_fd(a, fd);
    if (!c)
        return;
    enter(a);
    unsigned gen = c->gen;
    for (;;) {
        zkv_buf_compact(&c->in);
        if (zkv_buf_reserve(&c->in, READ_CHUNK) != 0) {
            conn_fail(a, c, ZKV_ENOMEM, "out of memory reading an answer");
            break;
        }
        ssize_t r = recv(fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
        if (r > 0) {
            c->in.len += (size_t)r;
            parse_answers(a, c);
            if (c->gen != gen || a->free_asked)
                break;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        conn_fail_errno(a, c, true, r == 0 ? 0 : errno);
        break;
    }
    leave(a);
}

/* Attempts of c past their time: a connection that did not complete HELLO in time
 * fails as unreachable; a request past its attempt deadline leaves a tombstone and is
 * decided on (a fallback read moves on to a replica; otherwise ZKV_ETIMEOUT). */
static void check_conn(zkv_async *a, aconn *c, uint64_t now)
{
    if (c->fd >= 0 && !c->ready && now >= c->open_deadline) {
        char why[ZKV__ERR_MAX];
        snprintf(why, sizeof why, "node %s at %s unreachable: no hello answer within %d ms",
                 c->node_id, c->addr, a->c->opts.failfast_ms > 250 ? a->c->opts.failfast_ms : 250);
        conn_fail(a, c, ZKV_ECONNECT, why);
        return;
    }
    for (size_t k = 0; k < zkv__apq_count(&c->q) && !a->free_asked; k++) {
        zkv__apq_entry *e = zkv__apq_at(&c->q, k);
        if (e->item == &hello_marker || e->item == &tombstone)
            continue;
        areq *r = e->item;
        if (now < r->attempt_deadline)
            continue;
        e->item = &tombstone;
        c->skip_until = now + ZKV__SKIP_MS;
        char why[ZKV__ERR_MAX];
        snprintf(why, sizeof why, "node %s at %s did not answer", c->node_id, c->addr);
        attempt_failed(a, r, ZKV_ETIMEOUT, why);
    }
}

void zkv_async_handle_timeout(zkv_async *a)
{
    if (!a)
        return;
    enter(a);
    a->timer_on = false;
    deliver_batches(a);
    uint64_t now = zkv_now_ms();
    /* Retries that are due. */
    areq *list = a->waiting, *keep = NULL;
    a->waiting = NULL;
    while (list) {
        areq *r = list;
        list = r->next;
        r->next = NULL;
        if (a->free_asked || r->retry_at > now) {
            r->next = keep;
            keep = r;
            continue;
        }
        route(a, r, NULL, NULL);
    }
    while (keep) { /* back on the list, with what the routing added */
        areq *r = keep;
        keep = r->next;
        r->next = a->waiting;
        a->waiting = r;
    }
    /* Attempts on the wire past their time. */
    now = zkv_now_ms();
    for (size_t i = 0; i < a->nconns && !a->free_asked; i++)
        check_conn(a, a->conns[i], now);
    leave(a);
}

/* --- create, free, requests ----------------------------------------------------------------- */

int zkv_async_create(zkv_client *c, zkv_async **out)
{
    zkv__clear_error();
    if (!c || !out)
        return zkv__fail(ZKV_EINVAL, "client or out is NULL");
    *out = NULL;
    zkv_async *a = calloc(1, sizeof *a);
    if (!a)
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    a->c = c;
    *out = a;
    return ZKV_OK;
}

int zkv_async_set_hooks(zkv_async *a, const zkv_async_hooks *h)
{
    zkv__clear_error();
    if (!a || !h)
        return zkv__fail(ZKV_EINVAL, "async context or hooks NULL");
    if (a->hooked)
        return zkv__fail(ZKV_EINVAL, "event loop hooks are already set");
    if (!h->add_read || !h->del_read || !h->add_write || !h->del_write || !h->set_timer)
        return zkv__fail(ZKV_EINVAL, "an event loop hook is missing");
    a->h = *h;
    a->hooked = true;
    return ZKV_OK;
}

size_t zkv_async_pending(const zkv_async *a)
{
    return a ? a->live : 0;
}

static void really_free(zkv_async *a)
{
    a->closing = true;
    a->free_asked = false;
    a->depth++;
    for (size_t i = 0; i < a->nconns; i++)
        conn_fail(a, a->conns[i], ZKV_ECONNECT, "the async context was freed");
    while (a->waiting) {
        areq *r = a->waiting;
        a->waiting = r->next;
        complete(a, r, ZKV_ECONNECT, NULL, "the async context was freed");
    }
    deliver_batches(a);
    if (a->hooked && a->timer_on)
        a->h.set_timer(a->h.data, -1);
    if (a->hooked && a->h.cleanup)
        a->h.cleanup(a->h.data);
    for (size_t i = 0; i < a->nconns; i++) {
        zkv_buf_free(&a->conns[i]->in);
        zkv_buf_free(&a->conns[i]->out);
        zkv__apq_free(&a->conns[i]->q);
        free(a->conns[i]);
    }
    free(a->conns);
    free(a);
}

void zkv_async_free(zkv_async *a)
{
    if (!a || a->closing)
        return;
    if (a->depth > 0) {
        a->free_asked = true;
        return;
    }
    really_free(a);
}

static int submit(zkv_async *a, areq_op op, const void *key, size_t klen, const void *val,
                  size_t vlen, unsigned flags, zkv_async_cb cb, void *privdata)
{
    zkv__clear_error();
    if (!a || !cb)
        return zkv__fail(ZKV_EINVAL, "async context or callback is NULL");
    if (a->closing || a->free_asked)
        return zkv__fail(ZKV_EINVAL, "the async context is being freed");
    if (!a->hooked)
        return zkv__fail(ZKV_EINVAL, "no event loop: attach an adapter first");
    const zkv_client *c = a->c;
    flags |= c->opts.default_flags;
    if (op != AREQ_GET)
        flags &= (unsigned)ZKV_FLAG_ACK_OWNER; /* read flags mean nothing to a write */
    if ((!key && klen) || (!val && vlen))
        return zkv__fail(ZKV_EINVAL, "NULL key or value with a non-zero length");
    char err[ZKV__ERR_MAX];
    if (zkv__flags_check(flags, err, sizeof err) != 0)
        return zkv__fail(ZKV_EINVAL, "%s", err);
    if (klen > c->opts.max_key)
        return zkv__fail(ZKV_ETOOLARGE, "key of %zu bytes is over the limit of %zu bytes", klen,
                         c->opts.max_key);
    if (vlen > c->opts.max_value)
        return zkv__fail(ZKV_ETOOLARGE, "value of %zu bytes is over the limit of %zu bytes", vlen,
                         c->opts.max_value);
    /* One allocation: the request, its key and its value. Not zeroed beyond the header. */
    areq *r = malloc(sizeof *r + klen + vlen);
    if (!r)
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    memset(r, 0, sizeof *r);
    if (klen)
        memcpy(r->kv, key, klen);
    if (vlen)
        memcpy(r->kv + klen, val, vlen);
    r->op = op;
    r->klen = klen;
    r->vlen = vlen;
    r->flags = flags;
    r->cb = cb;
    r->priv = privdata;
    r->started = zkv_now_ms();
    r->st.deadline_ms = r->started + (uint64_t)c->opts.timeout_ms;
    r->st.failfast_ms = (unsigned)c->opts.failfast_ms;
    int rc = ZKV_OK;
    a->depth++; /* nothing completes from here: a failure is this call's */
    route(a, r, err, &rc);
    a->depth--;
    if (rc != ZKV_OK) {
        req_free(r);
        return zkv__fail(rc, "%s", err);
    }
    a->live++;
    if (a->depth == 0) {
        flush_refresh(a);
        rearm(a);
    }
    return ZKV_OK;
}

int zkv_async_get(zkv_async *a, const void *key, size_t klen, unsigned flags, zkv_async_cb cb,
                  void *privdata)
{
    return submit(a, AREQ_GET, key, klen, NULL, 0, flags, cb, privdata);
}

int zkv_async_put(zkv_async *a, const void *key, size_t klen, const void *val, size_t vlen,
                  unsigned flags, zkv_async_cb cb, void *privdata)
{
    return submit(a, AREQ_PUT, key, klen, val, vlen, flags, cb, privdata);
}

int zkv_async_del(zkv_async *a, const void *key, size_t klen, unsigned flags, zkv_async_cb cb,
                  void *privdata)
{
    return submit(a, AREQ_DEL, key, klen, NULL, 0, flags, cb, privdata);
}

/* --- batches -------------------------------------------------------------------------------- */

/* One zkv_async_batch_run: each operation of the batch is an ordinary request whose
 * callback (on_batch_op) stores its outcome in the batch as zkv_batch_run would; when
 * the last one ended the run waits on the ready list and its callback runs from the
 * next timer (so never from zkv_async_batch_run itself, even when every operation was
 * refused there). */
typedef struct abatch_slot {
    struct abatch *run;
    size_t i;
} abatch_slot;

typedef struct abatch {
    struct abatch *next; /* on the ready list */
    zkv_batch *b;
    size_t left; /* operations whose outcome is not in yet */
    zkv_async_batch_cb cb;
    void *priv;
    char first_err[ZKV__ERR_MAX];
    abatch_slot slots[];
} abatch;

/* The first failed operation's reason, as zkv_batch_run words it. */
static void batch_note(abatch *run, size_t i, int status, const char *why)
{
    if (status == ZKV_OK || status == ZKV_ENOTFOUND || run->first_err[0])
        return;
    snprintf(run->first_err, sizeof run->first_err, "operation %zu of %zu: %.400s", i, run->b->n,
             why && why[0] ? why : zkv_strerror(status));
}

static void batch_op_done(zkv_async *a, abatch *run)
{
    if (--run->left > 0)
        return;
    run->next = a->ready;
    a->ready = run;
}

static void on_batch_op(zkv_async *a, int status, const zkv_value *v, void *priv)
{
    abatch_slot *slot = priv;
    abatch *run = slot->run;
    zkv__batch_op *op = &run->b->ops[slot->i];
    op->status = status;
    if (status == ZKV_OK && v) {
        op->roff = run->b->results.len;
        op->rlen = zkv_value_len(v);
        if (op->rlen && zkv_buf_append(&run->b->results, zkv_value_data(v), op->rlen) != 0) {
            op->status = ZKV_ENOMEM;
            batch_note(run, slot->i, ZKV_ENOMEM, "out of memory");
        } else {
            op->has_value = true;
            op->stale = zkv_value_stale(v) != 0;
        }
    }
    batch_note(run, slot->i, status, zkv_last_error());
    batch_op_done(a, run);
}

/* Runs the callbacks of the batches whose operations all ended. */
static void deliver_batches(zkv_async *a)
{
    while (a->ready && !a->free_asked) {
        abatch *run = a->ready;
        a->ready = run->next;
        zkv_async_batch_cb cb = run->cb;
        void *priv = run->priv;
        zkv_batch *b = run->b;
        if (run->first_err[0])
            zkv__fail(ZKV_OK, "%s", run->first_err); /* the run worked; why one did not */
        else
            zkv__clear_error();
        free(run);
        a->live--;
        a->depth++;
        cb(a, b, ZKV_OK, priv);
        a->depth--;
    }
}

int zkv_async_batch_run(zkv_async *a, zkv_batch *b, unsigned flags, zkv_async_batch_cb cb,
                        void *privdata)
{
    zkv__clear_error();
    if (!a || !b || !cb)
        return zkv__fail(ZKV_EINVAL, "async context, batch or callback is NULL");
    if (a->closing || a->free_asked)
        return zkv__fail(ZKV_EINVAL, "the async context is being freed");
    if (!a->hooked)
        return zkv__fail(ZKV_EINVAL, "no event loop: attach an adapter first");
    char err[ZKV__ERR_MAX];
    if (zkv__flags_check(flags | a->c->opts.default_flags, err, sizeof err) != 0)
        return zkv__fail(ZKV_EINVAL, "%s", err);
    abatch *run = malloc(sizeof *run + b->n * sizeof run->slots[0]);
    if (!run)
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    run->next = NULL;
    run->b = b;
    run->left = b->n + 1; /* + 1 while queueing: the run cannot end before that is done */
    run->cb = cb;
    run->priv = privdata;
    run->first_err[0] = '\0';
    b->results.len = b->results.off = 0;
    for (size_t i = 0; i < b->n; i++) {
        zkv__batch_op *op = &b->ops[i];
        op->status = ZKV__BATCH_PENDING;
        op->has_value = op->stale = false;
    }
    a->live++;
    for (size_t i = 0; i < b->n; i++) {
        zkv__batch_op *op = &b->ops[i];
        const uint8_t *base = b->arena.data;
        const uint8_t *key = base ? base + op->koff : (const uint8_t *)"";
        const uint8_t *val = op->vlen ? base + op->voff : NULL;
        run->slots[i] = (abatch_slot){run, i};
        int rc;
        if (op->op == ZKV__OP__GET)
            rc = submit(a, AREQ_GET, key, op->klen, NULL, 0, flags, on_batch_op, &run->slots[i]);
        else if (op->op == ZKV__OP__PUT)
            rc = submit(a, AREQ_PUT, key, op->klen, val, op->vlen, flags, on_batch_op,
                        &run->slots[i]);
        else
            rc = submit(a, AREQ_DEL, key, op->klen, NULL, 0, flags, on_batch_op, &run->slots[i]);
        if (rc != ZKV_OK) { /* refused at once: that operation's status, not the run's */
            op->status = rc;
            batch_note(run, i, rc, zkv_last_error());
            run->left--;
        }
    }
    batch_op_done(a, run); /* the + 1 */
    zkv__clear_error();
    if (a->depth == 0)
        rearm(a);
    return ZKV_OK;
}
