/* batch_atomic.c: zkv_batch_atomic (zkv.h), a batch's writes as one MULTI_WRITE request to
 * the owner of their range, through the same routing and retries as every call
 * (zkv__call). Keys of several ranges are refused here, before anything is sent, by the
 * client's map; the owner checks again by its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zkv/zkv.h"
#include "batch.h"
#include "client.h"
#include "error.h"

/* Every key of b in the range of its first key, by the client's map: ZKV_OK, or ZKV_EINVAL
 * naming two of the ranges. */
static int one_range(zkv_client *c, const zkv_batch *b, uint64_t deadline_ms)
{
    zkv__mapsnap *snap = zkv__mapcache_get(&c->mc, deadline_ms);
    const uint8_t *base = b->arena.data;
    const zkv_range *first = zkv_rangemap_find(snap->map, base + b->ops[0].koff, b->ops[0].klen);
    int rc = ZKV_OK;
    for (size_t i = 1; first && i < b->n && rc == ZKV_OK; i++) {
        const zkv_range *r = zkv_rangemap_find(snap->map, base + b->ops[i].koff, b->ops[i].klen);
        if (r && r != first)
            rc = zkv__fail(ZKV_EINVAL,
                           "the keys of an atomic batch must be in one range: writes 0 and %zu "
                           "are in ranges %s and %s",
                           i, first->id, r->id);
    }
    zkv__mapsnap_release(snap);
    return rc;
}

/* The request's writes, pointing into b's arena (ws and wp: b->n entries each). */
static void build(zkv_client *c, const zkv_batch *b, Zkv__WriteOp *ws, Zkv__WriteOp **wp,
                  Zkv__Request *req)
{
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
    /* a retry of an applied batch must get its outcome, not be applied or judged again */
    req->client_id = c->client_id;
    req->client_seq = atomic_fetch_add(&c->next_cseq, 1);
}

/* Copies the answer's per-write versions and failures into b. */
static int settle(zkv_batch *b, int rc, const Zkv__Response *resp)
{
    if (resp->n_items != b->n)
        return zkv__fail(ZKV_EPROTOCOL, "the owner answered %zu versions for %zu writes",
                         resp->n_items, b->n);
    for (size_t i = 0; i < b->n; i++) {
        const Zkv__KeyValue *it = resp->items[i];
        b->ops[i].ver.epoch = it->epoch;
        b->ops[i].ver.seq = it->seq;
        b->ops[i].status = rc == ZKV_ECONDITION && it->failed ? ZKV_ECONDITION : ZKV_OK;
    }
    if (rc == ZKV_ECONDITION)
        return zkv__fail(rc, "%s",
                         resp->message && resp->message[0] ? resp->message : "condition failed");
    return ZKV_OK;
}

int zkv_batch_atomic(zkv_client *c, zkv_batch *b, int timeout_ms, unsigned flags)
{
    uint64_t deadline;
    int rc = zkv__call_begin(c, timeout_ms, &deadline);
    if (rc != ZKV_OK)
        return rc;
    if (!b || b->n == 0)
        return zkv__fail(ZKV_EINVAL, "an atomic batch needs at least one write");
    flags |= c->opts.default_flags;
    size_t bytes = 0;
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
    if ((rc = one_range(c, b, deadline)) != ZKV_OK)
        return rc;
    Zkv__WriteOp *ws = calloc(b->n, sizeof *ws);
    Zkv__WriteOp **wp = calloc(b->n, sizeof *wp);
    if (!ws || !wp) {
        free(ws);
        free(wp);
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    }
    Zkv__Request req = ZKV__REQUEST__INIT;
    build(c, b, ws, wp, &req);
    zkv__reply reply = {.resp = NULL};
    char err[ZKV__ERR_MAX];
    rc = zkv__call(c, &req, ws[0].key.data, ws[0].key.len, ZKV__WRITE,
                   flags & (unsigned)ZKV_FLAG_ACK_OWNER, deadline, &reply, err, sizeof err);
    if (rc == ZKV_OK || rc == ZKV_ECONDITION)
        rc = settle(b, rc, reply.resp);
    else if (rc == ZKV_ENOTFOUND)
        rc = zkv__fail(ZKV_EPROTOCOL, "node %s answered NOT_FOUND to a batch", reply.node);
    else
        zkv__fail(rc, "%s", err);
    for (size_t i = 0; i < b->n; i++)
        if (b->ops[i].status == ZKV__BATCH_PENDING)
            b->ops[i].status = rc;
    zkv__response_free(reply.resp);
    free(ws);
    free(wp);
    return rc;
}
