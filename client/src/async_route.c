/* async_route.c: each asynchronous request's way to its answer, route.c's decisions
 * carried out one event at a time (zkv__call runs the same decisions as one blocking
 * loop). Route on the client's cached map (zkv__route_key: owner, replica fallback,
 * READ_REPLICA, zone), send on the node's connection (async_conn.c) within the attempt's
 * budget (zkv__attempt_plan), and feed what happened (an answer, a lost or refused
 * connection, a timeout, no node to ask) to zkv__route_decide, then carry out its
 * verdict: complete, re-route at once (the next candidate), or wait on the waiting list
 * for the backoff (NOT_OWNER, or no node can serve: the failfast wait for a new owner).
 * The timer is armed for the earliest retry or hedge (async_hedge.c), or the next
 * deadline tick. A map reload is
 * only requested from the client's refresher thread, never waited for. The texts of a
 * failure (zkv__failures, zkv__fail_text) are route.c's too, so both APIs word their
 * errors alike. A request on the normal path costs one allocation (made in async.c);
 * its retry state is allocated on its first failure. */
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "async_int.h"
#include "batch.h"
#include "conn.h"
#include "value.h"

#define TICK_MS 50 /* deadline checks while requests are pending */

void zkv__areq_release(zkv_async *a, zkv__areq *r)
{
    if (!r)
        return;
    free(r->slow);
    if (r->cap == ZKV__AREQ_SMALL && a->n_spare < ZKV__AREQ_SPARE_MAX) {
        r->next = a->spare;
        a->spare = r;
        a->n_spare++;
        size_t keep = offsetof(zkv__areq, op); /* the next link stays readable */
        ZKV__POISON((char *)r + keep, sizeof *r + r->cap - keep);
        return;
    }
    free(r);
}

static zkv__op_kind op_kind(const zkv__areq *r)
{
    return r->op == ZKV__AREQ_GET || r->op == ZKV__AREQ_SCAN ? ZKV__READ : ZKV__WRITE;
}

static Zkv__Op wire_op(const zkv__areq *r)
{
    switch (r->op) {
    case ZKV__AREQ_GET:
        return ZKV__OP__GET;
    case ZKV__AREQ_PUT:
        return ZKV__OP__PUT;
    case ZKV__AREQ_DEL:
        return ZKV__OP__DELETE;
    case ZKV__AREQ_EXPIRE:
        return ZKV__OP__EXPIRE;
    case ZKV__AREQ_ATOMIC:
        return ZKV__OP__MULTI_WRITE;
    default:
        return ZKV__OP__SCAN;
    }
}

/* A read that replicas may answer. */
static bool may_fall_back(const zkv__areq *r)
{
    return zkv__may_fall_back(op_kind(r), r->flags);
}

/* Allocates r's retry state. false on ENOMEM. */
static bool ensure_slow(zkv__areq *r)
{
    if (!r->slow)
        r->slow = calloc(1, sizeof *r->slow);
    return r->slow != NULL;
}

/* --- timer and map reloads ---------------------------------------------------------------- */

void zkv__async_rearm(zkv_async *a)
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
    for (zkv__areq *r = a->waiting; r; r = r->next)
        if (r->retry_at < due)
            due = r->retry_at < now ? now : r->retry_at;
    if (a->hedge_due && a->hedge_due < due)
        due = a->hedge_due < now ? now : a->hedge_due;
    if (a->timer_on && a->timer_due <= due)
        return;
    a->timer_on = true;
    a->timer_due = due;
    a->h.set_timer(a->h.data, (long)(due - now));
}

void zkv__async_flush_refresh(zkv_async *a)
{
    if (!a->want_refresh)
        return;
    zkv__mapcache_refresh(&a->c->mc, a->want_force, a->want_version, a->want_gen, 0, NULL, 0);
    a->want_refresh = a->want_force = false;
    a->want_version = 0;
}

/* --- sending ------------------------------------------------------------------------------ */

/* The key r is routed by: its own (a reverse scan page's, after the end key) or its key. */
static const uint8_t *route_key(const zkv__areq *r)
{
    return r->route_own ? r->kv + r->klen + (r->vlen - r->rklen) : r->kv;
}

static size_t route_len(const zkv__areq *r)
{
    return r->route_own ? r->rklen : r->klen;
}

