/* main.c: zkv-bench, a load generator in the manner of redis-benchmark and YCSB: flags,
 * worker threads, and the report of each test.
 *
 * -c clients are spread over --threads worker threads. By default each thread runs one
 * event loop and its clients are asynchronous contexts with their own connections
 * (evloop.c), as redis-benchmark does; --blocking makes each client its own blocking
 * zkv_client instead (blocking.c), one thread per client by default. A test runs -n
 * requests (claimed from a shared counter) or for --duration seconds, after --warmup
 * seconds that are not measured. With -P > 1 a client keeps -P requests pipelined. With
 * --rate the load is open-loop: each client has a schedule of intended start times
 * (rate / clients per second) and a request's latency counts from its intended start, so a
 * stall shows in the latencies instead of silently lowering the load (no coordinated
 * omission).
 *
 * Keys: key numbers in [0, -r) drawn uniformly or zipfian (YCSB, theta 0.99, ranks
 * scrambled), written "key:%012lu" behind 2 hash bytes (--key-prefix-hash, default on) so
 * the load spreads over every range; zkv splits ranges on the first two key bytes.
 *
 * Every request's latency (a batch's for each request in it) goes into the thread's
 * histogram, and into one per operation (read, update, read-modify-write); they are merged
 * per test, and mixed tests report each operation's p50/p99 too. Each test ends with one line:
 * "PUT: 41234.5 requests per second, p50=0.71 msec, p99=1.90 msec", or one CSV row / JSON object
 * with
 * --csv / --json. Exit status: 0, 1 when any request failed (or the clients could not
 * connect), 2 for bad flags. SIGUSR1 ends a --duration test at once (its report covers
 * what was measured until then): a script measures exactly while something happens. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <zkv/zkv.h>

#include "bench.h"
#include "commands.h"
#include "common/flags.h"

static void *worker_main(void *arg)
{
    worker *w = arg;
    bench *b = w->b;
    const bench_driver *drv = b->blocking ? &zkv_bench_blocking_driver : &zkv_bench_evloop_driver;
    int rc = drv->connect(w);
    pthread_barrier_wait(&b->ready);
    for (;;) {
        pthread_barrier_wait(&b->start);
        if (b->stop || rc != ZKV_OK)
            break;
        zkv_bench_worker_reset(w);
        drv->run(w);
        atomic_fetch_add(&b->finished, 1);
    }
    drv->release(w);
    return NULL;
}

static volatile sig_atomic_t g_cut; /* SIGUSR1: end the running --duration test now */

static void on_sigusr1(int sig)
{
    (void)sig;
    g_cut = 1;
}

