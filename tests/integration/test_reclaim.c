/* test_reclaim.c: a node deletes what it no longer holds (server/reclaim.c,
 * docs/operations.md, "Disk space of ranges a node gave up"). Three servers with
 * `--reclaim-delay-ms 500` and their own --metrics, 4 ranges, 2 copies each, 3,000 keys
 * (NUL and 0xFF bytes in them). `admin drain` of node-2: once it holds nothing, its
 * metrics show every part and range log reclaimed and keys deleted; every key still reads
 * back; stopped, its LevelDB holds no data key, log entry, position or history. Then a
 * restart and `admin undrain`: node-2 gets replica slots again, is rebuilt from
 * snapshots (no position left to catch up from), and once every replica is in sync its
 * copy of each range it holds has exactly the keys written there, with their values. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "it_admin.h"
#include "it_common.h"
#include "it_http.h"
#include "it_repl.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_KEYS 3000
#define N_SERVERS 3
#define WAIT_MS 60000
#define VICTIM 2

static zkt_cluster g_cl;
static zkv_client *g_client;
static int g_gens[N_KEYS];
static int g_metrics[N_SERVERS];

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "reclaim") != 0)
        return -1;
    g_cl.ranges = 4;
    g_cl.replicas = 2;
    if (zkt_cluster_server_flag(&g_cl, "--reclaim-delay-ms", "500") != 0)
        return -1;
    for (int i = 0; i < N_SERVERS; i++) {
        char addr[64];
        g_metrics[i] = zkt_free_port();
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", g_metrics[i]);
        if (g_metrics[i] <= 0 || zkt_cluster_add_server_with(&g_cl, "--metrics", addr) < 0)
            return -1;
    }
    if (it_cluster_up(&g_cl, N_SERVERS, 10000, 0, &g_client) != 0)
        return -1;
    return it_put_keys(g_client, 0, N_KEYS, 1, g_gens) == 0 ? 0 : -1;
}

static int suite_cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

/* Copies node holds in m (owner or replica). */
static int held_by(const zkt_map *m, const char *node)
{
    int n = zkt_map_owned_by(m, node);
    for (int i = 0; i < m->n_ranges; i++)
        n += zkt_range_has_replica(&m->ranges[i], node);
    return n;
}

typedef struct reclaim_seen {
    long long keys, ranges, parts, pending_ranges;
} reclaim_seen;

/* The victim's metrics show nothing left to reclaim, and keys deleted. */
static bool reclaimed(void *p)
{
    reclaim_seen *s = p;
    it_http_answer a = it_http_get(g_metrics[VICTIM], "/metrics");
    if (a.code != 200 || !a.body) {
        free(a.body);
        return false;
    }
    s->keys = it_sample_value(a.body, "zkv_reclaim_deleted_keys_total ");
    s->ranges = it_sample_value(a.body, "zkv_reclaim_forgotten_ranges_total ");
    s->parts = it_sample_value(a.body, "zkv_reclaim_pending_parts ");
    s->pending_ranges = it_sample_value(a.body, "zkv_reclaim_pending_ranges ");
    free(a.body);
    return s->keys > 0 && s->ranges > 0 && s->parts == 0 && s->pending_ranges == 0;
}

static void test_drain_reclaims(void)
{
    const char *node = g_cl.servers[VICTIM].id;
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    int before = m ? held_by(m, node) : 0;
    zkt_map_free(m);
    CU_ASSERT(before > 0); /* 8 copies on 3 nodes */
    char id[64];
    CU_ASSERT_FATAL(it_admin_submit(g_client, "drain", node, NULL, id, sizeof(id)));
    CU_ASSERT_FATAL(it_wait_op(g_client, id, WAIT_MS));
    m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT_EQUAL(m ? held_by(m, node) : -1, 0);
    zkt_map_free(m);

    reclaim_seen s = {0};
    bool ok = zkt_wait_for(reclaimed, &s, 30000);
    zkt_log("%s: %lld keys deleted, %lld range logs, %lld parts and %lld logs pending", node,
            s.keys, s.ranges, s.parts, s.pending_ranges);
    CU_ASSERT(ok);
    CU_ASSERT(s.keys >= N_KEYS * before / 8 / 2); /* roughly its share, at least half of it */
    CU_ASSERT_EQUAL(it_read_keys(g_client, N_KEYS, g_gens), 0);

    CU_ASSERT(zkt_server_stop(&g_cl, VICTIM, SIGTERM) == 0);
    zkt_ldb *db = zkt_ldb_open(g_cl.servers[VICTIM].dir);
    CU_ASSERT_FATAL(db != NULL);
    const char *prefixes[] = {"d", "l", "r", "e", "p"};
    for (size_t i = 0; db && i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t n = zkt_ldb_count_prefix(db, prefixes[i], 1);
        if (n)
            zkt_log("%s still has %zu '%s' keys", node, n, prefixes[i]);
        CU_ASSERT_EQUAL(n, 0);
    }
    zkt_ldb_close(db);
}

