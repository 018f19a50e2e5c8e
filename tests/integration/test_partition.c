/* test_partition.c: a node cut off from its peers and clients while ZooKeeper still sees
 * it (DESIGN.md, Tests: partitions; docs/replication.md). node-0 is advertised through a
 * test proxy (zkt_cluster_add_server_behind) that the test blackholes: every connection
 * to node-0 goes silent, its ZooKeeper session goes on, so no failover happens. Servers
 * run with --replica-lag-ms 1000 and a 4 s session.
 * - Ranges node-0 replicates: their owners drop it from in_sync within the lag (+ 3 s)
 *   and go on acknowledging writes; no write sent after the cut is acknowledged before
 *   ZooKeeper recorded node-0's removal from its range (range znode mtime).
 * - A range node-0 owns keeps its owner (node-0 is registered); a read of it falls back
 *   to a replica within the call's budget and returns the last acknowledged value,
 *   flagged stale; a write fails within the budget (ZKV_ETIMEOUT or ZKV_EUNAVAILABLE)
 *   with a reason.
 * - Healed: node-0 is back in every in_sync set and the ranges it owns have theirs back;
 *   every acknowledged write reads back from the owners; the write that failed during the
 *   partition either never took effect or took effect whole, and a new write succeeds. */
#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "it_repl.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_SERVERS 3
#define WAIT_MS 30000
#define LAG_MS 1000
#define CALL_MS 4000

static zkt_cluster g_cl;
static zkt_proxy *g_proxy;   /* node-0's advertised address */
static zkv_client *g_client; /* CALL_MS per call, failfast 1000 ms */

static int init(void)
{
    if (zkt_cluster_init(&g_cl, "partition") != 0)
        return -1;
    g_cl.session_timeout_ms = 4000;
    if (zkt_cluster_server_flag(&g_cl, "--replica-lag-ms", "1000") != 0 ||
        zkt_cluster_add_server_behind(&g_cl, &g_proxy) != 0)
        return -1;
    return it_cluster_up(&g_cl, N_SERVERS, CALL_MS, 1000, &g_client);
}

static int cleanup(void)
{
    int rc = it_cluster_down(&g_cl, &g_client);
    zkt_proxy_stop(g_proxy);
    g_proxy = NULL;
    return rc;
}

/* Whether key holds one of the two values (read from its owner). */
static bool holds_one_of(const uint8_t *key, size_t kl, const char *a, const char *b)
{
    zkv_value *v = NULL;
    int rc = zkv_get(g_client, key, kl, 0, ZKV_FLAG_OWNER_ONLY, &v);
    bool ok = rc == ZKV_OK &&
              ((zkv_value_len(v) == strlen(a) && memcmp(zkv_value_data(v), a, strlen(a)) == 0) ||
               (zkv_value_len(v) == strlen(b) && memcmp(zkv_value_data(v), b, strlen(b)) == 0));
    if (!ok)
        zkt_log("get: %s %s", zkv_strerror(rc),
                rc == ZKV_OK ? "(another value)" : zkv_last_error());
    zkv_value_free(v);
    return ok;
}

