/* async.c: the asynchronous API (zkv_async.h), an event-loop-driven twin of the blocking
 * calls, modelled on hiredis' async.h. This file is the context and its contract: create,
 * hooks, free, the handle_* entry points the adapter calls, and the requests' public
 * calls; the work is in async_route.c (each request's routing and retries), async_conn.c
 * (the non-blocking connections), async_batch.c (batches) and async_scan.c (scans), see
 * async_int.h.
 * The contract, kept here in one place: each callback of an accepted request runs
 * exactly once and never from the call that queued it (a call that returns an error
 * never runs its callback); callbacks run only from the handle_* entry points and from
 * zkv_async_free, counted in `depth`, so a zkv_async_free from inside a callback is
 * carried out when the outermost entry point returns; map reloads the decisions asked
 * for and the timer are settled once, when the outermost entry point returns. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "async_int.h"
#include "value.h"

/* Runs r's callback (a scan page's with page) and frees r. */
static void finish(zkv_async *a, zkv__areq *r, int status, const zkv_value *v,
                   const Zkv__Response *page, const char *why)
{
    zkv__ahedge_drop(a, r);
    a->live--;
    if (status != ZKV_OK && status != ZKV_ENOTFOUND)
        zkv__fail(status, "%s", why ? why : zkv_strerror(status));
    else
        zkv__clear_error();
    a->depth++;
    if (r->op == ZKV__AREQ_SCAN || r->op == ZKV__AREQ_ATOMIC)
        r->page_cb(a, status, page, r->node, r->to_replica, r->priv);
    else
        r->cb(a, status, v, r->priv);
    a->depth--;
    zkv__areq_release(a, r);
}

void zkv__async_complete(zkv_async *a, zkv__areq *r, int status, const zkv_value *v,
                         const char *why)
{
    finish(a, r, status, v, NULL, why);
}

void zkv__async_complete_page(zkv_async *a, zkv__areq *r, int status, const Zkv__Response *page)
{
    finish(a, r, status, NULL, page, NULL);
}

void zkv__async_ready(zkv_async *a, zkv__adone *d)
{
    d->next = a->ready;
    a->ready = d;
}

void zkv__async_deliver_ready(zkv_async *a)
{
    while (a->ready && !a->free_asked) {
        zkv__adone *d = a->ready;
        a->ready = d->next;
        a->live--;
        a->depth++;
        d->run(a, d);
        a->depth--;
    }
}

/* --- entry points ------------------------------------------------------------------------- */

static void really_free(zkv_async *a);

void zkv__async_hold(zkv_async *a)
{
    if (a->held++ == 0)
        a->now = zkv_now_ms();
}

void zkv__async_unhold(zkv_async *a)
{
    if (--a->held > 0)
        return;
    zkv__mapsnap_release(a->snap);
    a->snap = NULL;
}

zkv__mapsnap *zkv__async_snapshot(zkv_async *a, bool *own)
{
    zkv__mapcache *mc = &a->c->mc;
    *own = false;
    if (a->held > 0) {
        /* gen is bumped after a reload installed its map: read it first, so a snapshot
         * taken after a reload never carries the generation from before it. */
        uint64_t gen = atomic_load(&mc->gen);
        if (a->snap && a->snap_gen == gen)
            return a->snap;
        if (!a->snap) {
            a->snap_gen = gen;
            a->snap = zkv__mapcache_snapshot(mc);
            return a->snap;
        }
    }
    *own = true; /* a reload during the span: route as outside one */
    return zkv__mapcache_snapshot(mc);
}

static void enter(zkv_async *a)
{
    a->depth++;
    zkv__async_hold(a);
}

static void leave(zkv_async *a)
{
    zkv__async_unhold(a);
    a->depth--;
    if (a->depth == 0 && a->free_asked) {
        really_free(a);
        return;
    }
    if (a->depth == 0) {
        zkv__async_flush_refresh(a);
        zkv__async_rearm(a);
    }
}

/* The loop reported fd ready: on_ready on its connection, if it still has one. */
static void handle_fd(zkv_async *a, int fd, void (*on_ready)(zkv_async *, zkv__aconn *))
{
    zkv__aconn *c = a ? zkv__aconn_by_fd(a, fd) : NULL;
    if (!c)
        return;
    enter(a);
    on_ready(a, c);
    leave(a);
}

void zkv_async_handle_write(zkv_async *a, int fd)
{
    handle_fd(a, fd, zkv__aconn_on_writable);
}

void zkv_async_handle_read(zkv_async *a, int fd)
{
    handle_fd(a, fd, zkv__aconn_on_readable);
}