int zkv__areq_send(zkv_async *a, zkv__areq *r, const zkv__route *rt, char *err, size_t errlen)
{
    zkv__aconn *c = zkv__aconn_get(a, rt->node->id, rt->node->addr);
    if (!c)
        return zkv__err(ZKV_ENOMEM, err, errlen, "out of memory");
    uint64_t now = zkv__async_now(a);
    zkv__attempt at = zkv__attempt_plan(rt, may_fall_back(r), &r->st, now);
    /* As zkv__exchange's may_skip: a node that failed just now costs reads one wait. */
    if (at.may_skip && now < c->skip_until)
        return zkv__err(ZKV_ECONNECT, err, errlen,
                        "node %s at %s unreachable: failed less than %d ms ago", c->node_id,
                        c->addr, ZKV__SKIP_MS);
    Zkv__Request req = ZKV__REQUEST__INIT;
    if (r->op == ZKV__AREQ_ATOMIC) { /* the batch's writes, built anew for each attempt */
        if (zkv__atomic_build(r->batch, &req) != ZKV_OK)
            return zkv__err(ZKV_ENOMEM, err, errlen, "out of memory");
        req.client_id = a->c->client_id;
        req.client_seq = r->client_seq; /* the same on every retry */
    } else {
        req.key.data = r->kv;
        req.key.len = r->klen;
    }
    req.op = wire_op(r);
    /* A scan page carries its end key where a put carries its value (then its route key). */
    ProtobufCBinaryData *second = r->op == ZKV__AREQ_SCAN ? &req.end_key : &req.value;
    second->len = r->vlen - r->rklen;
    second->data = second->len ? r->kv + r->klen : NULL;
    req.limit = r->limit;
    req.reverse = r->reverse;
    req.keys_only = r->keys_only;
    if (r->condition) {
        req.condition = (Zkv__Condition)r->condition;
        req.if_epoch = r->if_epoch;
        req.if_seq = r->if_seq;
        req.client_id = a->c->client_id;
        req.client_seq = r->client_seq;
    }
    req.ttl_ms = r->ttl_ms;
    req.map_version = r->st.map_version > 0 ? (uint64_t)r->st.map_version : 0;
    zkv__stamp(&req, op_kind(r), r->flags, rt->replica, &a->c->opts);
    int rc = zkv__aconn_send(a, c, &req, r, now, err, errlen);
    zkv__atomic_unbuild(&req); /* (encoded: the frame is in the connection's buffer) */
    if (rc != ZKV_OK)
        return rc;
    zkv__copy_str(r->node, sizeof r->node, c->node_id);
    r->to_replica = rt->replica;
    r->attempt_deadline = at.deadline_ms;
    r->conn = c;
    zkv__ahedge_arm(a, r, rt->replica, now);
    return ZKV_OK;
}

/* --- deciding ----------------------------------------------------------------------------- */

/* Hands a successful answer to the callback (route.c said DONE with code). A get's value
 * followed by a NUL in place (value_nul) is handed over without a copy; a scan page goes
 * as it is (NOT_FOUND: an empty page, as zkv_scan_range takes it). */
static void deliver(zkv_async *a, zkv__areq *r, int code, const Zkv__Response *resp, bool value_nul)
{
    if (!resp) { /* (route.c says DONE only after an answer) */
        zkv__async_complete(a, r, ZKV_EINTERNAL, NULL, "no answer to deliver");
        return;
    }
    if (r->op == ZKV__AREQ_SCAN || r->op == ZKV__AREQ_ATOMIC) {
        zkv__async_complete_page(a, r, code, resp); /* a page; a batch's versions */
    } else if ((r->condition || r->op == ZKV__AREQ_EXPIRE) &&
               (code == ZKV_OK || code == ZKV_ECONDITION)) {
        /* the write's version, or the key's when the condition failed */
        static unsigned char none[1];
        zkv_value v = {.data = none, .len = 0, .version = {resp->epoch, resp->seq}, .ttl_ms = -1};
        zkv__copy_str(v.node, sizeof v.node, r->node);
        zkv__async_complete(a, r, code, &v,
                            code == ZKV_OK                      ? NULL
                            : resp->message && resp->message[0] ? resp->message
                                                                : "condition failed");
    } else if (r->op == ZKV__AREQ_DEL || (r->op == ZKV__AREQ_PUT && code == ZKV_OK)) {
        zkv__async_complete(a, r, ZKV_OK, NULL, NULL); /* deleting a missing key is fine */
    } else if (r->op == ZKV__AREQ_PUT) {
        char why[ZKV__ERR_MAX];
        snprintf(why, sizeof why, "node %s answered NOT_FOUND to a put", r->node);
        zkv__async_complete(a, r, ZKV_EPROTOCOL, NULL, why);
    } else if (code == ZKV_ENOTFOUND) {
        zkv__async_complete(a, r, ZKV_ENOTFOUND, NULL, "key not found");
    } else if (value_nul || resp->value.len == 0) {
        static unsigned char empty[1];
        zkv_value v = {.data = resp->value.len ? resp->value.data : empty, .len = resp->value.len};
        zkv__value_meta(&v, resp, r->to_replica, r->node);
        zkv__async_complete(a, r, ZKV_OK, &v, NULL);
    } else {
        zkv_value *v = zkv__value_from(resp, r->to_replica, r->node);
        if (v)
            zkv__async_complete(a, r, ZKV_OK, v, NULL);
        else
            zkv__async_complete(a, r, ZKV_ENOMEM, NULL, "out of memory");
        zkv_value_free(v);
    }
}