static void test_partitioned_node(void)
{
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    if (!m)
        return; /* (CU_ASSERT_FATAL has returned already; for the analysers) */
    const char *cut = g_cl.servers[0].id;
    int repl[ZKT_MAX_RANGES], n = 0;
    for (int i = 0; i < m->n_ranges; i++)
        if (strcmp(m->ranges[i].owner, cut) != 0 && zkt_range_in_sync(&m->ranges[i], cut))
            repl[n++] = i;
    const int own = it_range_owned_by(m, cut);
    CU_ASSERT_FATAL(n > 0 && own >= 0);
    char own_id[ZKT_ID_MAX];
    snprintf(own_id, sizeof own_id, "%s", m->ranges[own].id);

    /* A key of a range node-0 owns, written before the cut. */
    uint8_t key[ZKT_KEY_MAX + 8];
    size_t kl = it_range_prefix(m, &m->ranges[own], key, false);
    CU_ASSERT_FATAL(kl > 0);
    static const uint8_t suffix[] = {'-', 'c', 'u', 't'};
    memcpy(key + kl, suffix, sizeof suffix);
    kl += sizeof suffix;
    CU_ASSERT_FATAL(zkv_put(g_client, key, kl, "before", 6, 0, 0, NULL) == ZKV_OK);

    zkv_client *c1 = NULL;
    CU_ASSERT_FATAL(it_client(&g_cl, 10000, &c1) == ZKV_OK);
    static it_writer w;
    CU_ASSERT_FATAL(it_writer_start(&w, c1, 9, m, repl, n, true) == 0);
    CU_ASSERT(it_writer_wait_acks(&w, 200, WAIT_MS));

    zkt_log("partition: %s unreachable by peers and clients (in_sync of %d ranges it does "
            "not own, owner of %s); its ZooKeeper session goes on",
            cut, n, own_id);
    uint64_t t_cut = it_wall_ms(), t0 = zkt_now_ms();
    zkt_proxy_set_blackhole(g_proxy, true);
    bool out = it_wait_in_sync(&g_cl, cut, false, LAG_MS + 3000);
    zkt_log("%s out of in_sync %d ms after the cut", cut, (int)(zkt_now_ms() - t0));
    CU_ASSERT(out);
    if (!out)
        it_wait_in_sync(&g_cl, cut, false, WAIT_MS);
    uint64_t mtime[ZKT_MAX_RANGES] = {0};
    it_range_mtimes(&g_cl, m, repl, n, mtime);
    CU_ASSERT(it_writer_wait_acks(&w, 200, WAIT_MS)); /* writes go on without node-0 */

    /* No failover: node-0 is registered and still owns its range. */
    zkt_map *during = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(during != NULL);
    const zkt_map_range *r = zkt_map_range_by_id(during, own_id);
    CU_ASSERT(zkt_map_node_by_id(during, cut) != NULL);
    CU_ASSERT(r && strcmp(r->owner, cut) == 0);
    zkt_map_free(during);

    /* Its range: reads fall back to a replica, writes fail, both within the budget. */
    uint64_t t = zkt_now_ms();
    zkv_value *v = NULL;
    int rc = zkv_get(g_client, key, kl, 0, 0, &v);
    int took = (int)(zkt_now_ms() - t);
    zkt_log("read of %s's range: %s in %d ms%s%s", cut, zkv_strerror(rc), took,
            rc == ZKV_OK ? "" : ": ", rc == ZKV_OK ? "" : zkv_last_error());
    CU_ASSERT(rc == ZKV_OK);
    if (rc == ZKV_OK) {
        CU_ASSERT(zkv_value_stale(v));
        CU_ASSERT(zkv_value_len(v) == 6 && memcmp(zkv_value_data(v), "before", 6) == 0);
    }
    zkv_value_free(v);
    CU_ASSERT(took <= CALL_MS + 1000);
    t = zkt_now_ms();
    rc = zkv_put(g_client, key, kl, "during", 6, 0, 0, NULL);
    took = (int)(zkt_now_ms() - t);
    zkt_log("write to %s's range: %s in %d ms: %s", cut, zkv_strerror(rc), took,
            rc == ZKV_OK ? "" : zkv_last_error());
    CU_ASSERT(rc == ZKV_ETIMEOUT || rc == ZKV_EUNAVAILABLE);
    CU_ASSERT(rc == ZKV_OK || zkv_last_error()[0] != '\0');
    CU_ASSERT(took <= CALL_MS + 1000);

    /* Healed. */
    zkt_proxy_set_blackhole(g_proxy, false);
    zkt_log("partition healed after %d ms", (int)(it_wall_ms() - t_cut));
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
    CU_ASSERT(it_writer_wait_acks(&w, 100, WAIT_MS));
    it_writer_stop(&w);
    int after = 0;
    CU_ASSERT(it_writer_acked_early(&w, m, repl, t_cut, mtime, &after) == 0);
    CU_ASSERT(after > 0);
    int checked = 0;
    CU_ASSERT(it_writer_verify(&w, g_client, ZKV_FLAG_OWNER_ONLY, false, &checked) == 0);
    CU_ASSERT(checked > 0);
    /* The failed write: not applied, or applied whole (its bytes were held, not lost). */
    CU_ASSERT(holds_one_of(key, kl, "before", "during"));
    CU_ASSERT(zkv_put(g_client, key, kl, "after", 5, 0, 0, NULL) == ZKV_OK);
    CU_ASSERT(holds_one_of(key, kl, "after", "after"));
    CU_ASSERT(it_check_sane(&g_cl) == 0);
    it_writer_free(&w);
    zkv_client_free(c1);
    zkt_map_free(m);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("partition (--replica-lag-ms 1000)", init, cleanup);
    CU_add_test(s, "a node cut off from its peers and clients, not from ZooKeeper",
                test_partitioned_node);
    return zkt_run_all();
}
