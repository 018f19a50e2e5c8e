/* test_map_change.c: (d) a libzkv client keeps working while the range map changes.
 * 1. A 3rd server joins a 2-node cluster (replication factor 3: a replica slot of every
 *    range is free) while a client thread puts and reads keys of every range; the
 *    coordinator gives it replica slots (map bump): no call fails, no acknowledged write
 *    goes missing, and the client's map version follows.
 * 2. With the coordinator stopped, the test moves one range's owner from node A to live
 *    node B itself, exactly as a coordinator does (one conditional zoo_multi: range znode
 *    with epoch+1, owner B, B out of and A into replicas; map version+1), while a client
 *    thread works on keys of that range: no call fails (NOT_OWNER is retried inside the
 *    library), the client's map version grows, a key written after the change carries the
 *    new epoch, is answered by B, and is in B's LevelDB once they are stopped (in A's, now
 *    a replica, only as B's copy). */
#include <CUnit/CUnit.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

static zkt_cluster g_cl;
static zkv_client *g_client;

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "mapchange") != 0)
        return -1;
    /* Two nodes, replication factor 3: every range has one free replica slot, which the
     * coordinator gives the node that joins in test 1 (since issue 3 it moves no in_sync
     * replica, so a node joining a full cluster would get nothing). */
    return it_cluster_up(&g_cl, 2, 15000, 0, &g_client);
}

static int suite_cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

/* --- the client thread ---------------------------------------------------------------------- */

typedef struct worker {
    pthread_t thread;
    int tag;                     /* keeps keys of different rounds apart */
    uint8_t prefix[ZKT_KEY_MAX]; /* keys of one range: prefix + "-w<tag>-<i>" */
    size_t prefix_len;           /* 0: keys of every range */
    atomic_bool stop;
    atomic_int ops;           /* put+get pairs completed */
    atomic_int failures;      /* calls that returned an error */
    atomic_int lost;          /* a get right after an acknowledged put found nothing */
    atomic_int wrong;         /* a get returned another value */
    atomic_llong max_version; /* highest map version the client reported */
    char first_error[512];
} worker;

static size_t worker_key(const worker *w, int i, uint8_t *out)
{
    size_t n = 0;
    if (w->prefix_len) {
        memcpy(out, w->prefix, w->prefix_len);
        n = w->prefix_len;
    } else {
        out[n++] = (uint8_t)((i * 151) & 0xff);
    }
    n += (size_t)snprintf((char *)out + n, 64, "-w%d-%d", w->tag, i);
    return n;
}

static void note_error(worker *w, const char *what, int rc)
{
    if (!w->first_error[0])
        snprintf(w->first_error, sizeof w->first_error, "%s: %s: %s", what, zkv_strerror(rc),
                 zkv_last_error());
}

/* A pipelined batch of 5 puts, then one of the 5 gets: each operation must succeed
 * (NOT_OWNER answers are re-routed inside the batch). */
static void worker_batch(worker *w, int i)
{
    zkv_batch *b = zkv_batch_create();
    if (!b)
        return;
    uint8_t key[ZKT_KEY_MAX + 64];
    char val[64];
    for (int round = 0; round < 2; round++) {
        zkv_batch_clear(b);
        for (int j = 0; j < 5; j++) {
            size_t kl = worker_key(w, 1000000 + i * 5 + j, key);
            int vl = snprintf(val, sizeof val, "batch-%d-%d", i, j);
            if (round == 0)
                zkv_batch_put(b, key, kl, val, (size_t)vl);
            else
                zkv_batch_get(b, key, kl);
        }
        int rc = zkv_batch_run(g_client, b, 0, 0);
        if (rc != ZKV_OK) {
            atomic_fetch_add(&w->failures, 1);
            note_error(w, "batch", rc);
            continue;
        }
        for (size_t j = 0; j < zkv_batch_count(b); j++) {
            int st = zkv_batch_status(b, j);
            if (st == ZKV_ENOTFOUND && round == 1) {
                atomic_fetch_add(&w->lost, 1);
                note_error(w, "batch get after batch put", st);
            } else if (st != ZKV_OK) {
                atomic_fetch_add(&w->failures, 1);
                note_error(w, round == 0 ? "batch put" : "batch get", st);
            }
        }
    }
    zkv_batch_free(b);
}