void zkv_async_handle_timeout(zkv_async *a)
{
    if (!a)
        return;
    enter(a);
    a->timer_on = false;
    zkv__async_deliver_ready(a);
    zkv__async_retry_due(a);
    /* Attempts on the wire past their time or due to be hedged (hedge_due is found anew). */
    uint64_t now = zkv__async_now(a);
    a->hedge_due = 0;
    for (size_t i = 0; i < a->nconns && !a->free_asked; i++)
        zkv__aconn_check(a, a->conns[i], now);
    leave(a);
}

/* --- create, free ------------------------------------------------------------------------- */

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

/* Runs every remaining callback with ZKV_ECONNECT, then frees everything. */
static void really_free(zkv_async *a)
{
    a->closing = true;
    a->free_asked = false;
    a->depth++;
    for (size_t i = 0; i < a->nconns; i++)
        zkv__aconn_fail(a, a->conns[i], ZKV_ECONNECT, "the async context was freed");
    while (a->waiting) {
        zkv__areq *r = a->waiting;
        a->waiting = r->next;
        zkv__async_complete(a, r, ZKV_ECONNECT, NULL, "the async context was freed");
    }
    zkv__async_deliver_ready(a);
    zkv__mapsnap_release(a->snap);
    if (a->hooked && a->timer_on)
        a->h.set_timer(a->h.data, -1);
    if (a->hooked && a->h.cleanup)
        a->h.cleanup(a->h.data);
    for (size_t i = 0; i < a->nconns; i++)
        zkv__aconn_destroy(a->conns[i]);
    free(a->conns);
    while (a->spare) {
        zkv__areq *r = a->spare;
        a->spare = r->next;
        ZKV__UNPOISON(r, sizeof *r + ZKV__AREQ_SMALL);
        free(r);
    }
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

/* --- requests ----------------------------------------------------------------------------- */

int zkv__async_usable(const zkv_async *a)
{
    if (a->closing || a->free_asked)
        return zkv__fail(ZKV_EINVAL, "the async context is being freed");
    if (!a->hooked)
        return zkv__fail(ZKV_EINVAL, "no event loop: attach an adapter first");
    return ZKV_OK;
}

int zkv__async_entry(const zkv_async *a, bool cb_ok)
{
    zkv__clear_error();
    if (!a || !cb_ok)
        return zkv__fail(ZKV_EINVAL, "async context or callback is NULL");
    return zkv__async_usable(a);
}

zkv__areq *zkv__areq_new(zkv_async *a, zkv__areq_op op, const void *key, size_t klen,
                         const void *val, size_t vlen, unsigned flags, void *privdata)
{
    /* One block: the request, its key and its value; a small one from the spare list. Not
     * zeroed beyond the header. */
    size_t need = klen + vlen, cap = need <= ZKV__AREQ_SMALL ? ZKV__AREQ_SMALL : need;
    zkv__areq *r = a->spare;
    if (r && cap == ZKV__AREQ_SMALL) {
        ZKV__UNPOISON(r, sizeof *r + ZKV__AREQ_SMALL);
        a->spare = r->next;
        a->n_spare--;
    } else if (!(r = malloc(sizeof *r + cap))) {
        return NULL;
    }
    memset(r, 0, sizeof *r);
    r->cap = cap;
    if (klen)
        memcpy(r->kv, key, klen);
    if (vlen)
        memcpy(r->kv + klen, val, vlen);
    r->op = op;
    r->klen = klen;
    r->vlen = vlen;
    r->flags = flags;
    r->priv = privdata;
    return r;
}

int zkv__async_start(zkv_async *a, zkv__areq *r, uint64_t deadline_ms)
{
    const zkv_client *c = a->c;
    char err[ZKV__ERR_MAX];
    int rc = ZKV_OK;
    zkv__async_hold(a); /* one clock read and map snapshot for the submission */
    r->started = zkv__async_now(a);
    r->st.deadline_ms = deadline_ms ? deadline_ms : r->started + (uint64_t)c->opts.timeout_ms;
    r->st.failfast_ms = (unsigned)c->opts.failfast_ms;
    a->depth++; /* nothing completes from here: a failure is this call's */
    zkv__areq_route(a, r, err, &rc);
    a->depth--;
    zkv__async_unhold(a);
    if (rc != ZKV_OK) {
        zkv__areq_release(a, r);
        return zkv__fail(rc, "%s", err);
    }
    a->live++;
    if (a->depth == 0) {
        zkv__async_flush_refresh(a);
        zkv__async_rearm(a);
    }
    return ZKV_OK;
}

/* The request r of zkv__async_submit_if or zkv__async_submit: checked and started. */
static int submit(zkv_async *a, zkv__areq_op op, const void *key, size_t klen, const void *val,
                  size_t vlen, const Zkv__Request *cond, unsigned flags, zkv_async_cb cb,
                  void *privdata)
{
    int rc = zkv__async_entry(a, cb != NULL);
    if (rc != ZKV_OK)
        return rc;
    flags |= a->c->opts.default_flags;
    if (op != ZKV__AREQ_GET)
        flags &= (unsigned)ZKV_FLAG_ACK_OWNER; /* read flags mean nothing to a write */
    if ((rc = zkv__check_kv(a->c, key, klen, val, vlen, flags)) != ZKV_OK)
        return rc;
    zkv__areq *r = zkv__areq_new(a, op, key, klen, val, vlen, flags, privdata);
    if (!r)
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    r->cb = cb;
    if (cond) {
        r->condition = (int)cond->condition;
        r->if_epoch = cond->if_epoch;
        r->if_seq = cond->if_seq;
        r->client_seq = cond->client_seq;
        r->ttl_ms = cond->ttl_ms;
    }
    return zkv__async_start(a, r, 0);
}

int zkv__async_submit(zkv_async *a, zkv__areq_op op, const void *key, size_t klen, const void *val,
                      size_t vlen, unsigned flags, zkv_async_cb cb, void *privdata)
{
    return submit(a, op, key, klen, val, vlen, NULL, flags, cb, privdata);
}

int zkv__async_submit_if(zkv_async *a, zkv__areq_op op, const void *key, size_t klen,
                         const void *val, size_t vlen, int cond, zkv_version expected,
                         uint64_t ttl_ms, unsigned flags, zkv_async_cb cb, void *privdata)
{
    if (!a)
        return zkv__fail(ZKV_EINVAL, "async context is NULL");
    Zkv__Request req = ZKV__REQUEST__INIT;
    int rc = cond ? zkv__condition_set(a->c, &req, cond, expected) : ZKV_OK;
    if (rc != ZKV_OK)
        return rc;
    req.ttl_ms = ttl_ms;
    return submit(a, op, key, klen, val, vlen, &req, flags, cb, privdata);
}

int zkv_async_put_if(zkv_async *a, const void *key, size_t klen, const void *val, size_t vlen,
                     int cond, zkv_version expected, unsigned flags, zkv_async_cb cb,
                     void *privdata)
{
    if (cond == 0)
        return zkv__fail(ZKV_EINVAL, "unknown condition 0 (ZKV_IF_ABSENT or ZKV_IF_VERSION)");
    return zkv_async_put_ex(a, key, klen, val, vlen, cond, expected, 0, flags, cb, privdata);
}

int zkv_async_put_ex(zkv_async *a, const void *key, size_t klen, const void *val, size_t vlen,
                     int cond, zkv_version expected, uint64_t ttl_ms, unsigned flags,
                     zkv_async_cb cb, void *privdata)
{
    return zkv__async_submit_if(a, ZKV__AREQ_PUT, key, klen, val, vlen, cond, expected, ttl_ms,
                                flags, cb, privdata);
}

int zkv_async_expire(zkv_async *a, const void *key, size_t klen, uint64_t ttl_ms, unsigned flags,
                     zkv_async_cb cb, void *privdata)
{
    zkv_version none = {0, 0};
    return zkv__async_submit_if(a, ZKV__AREQ_EXPIRE, key, klen, NULL, 0, 0, none, ttl_ms, flags, cb,
                                privdata);
}

int zkv_async_del_if(zkv_async *a, const void *key, size_t klen, zkv_version expected,
                     unsigned flags, zkv_async_cb cb, void *privdata)
{
    return zkv__async_submit_if(a, ZKV__AREQ_DEL, key, klen, NULL, 0, ZKV_IF_VERSION, expected, 0,
                                flags, cb, privdata);
}

int zkv_async_get(zkv_async *a, const void *key, size_t klen, unsigned flags, zkv_async_cb cb,
                  void *privdata)
{
    return zkv__async_submit(a, ZKV__AREQ_GET, key, klen, NULL, 0, flags, cb, privdata);
}

int zkv_async_put(zkv_async *a, const void *key, size_t klen, const void *val, size_t vlen,
                  unsigned flags, zkv_async_cb cb, void *privdata)
{
    return zkv__async_submit(a, ZKV__AREQ_PUT, key, klen, val, vlen, flags, cb, privdata);
}

int zkv_async_del(zkv_async *a, const void *key, size_t klen, unsigned flags, zkv_async_cb cb,
                  void *privdata)
{
    return zkv__async_submit(a, ZKV__AREQ_DEL, key, klen, NULL, 0, flags, cb, privdata);
}
