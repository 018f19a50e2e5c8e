/* evloop.c: the default driver of zkv-bench (bench.h), built like redis-benchmark: each
 * worker thread runs one libuv loop, and its bench clients are zkv_async contexts (each
 * with its own node connections) on one zkv_client, so a thread keeps every client's
 * requests in flight at once instead of blocking on one. A client sends -P requests
 * (pipelined on its connection), and when all have answered records the batch and sends
 * the next. A read-modify-write sends its put from the get's callback. With --rate a
 * client whose next batch is not due yet waits in a min-heap ordered by intended start,
 * and one timerfd per thread, armed for the earliest, starts the batches that came due
 * (nanosecond resolution: libuv's own timers count whole milliseconds, which would add up
 * to a millisecond to every latency, since latency counts from the intended start).
 * Nothing here allocates per request: each client owns -P request slots. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <uv.h>
#include <zkv/adapters/libuv.h>
#include <zkv/zkv_async.h>

#include "bench.h"

struct aclient;

/* One request of a batch; privdata of its callbacks. */
typedef struct slot {
    struct aclient *c;
    bool writing; /* a read-modify-write whose get answered: its put is in flight */
    size_t klen;
    char key[ZKV_BENCH_KEY_MAX];
} slot;

typedef struct aclient {
    worker *w;
    zkv_async *za;
    uint64_t due;  /* with --rate: intended start of the next batch */
    uint64_t t0;   /* start of the batch in flight */
    bool measured; /* the batch in flight counts */
    long count, outstanding;
    zkv_bench_op *ops; /* -P of them: the batch's operations */
    slot *slots;       /* -P of them */
} aclient;

typedef struct evloop {
    uv_loop_t loop;
    bool loop_ok;
    zkv_client *zc;
    aclient *clients;
    long running; /* clients still sending in this test */
    int tfd;      /* with --rate: timerfd armed for the earliest waiting client, or -1 */
    uv_poll_t tpoll;
    uint64_t armed; /* when tfd fires (0: disarmed) */
    aclient **heap; /* with --rate: clients waiting for their due time, a min-heap */
    long nheap;
    bool closing; /* in release: callbacks of a freed context do nothing */
} evloop;

static void start_batch(aclient *c);

static void client_done(aclient *c)
{
    evloop *d = c->w->drv;
    if (--d->running == 0)
        uv_stop(&d->loop);
}

static void on_answer(zkv_async *a, int status, const zkv_value *v, void *privdata);

/* Sends one request of the slot; false when it could not be queued (error counted). */
static bool send_slot(aclient *c, slot *s, zkv_bench_op op)
{
    bench *b = c->w->b;
    int rc;
    if (op == ZKV_BENCH_OP_UPDATE || s->writing)
        rc = zkv_async_put(c->za, s->key, s->klen, b->value, (size_t)b->data_size, b->write_flags,
                           on_answer, s);
    else
        rc = zkv_async_get(c->za, s->key, s->klen, b->read_flags, on_answer, s);
    if (rc != ZKV_OK)
        zkv_bench_error(b, 1, rc, zkv_last_error());
    return rc == ZKV_OK;
}

/* A request of the batch finished; the last one records the batch and starts the next. */
static void slot_done(aclient *c)
{
    if (--c->outstanding > 0)
        return;
    zkv_bench_record_batch(c->w, c->ops, c->count, c->t0);
    start_batch(c);
}

static void on_answer(zkv_async *a, int status, const zkv_value *v, void *privdata)
{
    (void)a;
    (void)v;
    slot *s = privdata;
    aclient *c = s->c;
    bench *b = c->w->b;
    if (((evloop *)c->w->drv)->closing)
        return;
    zkv_bench_op op = c->ops[s - c->slots];
    if (op == ZKV_BENCH_OP_UPDATE || s->writing) {
        if (status != ZKV_OK)
            zkv_bench_error(b, 1, status, zkv_last_error());
    } else if (zkv_bench_read_status(b, status, c->measured, zkv_last_error()) &&
               op == ZKV_BENCH_OP_RMW) {
        s->writing = true; /* a failed read-modify-write does not write */
        if (send_slot(c, s, op))
            return;
    }
    slot_done(c);
}

/* --- clients waiting for their intended start (--rate) ------------------------------- */

static void heap_swap(aclient **h, long i, long j)
{
    aclient *t = h[i];
    h[i] = h[j];
    h[j] = t;
}