/* The reason of r's final failure nx (zkv__fail_text) on route rt, or (rt NULL) the
 * key's route on the current map. */
static void fail_text(zkv_async *a, const zkv__areq *r, const zkv__outcome *o, const zkv__next *nx,
                      const zkv__route *rt, const char *text, char *out, size_t outlen)
{
    zkv__mapsnap *snap = NULL;
    zkv__route fresh;
    if (nx->unserved && !rt) {
        snap = zkv__mapcache_snapshot(&a->c->mc);
        zkv__route_key(snap->map, route_key(r), route_len(r), op_kind(r),
                       zkv__route_flags(r->flags, &a->c->opts), a->c->opts.zone, NULL, &fresh);
        rt = &fresh;
    }
    const zkv__failures *f = r->slow ? &r->slow->f : NULL;
    const char *last = text && text[0] ? text : f ? f->last : "";
    zkv__fail_text(nx, o->event, rt, op_kind(r), r->flags, r->st.map_version, f, last,
                   zkv_now_ms() - r->started, out, outlen);
    if (snap)
        zkv__mapsnap_release(snap);
}

/* Carries out route.c's decision nx on r after outcome o (text: the attempt's failure
 * in full; rt: the route when o came from routing, else NULL). Returns true when r is to
 * be routed again at once; otherwise r completed (and was freed) or waits. */
static bool apply(zkv_async *a, zkv__areq *r, const zkv__outcome *o, const zkv__next *nx,
                  const Zkv__Response *resp, bool value_nul, const char *node, const char *text,
                  const zkv__route *rt, char *sync_err, int *sync_rc)
{
    if (nx->kind == ZKV__NEXT_DONE) {
        deliver(a, r, nx->code, resp, value_nul);
        return false;
    }
    if (nx->kind == ZKV__NEXT_FAIL) {
        char msg[ZKV__ERR_MAX];
        fail_text(a, r, o, nx, rt, text, msg, sizeof msg);
        if (sync_rc) { /* from the call that queues r: no callback, the call fails */
            *sync_rc = zkv__err(nx->code, sync_err, ZKV__ERR_MAX, "%s", msg);
            return false;
        }
        zkv__async_complete(a, r, nx->code, NULL, msg);
        return false;
    }
    if (!ensure_slow(r)) {
        if (sync_rc)
            *sync_rc = zkv__err(ZKV_ENOMEM, sync_err, ZKV__ERR_MAX, "out of memory");
        else
            zkv__async_complete(a, r, ZKV_ENOMEM, NULL, "out of memory");
        return false;
    }
    if (text && text[0])
        zkv__copy_str(r->slow->f.last, sizeof r->slow->f.last, text);
    zkv__retry_note(&r->st, &r->slow->down, o, nx, node);
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
    r->retry_at = zkv__async_now(a) + nx->backoff_ms;
    r->next = a->waiting;
    a->waiting = r;
    return false;
}