/* Some range lists the victim as a replica (it got slots back). */
static bool placed_again(void *p)
{
    (void)p;
    zkt_map *m = zkt_cluster_map(&g_cl);
    int n = m ? held_by(m, g_cl.servers[VICTIM].id) : 0;
    zkt_map_free(m);
    return n > 0;
}

static int bcmp_key(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

static bool in_range(const zkt_map_range *r, const uint8_t *k, size_t kl)
{
    return (!r->start_len || bcmp_key(k, kl, r->start, r->start_len) >= 0) &&
           (!r->end_len || bcmp_key(k, kl, r->end, r->end_len) < 0);
}

typedef struct copy_check {
    const zkt_map_range *r;
    int keys, wrong;
} copy_check;

static int count_key(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                     uint64_t epoch, uint64_t seq)
{
    (void)epoch;
    (void)seq;
    copy_check *c = arg;
    c->keys++;
    /* "v<gen>-<i>:" names the key it was written for */
    int gen = 0, i = -1;
    if (vlen < 64) {
        char head[64];
        memcpy(head, val, vlen);
        head[vlen] = '\0';
        sscanf(head, "v%d-%d:", &gen, &i);
    } else {
        char head[32];
        memcpy(head, val, sizeof(head) - 1);
        head[sizeof(head) - 1] = '\0';
        sscanf(head, "v%d-%d:", &gen, &i);
    }
    uint8_t want[IT_KEY_MAX];
    size_t wl = i >= 0 && i < N_KEYS ? it_key(i, want) : 0;
    if (!wl || wl != klen || memcmp(want, key, klen) != 0 || gen != g_gens[i])
        c->wrong++;
    return 0;
}

static void test_back_and_rebuilt(void)
{
    const char *node = g_cl.servers[VICTIM].id;
    char id[64];
    CU_ASSERT_FATAL(zkt_server_start(&g_cl, VICTIM) == 0);
    CU_ASSERT_FATAL(zkt_cluster_wait_registered(&g_cl, VICTIM, 0, WAIT_MS, NULL));
    CU_ASSERT_FATAL(it_admin_submit(g_client, "undrain", node, NULL, id, sizeof(id)));
    CU_ASSERT_FATAL(it_wait_op(g_client, id, WAIT_MS));
    CU_ASSERT_FATAL(zkt_wait_for(placed_again, NULL, WAIT_MS));
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    if (!m)
        return;
    int expect[ZKT_MAX_RANGES] = {0};
    for (int i = 0; i < N_KEYS; i++) {
        uint8_t k[IT_KEY_MAX];
        size_t kl = it_key(i, k);
        for (int r = 0; r < m->n_ranges; r++)
            expect[r] += in_range(&m->ranges[r], k, kl);
    }
    zkt_ldb *db[N_SERVERS] = {0};
    it_stop_all_open_ldb(&g_cl, db);
    int checked = 0;
    for (int r = 0; r < m->n_ranges; r++) {
        const zkt_map_range *rg = &m->ranges[r];
        if (strcmp(rg->owner, node) != 0 && !zkt_range_has_replica(rg, node))
            continue;
        copy_check c = {.r = rg};
        CU_ASSERT_EQUAL(zkt_ldb_foreach(db[VICTIM], rg->start, rg->start_len, rg->end, rg->end_len,
                                        count_key, &c),
                        0);
        zkt_log("%s: range %s: %d keys (%d expected), %d wrong", node, rg->id, c.keys, expect[r],
                c.wrong);
        CU_ASSERT_EQUAL(c.keys, expect[r]);
        CU_ASSERT_EQUAL(c.wrong, 0);
        checked++;
    }
    CU_ASSERT(checked > 0);
    for (int i = 0; i < N_SERVERS; i++)
        zkt_ldb_close(db[i]);
    zkt_map_free(m);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("reclaim", suite_init, suite_cleanup);
    CU_add_test(s, "drain: the node deletes what it gave up", test_drain_reclaims);
    CU_add_test(s, "undrain: rebuilt from snapshots, every key there", test_back_and_rebuilt);
    return zkt_run_all();
}
