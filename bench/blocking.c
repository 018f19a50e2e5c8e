/* blocking.c: the --blocking driver of zkv-bench (bench.h). Each bench client is its own
 * zkv_client (its own ZooKeeper session and node connections); a worker thread drives its
 * clients in turn with the blocking API, one request at a time, or with -P > 1 one
 * pipelined zkv_batch at a time. With --rate each client has a schedule of intended start
 * times and the thread sleeps until the earliest is due (latency counts from the intended
 * start, so a stall shows instead of silently lowering the load). It measures the
 * blocking API as a threaded web server would use it; evloop.c measures the server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct bclient {
    zkv_client *zc;
    uint64_t due; /* with --rate: intended start of the next request (batch) */
} bclient;

typedef struct blocking {
    bclient *clients;
    zkv_batch *batch, *rmw_batch; /* with -P > 1 */
} blocking;

/* One request without pipelining. */
static void run_single(worker *w, zkv_client *zc, zkv_bench_op op, long seq, bool measured)
{
    bench *b = w->b;
    char key[ZKV_BENCH_KEY_MAX];
    size_t klen = zkv_bench_key(w, seq, key);
    if (op == ZKV_BENCH_OP_READ || op == ZKV_BENCH_OP_RMW) {
        zkv_value *v = NULL;
        int rc = zkv_get(zc, key, klen, 0, b->read_flags, &v);
        zkv_value_free(v);
        if (!zkv_bench_read_status(b, rc, measured, zkv_last_error()))
            return; /* a failed read-modify-write does not write */
    }
    if (op == ZKV_BENCH_OP_UPDATE || op == ZKV_BENCH_OP_RMW) {
        int rc = zkv_put(zc, key, klen, b->value, (size_t)b->data_size, 0, b->write_flags, NULL);
        if (rc != ZKV_OK)
            zkv_bench_error(b, 1, rc, zkv_last_error());
    }
}

/* Runs a batch; checks the statuses of its operations (gets are reads). */
static void run_one_batch(worker *w, zkv_client *zc, zkv_batch *batch, bool writes,
                          const bool *is_get, size_t nqueued, bool measured)
{
    bench *b = w->b;
    int rc = zkv_batch_run(zc, batch, 0, writes ? b->write_flags : b->read_flags);
    char reason[256]; /* before other library calls overwrite it */
    snprintf(reason, sizeof reason, "%s", zkv_last_error());
    size_t n = zkv_batch_count(batch);
    if (rc != ZKV_OK) {
        zkv_bench_error(b, (long)n, rc, reason);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int st = zkv_batch_status(batch, i);
        if (i < nqueued && is_get[i])
            zkv_bench_read_status(b, st, measured, reason[0] ? reason : "a pipelined get failed");
        else if (st != ZKV_OK)
            zkv_bench_error(b, 1, st, reason[0] ? reason : "a pipelined put failed");
    }
}

/* Runs count requests in pipelined batches: reads and updates in one batch; the writes of
 * read-modify-writes in a second batch once their reads answered. first: the first key
 * number with LOAD, else -1. */
static void run_batch(worker *w, zkv_client *zc, const zkv_bench_op *ops, long count, long first,
                      bool measured)
{
    bench *b = w->b;
    blocking *d = w->drv;
    bool is_get[2 * ZKV_BENCH_MAX_PIPELINE_STACK] = {false};
    bool *gets =
        count <= ZKV_BENCH_MAX_PIPELINE_STACK ? is_get : calloc((size_t)count * 2, sizeof(bool));
    if (!gets) {
        zkv_bench_error(b, count, ZKV_ENOMEM, "out of memory");
        return;
    }
    char key[ZKV_BENCH_KEY_MAX];
    bool writes = false, rmw = false;
    zkv_batch_clear(d->batch);
    zkv_batch_clear(d->rmw_batch);
    for (long i = 0; i < count; i++) {
        size_t klen = zkv_bench_key(w, first >= 0 ? first + i : -1, key);
        int rc;
        gets[i] = ops[i] != ZKV_BENCH_OP_UPDATE;
        if (ops[i] == ZKV_BENCH_OP_UPDATE) {
            writes = true;
            rc = zkv_batch_put(d->batch, key, klen, b->value, (size_t)b->data_size);
        } else {
            rc = zkv_batch_get(d->batch, key, klen);
        }
        if (rc == ZKV_OK && ops[i] == ZKV_BENCH_OP_RMW) {
            rmw = true;
            rc = zkv_batch_put(d->rmw_batch, key, klen, b->value, (size_t)b->data_size);
        }
        if (rc != ZKV_OK) {
            zkv_bench_error(b, count, rc, zkv_last_error());
            goto out;
        }
    }
    run_one_batch(w, zc, d->batch, writes, gets, (size_t)count, measured);
    if (rmw) {
        size_t n = zkv_batch_count(d->rmw_batch);
        bool *puts = gets + count;
        if (n > (size_t)count)
            n = (size_t)count;
        memset(puts, 0, n);
        run_one_batch(w, zc, d->rmw_batch, true, puts, n, measured);
    }
out:
    if (gets != is_get)
        free(gets);
}

