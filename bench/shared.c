/* shared.c: what both zkv-bench drivers do alike (bench.h): the clock, keys, claiming
 * requests from the shared -n budget, recording finished batches, counting errors, and
 * making a client. Kept apart from the drivers so a blocking and an asynchronous run of
 * the same flags count, time and report requests the same way. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "commands.h"

uint64_t zkv_bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void zkv_bench_sleep_until(uint64_t t)
{
    struct timespec ts = {(time_t)(t / 1000000000u), (long)(t % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

void zkv_bench_worker_reset(worker *w)
{
    zkv_bench_hist_init(&w->hist);
    for (int op = 0; op < ZKV_BENCH_NOPS; op++)
        zkv_bench_hist_init(&w->op_hist[op]);
    memset(w->ops, 0, sizeof w->ops);
    w->end_ns = 0;
}

size_t zkv_bench_key(worker *w, long seq, char *out)
{
    bench *b = w->b;
    uint64_t k;
    if (seq >= 0)
        k = (uint64_t)seq;
    else if (b->zipfian)
        k = zkv_bench_scramble(zkv_bench_zipf_rank(&b->zipf, zkv_bench_rand_unit(&w->rng)),
                               (uint64_t)b->keyspace);
    else
        k = zkv_bench_rand(&w->rng) % (uint64_t)b->keyspace;
    return zkv_bench_make_key(k, b->prefix_hash, out);
}

/* The next count (at most -P) numbers below limit from the shared counter; 0 when none
 * are left. */
static long take(bench *b, long limit, long *first)
{
    *first = atomic_fetch_add(&b->next, b->pipeline);
    if (*first >= limit)
        return 0;
    return limit - *first < b->pipeline ? limit - *first : b->pipeline;
}

long zkv_bench_claim(bench *b, uint64_t t0, long *first)
{
    *first = -1;
    if (b->t_end && t0 >= b->t_end)
        return 0;
    if (b->test == ZKV_BENCH_LOAD)
        return take(b, b->keyspace, first); /* every key once, warm-up or not */
    if (b->t_end || t0 < b->t_measure)
        return b->pipeline; /* warm-up requests are not counted against -n */
    long n;
    return take(b, b->requests, &n);
}

void zkv_bench_record_batch(worker *w, const zkv_bench_op *ops, long count, uint64_t t0)
{
    bench *b = w->b;
    if (t0 < b->t_measure)
        return;
    uint64_t t1 = zkv_bench_now_ns();
    for (long i = 0; i < count; i++) {
        zkv_bench_hist_record(&w->hist, t1 - t0);
        zkv_bench_hist_record(&w->op_hist[ops[i]], t1 - t0);
        w->ops[ops[i]]++;
    }
    w->end_ns = t1;
    atomic_fetch_add(&b->done, count);
}

void zkv_bench_error(bench *b, long count, int code, const char *reason)
{
    if (atomic_fetch_add(&b->errors, count) == 0) {
        pthread_mutex_lock(&b->lock);
        if (!b->first_error[0])
            snprintf(b->first_error, sizeof b->first_error, "%s: %s: %s",
                     zkv_bench_test_name(b->test), zkv_repl_status_name(code),
                     reason && reason[0] ? reason : zkv_strerror(code));
        pthread_mutex_unlock(&b->lock);
    }
}

bool zkv_bench_read_status(bench *b, int rc, bool measured, const char *reason)
{
    if (rc == ZKV_ENOTFOUND) {
        if (measured)
            atomic_fetch_add(&b->misses, 1);
        return true;
    }
    if (rc != ZKV_OK) {
        zkv_bench_error(b, 1, rc, reason);
        return false;
    }
    return true;
}

int zkv_bench_client_create(worker *w, long n, zkv_client **out)
{
    bench *b = w->b;
    *out = NULL;
    zkv_options *o = zkv_options_create();
    int rc = o ? ZKV_OK : ZKV_ENOMEM;
    char name[64];
    snprintf(name, sizeof name, "zkv-bench-%ld", n);
    if (rc == ZKV_OK)
        rc = zkv_options_set_zk(o, b->zk);
    if (rc == ZKV_OK)
        rc = zkv_options_set_cluster(o, b->cluster);
    if (rc == ZKV_OK)
        rc = zkv_options_set_timeout(o, (int)b->timeout);
    if (rc == ZKV_OK)
        rc = zkv_options_set_connect_timeout(o, (int)b->timeout);
    if (rc == ZKV_OK)
        rc = zkv_options_set_client_name(o, name);
    if (rc == ZKV_OK && b->zone && b->zone[0])
        rc = zkv_options_set_zone(o, b->zone);
    if (rc == ZKV_OK)
        rc = zkv_options_set_hedge_delay(o, (int)b->hedge_ms);
    if (rc == ZKV_OK)
        rc = zkv_options_set_max_staleness(o, (uint64_t)b->max_lag_ms, 0);
    if (rc == ZKV_OK && zkv_tls_wanted(&b->tls))
        rc = zkv_options_set_tls(o, b->tls.ca, b->tls.cert, b->tls.key);
    if (rc == ZKV_OK)
        rc = zkv_client_create(o, out);
    if (rc != ZKV_OK)
        snprintf(w->connect_error, sizeof w->connect_error, "%s: %s", zkv_repl_status_name(rc),
                 zkv_last_error()[0] ? zkv_last_error() : zkv_strerror(rc));
    zkv_options_free(o);
    return rc;
}
