/* main.c: zkv-bench, a load generator in the manner of redis-benchmark. -c client
 * threads, each with its own zkv_client (its own ZooKeeper session and node connections),
 * share -n requests per test; with -P > 1 each thread sends its requests in pipelined
 * batches (zkv_batch_*). Keys are "key:%012lu" drawn uniformly from [0, -r). Every
 * request's latency goes into the thread's histogram (a batch's latency counts for each
 * of its requests, as redis-benchmark does); the histograms are merged per test. Each
 * test ends with one line: "PUT: 41234.5 requests per second, p50=0.71 msec, p99=1.90
 * msec". Exit status: 0, 1 when any request failed (or the clients could not connect), 2
 * for bad flags. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zkv/zkv.h>

#include "commands.h"
#include "common/flags.h"
#include "hist.h"
#include "tests.h"

typedef struct bench {
    long clients, requests, data_size, pipeline, keyspace, timeout;
    bool quiet;
    unsigned write_flags; /* ZKV_FLAG_ACK_OWNER with --ack-owner */
    const char *zk, *cluster;
    char *value; /* data_size bytes of 'x' */

    pthread_barrier_t ready; /* main and every worker: all clients tried to connect */
    pthread_barrier_t start; /* main and every worker: a test (or the end) begins */
    zkv_bench_test test;     /* the test that runs; written before the start barrier */
    bool stop;               /* workers leave at the next start barrier */
    atomic_long next;        /* next request number to claim */
    atomic_long done;        /* requests finished in this test */
    atomic_long errors;      /* failed requests in this test */
    atomic_long misses;      /* GETs of a missing key */
    atomic_int finished;     /* workers done with this test */
    pthread_mutex_t lock;    /* guards first_error */
    char first_error[512];
} bench;

typedef struct worker {
    bench *b;
    unsigned index;
    pthread_t thread;
    zkv_client *client;
    int connect_rc;
    char connect_error[256];
    zkv_bench_hist hist;
    uint64_t rng;
    uint64_t end_ns; /* when this worker finished the test */
} worker;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * UINT64_C(2685821657736338717);
}

static size_t make_key(worker *w, char *out, size_t outlen)
{
    unsigned long k = (unsigned long)(xorshift(&w->rng) % (uint64_t)w->b->keyspace);
    int n = snprintf(out, outlen, "key:%012lu", k);
    return n > 0 ? (size_t)n : 0;
}

/* Counts failures; keeps the first message ("PUT: UNAVAILABLE: reason"). */
static void record_error(bench *b, long count, int code, const char *reason)
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

static void run_single(worker *w, bool put)
{
    bench *b = w->b;
    char key[32];
    size_t klen = make_key(w, key, sizeof key);
    uint64_t t0 = now_ns();
    int rc;
    if (put) {
        rc = zkv_put(w->client, key, klen, b->value, (size_t)b->data_size, 0, b->write_flags, NULL);
    } else {
        zkv_value *v = NULL;
        rc = zkv_get(w->client, key, klen, 0, 0, &v);
        zkv_value_free(v);
    }
    zkv_bench_hist_record(&w->hist, now_ns() - t0);
    if (rc == ZKV_ENOTFOUND && !put)
        atomic_fetch_add(&b->misses, 1);
    else if (rc != ZKV_OK)
        record_error(b, 1, rc, zkv_last_error());
}

