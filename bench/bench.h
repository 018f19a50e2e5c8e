/* bench.h: the state zkv-bench's drivers share. main.c parses flags, starts one worker
 * thread per --threads and reports each test; a driver runs a test on one worker's clients:
 * evloop.c (the default) on the asynchronous API, one libuv loop per thread like
 * redis-benchmark; blocking.c (--blocking) on the blocking API, each thread driving its
 * clients in turn. Both record into the worker's histogram and the shared counters through
 * the helpers of shared.c, so the two report alike. */
#ifndef ZKV_BENCH_BENCH_H
#define ZKV_BENCH_BENCH_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <zkv/zkv.h>
#include "common/tls.h"

#include "hist.h"
#include "keygen.h"
#include "tests.h"

/* Pipelines up to this depth keep their per-batch arrays on the stack. */
#define ZKV_BENCH_MAX_PIPELINE_STACK 256

typedef enum { OUT_TEXT, OUT_CSV, OUT_JSON } out_format;

typedef struct bench {
    long clients, threads, requests, duration, warmup, rate, data_size, pipeline, keyspace, timeout;
    bool quiet, zipfian, prefix_hash, blocking;
    out_format format;
    unsigned write_flags; /* ZKV_FLAG_ACK_OWNER with --ack-owner */
    unsigned read_flags;  /* --read: ZKV_FLAG_READ_REPLICA, _READ_NEAREST or _HEDGE (0: owner) */
    long hedge_ms;        /* --hedge-ms: ZKV_FLAG_HEDGE's delay */
    long max_lag_ms;      /* --max-lag-ms: the replicas' staleness bound (0: none) */
    const char *zone;     /* --zone: the clients' zone ("": none) */
    const char *zk, *cluster;
    zkv_tls_files tls;   /* --tls-*: TLS to the nodes (none given: $ZKV_TLS_*, else plain) */
    char *value;         /* data_size bytes of 'x' */
    zkv_bench_zipf zipf; /* with --distribution zipfian */

    pthread_barrier_t ready; /* main and every worker: all clients tried to connect */
    pthread_barrier_t start; /* main and every worker: a test (or the end) begins */
    zkv_bench_test test;     /* the test that runs; written before the start barrier */
    uint64_t t_start;        /* when the test (its warm-up first) starts */
    uint64_t t_measure;      /* when measuring starts (t_start + warm-up) */
    _Atomic uint64_t t_end;  /* with --duration: when the test ends (SIGUSR1 brings it
                                forward); else 0 */
    uint64_t interval;       /* with --rate: ns between one client's batches */
    bool stop;               /* workers leave at the next start barrier */
    atomic_long next;        /* next request number to claim (-n mode) */
    atomic_long done;        /* measured requests finished in this test */
    atomic_long errors;      /* failed requests in this test */
    atomic_long misses;      /* reads of a missing key */
    atomic_int finished;     /* workers done with this test */
    pthread_mutex_t lock;    /* guards first_error */
    char first_error[512];
} bench;

typedef struct worker worker;

/* A driver: connects a worker's clients (ZKV_OK, or an error with w->connect_error set),
 * runs one test on them, and releases them. */
typedef struct bench_driver {
    int (*connect)(worker *w);
    void (*run)(worker *w);
    void (*release)(worker *w);
} bench_driver;

extern const bench_driver zkv_bench_blocking_driver; /* blocking.c */
extern const bench_driver zkv_bench_evloop_driver;   /* evloop.c */

struct worker {
    bench *b;
    unsigned index;
    pthread_t thread;
    long nclients; /* clients this thread drives */
    long first;    /* index of its first client among all (for names) */
    void *drv;     /* the driver's state */
    char connect_error[256];
    zkv_bench_hist hist;
    zkv_bench_hist op_hist[ZKV_BENCH_NOPS]; /* the same latencies by operation */
    long ops[ZKV_BENCH_NOPS];               /* measured requests by operation */
    uint64_t rng;
    uint64_t end_ns; /* when this worker finished its last measured request */
};

uint64_t zkv_bench_now_ns(void);
void zkv_bench_sleep_until(uint64_t t);

/* Clears the worker's per-test figures. */
void zkv_bench_worker_reset(worker *w);
/* Writes the key of a request into out; returns its length. seq >= 0: key number seq
 * (LOAD); -1: a key drawn from the distribution. */
size_t zkv_bench_key(worker *w, long seq, char *out);
/* How many requests a batch that starts at t0 may send (at most -P): 0 when the test is
 * over for this client (its duration passed, or every -n request, or with LOAD every key,
 * was claimed). *first is the batch's first key number with LOAD, else -1. */
long zkv_bench_claim(bench *b, uint64_t t0, long *first);
/* Records a finished batch of count requests (ops) that started at t0, when measured. */
void zkv_bench_record_batch(worker *w, const zkv_bench_op *ops, long count, uint64_t t0);

/* Counts count failures; keeps the first message ("PUT: UNAVAILABLE: reason"). */
void zkv_bench_error(bench *b, long count, int code, const char *reason);
/* The status of a read (a miss is not an error). Returns whether it succeeded or missed. */
bool zkv_bench_read_status(bench *b, int rc, bool measured, const char *reason);

/* A zkv_client for one bench client (named zkv-bench-<n>), with the bench's ZooKeeper,
 * cluster and timeouts. ZKV_OK, or an error with w->connect_error set. */
int zkv_bench_client_create(worker *w, long n, zkv_client **out);

#endif
