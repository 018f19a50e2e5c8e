/* test_autoshape.c: the coordinator splits and merges ranges by itself (coordinator/
 * autoshape.h) from the nodes' range reports, under a writer (keys of its own and
 * overwrites over every range, 8 s per call) and a reader of acknowledged writes (owner
 * reads only) that count every client error. Coordinators run with --split-size-mb 2
 * --merge-size-mb 1 --min-ranges 6 --autoshape-interval-ms 500; nodes report every 300 ms
 * with a 1 MiB memtable (sizes are on-disk estimates):
 * - the 8 empty ranges of a new cluster are merged, one operation at a time, down to 6;
 * - 6 MiB written into one range: it is split (at least once) so that its keys end up in
 *   more than one range, while the small ranges stay at or above the floor.
 * Expected: 0 client errors, every acknowledged write (big values included) reads back. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "it_admin.h"
#include "it_common.h"
#include "it_load.h"
#include "it_repl.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_SERVERS 3
#define WAIT_MS 60000
#define BIG_KEYS 60
#define BIG_VALUE ((size_t)100 * 1024)

static zkt_cluster g_cl;
static zkv_client *g_client;
static it_load g_l;

static int init(void)
{
    if (zkt_cluster_init(&g_cl, "autoshape") != 0)
        return -1;
    /* merges start once the cluster is up (else it might never show its 8 ranges whole) */
    if (zkt_cluster_coord_flag(&g_cl, "--split-size-mb", "2") != 0 ||
        zkt_cluster_coord_flag(&g_cl, "--min-ranges", "6") != 0 ||
        zkt_cluster_coord_flag(&g_cl, "--autoshape-interval-ms", "500") != 0 ||
        zkt_cluster_server_flag(&g_cl, "--stats-interval-ms", "300") != 0 ||
        zkt_cluster_server_flag(&g_cl, "--write-buffer-mb", "1") != 0 ||
        it_cluster_up(&g_cl, N_SERVERS, 8000, 4000, &g_client) != 0 ||
        it_load_start(&g_l, &g_cl, -1, 2, 100, WAIT_MS) != 0 ||
        zkt_cluster_coord_flag(&g_cl, "--merge-size-mb", "1") != 0)
        return -1;
    return zkt_coord_stop(&g_cl, 0, SIGTERM) != 0 || zkt_coord_start(&g_cl, 0) != 0 ? -1 : 0;
}

static int cleanup(void)
{
    it_load_free(&g_l);
    return it_cluster_down(&g_cl, &g_client);
}

static void no_errors(const char *when)
{
    CU_ASSERT(it_load_clean(&g_l, when));
}

/* No operation in progress (ops/ as zkv_admin_status shows it). */
static bool no_ops(void)
{
    char *json = NULL;
    if (zkv_admin_status(g_client, &json) != ZKV_OK)
        return false;
    bool none = strstr(json, "\"operations\":[]") != NULL;
    zkv_free(json);
    return none;
}

typedef struct count_arg {
    int want;
    int seen;
} count_arg;

/* The map has exactly want ranges, each owned by a live node, and nothing is in progress. */
static bool ranges_are(void *p)
{
    count_arg *a = p;
    zkt_map *m = zkt_cluster_map(&g_cl);
    if (!m)
        return false;
    a->seen = m->n_ranges;
    bool ok = zkt_map_all_owned(m, a->want) && no_ops();
    zkt_map_free(m);
    return ok;
}

static void test_merged_to_the_floor(void)
{
    count_arg a = {.want = 6};
    uint64_t t0 = zkt_now_ms();
    CU_ASSERT(zkt_wait_for(ranges_are, &a, WAIT_MS));
    zkt_log("merged down to %d ranges in %llu ms", a.seen, (unsigned long long)(zkt_now_ms() - t0));
    g_cl.ranges = a.seen;
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
    /* and no further: the floor holds for a while (two looks of the coordinator) */
    uint64_t until = zkt_now_ms() + 1500;
    while (zkt_now_ms() < until) {
        zkt_map *m = zkt_cluster_map(&g_cl);
        CU_ASSERT_FATAL(m != NULL);
        if (!m)
            return;
        CU_ASSERT(m->n_ranges >= 6);
        zkt_map_free(m);
        zkt_pause_ms(100);
    }
    no_errors("merged to the floor");
}