static void run_batch(worker *w, zkv_batch *batch, bool put, long count)
{
    bench *b = w->b;
    char key[32];
    zkv_batch_clear(batch);
    for (long i = 0; i < count; i++) {
        size_t klen = make_key(w, key, sizeof key);
        int rc = put ? zkv_batch_put(batch, key, klen, b->value, (size_t)b->data_size)
                     : zkv_batch_get(batch, key, klen);
        if (rc != ZKV_OK) {
            record_error(b, count, rc, zkv_last_error());
            return;
        }
    }
    uint64_t t0 = now_ns();
    int rc = zkv_batch_run(w->client, batch, 0, put ? b->write_flags : 0);
    uint64_t elapsed = now_ns() - t0;
    char reason[256]; /* before other library calls overwrite it */
    snprintf(reason, sizeof reason, "%s", zkv_last_error());
    if (rc != ZKV_OK) {
        record_error(b, count, rc, reason);
        for (long i = 0; i < count; i++)
            zkv_bench_hist_record(&w->hist, elapsed);
        return;
    }
    size_t n = zkv_batch_count(batch);
    for (size_t i = 0; i < n; i++) {
        int st = zkv_batch_status(batch, i);
        zkv_bench_hist_record(&w->hist, elapsed);
        if (st == ZKV_ENOTFOUND && !put)
            atomic_fetch_add(&b->misses, 1);
        else if (st != ZKV_OK)
            record_error(b, 1, st, reason[0] ? reason : "a request of a pipelined batch failed");
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    bench *b = w->b;
    zkv_batch *batch = NULL;
    zkv_options *o = zkv_options_create();
    int rc = o ? ZKV_OK : ZKV_ENOMEM;
    char name[64];
    snprintf(name, sizeof name, "zkv-bench-%u", w->index);
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
    if (rc == ZKV_OK)
        rc = zkv_client_create(o, &w->client);
    if (rc == ZKV_OK && b->pipeline > 1 && !(batch = zkv_batch_create()))
        rc = ZKV_ENOMEM;
    w->connect_rc = rc;
    if (rc != ZKV_OK)
        snprintf(w->connect_error, sizeof w->connect_error, "%s: %s", zkv_repl_status_name(rc),
                 zkv_last_error()[0] ? zkv_last_error() : zkv_strerror(rc));
    zkv_options_free(o);
    pthread_barrier_wait(&b->ready);

    for (;;) {
        pthread_barrier_wait(&b->start);
        if (b->stop)
            break;
        bool put = b->test == ZKV_BENCH_PUT;
        zkv_bench_hist_init(&w->hist);
        for (;;) {
            long first = atomic_fetch_add(&b->next, b->pipeline);
            if (first >= b->requests)
                break;
            long count = b->requests - first < b->pipeline ? b->requests - first : b->pipeline;
            if (count == 1 && !batch)
                run_single(w, put);
            else
                run_batch(w, batch, put, count);
            atomic_fetch_add(&b->done, count);
        }
        w->end_ns = now_ns();
        atomic_fetch_add(&b->finished, 1);
    }
    zkv_batch_free(batch);
    zkv_client_free(w->client);
    w->client = NULL;
    return NULL;
}

static void msleep(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Runs one test with every worker; prints its report. Returns the number of failures. */
static long run_test(bench *b, worker *ws, zkv_bench_test t, bool progress)
{
    const char *name = zkv_bench_test_name(t);
    b->test = t;
    atomic_store(&b->next, 0);
    atomic_store(&b->done, 0);
    atomic_store(&b->errors, 0);
    atomic_store(&b->misses, 0);
    atomic_store(&b->finished, 0);
    b->first_error[0] = '\0';

    uint64_t start = now_ns();
    pthread_barrier_wait(&b->start);
    long last_done = 0;
    uint64_t last_t = start;
    while (atomic_load(&b->finished) < b->clients) {
        msleep(progress ? 250 : 20);
        if (!progress)
            continue;
        uint64_t now = now_ns();
        long done = atomic_load(&b->done);
        double rps = (double)(done - last_done) * 1e9 / (double)(now - last_t);
        double overall = (double)done * 1e9 / (double)(now - start);
        fprintf(stderr, "\r%s: rps=%.1f (overall: %.1f) %ld/%ld\033[K", name, rps, overall, done,
                b->requests);
        last_done = done;
        last_t = now;
    }
    if (progress)
        fprintf(stderr, "\r\033[K");

    uint64_t end = start;
    zkv_bench_hist all;
    zkv_bench_hist_init(&all);
    for (long i = 0; i < b->clients; i++) {
        if (ws[i].end_ns > end)
            end = ws[i].end_ns;
        zkv_bench_hist_merge(&all, &ws[i].hist);
    }
    double secs = (double)(end - start) / 1e9;
    double rps = secs > 0 ? (double)b->requests / secs : 0;
    long errors = atomic_load(&b->errors);
    double p50 = zkv_bench_hist_percentile(&all, 50) / 1e6,
           p99 = zkv_bench_hist_percentile(&all, 99) / 1e6;

    if (!b->quiet) {
        printf("====== %s ======\n", name);
        printf("  %ld requests completed in %.2f seconds\n", b->requests, secs);
        printf("  %ld parallel clients\n", b->clients);
        printf("  %ld bytes payload\n", b->data_size);
        printf("  pipeline depth %ld, key space %ld\n", b->pipeline, b->keyspace);
        if (t == ZKV_BENCH_GET)
            printf("  %ld misses (key not found)\n", atomic_load(&b->misses));
        printf("\nLatency (msec): avg=%.3f min=%.3f p50=%.3f p95=%.3f p99=%.3f p99.9=%.3f "
               "max=%.3f\n",
               zkv_bench_hist_mean(&all) / 1e6, (double)all.min / 1e6, p50,
               zkv_bench_hist_percentile(&all, 95) / 1e6, p99,
               zkv_bench_hist_percentile(&all, 99.9) / 1e6, (double)all.max / 1e6);
    }
    if (errors) {
        fflush(stdout);
        fprintf(stderr, "errors: %ld (first: %s)\n", errors, b->first_error);
    }
    printf("%s: %.1f requests per second, p50=%.2f msec, p99=%.2f msec\n", name, rps, p50, p99);
    if (!b->quiet)
        printf("\n");
    fflush(stdout);
    return errors;
}

static const char synopsis[] =
    "[-c CLIENTS] [-n REQUESTS] [-d SIZE] [-P DEPTH] [-r KEYSPACE] [-t get,put] [-q] [--ack-owner]";
static const char description[] =
    "Load generator for a zkv cluster, with redis-benchmark's flags. Each of the -c clients\n"
    "is a thread with its own connection; together they send -n requests per test, -P at a\n"
    "time when pipelining, to keys \"key:%012lu\" drawn uniformly from [0, KEYSPACE). PUT\n"
    "runs before GET. Each test ends with one line: throughput, p50 and p99 latency.\n"
    "Exit status 1 when any request failed.";

int main(int argc, char **argv)
{
    static bench b;
    static const char default_tests[] = "put,get";
    const char *tests = default_tests;
    b.clients = 50;
    b.requests = 100000;
    b.data_size = 100;
    b.pipeline = 1;
    b.keyspace = 100000;
    b.timeout = 5000;
    bool ack_owner = false;
    const zkv_flag flags[] = {
        {"clients", 'c', ZKV_FLAG_INT, &b.clients, "CLIENTS", "parallel clients (threads)", 1,
         10000},
        {"requests", 'n', ZKV_FLAG_INT, &b.requests, "REQUESTS", "requests per test", 1,
         1000000000000L},
        {"data-size", 'd', ZKV_FLAG_INT, &b.data_size, "SIZE", "value size in bytes", 0, 1 << 20},
        {"pipeline", 'P', ZKV_FLAG_INT, &b.pipeline, "DEPTH",
         "requests per pipelined batch (1: no pipelining)", 1, 100000},
        {"keyspace", 'r', ZKV_FLAG_INT, &b.keyspace, "KEYSPACE",
         "number of distinct keys, drawn uniformly", 1, 1000000000000L},
        {"tests", 't', ZKV_FLAG_STRING, &tests, "LIST", "tests to run: get, put", 0, 0},
        {"quiet", 'q', ZKV_FLAG_BOOL, &b.quiet, NULL, "print only the result line of each test", 0,
         0},
        {"timeout", 0, ZKV_FLAG_INT, &b.timeout, "MS", "time budget of each request", 1, 3600000},
        {"ack-owner", 0, ZKV_FLAG_BOOL, &ack_owner, NULL,
         "PUTs are acknowledged by the owner alone (not waiting for in-sync replicas)", 0, 0},
    };
    zkv_common_opts common;
    int first = 0;
    switch (zkv_flags_parse("zkv-bench", synopsis, description, flags,
                            sizeof flags / sizeof flags[0], &common, argc, argv, &first)) {
    case ZKV_FLAGS_OK:
        break;
    case ZKV_FLAGS_EXIT:
        return 0;
    case ZKV_FLAGS_ERROR:
        return 2;
    }
    unsigned mask = 0;
    char err[256];
    if (first < argc) {
        fprintf(stderr, "zkv-bench: unexpected argument '%s'\n", argv[first]);
        zkv_flags_usage(stderr, "zkv-bench", synopsis, flags, sizeof flags / sizeof flags[0]);
        return 2;
    }
    if (zkv_bench_parse_tests(tests, &mask, err, sizeof err) < 0) {
        fprintf(stderr, "zkv-bench: %s\n", err);
        tests = default_tests; /* usage shows the defaults */
        zkv_flags_usage(stderr, "zkv-bench", synopsis, flags, sizeof flags / sizeof flags[0]);
        return 2;
    }
    b.write_flags = ack_owner ? ZKV_FLAG_ACK_OWNER : ZKV_FLAG_NONE;
    b.zk = common.zk;
    b.cluster = common.cluster;
    b.value = malloc((size_t)b.data_size + 1);
    worker *ws = calloc((size_t)b.clients, sizeof(*ws));
    if (!b.value || !ws) {
        fprintf(stderr, "zkv-bench: out of memory\n");
        free(b.value);
        free(ws);
        return 1;
    }
    memset(b.value, 'x', (size_t)b.data_size);
    pthread_mutex_init(&b.lock, NULL);
    pthread_barrier_init(&b.ready, NULL, (unsigned)b.clients + 1);
    pthread_barrier_init(&b.start, NULL, (unsigned)b.clients + 1);
    uint64_t seed = now_ns() ^ ((uint64_t)getpid() << 32);

    long started = 0;
    for (; started < b.clients; started++) {
        worker *w = &ws[started];
        w->b = &b;
        w->index = (unsigned)started;
        w->rng = (seed + (uint64_t)started * UINT64_C(0x9e3779b97f4a7c15)) | 1;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            break;
    }
    int status = 0;
    if (started < b.clients) {
        /* The barriers count every client: a thread that did not start would hang them. */
        fprintf(stderr, "zkv-bench: cannot start %ld threads (started %ld)\n", b.clients, started);
        _exit(1);
    }

    /* Workers connect in parallel, then meet here. */
    pthread_barrier_wait(&b.ready);
    long failed = 0;
    const char *first_failure = NULL;
    for (long i = 0; i < b.clients; i++) {
        if (ws[i].connect_rc != ZKV_OK) {
            if (!failed++)
                first_failure = ws[i].connect_error;
        }
    }
    if (failed) {
        fprintf(stderr, "zkv-bench: connect: %s (%ld of %ld clients failed)\n", first_failure,
                failed, b.clients);
        status = 1;
    } else {
        bool progress = !b.quiet && isatty(STDERR_FILENO);
        for (int t = 0; t < ZKV_BENCH_NTESTS; t++) {
            if ((mask & (1u << t)) && run_test(&b, ws, (zkv_bench_test)t, progress) > 0)
                status = 1;
        }
    }
    b.stop = true;
    pthread_barrier_wait(&b.start);
    for (long i = 0; i < b.clients; i++)
        pthread_join(ws[i].thread, NULL);
    pthread_barrier_destroy(&b.ready);
    pthread_barrier_destroy(&b.start);
    pthread_mutex_destroy(&b.lock);
    free(ws);
    free(b.value);
    return status;
}