/* The next client to serve: the one due first with --rate, else the next in turn. */
static bclient *next_client(worker *w, long *turn)
{
    blocking *d = w->drv;
    if (!w->b->rate) {
        bclient *c = &d->clients[*turn];
        *turn = (*turn + 1) % w->nclients;
        return c;
    }
    bclient *best = &d->clients[0];
    for (long i = 1; i < w->nclients; i++)
        if (d->clients[i].due < best->due)
            best = &d->clients[i];
    return best;
}

static void run(worker *w)
{
    bench *b = w->b;
    blocking *d = w->drv;
    zkv_bench_op ops_stack[ZKV_BENCH_MAX_PIPELINE_STACK];
    zkv_bench_op *ops = b->pipeline <= ZKV_BENCH_MAX_PIPELINE_STACK
                            ? ops_stack
                            : malloc((size_t)b->pipeline * sizeof(*ops));
    if (!ops) {
        zkv_bench_error(b, 1, ZKV_ENOMEM, "out of memory");
        return;
    }
    for (long i = 0; i < w->nclients; i++) /* clients start staggered */
        d->clients[i].due = b->t_start + (b->interval ? zkv_bench_rand(&w->rng) % b->interval : 0);
    long turn = 0;
    for (;;) {
        bclient *c = next_client(w, &turn);
        uint64_t t0 = b->rate ? c->due : zkv_bench_now_ns(); /* open loop: intended start */
        if (b->t_end && t0 >= b->t_end)
            break;
        if (b->rate) {
            if (c->due > zkv_bench_now_ns())
                zkv_bench_sleep_until(c->due);
            c->due += b->interval;
        }
        long first;
        long count = zkv_bench_claim(b, t0, &first);
        if (count == 0)
            break;
        bool measured = t0 >= b->t_measure;
        for (long i = 0; i < count; i++)
            ops[i] = zkv_bench_pick_op(b->test, zkv_bench_rand_unit(&w->rng));
        if (count == 1 && !d->batch)
            run_single(w, c->zc, ops[0], first, measured);
        else
            run_batch(w, c->zc, ops, count, first, measured);
        zkv_bench_record_batch(w, ops, count, t0);
    }
    if (ops != ops_stack)
        free(ops);
}

static int connect_clients(worker *w)
{
    blocking *d = calloc(1, sizeof *d);
    if (d)
        d->clients = calloc((size_t)w->nclients, sizeof *d->clients);
    w->drv = d;
    if (!d || !d->clients) {
        snprintf(w->connect_error, sizeof w->connect_error, "out of memory");
        return ZKV_ENOMEM;
    }
    for (long i = 0; i < w->nclients; i++) {
        int rc = zkv_bench_client_create(w, w->first + i, &d->clients[i].zc);
        if (rc != ZKV_OK)
            return rc;
    }
    if (w->b->pipeline > 1 &&
        (!(d->batch = zkv_batch_create()) || !(d->rmw_batch = zkv_batch_create()))) {
        snprintf(w->connect_error, sizeof w->connect_error, "out of memory");
        return ZKV_ENOMEM;
    }
    return ZKV_OK;
}

static void release(worker *w)
{
    blocking *d = w->drv;
    if (!d)
        return;
    zkv_batch_free(d->batch);
    zkv_batch_free(d->rmw_batch);
    for (long i = 0; d->clients && i < w->nclients; i++)
        zkv_client_free(d->clients[i].zc);
    free(d->clients);
    free(d);
    w->drv = NULL;
}

const bench_driver zkv_bench_blocking_driver = {connect_clients, run, release};