/* A short scan of the worker's keys (of its range, or from its first byte on). */
static void worker_scan(worker *w)
{
    zkv_scan *sc = NULL;
    int rc = zkv_scan_range(g_client, w->prefix, w->prefix_len, "", 0, 10, 0, 0, &sc);
    if (rc != ZKV_OK) {
        atomic_fetch_add(&w->failures, 1);
        note_error(w, "scan", rc);
    }
    zkv_scan_free(sc);
}

static void *worker_main(void *p)
{
    worker *w = p;
    uint8_t key[ZKT_KEY_MAX + 64];
    char val[64];
    for (int i = 0; !atomic_load(&w->stop); i++) {
        size_t kl = worker_key(w, i, key);
        int vl = snprintf(val, sizeof val, "value-%d-%d", w->tag, i);
        int rc = zkv_put(g_client, key, kl, val, (size_t)vl, 0, 0, NULL);
        if (rc != ZKV_OK) {
            atomic_fetch_add(&w->failures, 1);
            note_error(w, "put", rc);
            continue;
        }
        zkv_value *v = NULL;
        rc = zkv_get(g_client, key, kl, 0, 0, &v);
        if (rc == ZKV_ENOTFOUND) {
            atomic_fetch_add(&w->lost, 1);
            note_error(w, "get after put", rc);
        } else if (rc != ZKV_OK) {
            atomic_fetch_add(&w->failures, 1);
            note_error(w, "get", rc);
        } else if (zkv_value_len(v) != (size_t)vl || memcmp(zkv_value_data(v), val, (size_t)vl)) {
            atomic_fetch_add(&w->wrong, 1);
        }
        zkv_value_free(v);
        if (i % 20 == 19)
            worker_batch(w, i);
        if (i % 50 == 49)
            worker_scan(w);
        long long mv = zkv_client_map_version(g_client);
        if (mv > atomic_load(&w->max_version))
            atomic_store(&w->max_version, mv);
        atomic_fetch_add(&w->ops, 1);
    }
    return NULL;
}

static void worker_start(worker *w, int tag, const uint8_t *prefix, size_t plen)
{
    memset(w, 0, sizeof *w);
    w->tag = tag;
    if (plen)
        memcpy(w->prefix, prefix, plen);
    w->prefix_len = plen;
    atomic_store(&w->max_version, zkv_client_map_version(g_client));
    CU_ASSERT_FATAL(pthread_create(&w->thread, NULL, worker_main, w) == 0);
}

static void worker_stop(worker *w)
{
    atomic_store(&w->stop, true);
    pthread_join(w->thread, NULL);
    zkt_log("worker %d: %d put+get pairs, %d failed calls, %d lost writes, %d wrong values, "
            "map version seen %lld%s%s",
            w->tag, atomic_load(&w->ops), atomic_load(&w->failures), atomic_load(&w->lost),
            atomic_load(&w->wrong), (long long)atomic_load(&w->max_version),
            w->first_error[0] ? "; first error: " : "", w->first_error);
}

typedef struct ops_arg {
    worker *w;
    int target;
} ops_arg;

static bool ops_reached(void *p)
{
    ops_arg *a = p;
    return atomic_load(&a->w->ops) >= a->target || atomic_load(&a->w->failures) > 50;
}

/* Waits until the worker completed n more pairs. */
static bool worker_progress(worker *w, int n, int timeout_ms)
{
    ops_arg a = {w, atomic_load(&w->ops) + n};
    return zkt_wait_for(ops_reached, &a, timeout_ms) && atomic_load(&w->ops) >= a.target;
}

