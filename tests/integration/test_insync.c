/* test_insync.c: the in-sync set and --min-in-sync (docs/replication.md: In-sync set,
 * Acknowledgement; DESIGN.md Guarantees).
 * 1. A lagging replica leaves in_sync: servers run with --replica-lag-ms 1000 and a 4 s
 *    session (the frozen replica must stay registered, so this is only about lag, not
 *    failover). Replica R is frozen (SIGSTOP) while a writer works on ranges R replicates
 *    (not on R's own): within replica-lag-ms + 2.5 s R is out of in_sync of every range it
 *    replicates; no write sent after the freeze is acknowledged before ZooKeeper recorded
 *    R's removal (range znode mtime); writes keep being acknowledged; after SIGCONT R is
 *    added back; every acknowledged write reads back.
 * 2. --min-in-sync 2: with one replica of a range stopped, writes to it still succeed;
 *    with both stopped and out of in_sync, writes are refused at once with UNAVAILABLE
 *    naming min-in-sync (libzkv: ZKV_EUNAVAILABLE; raw socket: the status and message);
 *    reads still work; one replica back in in_sync and writes succeed again. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "it_repl.h"
#include "it_wire.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_SERVERS 3
#define WAIT_MS 30000
#define LAG_MS 1000

static zkt_cluster g_cl;
static zkv_client *g_client;

static int start_cluster(const char *name, int session_ms, const char *min_in_sync)
{
    if (zkt_cluster_init(&g_cl, name) != 0)
        return -1;
    g_cl.session_timeout_ms = session_ms;
    if (zkt_cluster_server_flag(&g_cl, "--replica-lag-ms", "1000") != 0)
        return -1;
    if (min_in_sync && zkt_cluster_server_flag(&g_cl, "--min-in-sync", min_in_sync) != 0)
        return -1;
    return it_cluster_up(&g_cl, N_SERVERS, 10000, 1000, &g_client);
}

static int init_lag(void)
{
    return start_cluster("insync-lag", 4000, NULL);
}

static int init_min(void)
{
    return start_cluster("insync-min", 2000, "2");
}

static int cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

/* --- 1. a lagging replica --------------------------------------------------------------- */

static void test_lagging_replica_leaves_and_returns(void)
{
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    const int r = 1;
    const char *rid = g_cl.servers[r].id;
    int ranges[ZKT_MAX_RANGES], n = 0;
    for (int i = 0; i < m->n_ranges; i++)
        if (strcmp(m->ranges[i].owner, rid) != 0 && zkt_range_in_sync(&m->ranges[i], rid))
            ranges[n++] = i;
    CU_ASSERT_FATAL(n > 0);
    zkv_client *c1 = NULL;
    CU_ASSERT_FATAL(it_client(&g_cl, 10000, &c1) == ZKV_OK);
    static it_writer w;
    CU_ASSERT_FATAL(it_writer_start(&w, c1, 5, m, ranges, n, true) == 0);
    CU_ASSERT(it_writer_wait_acks(&w, 200, WAIT_MS));

    zkt_log("SIGSTOP replica %s (in_sync of %d ranges it does not own)", rid, n);
    uint64_t t_stop = it_wall_ms(), t0 = zkt_now_ms();
    CU_ASSERT_FATAL(zkt_proc_signal(g_cl.servers[r].pid, SIGSTOP) == 0);
    bool out = it_wait_in_sync(&g_cl, rid, false, LAG_MS + 2500);
    int took = (int)(zkt_now_ms() - t0);
    zkt_log("%s out of in_sync %d ms after SIGSTOP (--replica-lag-ms %d)", rid, took, LAG_MS);
    CU_ASSERT(out);
    if (!out) /* for the checks below, wait longer */
        out = it_wait_in_sync(&g_cl, rid, false, WAIT_MS);

    /* When ZooKeeper recorded the removal, range by range. */
    uint64_t mtime[ZKT_MAX_RANGES] = {0};
    it_range_mtimes(&g_cl, m, ranges, n, mtime);
    for (int k = 0; k < n; k++)
        CU_ASSERT(mtime[k] != 0);
    /* Writes go on without R (it is still frozen). */
    CU_ASSERT(it_writer_wait_acks(&w, 200, WAIT_MS));
    CU_ASSERT(zkt_proc_alive(g_cl.servers[r].pid));
    CU_ASSERT_FATAL(zkt_proc_signal(g_cl.servers[r].pid, SIGCONT) == 0);
    zkt_log("SIGCONT %s after %d ms", rid, (int)(it_wall_ms() - t_stop));
    CU_ASSERT(it_wait_in_sync(&g_cl, rid, true, WAIT_MS));
    CU_ASSERT(it_writer_wait_acks(&w, 100, WAIT_MS));
    it_writer_stop(&w);

    /* Nothing sent after the freeze was acknowledged before R was out of in_sync. */
    int after = 0;
    CU_ASSERT(it_writer_acked_early(&w, m, ranges, t_stop, mtime, &after) == 0);
    CU_ASSERT(after > 0);
    int checked = 0;
    CU_ASSERT(it_writer_verify(&w, g_client, ZKV_FLAG_OWNER_ONLY, false, &checked) == 0);
    CU_ASSERT(checked > 0);
    CU_ASSERT(it_check_sane(&g_cl) == 0);
    it_writer_free(&w);
    zkv_client_free(c1);
    zkt_map_free(m);
}

/* --- 2. --min-in-sync 2 ----------------------------------------------------------------- */

typedef struct count_arg {
    zkt_cluster *cl;
    const char *range_id;
    int n_in_sync;
} count_arg;