static void msleep(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void print_csv_header(void)
{
    printf(
        "test,requests,seconds,ops_per_sec,errors,misses,reads,updates,rmws,avg_ms,min_ms,"
        "p50_ms,p90_ms,p99_ms,p99_9_ms,max_ms,clients,threads,pipeline,data_size,keyspace,"
        "distribution,target_rate,read_p50_ms,read_p99_ms,update_p50_ms,update_p99_ms,rmw_p50_ms,"
        "rmw_p99_ms\n");
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
    b->t_start = zkv_bench_now_ns();
    b->t_measure = b->t_start + (uint64_t)b->warmup * 1000000000u;
    b->t_end = b->duration ? b->t_measure + (uint64_t)b->duration * 1000000000u : 0;
    /* Per-client interval between batches at the target rate. */
    b->interval =
        b->rate ? (uint64_t)((double)b->pipeline * (double)b->clients * 1e9 / (double)b->rate) : 0;

    pthread_barrier_wait(&b->start);
    long last_done = 0;
    uint64_t last_t = b->t_start;
    while (atomic_load(&b->finished) < b->threads) {
        msleep(progress ? 250 : 20);
        if (g_cut && b->t_end) { /* the clients end at their next batch */
            uint64_t now = zkv_bench_now_ns();
            if (now < b->t_end)
                b->t_end = now > b->t_measure ? now : b->t_measure;
            g_cut = 0;
        }
        if (!progress)
            continue;
        uint64_t now = zkv_bench_now_ns();
        long done = atomic_load(&b->done);
        double rps = (double)(done - last_done) * 1e9 / (double)(now - last_t);
        if (now < b->t_measure)
            fprintf(stderr, "\r%s: warming up (%.0f s left)\033[K", name,
                    (double)(b->t_measure - now) / 1e9);
        else if (b->t_end)
            fprintf(stderr, "\r%s: rps=%.1f (overall: %.1f) %.0f/%ld s\033[K", name, rps,
                    (double)done * 1e9 / (double)(now - b->t_measure),
                    (double)(now - b->t_measure) / 1e9, b->duration);
        else
            fprintf(stderr, "\r%s: rps=%.1f (overall: %.1f) %ld/%ld\033[K", name, rps,
                    (double)done * 1e9 / (double)(now - b->t_measure), done,
                    t == ZKV_BENCH_LOAD ? b->keyspace : b->requests);
        last_done = done;
        last_t = now;
    }
    if (progress)
        fprintf(stderr, "\r\033[K");

    uint64_t end = b->t_measure;
    zkv_bench_hist all;
    zkv_bench_hist_init(&all);
    long ops[ZKV_BENCH_NOPS] = {0};
    static zkv_bench_hist by_op[ZKV_BENCH_NOPS]; /* 230 KB each: off the stack */
    double op_p50[ZKV_BENCH_NOPS], op_p99[ZKV_BENCH_NOPS];
    for (int op = 0; op < ZKV_BENCH_NOPS; op++)
        zkv_bench_hist_init(&by_op[op]);
    for (long i = 0; i < b->threads; i++) {
        if (ws[i].end_ns > end)
            end = ws[i].end_ns;
        zkv_bench_hist_merge(&all, &ws[i].hist);
        for (int op = 0; op < ZKV_BENCH_NOPS; op++) {
            ops[op] += ws[i].ops[op];
            zkv_bench_hist_merge(&by_op[op], &ws[i].op_hist[op]);
        }
    }
    for (int op = 0; op < ZKV_BENCH_NOPS; op++) {
        op_p50[op] = zkv_bench_hist_percentile(&by_op[op], 50) / 1e6;
        op_p99[op] = zkv_bench_hist_percentile(&by_op[op], 99) / 1e6;
    }
    long requests = (long)all.count;
    double secs = (double)(end - b->t_measure) / 1e9;
    double rps = secs > 0 ? (double)requests / secs : 0;
    long errors = atomic_load(&b->errors), misses = atomic_load(&b->misses);
    double avg = zkv_bench_hist_mean(&all) / 1e6, min = all.count ? (double)all.min / 1e6 : 0,
           p50 = zkv_bench_hist_percentile(&all, 50) / 1e6,
           p90 = zkv_bench_hist_percentile(&all, 90) / 1e6,
           p99 = zkv_bench_hist_percentile(&all, 99) / 1e6,
           p999 = zkv_bench_hist_percentile(&all, 99.9) / 1e6, max = (double)all.max / 1e6;
    const char *dist = b->zipfian ? "zipfian" : "uniform";

    if (b->format == OUT_TEXT && !b->quiet) {
        printf("====== %s ======\n", name);
        printf("  %ld requests completed in %.2f seconds", requests, secs);
        if (b->warmup)
            printf(" (after %ld s of warm-up)", b->warmup);
        printf("\n  %ld parallel clients on %ld threads (%s)\n", b->clients, b->threads,
               b->blocking ? "blocking API" : "event loops, asynchronous API");
        printf("  %ld bytes payload\n", b->data_size);
        printf("  pipeline depth %ld, key space %ld (%s%s)\n", b->pipeline, b->keyspace, dist,
               b->prefix_hash ? ", hash-prefixed keys" : "");
        if (b->rate)
            printf("  target rate %ld requests per second (open loop)\n", b->rate);
        if (t >= ZKV_BENCH_YCSB_A)
            printf("  %ld reads, %ld updates, %ld read-modify-writes\n", ops[0], ops[1], ops[2]);
        if (ops[ZKV_BENCH_OP_READ] || ops[ZKV_BENCH_OP_RMW])
            printf("  %ld misses (key not found)\n", misses);
        printf("\nLatency (msec): avg=%.3f min=%.3f p50=%.3f p90=%.3f p99=%.3f p99.9=%.3f "
               "max=%.3f\n",
               avg, min, p50, p90, p99, p999, max);
        if (t >= ZKV_BENCH_YCSB_A)
            for (int op = 0; op < ZKV_BENCH_NOPS; op++)
                if (ops[op])
                    printf("  %s: p50=%.3f p99=%.3f\n", zkv_bench_op_name((zkv_bench_op)op),
                           op_p50[op], op_p99[op]);
    }
    if (errors) {
        fflush(stdout);
        fprintf(stderr, "errors: %ld (first: %s)\n", errors, b->first_error);
    }
    switch (b->format) {
    case OUT_TEXT:
        printf("%s: %.1f requests per second, p50=%.2f msec, p99=%.2f msec\n", name, rps, p50, p99);
        if (!b->quiet)
            printf("\n");
        break;
    case OUT_CSV:
        printf("%s,%ld,%.3f,%.1f,%ld,%ld,%ld,%ld,%ld,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%ld,%ld,"
               "%ld,%ld,%ld,%s,%ld,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f\n",
               name, requests, secs, rps, errors, misses, ops[0], ops[1], ops[2], avg, min, p50,
               p90, p99, p999, max, b->clients, b->threads, b->pipeline, b->data_size, b->keyspace,
               dist, b->rate, op_p50[0], op_p99[0], op_p50[1], op_p99[1], op_p50[2], op_p99[2]);
        break;
    case OUT_JSON:
        printf("{\"test\":\"%s\",\"requests\":%ld,\"seconds\":%.3f,\"ops_per_sec\":%.1f,"
               "\"errors\":%ld,\"misses\":%ld,\"ops\":{\"read\":%ld,\"update\":%ld,\"rmw\":%ld},"
               "\"latency_ms\":{\"avg\":%.3f,\"min\":%.3f,\"p50\":%.3f,\"p90\":%.3f,"
               "\"p99\":%.3f,\"p99.9\":%.3f,\"max\":%.3f},\"clients\":%ld,\"threads\":%ld,"
               "\"pipeline\":%ld,\"data_size\":%ld,\"keyspace\":%ld,\"distribution\":\"%s\","
               "\"target_rate\":%ld,\"by_op_ms\":{\"read\":{\"p50\":%.3f,\"p99\":%.3f},"
               "\"update\":{\"p50\":%.3f,\"p99\":%.3f},\"rmw\":{\"p50\":%.3f,\"p99\":%.3f}}}\n",
               name, requests, secs, rps, errors, misses, ops[0], ops[1], ops[2], avg, min, p50,
               p90, p99, p999, max, b->clients, b->threads, b->pipeline, b->data_size, b->keyspace,
               dist, b->rate, op_p50[0], op_p99[0], op_p50[1], op_p99[1], op_p50[2], op_p99[2]);
        break;
    }
    fflush(stdout);
    return errors;
}

static const char synopsis[] =
    "[-c CLIENTS] [--threads T] [--blocking] [-n REQUESTS | --duration SEC] [--warmup SEC] [-d "
    "SIZE] "
    "[-P DEPTH] [-r KEYSPACE] [--distribution uniform|zipfian] [-t get,put] [--workload "
    "a,b,c,f] [--rate OPS] [-q | --csv | --json] [--ack-owner] [--read "
    "owner|replica|nearest|hedge] "
    "[--hedge-ms MS] [--max-lag-ms MS] [--zone Z] [--no-key-prefix-hash]";
static const char description[] =
    "Load generator for a zkv cluster, with redis-benchmark's flags and YCSB's core\n"
    "workloads. The -c clients (each its own connections) are spread over --threads\n"
    "threads, each running an event loop (or, with --blocking, driving its clients in\n"
    "turn with the blocking API); together they send -n requests per test (or run --duration "
    "seconds), -P at\n"
    "a time when pipelining, after --warmup seconds that are not measured. Keys number\n"
    "[0, KEYSPACE), drawn uniformly or zipfian (theta 0.99), written \"key:%012lu\" behind\n"
    "2 hash bytes that spread them over every range. Tests run in the order LOAD (each\n"
    "key once, in order, ignoring -n), PUT, GET,\n"
    "YCSB-A (50% read, 50% update), -B (95/5), -C (100% read), -F (50% read, 50%\n"
    "read-modify-write). Each test ends with one line: throughput, p50 and p99 latency\n"
    "(or a CSV row / JSON object). Exit status 1 when any request failed.";

int main(int argc, char **argv)
{
    static bench b;
    static const char default_tests[] = "put,get";
    const char *tests = NULL, *workloads = NULL, *distribution = "uniform", *read = "owner";
    b.hedge_ms = 10;
    b.zone = "";
    b.clients = 50;
    b.requests = 100000;
    b.data_size = 100;
    b.pipeline = 1;
    b.keyspace = 100000;
    b.timeout = 5000;
    bool ack_owner = false, csv = false, json = false, prefix_hash = false, no_prefix_hash = false;
    const zkv_flag flags[] = {
        {"clients", 'c', ZKV_FLAG_INT, &b.clients, "CLIENTS",
         "parallel clients, each with its own connections", 1, 10000},
        {"threads", 0, ZKV_FLAG_INT, &b.threads, "T",
         "worker threads the clients are spread over (0: one, or one per client with "
         "--blocking)",
         0, 10000},
        {"blocking", 0, ZKV_FLAG_BOOL, &b.blocking, NULL,
         "drive each client with the blocking API on its own thread (default: event loops "
         "and the asynchronous API)",
         0, 0},
        {"requests", 'n', ZKV_FLAG_INT, &b.requests, "REQUESTS", "requests per test", 1,
         1000000000000L},
        {"duration", 0, ZKV_FLAG_INT, &b.duration, "SEC",
         "run each test for SEC seconds instead of -n requests", 1, 86400},
        {"warmup", 0, ZKV_FLAG_INT, &b.warmup, "SEC",
         "run each test SEC seconds before measuring (not counted)", 0, 3600},
        {"data-size", 'd', ZKV_FLAG_INT, &b.data_size, "SIZE", "value size in bytes", 0, 1 << 20},
        {"pipeline", 'P', ZKV_FLAG_INT, &b.pipeline, "DEPTH",
         "requests per pipelined batch (1: no pipelining)", 1, 100000},
        {"keyspace", 'r', ZKV_FLAG_INT, &b.keyspace, "KEYSPACE", "number of distinct keys", 1,
         1000000000000L},
        {"distribution", 0, ZKV_FLAG_STRING, &distribution, "DIST",
         "key distribution: uniform or zipfian (theta 0.99)", 0, 0},
        {"tests", 't', ZKV_FLAG_STRING, &tests, "LIST",
         "tests to run: get, put, load (put every key of the key space once, in order)", 0, 0},
        {"workload", 0, ZKV_FLAG_STRING, &workloads, "LIST",
         "YCSB core workloads to run: a, b, c, f (after -t tests, if given)", 0, 0},
        {"rate", 0, ZKV_FLAG_INT, &b.rate, "OPS",
         "target requests per second over all clients (open loop; 0: as fast as possible)", 0,
         1000000000L},
        {"quiet", 'q', ZKV_FLAG_BOOL, &b.quiet, NULL, "print only the result line of each test", 0,
         0},
        {"csv", 0, ZKV_FLAG_BOOL, &csv, NULL, "print a CSV header and one row per test", 0, 0},
        {"json", 0, ZKV_FLAG_BOOL, &json, NULL, "print one JSON object per test (one a line)", 0,
         0},
        {"key-prefix-hash", 0, ZKV_FLAG_BOOL, &prefix_hash, NULL,
         "prefix keys with 2 hash bytes to spread them over ranges (the default)", 0, 0},
        {"no-key-prefix-hash", 0, ZKV_FLAG_BOOL, &no_prefix_hash, NULL,
         "plain \"key:%012lu\" keys (they all fall in one range)", 0, 0},
        {"timeout", 0, ZKV_FLAG_INT, &b.timeout, "MS", "time budget of each request", 1, 3600000},
        ZKV_FLAGS_TLS(&b.tls),
        {"ack-owner", 0, ZKV_FLAG_BOOL, &ack_owner, NULL,
         "PUTs are acknowledged by the owner alone (not waiting for in-sync replicas)", 0, 0},
        {"read", 0, ZKV_FLAG_STRING, &read, "POLICY",
         "who answers GETs (docs/api.md, \"Replica reads\"): owner, replica, nearest (by "
         "--zone) or hedge (the owner, and a replica after --hedge-ms)",
         0, 0},
        {"hedge-ms", 0, ZKV_FLAG_INT, &b.hedge_ms, "MS", "the hedge delay of --read hedge", 0,
         60000},
        {"max-lag-ms", 0, ZKV_FLAG_INT, &b.max_lag_ms, "MS",
         "replicas more than MS behind their owner refuse reads (0: no bound)", 0, 86400000},
        {"zone", 0, ZKV_FLAG_STRING, &b.zone, "Z", "the clients' zone (--read nearest)", 0, 0},
    };
    const size_t nflags = sizeof flags / sizeof flags[0];
    zkv_common_opts common;
    int first = 0;
    switch (zkv_flags_parse("zkv-bench", synopsis, description, flags, nflags, &common, argc, argv,
                            &first)) {
    case ZKV_FLAGS_OK:
        break;
    case ZKV_FLAGS_EXIT:
        return 0;
    case ZKV_FLAGS_ERROR:
        return 2;
    }
    unsigned mask = 0;
    char err[256];
    const char *bad = NULL;
    if (first < argc) {
        snprintf(err, sizeof err, "unexpected argument '%s'", argv[first]);
        bad = err;
    } else if (((tests || !workloads) &&
                zkv_bench_parse_tests(tests ? tests : default_tests, &mask, err, sizeof err) < 0) ||
               (workloads && zkv_bench_parse_workloads(workloads, &mask, err, sizeof err) < 0) ||
               zkv_bench_parse_read(read, &b.read_flags, err, sizeof err) < 0) {
        bad = err;
    } else if (strcasecmp(distribution, "uniform") != 0 &&
               strcasecmp(distribution, "zipfian") != 0) {
        snprintf(err, sizeof err, "--distribution: unknown '%s' (known: uniform, zipfian)",
                 distribution);
        bad = err;
    } else if (csv + json + b.quiet > 1) {
        bad = "-q, --csv and --json exclude each other";
    } else if (prefix_hash && no_prefix_hash) {
        bad = "--key-prefix-hash and --no-key-prefix-hash exclude each other";
    }
    if (bad) {
        fprintf(stderr, "zkv-bench: %s\n", bad);
        workloads = NULL; /* usage shows the defaults */
        distribution = "uniform";
        zkv_flags_usage(stderr, "zkv-bench", synopsis, flags, nflags);
        return 2;
    }
    b.zipfian = strcasecmp(distribution, "zipfian") == 0;
    b.prefix_hash = !no_prefix_hash;
    b.format = csv ? OUT_CSV : json ? OUT_JSON : OUT_TEXT;
    if (!b.threads)
        b.threads = b.blocking ? b.clients : 1;
    if (b.threads > b.clients)
        b.threads = b.clients;
    if (b.zipfian)
        zkv_bench_zipf_init(&b.zipf, (uint64_t)b.keyspace, ZKV_BENCH_ZIPF_THETA);
    b.write_flags = ack_owner ? ZKV_FLAG_ACK_OWNER : ZKV_FLAG_NONE;
    b.zk = common.zk;
    b.cluster = common.cluster;
    b.value = malloc((size_t)b.data_size + 1);
    worker *ws = calloc((size_t)b.threads, sizeof(*ws));
    if (!b.value || !ws) {
        fprintf(stderr, "zkv-bench: out of memory\n");
        free(b.value);
        free(ws);
        return 1;
    }
    memset(b.value, 'x', (size_t)b.data_size);
    pthread_mutex_init(&b.lock, NULL);
    pthread_barrier_init(&b.ready, NULL, (unsigned)b.threads + 1);
    pthread_barrier_init(&b.start, NULL, (unsigned)b.threads + 1);
    uint64_t seed = zkv_bench_now_ns() ^ ((uint64_t)getpid() << 32);
    /* SIGUSR1 goes to this thread only: the workers (and the threads their clients make)
     * start with it blocked, so no system call of theirs sees EINTR */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL);

    long started = 0, assigned = 0;
    for (; started < b.threads; started++) {
        worker *w = &ws[started];
        w->b = &b;
        w->index = (unsigned)started;
        /* Clients spread evenly: the first (clients % threads) threads get one more. */
        w->nclients = b.clients / b.threads + (started < b.clients % b.threads);
        w->first = assigned;
        assigned += w->nclients;
        w->rng = (seed + (uint64_t)started * UINT64_C(0x9e3779b97f4a7c15)) | 1;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            break;
    }
    pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
    int status = 0;
    if (started < b.threads) {
        /* The barriers count every thread: a thread that did not start would hang them. */
        fprintf(stderr, "zkv-bench: cannot start %ld threads (started %ld)\n", b.threads, started);
        _exit(1);
    }

    /* Workers connect in parallel, then meet here. */
    pthread_barrier_wait(&b.ready);
    long failed = 0;
    const char *first_failure = NULL;
    for (long i = 0; i < b.threads; i++) {
        if (ws[i].connect_error[0]) {
            if (!failed++)
                first_failure = ws[i].connect_error;
        }
    }
    if (failed) {
        fprintf(stderr, "zkv-bench: connect: %s (%ld of %ld threads failed)\n", first_failure,
                failed, b.threads);
        status = 1;
    } else {
        bool progress = b.format == OUT_TEXT && !b.quiet && isatty(STDERR_FILENO);
        if (b.format == OUT_CSV)
            print_csv_header();
        for (int t = 0; t < ZKV_BENCH_NTESTS; t++) {
            if ((mask & (1u << t)) && run_test(&b, ws, (zkv_bench_test)t, progress) > 0)
                status = 1;
        }
    }
    b.stop = true;
    pthread_barrier_wait(&b.start);
    for (long i = 0; i < b.threads; i++)
        pthread_join(ws[i].thread, NULL);
    pthread_barrier_destroy(&b.ready);
    pthread_barrier_destroy(&b.start);
    pthread_mutex_destroy(&b.lock);
    free(ws);
    free(b.value);
    return status;
}
