/* test_big_crash.c: large values through a crash (issue 14). A writer puts pipelined
 * batches of 600 KB values over three nodes, each value more than the value log hands its
 * writer thread at once, so records reach LevelDB ahead of their commits
 * (server/early_write.h). While a batch is in flight, the owner of the first range is
 * killed with SIGKILL; the writer goes on, the node is started again and catches up, and
 * the writer runs two more rounds. Then every key must read, from its owner, from a
 * replica and from every node's files (the harness's own reader), whole (its generation
 * and pattern checked byte for byte), the value of its last acknowledged write or of a
 * later one that was attempted. */
#include <CUnit/CUnit.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "it_repl.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_SERVERS 3
#define N_KEYS 8
#define VAL_BYTES 600000
#define ROUNDS_BEFORE 3 /* acknowledged rounds before the kill */
#define ROUNDS_AFTER 2  /* rounds after the node is back in every in_sync set */
#define WAIT_MS 30000

static zkt_cluster g_cl;
static zkv_client *g_client;

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "bigcrash") != 0)
        return -1;
    return it_cluster_up(&g_cl, N_SERVERS, 10000, 2000, &g_client) != 0 ||
                   !it_wait_all_in_sync(&g_cl, WAIT_MS)
               ? -1
               : 0;
}

static int suite_cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

/* Generation gen of key k: gen and k in the first 8 bytes, then a pattern of both. */
static void make_value(int k, int gen, uint8_t *out)
{
    memcpy(out, &gen, 4);
    memcpy(out + 4, &k, 4);
    for (size_t i = 8; i < VAL_BYTES; i++)
        out[i] = (uint8_t)(k * 31 + gen * 17 + i * 7 + (i >> 10));
}

/* The generation v holds for key k, or -1 when it is not one whole. */
static int gen_of(int k, const uint8_t *v, size_t n)
{
    static uint8_t want[VAL_BYTES];
    int gen;
    if (n != VAL_BYTES)
        return -1;
    memcpy(&gen, v, 4);
    make_value(k, gen, want);
    return memcmp(v, want, VAL_BYTES) == 0 ? gen : -1;
}

typedef struct writer {
    pthread_t thread;
    atomic_bool stop;
    atomic_int rounds;   /* rounds run */
    atomic_int ok_after; /* rounds with every write acknowledged once after_from is set */
    atomic_int after_from;
    int acked[N_KEYS], tried[N_KEYS]; /* read once joined */
    int failed;
} writer;

static void *writer_main(void *arg)
{
    writer *w = arg;
    static uint8_t val[VAL_BYTES];
    char key[16];
    for (int gen = 1; !atomic_load(&w->stop); gen++) {
        zkv_batch *b = zkv_batch_create();
        if (!b)
            break;
        for (int k = 0; k < N_KEYS; k++) {
            snprintf(key, sizeof key, "big-%02d", k);
            make_value(k, gen, val);
            if (zkv_batch_put(b, key, strlen(key), val, VAL_BYTES) == ZKV_OK)
                w->tried[k] = gen;
        }
        int rc = zkv_batch_run(g_client, b, 20000, 0);
        int ok = 0;
        for (int k = 0; k < N_KEYS; k++)
            if (rc == ZKV_OK && zkv_batch_status(b, (size_t)k) == ZKV_OK) {
                w->acked[k] = gen;
                ok++;
            }
        w->failed += N_KEYS - ok;
        zkv_batch_free(b);
        if (ok == N_KEYS && atomic_load(&w->after_from))
            atomic_fetch_add(&w->ok_after, 1);
        atomic_fetch_add(&w->rounds, 1);
    }
    return NULL;
}

static bool rounds_reached(void *arg)
{
    writer *w = arg;
    return atomic_load(&w->rounds) >= ROUNDS_BEFORE;
}

static bool rounds_after(void *arg)
{
    writer *w = arg;
    return atomic_load(&w->ok_after) >= ROUNDS_AFTER;
}

static void check_reads(const writer *w, unsigned flags, const char *who)
{
    char key[16];
    for (int k = 0; k < N_KEYS; k++) {
        snprintf(key, sizeof key, "big-%02d", k);
        zkv_value *v = NULL;
        int rc = zkv_get(g_client, key, strlen(key), 10000, flags, &v);
        CU_ASSERT_EQUAL(rc, ZKV_OK);
        int gen = v ? gen_of(k, zkv_value_data(v), zkv_value_len(v)) : -1;
        if (gen < w->acked[k] || gen > w->tried[k])
            zkt_log("%s read of %s: generation %d, acknowledged %d, tried %d", who, key, gen,
                    w->acked[k], w->tried[k]);
        CU_ASSERT(gen >= w->acked[k] && gen <= w->tried[k]);
        zkv_value_free(v);
    }
}

/* it_check_copies's test: key k of a node's files, whole, no older than acknowledged. */
static bool copy_ok(void *arg, zkt_ldb *db, int k)
{
    const writer *w = arg;
    char key[16];
    snprintf(key, sizeof key, "big-%02d", k);
    uint8_t *got = NULL;
    size_t gl = 0;
    int gen =
        zkt_ldb_get(db, key, strlen(key), &got, &gl, NULL, NULL) == 1 ? gen_of(k, got, gl) : -1;
    free(got);
    return gen >= w->acked[k] && gen <= w->tried[k];
}

static void test_kill_during_batches(void)
{
    static writer w;
    atomic_init(&w.stop, false);
    atomic_init(&w.rounds, 0);
    atomic_init(&w.ok_after, 0);
    atomic_init(&w.after_from, 0);
    CU_ASSERT_FATAL(pthread_create(&w.thread, NULL, writer_main, &w) == 0);
    CU_ASSERT(zkt_wait_for(rounds_reached, &w, WAIT_MS));
    /* a batch is in flight now: the owner of the first range dies under it */
    int victim = it_kill_first_owner(&g_cl, WAIT_MS);
    CU_ASSERT(victim >= 0);
    zkt_log("killed %s during round %d", victim >= 0 ? g_cl.servers[victim].id : "?",
            atomic_load(&w.rounds) + 1);
    if (victim >= 0) {
        CU_ASSERT(zkt_server_start(&g_cl, victim) == 0);
        CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
    }
    atomic_store(&w.after_from, 1);
    CU_ASSERT(zkt_wait_for(rounds_after, &w, WAIT_MS));
    atomic_store(&w.stop, true);
    pthread_join(w.thread, NULL);
    zkt_log("writer: %d rounds, %d writes failed", atomic_load(&w.rounds), w.failed);
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
    check_reads(&w, 0, "owner");
    check_reads(&w, ZKV_FLAG_READ_REPLICA, "replica");
    /* and every node's own copy, read from its files by the harness's reader */
    it_check_copies(&g_cl, N_KEYS, copy_ok, &w);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("big_crash", suite_init, suite_cleanup);
    CU_add_test(s,
                "SIGKILL of an owner during batches of 600 KB values loses no acknowledged "
                "write, and every value reads back whole",
                test_kill_during_batches);
    return zkt_run_all();
}