typedef struct version_arg {
    int64_t version;
} version_arg;

static bool client_sees(void *p)
{
    return zkv_client_map_version(g_client) >= ((version_arg *)p)->version;
}

/* --- 1. a node joins ----------------------------------------------------------------------- */

static void test_node_joins_while_client_works(void)
{
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    int64_t v0 = m->version;
    zkt_map_free(m);

    static worker w;
    worker_start(&w, 1, NULL, 0);
    CU_ASSERT(worker_progress(&w, 200, 30000));
    int idx = zkt_cluster_add_server(&g_cl);
    CU_ASSERT_FATAL(idx >= 0);
    int64_t version;
    bool placed = zkt_cluster_wait_placed(&g_cl, g_cl.servers[idx].id, v0, 30000, &version, NULL);
    CU_ASSERT(placed);
    version_arg va = {version};
    CU_ASSERT(zkt_wait_for(client_sees, &va, 15000));
    /* Keep working a while on the new map before looking at the counters. */
    CU_ASSERT(worker_progress(&w, 300, 30000));
    worker_stop(&w);
    CU_ASSERT(atomic_load(&w.failures) == 0);
    CU_ASSERT(atomic_load(&w.lost) == 0);
    CU_ASSERT(atomic_load(&w.wrong) == 0);
    CU_ASSERT(atomic_load(&w.max_version) >= version);
    CU_ASSERT(zkt_cluster_wait_ready(&g_cl, 30000));
}

/* --- 2. a range changes owner -------------------------------------------------------------- */