void zkv__areq_route(zkv_async *a, zkv__areq *r, char *sync_err, int *sync_rc)
{
    zkv__mapcache *mc = &a->c->mc;
    if (atomic_load(&mc->stale)) /* ask the refresher, never wait for it */
        zkv__mapcache_refresh(mc, false, 0, atomic_load(&mc->gen), 0, NULL, 0);
    for (;;) {
        bool own;
        zkv__mapsnap *snap = zkv__async_snapshot(a, &own);
        zkv__route rt;
        zkv__route_key(snap->map, route_key(r), route_len(r), op_kind(r),
                       zkv__route_flags(r->flags, &a->c->opts), a->c->opts.zone,
                       r->slow ? &r->slow->down : NULL, &rt);
        r->st.map_version = snap->map->version;
        zkv__outcome o = zkv__route_outcome(&rt, may_fall_back(r));
        char text[ZKV__ERR_MAX]; /* not zeroed: 512 bytes per request on the hot path */
        text[0] = '\0';
        const char *node = NULL;
        if (rt.kind == ZKV__ROUTE_SEND) {
            int rc = zkv__areq_send(a, r, &rt, text, sizeof text);
            if (rc == ZKV_OK) {
                if (own)
                    zkv__mapsnap_release(snap);
                return;
            }
            node = rt.node->id;
            if (!ensure_slow(r)) {
                rc = ZKV_ENOMEM;
                zkv__copy_str(text, sizeof text, "out of memory");
            } else {
                zkv__failures_note(&r->slow->f, node, rt.replica, false, text,
                                   zkv__short_reason(text));
            }
            o.event = ZKV__EV_IO;
            o.io_code = rc;
        } else {
            o.event = rt.kind == ZKV__ROUTE_ALL_DOWN ? ZKV__EV_ALL_DOWN : ZKV__EV_NO_OWNER;
        }
        r->st.now_ms = zkv__async_now(a);
        zkv__next nx = zkv__route_decide(&o, &r->st);
        bool again = apply(a, r, &o, &nx, NULL, false, node, text, &rt, sync_err, sync_rc);
        if (own)
            zkv__mapsnap_release(snap);
        if (!again)
            return;
    }
}

/* Decides on r after an event of its attempt on the wire. */
static void settle(zkv_async *a, zkv__areq *r, const zkv__outcome *o, const Zkv__Response *resp,
                   bool value_nul, const char *text)
{
    r->st.now_ms = zkv__async_now(a);
    zkv__next nx = zkv__route_decide(o, &r->st);
    if (apply(a, r, o, &nx, resp, value_nul, r->node, text, NULL, NULL, NULL))
        zkv__areq_route(a, r, NULL, NULL);
}

/* The outcome of r's attempt on the wire, event unset. */
static zkv__outcome wire_outcome(const zkv__areq *r)
{
    zkv__outcome o = {.fallback = may_fall_back(r),
                      .to_replica = r->to_replica,
                      .owner = r->to_replica ? "" : r->node,
                      .owner_live = !r->to_replica};
    return o;
}

void zkv__areq_attempt_failed(zkv_async *a, zkv__areq *r, int code, const char *why)
{
    if (zkv__ahedge_failed(a, r))
        return;
    zkv__ahedge_drop(a, r);
    if (!ensure_slow(r)) {
        zkv__async_complete(a, r, ZKV_ENOMEM, NULL, "out of memory");
        return;
    }
    zkv__failures_note(&r->slow->f, r->node, r->to_replica, false, why, zkv__short_reason(why));
    zkv__outcome o = wire_outcome(r);
    o.event = ZKV__EV_IO;
    o.io_code = code;
    settle(a, r, &o, NULL, false, why);
}

void zkv__areq_answer(zkv_async *a, zkv__areq *r, const Zkv__Response *resp, bool value_nul)
{
    if (zkv__ahedge_answered(a, r, resp, value_nul))
        return;
    zkv__ahedge_drop(a, r);
    zkv__outcome o = wire_outcome(r);
    o.event = ZKV__EV_RESPONSE;
    o.status = resp->status;
    o.node_map_version = resp->map_version;
    if (resp->status == ZKV__STATUS__OK || resp->status == ZKV__STATUS__NOT_FOUND) {
        settle(a, r, &o, resp, value_nul, NULL);
        return;
    }
    if (!ensure_slow(r)) {
        zkv__async_complete(a, r, ZKV_ENOMEM, NULL, "out of memory");
        return;
    }
    char text[ZKV__ERR_MAX], why[ZKV__WHY_MAX];
    zkv__answer_text(resp->status, resp->message, resp->map_version, r->node, r->st.map_version,
                     text, sizeof text);
    zkv__attempt_why(resp, NULL, why, sizeof why);
    if (zkv__node_refusal(resp->status))
        zkv__failures_note(&r->slow->f, r->node, r->to_replica, true, text, why);
    else
        zkv__copy_str(r->slow->f.last, sizeof r->slow->f.last, text);
    settle(a, r, &o, resp, false, text);
}

void zkv__async_retry_due(zkv_async *a)
{
    uint64_t now = zkv__async_now(a);
    zkv__areq *list = a->waiting, *keep = NULL;
    a->waiting = NULL;
    while (list) {
        zkv__areq *r = list;
        list = r->next;
        r->next = NULL;
        if (a->free_asked || r->retry_at > now) {
            r->next = keep;
            keep = r;
            continue;
        }
        zkv__areq_route(a, r, NULL, NULL);
    }
    while (keep) { /* back on the list, with what the routing added */
        zkv__areq *r = keep;
        keep = r->next;
        r->next = a->waiting;
        a->waiting = r;
    }
}