static void heap_push(evloop *d, aclient *c)
{
    long i = d->nheap++;
    d->heap[i] = c;
    while (i > 0 && d->heap[(i - 1) / 2]->due > d->heap[i]->due) {
        heap_swap(d->heap, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static aclient *heap_pop(evloop *d)
{
    aclient *top = d->heap[0];
    d->heap[0] = d->heap[--d->nheap];
    for (long i = 0;;) {
        long l = 2 * i + 1, r = l + 1, m = i;
        if (l < d->nheap && d->heap[l]->due < d->heap[m]->due)
            m = l;
        if (r < d->nheap && d->heap[r]->due < d->heap[m]->due)
            m = r;
        if (m == i)
            break;
        heap_swap(d->heap, i, m);
        i = m;
    }
    return top;
}

/* Arms the timerfd for the earliest waiting client (or disarms it). */
static void arm(evloop *d)
{
    uint64_t due = d->nheap ? d->heap[0]->due : 0;
    if (due == d->armed)
        return;
    struct itimerspec its = {{0, 0}, {(time_t)(due / 1000000000u), (long)(due % 1000000000u)}};
    timerfd_settime(d->tfd, TFD_TIMER_ABSTIME, &its, NULL);
    d->armed = due;
}

static void on_tick(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    evloop *d = p->data;
    uint64_t expirations;
    if (read(d->tfd, &expirations, sizeof expirations) < 0) {
        /* EAGAIN: nothing expired after all; the heap decides */
    }
    d->armed = 0;
    uint64_t now = zkv_bench_now_ns();
    while (d->nheap && d->heap[0]->due <= now)
        start_batch(heap_pop(d));
    arm(d);
}

/* Starts the client's next batch, or waits for its intended start, or ends its test. A
 * batch none of whose requests could be queued is recorded here and the next one tried. */
static void start_batch(aclient *c)
{
    worker *w = c->w;
    bench *b = w->b;
    for (;;) {
        uint64_t now = zkv_bench_now_ns();
        uint64_t t0 = b->rate ? c->due : now;
        if (b->t_end && t0 >= b->t_end) {
            client_done(c);
            return;
        }
        if (b->rate && c->due > now) {
            evloop *d = w->drv;
            heap_push(d, c);
            if (d->heap[0] == c)
                arm(d);
            return;
        }
        long first;
        long count = zkv_bench_claim(b, t0, &first);
        if (count == 0) {
            client_done(c);
            return;
        }
        c->due += b->interval;
        c->t0 = t0;
        c->measured = t0 >= b->t_measure;
        c->count = count;
        c->outstanding = count;
        for (long i = 0; i < count; i++) {
            slot *s = &c->slots[i];
            c->ops[i] = zkv_bench_pick_op(b->test, zkv_bench_rand_unit(&w->rng));
            s->writing = false;
            s->klen = zkv_bench_key(w, first >= 0 ? first + i : -1, s->key);
            if (!send_slot(c, s, c->ops[i]))
                c->outstanding--;
        }
        if (c->outstanding > 0)
            return; /* callbacks never run from the call that queued */
        zkv_bench_record_batch(w, c->ops, c->count, c->t0);
    }
}

static void run(worker *w)
{
    bench *b = w->b;
    evloop *d = w->drv;
    d->running = w->nclients;
    for (long i = 0; i < w->nclients; i++) {
        aclient *c = &d->clients[i];
        c->due = b->t_start + (b->interval ? zkv_bench_rand(&w->rng) % b->interval : 0);
    }
    for (long i = 0; i < w->nclients; i++)
        start_batch(&d->clients[i]);
    if (d->running > 0)
        uv_run(&d->loop, UV_RUN_DEFAULT);
}

static int fail(worker *w, int rc, const char *what)
{
    snprintf(w->connect_error, sizeof w->connect_error, "%s: %s", what,
             zkv_last_error()[0] ? zkv_last_error() : zkv_strerror(rc));
    return rc;
}

static int connect_clients(worker *w)
{
    bench *b = w->b;
    evloop *d = calloc(1, sizeof *d);
    w->drv = d;
    if (!d)
        return fail(w, ZKV_ENOMEM, "out of memory");
    d->tfd = -1;
    if (!(d->clients = calloc((size_t)w->nclients, sizeof *d->clients)))
        return fail(w, ZKV_ENOMEM, "out of memory");
    if (uv_loop_init(&d->loop) != 0)
        return fail(w, ZKV_ENOMEM, "cannot make an event loop");
    d->loop_ok = true;
    int rc = zkv_bench_client_create(w, w->index, &d->zc);
    if (rc != ZKV_OK)
        return rc;
    if (b->rate) {
        d->heap = calloc((size_t)w->nclients, sizeof *d->heap);
        d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (!d->heap || d->tfd < 0 || uv_poll_init(&d->loop, &d->tpoll, d->tfd) != 0)
            return fail(w, ZKV_ENOMEM, "cannot make the --rate timer");
        d->tpoll.data = d;
        uv_poll_start(&d->tpoll, UV_READABLE, on_tick);
    }
    for (long i = 0; i < w->nclients; i++) {
        aclient *c = &d->clients[i];
        c->w = w;
        c->ops = calloc((size_t)b->pipeline, sizeof *c->ops);
        c->slots = calloc((size_t)b->pipeline, sizeof *c->slots);
        if (!c->ops || !c->slots)
            return fail(w, ZKV_ENOMEM, "out of memory");
        for (long j = 0; j < b->pipeline; j++)
            c->slots[j].c = c;
        if ((rc = zkv_async_create(d->zc, &c->za)) != ZKV_OK)
            return fail(w, rc, "zkv_async_create");
        if ((rc = zkv_async_libuv_attach(c->za, &d->loop)) != ZKV_OK)
            return fail(w, rc, "zkv_async_libuv_attach");
    }
    return ZKV_OK;
}

static void release(worker *w)
{
    evloop *d = w->drv;
    if (!d)
        return;
    d->closing = true;
    for (long i = 0; d->clients && i < w->nclients; i++) {
        aclient *c = &d->clients[i];
        zkv_async_free(c->za);
        free(c->ops);
        free(c->slots);
    }
    if (d->loop_ok) {
        if (d->tpoll.data)
            uv_close((uv_handle_t *)&d->tpoll, NULL);
        uv_run(&d->loop, UV_RUN_DEFAULT); /* the closed handles' callbacks */
        uv_loop_close(&d->loop);
    }
    if (d->tfd >= 0)
        close(d->tfd);
    free(d->heap);
    zkv_client_free(d->zc);
    free(d->clients);
    free(d);
    w->drv = NULL;
}

const bench_driver zkv_bench_evloop_driver = {connect_clients, run, release};