static void test_owner_moves_while_client_works(void)
{
    /* From now on the test is the only writer of the map. */
    CU_ASSERT(zkt_coord_stop(&g_cl, 0, SIGTERM) == 0);
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT_FATAL(zkt_map_all_owned(m, g_cl.ranges));

    /* A middle range (its start has two bytes) owned by one of the first three servers;
     * B: another live server. */
    const zkt_map_range *r = NULL;
    for (int i = 1; i < m->n_ranges && !r; i++)
        if (m->ranges[i].start_len > 0 && zkt_cluster_server_index(&g_cl, m->ranges[i].owner) < 3)
            r = &m->ranges[i];
    CU_ASSERT_FATAL(r != NULL);
    int a = zkt_cluster_server_index(&g_cl, r->owner), b = -1;
    for (int i = 0; i < g_cl.n_servers && b < 0; i++)
        if (i != a && g_cl.servers[i].pid && zkt_map_node_by_id(m, g_cl.servers[i].id))
            b = i;
    CU_ASSERT_FATAL(a >= 0 && b >= 0);
    char range_id[ZKT_ID_MAX];
    snprintf(range_id, sizeof range_id, "%s", r->id);
    uint64_t old_epoch = r->epoch;
    uint8_t prefix[ZKT_KEY_MAX];
    size_t plen = r->start_len;
    memcpy(prefix, r->start, plen);
    uint8_t probe[ZKT_KEY_MAX + 64];
    static worker w;
    w.tag = 2;
    w.prefix_len = plen;
    memcpy(w.prefix, prefix, plen);
    size_t probe_len = worker_key(&w, 0, probe);
    CU_ASSERT_FATAL(zkt_map_find(m, probe, probe_len) == r);
    zkt_log("moving %s (epoch %llu) from %s to %s", range_id, (unsigned long long)old_epoch,
            g_cl.servers[a].id, g_cl.servers[b].id);

    worker_start(&w, 2, prefix, plen);
    CU_ASSERT(worker_progress(&w, 200, 30000));
    int64_t client_before = zkv_client_map_version(g_client);
    int64_t newv = 0;
    /* Owners change in_sync (and bump map) on their own while replicas catch up: like a
     * coordinator, re-read and retry the conditional write when it lost that race. */
    int rc = zkt_map_move_owner(g_cl.zc, g_cl.name, m, range_id, g_cl.servers[b].id, &newv);
    for (int attempt = 0; rc == ZBADVERSION && attempt < 50; attempt++) {
        zkt_map_free(m);
        m = zkt_cluster_map(&g_cl);
        CU_ASSERT_FATAL(m != NULL);
        rc = zkt_map_move_owner(g_cl.zc, g_cl.name, m, range_id, g_cl.servers[b].id, &newv);
    }
    CU_ASSERT_FATAL(rc == ZOK);
    zkt_map_free(m);
    version_arg va = {newv};
    CU_ASSERT(zkt_wait_for(client_sees, &va, 15000));
    CU_ASSERT(worker_progress(&w, 300, 30000));
    worker_stop(&w);
    CU_ASSERT(atomic_load(&w.failures) == 0);
    CU_ASSERT(atomic_load(&w.wrong) == 0);
    CU_ASSERT(atomic_load(&w.max_version) >= newv);
    CU_ASSERT(newv > client_before);
    /* Writes acknowledged by A just before it saw the change are not on B (there is no
     * replication to move them yet): reported, not asserted. */
    if (atomic_load(&w.lost))
        zkt_log("note: %d reads right after the owner change missed a write acknowledged "
                "by the old owner",
                atomic_load(&w.lost));

    /* A key written after the change: the new owner answers, with the new epoch. */
    uint8_t key[ZKT_KEY_MAX + 64];
    memcpy(key, prefix, plen);
    size_t kl = plen + (size_t)snprintf((char *)key + plen, 64, "-after-move");
    zkv_version ver = {0, 0};
    rc = zkv_put(g_client, key, kl, "moved", 5, 0, 0, &ver);
    CU_ASSERT_FATAL(rc == ZKV_OK);
    CU_ASSERT(ver.epoch == old_epoch + 1);
    zkv_value *v = NULL;
    rc = zkv_get(g_client, key, kl, 0, 0, &v);
    CU_ASSERT(rc == ZKV_OK);
    if (v) {
        CU_ASSERT(zkv_value_len(v) == 5 && memcmp(zkv_value_data(v), "moved", 5) == 0);
        CU_ASSERT_STRING_EQUAL(zkv_value_node(v), g_cl.servers[b].id);
        CU_ASSERT(zkv_value_version(v).epoch == old_epoch + 1);
    }
    zkv_value_free(v);

    /* On disk: in B's LevelDB with the new epoch, not in A's. */
    CU_ASSERT(zkt_server_stop(&g_cl, b, SIGTERM) == 0);
    CU_ASSERT(zkt_server_stop(&g_cl, a, SIGTERM) == 0);
    zkt_ldb *db = zkt_ldb_open(g_cl.servers[b].dir);
    CU_ASSERT_FATAL(db != NULL);
    uint8_t *got = NULL;
    size_t gl = 0;
    uint64_t epoch = 0;
    CU_ASSERT(zkt_ldb_get(db, key, kl, &got, &gl, &epoch, NULL) == 1);
    CU_ASSERT(got && gl == 5 && memcmp(got, "moved", 5) == 0);
    CU_ASSERT(epoch == old_epoch + 1);
    free(got);
    zkt_ldb_close(db);
    /* A, now a replica of the range (issue 3), holds either nothing or B's write. */
    db = zkt_ldb_open(g_cl.servers[a].dir);
    CU_ASSERT_FATAL(db != NULL);
    got = NULL;
    epoch = 0;
    int fa = zkt_ldb_get(db, key, kl, &got, &gl, &epoch, NULL);
    CU_ASSERT(fa == 0 ||
              (fa == 1 && gl == 5 && memcmp(got, "moved", 5) == 0 && epoch == old_epoch + 1));
    free(got);
    zkt_ldb_close(db);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("map changes under a working client", suite_init, suite_cleanup);
    CU_add_test(s, "a 3rd server joins: no failed call", test_node_joins_while_client_works);
    CU_add_test(s, "a range moves from A to B: no failed call, key lands on B",
                test_owner_moves_while_client_works);
    return zkt_run_all();
}