static bool in_sync_count_is(void *p)
{
    count_arg *a = p;
    zkt_map *m = zkt_cluster_map(a->cl);
    if (!m)
        return false;
    const zkt_map_range *r = zkt_map_range_by_id(m, a->range_id);
    bool ok = r && r->n_in_sync == a->n_in_sync && zkt_map_node_by_id(m, r->owner);
    zkt_map_free(m);
    return ok;
}

static int put_retry(const void *key, size_t kl, const char *val, int budget_ms)
{
    uint64_t until = zkt_now_ms() + (uint64_t)budget_ms;
    int rc;
    do {
        rc = zkv_put(g_client, key, kl, val, strlen(val), 0, 0, NULL);
        if (rc != ZKV_OK)
            zkt_pause_ms(100);
    } while (rc != ZKV_OK && zkt_now_ms() < until);
    if (rc != ZKV_OK)
        zkt_log("put %s: %s: %s", val, zkv_strerror(rc), zkv_last_error());
    return rc;
}

static void test_min_in_sync(void)
{
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    const zkt_map_range *x = &m->ranges[1];
    const int o = zkt_cluster_server_index(&g_cl, x->owner);
    CU_ASSERT_FATAL(o >= 0);
    const int r1 = (o + 1) % N_SERVERS, r2 = (o + 2) % N_SERVERS;
    char range_id[ZKT_ID_MAX];
    snprintf(range_id, sizeof range_id, "%.*s", ZKT_ID_MAX - 1, x->id);
    uint8_t key[ZKT_KEY_MAX + 32];
    size_t kl = it_range_prefix(m, x, key, false);
    CU_ASSERT_FATAL(kl > 0);
    memcpy(key + kl, "-min", 4);
    kl += 4;
    char cluster_id[ZKT_ID_MAX];
    snprintf(cluster_id, sizeof cluster_id, "%s", m->cluster_id);
    zkt_map_free(m);
    CU_ASSERT(zkv_put(g_client, key, kl, "three", 5, 0, 0, NULL) == ZKV_OK);

    /* One replica gone: owner + one in_sync replica = 2, writes go on. */
    CU_ASSERT(zkt_server_stop(&g_cl, r1, SIGTERM) == 0);
    count_arg ca = {&g_cl, range_id, 1};
    CU_ASSERT(zkt_wait_for(in_sync_count_is, &ca, WAIT_MS));
    CU_ASSERT(put_retry(key, kl, "two", 10000) == ZKV_OK);

    /* Both gone and out of in_sync: refused at once. */
    CU_ASSERT(zkt_server_stop(&g_cl, r2, SIGTERM) == 0);
    ca.n_in_sync = 0;
    CU_ASSERT_FATAL(zkt_wait_for(in_sync_count_is, &ca, WAIT_MS));
    it_log_map(&g_cl, "both replicas stopped");
    for (int i = 0; i < 3; i++) {
        uint64_t t0 = zkt_now_ms();
        int rc = zkv_put(g_client, key, kl, "one", 3, 0, 0, NULL);
        int el = (int)(zkt_now_ms() - t0);
        const char *why = zkv_last_error();
        zkt_log("put with one copy: %s in %d ms: %s", zkv_strerror(rc), el, why);
        CU_ASSERT(rc == ZKV_EUNAVAILABLE);
        CU_ASSERT(why && strstr(why, "min-in-sync") != NULL);
        CU_ASSERT(el < 3000);
    }
    /* The node's own answer, over a raw socket. */
    conn c;
    conn_open_hello(&c, g_cl.servers[o].port, cluster_id);
    Zkv__Response *r = simple(&c, ZKV__OP__PUT, 2, key, kl, "raw", 3);
    log_resp("PUT with one in-sync copy", r);
    CU_ASSERT(r && r->status == ZKV__STATUS__UNAVAILABLE);
    CU_ASSERT(r && r->message && strstr(r->message, "min-in-sync") && strstr(r->message, range_id));
    if (r)
        zkv__response__free_unpacked(r, NULL);
    conn_close(&c);
    /* Reads are not refused, and the refused writes left nothing. */
    zkv_value *v = NULL;
    CU_ASSERT(zkv_get(g_client, key, kl, 0, ZKV_FLAG_OWNER_ONLY, &v) == ZKV_OK);
    CU_ASSERT(v && zkv_value_len(v) == 3 && memcmp(zkv_value_data(v), "two", 3) == 0);
    zkv_value_free(v);

    /* One replica back in in_sync: writes succeed again. */
    CU_ASSERT_FATAL(zkt_server_start(&g_cl, r1) == 0);
    ca.n_in_sync = 1;
    CU_ASSERT(zkt_wait_for(in_sync_count_is, &ca, WAIT_MS));
    CU_ASSERT(put_retry(key, kl, "again", 10000) == ZKV_OK);
    CU_ASSERT_FATAL(zkt_server_start(&g_cl, r2) == 0);
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
    v = NULL;
    CU_ASSERT(zkv_get(g_client, key, kl, 0, ZKV_FLAG_OWNER_ONLY, &v) == ZKV_OK);
    CU_ASSERT(v && zkv_value_len(v) == 5 && memcmp(zkv_value_data(v), "again", 5) == 0);
    zkv_value_free(v);
    CU_ASSERT(it_check_sane(&g_cl) == 0);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("lagging replica (--replica-lag-ms 1000)", init_lag, cleanup);
    CU_add_test(s,
                "SIGSTOP replica: out of in_sync before any write is acknowledged without "
                "it; SIGCONT: back",
                test_lagging_replica_leaves_and_returns);
    s = CU_add_suite("--min-in-sync 2", init_min, cleanup);
    CU_add_test(s, "both replicas stopped: writes refused with UNAVAILABLE naming min-in-sync",
                test_min_in_sync);
    return zkt_run_all();
}
