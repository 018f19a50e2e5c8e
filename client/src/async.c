/* async.c: the asynchronous API (zkv_async.h), an event-loop-driven twin of call.c.
 * One non-blocking connection per node (aconn) carries pipelined requests; each
 * connection's pending table (apending.h) matches answers to requests by id, in order.
 * Nothing here blocks or sleeps: connecting, writing and reading happen when the
 * adapter reports a ready fd, and one timer (armed through the hooks while requests are
 * pending) re-sends requests after a NOT_OWNER backoff and fails requests whose time
 * budget ran out. Routing uses route.c's pure decisions on the client's cached map
 * (never waiting for a reload: a reload is only requested from the refresher thread).
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
#include "client.h"
#include "error.h"
#include "value.h"

#define TICK_MS 50 /* deadline checks while requests are pending */
#define READ_CHUNK (64u * 1024u)

typedef enum { AREQ_GET, AREQ_PUT, AREQ_DEL } areq_op;

/* One accepted request, owned by the async context until its callback ran and it left
 * every table (a request that timed out on the wire stays until its answer or the
 * connection's end). */
typedef struct areq {
    struct areq *next; /* on the waiting list (NOT_OWNER backoff) */
    areq_op op;
    uint8_t *key;
    size_t klen;
    uint8_t *val;
    size_t vlen;
    unsigned flags;
    uint64_t deadline_ms;
    uint64_t retry_at; /* waiting: when to route again */
    unsigned retries;
    bool done; /* the callback ran */
    zkv_async_cb cb;
    void *priv;
    char node[ZKV_ID_MAX]; /* node it was last sent to */
} areq;

/* The HELLO that opens each connection sits in the pending table as this marker. */
static char hello_marker;

/* One non-blocking connection to one node. */
typedef struct aconn {
    char node_id[ZKV_ID_MAX];
    char addr[ZKV_ADDR_MAX];
    int fd;          /* -1 while closed */
    bool connecting; /* connect(2) in progress */
    bool reading;    /* add_read is in force */
    bool writing;    /* add_write is in force */
    unsigned gen;    /* closes so far: a reader notices its socket was replaced */
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
};

static void req_free(areq *r)
{
    if (!r)
        return;
    free(r->key);
    free(r->val);
    free(r);
}

/* Runs r's callback (once). why is the reason of a failure. */
static void complete(zkv_async *a, areq *r, int status, const zkv_value *v, const char *why)
{
    if (r->done)
        return;
    r->done = true;
    a->live--;
    if (status != ZKV_OK && status != ZKV_ENOTFOUND)
        zkv__fail(status, "%s", why ? why : zkv_strerror(status));
    else
        zkv__clear_error();
    a->depth++;
    r->cb(a, status, v, r->priv);
    a->depth--;
}

/* --- timer ----------------------------------------------------------------------------- */

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
    uint64_t due = now + TICK_MS;
    for (areq *r = a->waiting; r; r = r->next)
        if (r->retry_at < due)
            due = r->retry_at < now ? now : r->retry_at;
    if (a->timer_on && a->timer_due <= due)
        return;
    a->timer_on = true;
    a->timer_due = due;
    a->h.set_timer(a->h.data, (long)(due - now));
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
    c->connecting = false;
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
    if (item == &hello_marker)
        return;
    complete(f->a, item, f->code, NULL, f->why);
    req_free(item);
}

/* Closes c and runs every pending callback with code. Requests the callbacks queue on
 * this node go to a new connection (a fresh table). */
