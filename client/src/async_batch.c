/* async_batch.c: zkv_async_batch_run and zkv_async_batch_atomic. Each operation of a run
 * is an ordinary request (zkv__async_submit) whose callback (on_batch_op) stores its
 * outcome in the batch as zkv_batch_run would, so batches route, fall back and retry
 * exactly as single requests do, with no code of their own for it. When the last one
 * ended the run waits on the ready list and its callback runs from the next timer, so
 * never from zkv_async_batch_run itself, even when every operation was refused there. An
 * atomic batch is one request (op ATOMIC: a MULTI_WRITE built from the batch at each
 * attempt) checked, answered and settled by batch_atomic.c's shared steps. */
#include <stdio.h>
#include <stdlib.h>

#include "async_int.h"
#include "batch.h"
#include "value.h"

typedef struct zkv__abatch_slot {
    struct zkv__abatch *run;
    size_t i;
} zkv__abatch_slot;

typedef struct zkv__abatch {
    zkv__adone done; /* on the ready list once every operation ended (first member) */
    zkv_batch *b;
    size_t left; /* operations whose outcome is not in yet */
    zkv_async_batch_cb cb;
    void *priv;
    char first_err[ZKV__ERR_MAX];
    zkv__abatch_slot slots[];
} zkv__abatch;

/* The first failed operation's reason, as zkv_batch_run words it. */
static void batch_note(zkv__abatch *run, size_t i, int status, const char *why)
{
    if (status == ZKV_OK || status == ZKV_ENOTFOUND || run->first_err[0])
        return;
    snprintf(run->first_err, sizeof run->first_err, "operation %zu of %zu: %.400s", i, run->b->n,
             why && why[0] ? why : zkv_strerror(status));
}

/* The run's callback, from the ready list. */
static void batch_deliver(zkv_async *a, zkv__adone *d)
{
    zkv__abatch *run = (zkv__abatch *)d;
    zkv_async_batch_cb cb = run->cb;
    void *priv = run->priv;
    zkv_batch *b = run->b;
    if (run->first_err[0])
        zkv__fail(ZKV_OK, "%s", run->first_err); /* the run worked; why one did not */
    else
        zkv__clear_error();
    free(run);
    cb(a, b, ZKV_OK, priv);
}

static void batch_op_done(zkv_async *a, zkv__abatch *run)
{
    if (--run->left > 0)
        return;
    run->done.run = batch_deliver;
    zkv__async_ready(a, &run->done);
}

static void on_batch_op(zkv_async *a, int status, const zkv_value *v, void *priv)
{
    zkv__abatch_slot *slot = priv;
    zkv__abatch *run = slot->run;
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

static zkv__areq_op areq_op(int wire_op)
{
    return wire_op == ZKV__OP__GET   ? ZKV__AREQ_GET
           : wire_op == ZKV__OP__PUT ? ZKV__AREQ_PUT
                                     : ZKV__AREQ_DEL;
}

int zkv_async_batch_run(zkv_async *a, zkv_batch *b, unsigned flags, zkv_async_batch_cb cb,
                        void *privdata)
{
    zkv__clear_error();
    if (!a || !b || !cb)
        return zkv__fail(ZKV_EINVAL, "async context, batch or callback is NULL");
    int rc = zkv__async_usable(a);
    if (rc != ZKV_OK)
        return rc;
    char err[ZKV__ERR_MAX];
    if (zkv__flags_check(flags | a->c->opts.default_flags, err, sizeof err) != 0)
        return zkv__fail(ZKV_EINVAL, "%s", err);
    if ((rc = zkv__batch_unconditional(b)) != ZKV_OK)
        return rc;
    zkv__abatch *run = malloc(sizeof *run + b->n * sizeof run->slots[0]);
    if (!run)
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    run->done.next = NULL;
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
    zkv__async_hold(a); /* the operations share one clock read and map snapshot */
    for (size_t i = 0; i < b->n; i++) {
        zkv__batch_op *op = &b->ops[i];
        const uint8_t *base = b->arena.data;
        const uint8_t *key = base ? base + op->koff : (const uint8_t *)"";
        const uint8_t *val = op->vlen ? base + op->voff : NULL; /* only a put has one */
        run->slots[i] = (zkv__abatch_slot){run, i};
        rc = zkv__async_submit(a, areq_op(op->op), key, op->klen, val, op->vlen, flags, on_batch_op,
                               &run->slots[i]);
        if (rc != ZKV_OK) { /* refused at once: that operation's status, not the run's */
            op->status = rc;
            batch_note(run, i, rc, zkv_last_error());
            run->left--;
        }
    }
    zkv__async_unhold(a);
    batch_op_done(a, run); /* the + 1 */
    zkv__clear_error();
    if (a->depth == 0)
        zkv__async_rearm(a);
    return ZKV_OK;
}

/* --- atomic batches ----------------------------------------------------------------------- */

typedef struct zkv__aatomic {
    zkv_batch *b;
    zkv_async_batch_cb cb;
    void *priv;
} zkv__aatomic;

/* The MULTI_WRITE's end (from its request's completion, an entry point): the batch
 * settled, then the caller's callback. */
static void on_atomic(zkv_async *a, int status, const Zkv__Response *resp, const char *node,
                      bool replica, void *priv)
{
    (void)replica;
    zkv__aatomic *at = priv;
    char why[ZKV__ERR_MAX];
    zkv__copy_str(why, sizeof why, zkv_last_error());
    int rc = zkv__atomic_settle(at->b, status, resp, node, why);
    zkv_async_batch_cb cb = at->cb;
    zkv_batch *b = at->b;
    void *p = at->priv;
    free(at);
    cb(a, b, rc, p);
}

int zkv_async_batch_atomic(zkv_async *a, zkv_batch *b, unsigned flags, zkv_async_batch_cb cb,
                           void *privdata)
{
    int rc = zkv__async_entry(a, cb != NULL);
    if (rc != ZKV_OK)
        return rc;
    flags = (flags | a->c->opts.default_flags) & (unsigned)ZKV_FLAG_ACK_OWNER;
    if ((rc = zkv__atomic_check(a->c, b, flags)) != ZKV_OK)
        return rc;
    bool own;
    zkv__mapsnap *snap = zkv__async_snapshot(a, &own);
    rc = zkv__atomic_one_range(snap->map, b);
    if (own)
        zkv__mapsnap_release(snap);
    if (rc != ZKV_OK)
        return rc;
    zkv__aatomic *at = malloc(sizeof *at);
    const zkv__batch_op *o0 = &b->ops[0];
    zkv__areq *r = at ? zkv__areq_new(a, ZKV__AREQ_ATOMIC, b->arena.data + o0->koff, o0->klen, NULL,
                                      0, flags, at)
                      : NULL;
    if (!r) {
        free(at);
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    }
    *at = (zkv__aatomic){.b = b, .cb = cb, .priv = privdata};
    r->batch = b;
    r->page_cb = on_atomic;
    r->client_seq = atomic_fetch_add(&a->c->next_cseq, 1);
    rc = zkv__async_start(a, r, 0);
    if (rc != ZKV_OK)
        free(at); /* r was freed; the failure is published */
    return rc;
}