static size_t big_key(const uint8_t *prefix, size_t plen, int i, uint8_t *out)
{
    memcpy(out, prefix, plen);
    return plen + (size_t)snprintf((char *)out + plen, 32, "-big-%03d", i);
}

/* Value i: bytes that do not compress (sizes are LevelDB's, after compression). */
static void big_value(int i, uint8_t *out)
{
    uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
    for (size_t k = 0; k < BIG_VALUE; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out[k] = (uint8_t)x;
    }
}

typedef struct spread_arg {
    const uint8_t *prefix;
    size_t plen;
    int ranges; /* ranges the big keys fall in */
} spread_arg;

static bool big_keys_spread(void *p)
{
    spread_arg *a = p;
    zkt_map *m = zkt_cluster_map(&g_cl);
    if (!m)
        return false;
    const zkt_map_range *prev = NULL;
    a->ranges = 0;
    uint8_t key[ZKT_KEY_MAX + 32];
    for (int i = 0; i < BIG_KEYS; i++) {
        const zkt_map_range *r = zkt_map_find(m, key, big_key(a->prefix, a->plen, i, key));
        if (r != prev)
            a->ranges++;
        prev = r;
    }
    bool ok = a->ranges > 1 && zkt_map_all_owned(m, m->n_ranges) && no_ops();
    if (ok)
        g_cl.ranges = m->n_ranges;
    zkt_map_free(m);
    return ok;
}

static void test_large_range_split(void)
{
    uint8_t *val = malloc(BIG_VALUE);
    CU_ASSERT_FATAL(val != NULL);
    if (!val)
        return;
    /* the writer's first prefix: a range it writes to as well */
    const uint8_t *prefix = g_l.w.prefix[0];
    size_t plen = g_l.w.prefix_len[0];
    uint8_t key[ZKT_KEY_MAX + 32];
    for (int i = 0; i < BIG_KEYS; i++) {
        big_value(i, val);
        int rc =
            zkv_put(g_client, key, big_key(prefix, plen, i, key), val, BIG_VALUE, 8000, 0, NULL);
        CU_ASSERT(rc == ZKV_OK);
    }
    spread_arg a = {prefix, plen, 0};
    uint64_t t0 = zkt_now_ms();
    CU_ASSERT(zkt_wait_for(big_keys_spread, &a, WAIT_MS));
    zkt_log("%d MiB written: its keys are in %d ranges after %llu ms",
            (int)((size_t)BIG_KEYS * BIG_VALUE >> 20), a.ranges,
            (unsigned long long)(zkt_now_ms() - t0));
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    if (!m)
        return;
    CU_ASSERT(m->n_ranges >= 6);
    zkt_map_free(m);
    /* every big value reads back whole */
    int bad = 0;
    for (int i = 0; i < BIG_KEYS; i++) {
        zkv_value *v = NULL;
        big_value(i, val);
        if (zkv_get(g_client, key, big_key(prefix, plen, i, key), 8000, ZKV_FLAG_OWNER_ONLY, &v) !=
                ZKV_OK ||
            zkv_value_len(v) != BIG_VALUE || memcmp(zkv_value_data(v), val, BIG_VALUE) != 0)
            bad++;
        zkv_value_free(v);
    }
    CU_ASSERT(bad == 0);
    free(val);
    no_errors("a large range split");
}

static void test_read_back(void)
{
    it_load_stop(&g_l);
    no_errors("end");
    it_load_read_back(&g_l, g_client, &g_cl);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("autoshape", init, cleanup);
    CU_add_test(s, "empty ranges merged down to --min-ranges", test_merged_to_the_floor);
    CU_add_test(s, "a range past --split-size-mb is split", test_large_range_split);
    CU_add_test(s, "every acknowledged write reads back", test_read_back);
    return zkt_run_all();
}
