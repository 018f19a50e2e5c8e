/* batch_atomic.c: zkv_batch_atomic (zkv.h), a batch's writes as one MULTI_WRITE request to
 * the owner of their range, through the same routing and retries as every call
 * (zkv__call); its checks, request and answer are shared with zkv_async_batch_atomic
 * (async_batch.c). Keys of several ranges are refused here, before anything is sent, by
 * the client's map; the owner checks again by its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zkv/zkv.h"
#include "batch.h"
#include "client.h"
#include "error.h"

int zkv__atomic_one_range(const zkv_rangemap *m, const zkv_batch *b)
{
    const uint8_t *base = b->arena.data;
    const zkv_range *first = zkv_rangemap_find(m, base + b->ops[0].koff, b->ops[0].klen);
    for (size_t i = 1; first && i < b->n; i++) {
        const zkv_range *r = zkv_rangemap_find(m, base + b->ops[i].koff, b->ops[i].klen);
        if (r && r != first)
            return zkv__fail(ZKV_EINVAL,
                             "the keys of an atomic batch must be in one range: writes 0 and %zu "
                             "are in ranges %s and %s",
                             i, first->id, r->id);
    }
    return ZKV_OK;
}

int zkv__atomic_check(const zkv_client *c, zkv_batch *b, unsigned flags)
{
    if (!b || b->n == 0)
        return zkv__fail(ZKV_EINVAL, "an atomic batch needs at least one write");
    size_t bytes = 0;
    int rc;
    for (size_t i = 0; i < b->n; i++) {
        const zkv__batch_op *o = &b->ops[i];
        if (o->op != ZKV__OP__PUT && o->op != ZKV__OP__DELETE)
            return zkv__fail(ZKV_EINVAL, "operation %zu of an atomic batch is a get", i);
        const uint8_t *val = o->vlen ? b->arena.data + o->voff : NULL;
        if ((rc = zkv__check_kv(c, b->arena.data + o->koff, o->klen, val, o->vlen, flags)) !=
            ZKV_OK)
            return rc;
        bytes += o->klen + o->vlen + 64;
        b->ops[i].status = ZKV__BATCH_PENDING;
    }
    if (b->n > 1000 || bytes > c->opts.max_key + c->opts.max_value)
        return zkv__fail(ZKV_ETOOLARGE,
                         "an atomic batch has at most 1000 writes and %zu bytes (keys, values and "
                         "64 a write), not %zu writes and %zu bytes",
                         c->opts.max_key + c->opts.max_value, b->n, bytes);
    return ZKV_OK;
}

int zkv__atomic_build(const zkv_batch *b, Zkv__Request *req)
{
    Zkv__WriteOp *ws = calloc(b->n, sizeof *ws);
    Zkv__WriteOp **wp = calloc(b->n, sizeof *wp); /* NOLINT(bugprone-sizeof-expression) */
    if (!ws || !wp) {
        free(ws);
        free(wp);
        return ZKV_ENOMEM;
    }
    for (size_t i = 0; i < b->n; i++) {
        const zkv__batch_op *o = &b->ops[i];
        zkv__write_op__init(&ws[i]);
        ws[i].op = (Zkv__Op)o->op;
        ws[i].key.data = b->arena.data + o->koff;
        ws[i].key.len = o->klen;
        ws[i].value.data = o->vlen ? b->arena.data + o->voff : NULL;
        ws[i].value.len = o->vlen;
        if (o->cond) {
            ws[i].condition =
                o->cond == ZKV_IF_ABSENT ? ZKV__CONDITION__IF_ABSENT : ZKV__CONDITION__IF_VERSION;
            ws[i].if_epoch = o->cond == ZKV_IF_VERSION ? o->expected.epoch : 0;
            ws[i].if_seq = o->cond == ZKV_IF_VERSION ? o->expected.seq : 0;
        }
        wp[i] = &ws[i];
    }
    req->op = ZKV__OP__MULTI_WRITE;
    req->writes = wp;
    req->n_writes = b->n;
    return ZKV_OK;
}

void zkv__atomic_unbuild(Zkv__Request *req)
{
    if (req->writes)
        free(req->writes[0]); /* ws: one block */
    free(req->writes);
    req->writes = NULL;
    req->n_writes = 0;
}

int zkv__atomic_settle(zkv_batch *b, int rc, const Zkv__Response *resp, const char *node,
                       const char *err)
{
    if (rc == ZKV_OK || rc == ZKV_ECONDITION) {
        if (resp->n_items != b->n) {
            rc = zkv__fail(ZKV_EPROTOCOL, "the owner answered %zu versions for %zu writes",
                           resp->n_items, b->n);
        } else {
            for (size_t i = 0; i < b->n; i++) {
                const Zkv__KeyValue *it = resp->items[i];
                b->ops[i].ver.epoch = it->epoch;
                b->ops[i].ver.seq = it->seq;
                b->ops[i].status = rc == ZKV_ECONDITION && it->failed ? ZKV_ECONDITION : ZKV_OK;
            }
            if (rc == ZKV_ECONDITION)
                zkv__fail(rc, "%s",
                          resp->message && resp->message[0] ? resp->message : "condition failed");
        }
    } else if (rc == ZKV_ENOTFOUND) {
        rc = zkv__fail(ZKV_EPROTOCOL, "node %s answered NOT_FOUND to a batch", node);
    } else {
        zkv__fail(rc, "%s", err);
    }
    for (size_t i = 0; i < b->n; i++)
        if (b->ops[i].status == ZKV__BATCH_PENDING)
            b->ops[i].status = rc;
    return rc;
}

int zkv_batch_atomic(zkv_client *c, zkv_batch *b, int timeout_ms, unsigned flags)
{
    uint64_t deadline;
    int rc = zkv__call_begin(c, timeout_ms, &deadline);
    if (rc != ZKV_OK)
        return rc;
    flags |= c->opts.default_flags;
    if ((rc = zkv__atomic_check(c, b, flags)) != ZKV_OK)
        return rc;
    zkv__mapsnap *snap = zkv__mapcache_get(&c->mc, deadline);
    rc = zkv__atomic_one_range(snap->map, b);
    zkv__mapsnap_release(snap);
    if (rc != ZKV_OK)
        return rc;
    Zkv__Request req = ZKV__REQUEST__INIT;
    if (zkv__atomic_build(b, &req) != ZKV_OK)
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    /* a retry of an applied batch must get its outcome, not be applied or judged again */
    req.client_id = c->client_id;
    req.client_seq = atomic_fetch_add(&c->next_cseq, 1);
    zkv__reply reply = {.resp = NULL};
    char err[ZKV__ERR_MAX];
    const zkv__batch_op *o0 = &b->ops[0];
    rc = zkv__call(c, &req, b->arena.data + o0->koff, o0->klen, ZKV__WRITE,
                   flags & (unsigned)ZKV_FLAG_ACK_OWNER, deadline, &reply, err, sizeof err);
    rc = zkv__atomic_settle(b, rc, reply.resp, reply.node, err);
    zkv__response_free(reply.resp);
    zkv__atomic_unbuild(&req);
    return rc;
}