static void conn_fail(zkv_async *a, aconn *c, int code, const char *why)
{
    conn_close(a, c);
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
static int conn_open(zkv_async *a, aconn *c, uint64_t map_version, char *err, size_t errlen)
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

/* --- routing and sending ----------------------------------------------------------------- */

static zkv__op_kind op_kind(const areq *r)
{
    return r->op == AREQ_GET ? ZKV__READ : ZKV__WRITE;
}

/* Routes r on the cached map and queues it on its owner's connection. ZKV_OK, or a code
 * with the reason in err (r is then not queued anywhere). */
static int dispatch(zkv_async *a, areq *r, char *err, size_t errlen)
{
    zkv__mapcache *mc = &a->c->mc;
    if (atomic_load(&mc->stale)) /* ask the refresher, never wait for it */
        zkv__mapcache_refresh(mc, false, 0, atomic_load(&mc->gen), 0, NULL, 0);
    zkv__mapsnap *snap = zkv__mapcache_snapshot(mc);
    zkv__down down = {.n = 0};
    zkv__route rt;
    zkv__route_key(snap->map, r->key, r->klen, op_kind(r), r->flags | ZKV_FLAG_OWNER_ONLY,
                   a->c->opts.zone, &down, &rt);
    int64_t version = snap->map->version;
    int rc = ZKV_OK;
    if (rt.kind != ZKV__ROUTE_SEND) {
        if (!rt.range)
            rc = zkv__err(ZKV_EUNAVAILABLE, err, errlen, "map version %lld does not cover the key",
                          (long long)version);
        else if (rt.owner == ZKV__OWNER_NONE)
            rc = zkv__err(ZKV_EUNAVAILABLE, err, errlen, "range %s has no owner", rt.range->id);
        else
            rc = zkv__err(ZKV_EUNAVAILABLE, err, errlen, "range %s: owner %s is not live",
                          rt.range->id, rt.range->owner);
        zkv__mapsnap_release(snap);
        return rc;
    }
    aconn *c = conn_get(a, rt.node->id, rt.node->addr);
    zkv__mapsnap_release(snap);
    if (!c)
        return zkv__err(ZKV_ENOMEM, err, errlen, "out of memory");
    uint64_t mv = version > 0 ? (uint64_t)version : 0;
    if (c->fd < 0 && (rc = conn_open(a, c, mv, err, errlen)) != ZKV_OK)
        return rc;
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.op = r->op == AREQ_GET ? ZKV__OP__GET : r->op == AREQ_PUT ? ZKV__OP__PUT : ZKV__OP__DELETE;
    req.key.data = r->key;
    req.key.len = r->klen;
    req.value.data = r->val;
    req.value.len = r->vlen;
    req.map_version = mv;
    req.flags = zkv__wire_flags(op_kind(r), r->flags, false);
    /* Encode with the id the push will assign, so a failure leaves nothing behind. */
    req.id = c->q.next_id;
    size_t saved = c->out.len;
    uint64_t id = 0;
    if (zkv_frame_append_request(&c->out, &req) != 0 || zkv__apq_push(&c->q, r, &id) != 0) {
        c->out.len = saved;
        return zkv__err(ZKV_ENOMEM, err, errlen, "out of memory");
    }
    zkv__copy_str(r->node, sizeof r->node, c->node_id);
    watch(a, c);
    return ZKV_OK;
}

/* A NOT_OWNER answer: ask for a newer map and route r again after a backoff. */
static void retry_later(zkv_async *a, areq *r, uint64_t node_version)
{
    zkv__mapcache *mc = &a->c->mc;
    zkv__mapcache_refresh(mc, false, (int64_t)node_version, atomic_load(&mc->gen), 0, NULL, 0);
    uint64_t now = zkv_now_ms();
    r->retry_at = now + zkv__backoff_ms(r->retries++);
    if (r->retry_at >= r->deadline_ms) {
        char why[ZKV__ERR_MAX];
        snprintf(why, sizeof why,
                 "routing did not settle within the request's time: node %s does not own the "
                 "key (node map version %llu, ours %lld)",
                 r->node, (unsigned long long)node_version, (long long)zkv__mapcache_version(mc));
        complete(a, r, ZKV_ENOTOWNER, NULL, why);
        req_free(r);
        return;
    }
    r->next = a->waiting;
    a->waiting = r;
}

/* The answer to r (which left its connection's table). Frees r unless it waits. */
static void answer(zkv_async *a, areq *r, const Zkv__Response *resp)
{
    if (r->done) { /* timed out already: drop the late answer */
        req_free(r);
        return;
    }
    char why[ZKV__ERR_MAX];
    switch (resp->status) {
    case ZKV__STATUS__NOT_OWNER:
        retry_later(a, r, resp->map_version);
        return;
    case ZKV__STATUS__OK:
        if (r->op == AREQ_GET) {
            zkv_version ver = {resp->epoch, resp->seq};
            zkv_version pos = {resp->range_epoch, resp->range_seq};
            zkv_value *v = zkv__value_new(resp->value.data, resp->value.len, ver, pos,
                                          resp->stale ? 1 : 0, r->node);
            if (v)
                complete(a, r, ZKV_OK, v, NULL);
            else
                complete(a, r, ZKV_ENOMEM, NULL, "out of memory");
            zkv_value_free(v);
        } else {
            complete(a, r, ZKV_OK, NULL, NULL);
        }
        break;
    case ZKV__STATUS__NOT_FOUND:
        if (r->op == AREQ_GET) {
            complete(a, r, ZKV_ENOTFOUND, NULL, "key not found");
        } else if (r->op == AREQ_DEL) {
            complete(a, r, ZKV_OK, NULL, NULL);
        } else {
            snprintf(why, sizeof why, "node %s answered NOT_FOUND to a put", r->node);
            complete(a, r, ZKV_EPROTOCOL, NULL, why);
        }
        break;
    default:
        snprintf(why, sizeof why, "node %s: %s", r->node,
                 resp->message && resp->message[0] ? resp->message : zkv_status_name(resp->status));
        complete(a, r, zkv__status_to_code(resp->status), NULL, why);
        break;
    }
    req_free(r);
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
    if (rc == ZKV_OK)
        return true;
    conn_fail(a, c, rc, why);
    return false;
}

/* Parses and dispatches every whole answer in c's input. Stops early when the
 * connection fails or the context is being freed. */
static void parse_answers(zkv_async *a, aconn *c)
{
    while (c->fd >= 0 && !a->free_asked) {
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
        if (item == &hello_marker) {
            bool ok = hello_answer(a, c, resp);
            zkv__response__free_unpacked(resp, NULL);
            if (!ok)
                return;
            continue;
        }
        answer(a, item, resp);
        zkv__response__free_unpacked(resp, NULL);
    }
}

/* --- entry points ------------------------------------------------------------------------- */

static void really_free(zkv_async *a);

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
    if (a->depth == 0)
        rearm(a);
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

void zkv_async_handle_timeout(zkv_async *a)
{
    if (!a)
        return;
    enter(a);
    a->timer_on = false;
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
        char err[ZKV__ERR_MAX];
        int rc = dispatch(a, r, err, sizeof err);
        if (rc != ZKV_OK) {
            complete(a, r, rc, NULL, err);
            req_free(r);
        }
    }
    while (keep) { /* back on the list, with what callbacks added */
        areq *r = keep;
        keep = r->next;
        r->next = a->waiting;
        a->waiting = r;
    }
    /* Requests on the wire past their budget. */
    now = zkv_now_ms();
    for (size_t i = 0; i < a->nconns && !a->free_asked; i++) {
        aconn *c = a->conns[i];
        for (size_t k = 0; k < zkv__apq_count(&c->q) && !a->free_asked; k++) {
            void *item = zkv__apq_at(&c->q, k)->item;
            if (item == &hello_marker)
                continue;
            areq *r = item;
            if (!r->done && now >= r->deadline_ms) {
                char why[ZKV__ERR_MAX];
                snprintf(why, sizeof why, "node %s at %s did not answer in time", c->node_id,
                         c->addr);
                complete(a, r, ZKV_ETIMEOUT, NULL, why);
            }
        }
    }
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
        req_free(r);
    }
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
    if (flags & ZKV_FLAG_READ_REPLICA)
        return zkv__fail(ZKV_EINVAL, "ZKV_FLAG_READ_REPLICA is not supported by the async API");
    if (klen > c->opts.max_key)
        return zkv__fail(ZKV_ETOOLARGE, "key of %zu bytes is over the limit of %zu bytes", klen,
                         c->opts.max_key);
    if (vlen > c->opts.max_value)
        return zkv__fail(ZKV_ETOOLARGE, "value of %zu bytes is over the limit of %zu bytes", vlen,
                         c->opts.max_value);
    areq *r = calloc(1, sizeof *r);
    if (!r)
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    r->key = malloc(klen ? klen : 1);
    r->val = vlen ? malloc(vlen) : NULL;
    if (!r->key || (vlen && !r->val)) {
        req_free(r);
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    }
    if (klen)
        memcpy(r->key, key, klen);
    if (vlen)
        memcpy(r->val, val, vlen);
    r->op = op;
    r->klen = klen;
    r->vlen = vlen;
    r->flags = flags;
    r->cb = cb;
    r->priv = privdata;
    r->deadline_ms = zkv_now_ms() + (uint64_t)c->opts.timeout_ms;
    int rc = dispatch(a, r, err, sizeof err);
    if (rc != ZKV_OK) {
        req_free(r);
        return zkv__fail(rc, "%s", err);
    }
    a->live++;
    if (a->depth == 0)
        rearm(a);
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
