/* async_hedge.c: hedged gets for the asynchronous client (ZKV_FLAG_HEDGE; docs/api.md,
 * "Replica reads"), the twin of the blocking hedge.c. A get sent to its range's owner is
 * armed with a hedge time; if the timer finds it still on the owner's wire then, a copy
 * of it (a request of its own, never counted as live and without a callback) goes to a
 * replica route.c picks (zkv__hedge_target). Whichever answers first settles the get:
 * the owner's answer drops the copy, the copy's value (or absence) completes the get
 * flagged stale and leaves the owner's attempt a tombstone on its connection. A copy that
 * fails or is refused (too stale, rebuilding) is dropped and the get waits on for the
 * owner, whose own failures are decided as without a hedge. */
#include <string.h>

#include "async_int.h"

void zkv__ahedge_arm(zkv_async *a, zkv__areq *r, bool to_replica, uint64_t now)
{
    r->hedge_at = 0;
    if (r->op != ZKV__AREQ_GET || r->primary || to_replica || !(r->flags & ZKV_FLAG_HEDGE))
        return;
    r->hedge_at = now + (uint64_t)a->c->opts.hedge_ms;
    if (!r->hedge_at)
        r->hedge_at = 1;
    if (!a->hedge_due || r->hedge_at < a->hedge_due)
        a->hedge_due = r->hedge_at;
}

void zkv__ahedge_fire(zkv_async *a, zkv__areq *r)
{
    r->hedge_at = 0;
    if (r->twin)
        return;
    bool own;
    zkv__mapsnap *snap = zkv__async_snapshot(a, &own);
    unsigned rflags = zkv__route_flags(r->flags, &a->c->opts);
    const zkv__down *down = r->slow ? &r->slow->down : NULL;
    zkv__route rt;
    zkv__route_key(snap->map, r->kv, r->klen, ZKV__READ, rflags, a->c->opts.zone, down, &rt);
    const zkv_node_info *to =
        rt.kind == ZKV__ROUTE_SEND && rt.node && strcmp(rt.node->id, r->node) == 0
            ? zkv__hedge_target(snap->map, &rt, ZKV__READ, rflags, a->c->opts.zone, down)
            : NULL;
    zkv__areq *t =
        to ? zkv__areq_new(a, ZKV__AREQ_GET, r->kv, r->klen, NULL, 0, r->flags, NULL) : NULL;
    if (t) {
        t->primary = r;
        t->st = r->st;
        t->started = r->started;
        zkv__route trt = rt;
        trt.node = to;
        trt.replica = true;
        char err[ZKV__ERR_MAX];
        if (zkv__areq_send(a, t, &trt, err, sizeof err) == ZKV_OK) {
            t->attempt_deadline = r->attempt_deadline;
            r->twin = t;
        } else {
            zkv__areq_release(a, t); /* (a replica skipped or unreachable: wait on) */
        }
    }
    if (own)
        zkv__mapsnap_release(snap);
}

void zkv__ahedge_drop(zkv_async *a, zkv__areq *r)
{
    zkv__areq *t = r->twin;
    if (!t)
        return;
    r->twin = NULL;
    if (t->conn)
        zkv__aconn_abandon(t->conn, t);
    zkv__areq_release(a, t);
}

bool zkv__ahedge_answered(zkv_async *a, zkv__areq *r, const Zkv__Response *resp, bool value_nul)
{
    zkv__areq *p = r->primary;
    if (!p)
        return false;
    p->twin = NULL;
    if (resp->status == ZKV__STATUS__OK || resp->status == ZKV__STATUS__NOT_FOUND) {
        if (p->conn)
            zkv__aconn_abandon(p->conn, p); /* the owner's late answer will be dropped */
        p->to_replica = true;
        p->hedge_at = 0;
        memcpy(p->node, r->node, sizeof p->node);
        zkv__areq_release(a, r);
        zkv__areq_answer(a, p, resp, value_nul); /* a stale value: done */
        return true;
    }
    zkv__areq_release(a, r);
    return true;
}

bool zkv__ahedge_failed(zkv_async *a, zkv__areq *r)
{
    if (!r->primary)
        return false;
    r->primary->twin = NULL;
    zkv__areq_release(a, r);
    return true;
}
