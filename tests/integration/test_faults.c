/* test_faults.c: real faults against a running cluster (DESIGN.md, Tests and Guarantees).
 * 1. Partition from ZooKeeper: node-0 reaches ZooKeeper through a test proxy that is
 *    blackholed. Once ZooKeeper has expired node-0's session (its nodes/ znode is gone),
 *    node-0 must no longer acknowledge writes ("a node that loses its ZooKeeper session
 *    stops serving its ranges before the session can expire"); a libzkv write either fails
 *    or is acknowledged by a successor in a newer epoch. Healed, it registers again and
 *    the cluster serves.
 * 2. SIGSTOP past the session timeout: calls to the frozen node's ranges end in bounded
 *    time (since issue 3 a replica or the promoted successor may answer, with the last
 *    value); after SIGCONT the same process registers again and every key reads back.
 * 3. ZooKeeper restart (same port and dataDir): servers, coordinator and client recover:
 *    every key reads back, writes work (once every node's session is confirmed again:
 *    waited for, bounded), and a later map change (a 4th node joins, node-1
 *    leaves: failover and the spare takes its slots) reaches the client. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "it_wire.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_KEYS 600

static zkt_cluster g_cl;
static zkt_proxy *g_proxy;
static zkv_client *g_client;
static char g_cluster_id[ZKT_ID_MAX];
static int g_gen[N_KEYS];

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "faults") != 0)
        return -1;
    g_proxy = zkt_proxy_start(g_cl.zk.port);
    if (!g_proxy)
        return -1;
    char via[64];
    snprintf(via, sizeof via, "127.0.0.1:%d", zkt_proxy_port(g_proxy));
    if (zkt_cluster_add_server_via(&g_cl, via) < 0) /* node-0: ZooKeeper through the proxy */
        return -1;
    if (it_cluster_up(&g_cl, 3, 10000, 0, &g_client) != 0) /* node-1 and node-2: direct */
        return -1;
    return zkt_cluster_id(&g_cl, g_cluster_id, sizeof g_cluster_id);
}

static int suite_cleanup(void)
{
    it_cluster_down(&g_cl, &g_client);
    zkt_proxy_stop(g_proxy);
    g_proxy = NULL;
    return 0;
}

static int put_all(int gen)
{
    return it_put_keys(g_client, 0, N_KEYS, gen, g_gen);
}

static int read_all(void)
{
    return it_read_keys(g_client, N_KEYS, g_gen);
}

/* Index of a test key whose range server s owns, or -1. */
static int key_owned_by(int s)
{
    zkt_map *m = zkt_cluster_map(&g_cl);
    if (!m)
        return -1;
    uint8_t key[IT_KEY_MAX];
    int found = -1;
    for (int i = 0; i < N_KEYS && found < 0; i++) {
        size_t kl = it_key(i, key);
        const zkt_map_range *r = zkt_map_find(m, key, kl);
        if (r && strcmp(r->owner, g_cl.servers[s].id) == 0)
            found = i;
    }
    zkt_map_free(m);
    return found;
}

typedef struct node_arg {
    int s;
} node_arg;

static bool node_gone(void *p)
{
    zkt_map *m = zkt_cluster_map(&g_cl);
    if (!m)
        return false;
    bool gone = !zkt_map_node_by_id(m, g_cl.servers[((node_arg *)p)->s].id);
    zkt_map_free(m);
    return gone;
}

static bool get_works(void *p)
{
    uint8_t key[IT_KEY_MAX];
    size_t kl = it_key(*(int *)p, key);
    zkv_value *v = NULL;
    int rc = zkv_get(g_client, key, kl, 1000, 0, &v);
    zkv_value_free(v);
    return rc == ZKV_OK;
}

/* Whether a put of key *p (generation 4) is acknowledged: its owner serves again. */
static bool put_works(void *p)
{
    int k = *(int *)p;
    return it_put_keys(g_client, k, k + 1, 4, g_gen) == 0;
}

/* --- 1. partition from ZooKeeper --------------------------------------------------------- */

static void test_partition_from_zookeeper(void)
{
    CU_ASSERT_FATAL(put_all(1) == 0);
    int k = key_owned_by(0);
    CU_ASSERT_FATAL(k >= 0);
    uint8_t key[IT_KEY_MAX];
    size_t kl = it_key(k, key);
    uint64_t epoch0 = 0; /* the range's epoch while node-0 owns it */
    {
        zkt_map *m = zkt_cluster_map(&g_cl);
        CU_ASSERT_FATAL(m != NULL);
        const zkt_map_range *rg = zkt_map_find(m, key, kl);
        CU_ASSERT_FATAL(rg != NULL);
        epoch0 = rg->epoch;
        zkt_map_free(m);
    }

    conn c;
    conn_open_hello(&c, g_cl.servers[0].port, g_cluster_id);
    Zkv__Response *r = simple(&c, ZKV__OP__PUT, 2, key, kl, "before", 6);
    log_resp("PUT to node-0 before the partition", r);
    CU_ASSERT_FATAL(r && r->status == ZKV__STATUS__OK);
    zkv__response__free_unpacked(r, NULL);
    g_gen[k] = -1; /* no longer the generated value */

    uint64_t t0 = zkt_now_ms();
    zkt_proxy_set_blackhole(g_proxy, true);
    node_arg na = {0};
    CU_ASSERT_FATAL(zkt_wait_for(node_gone, &na, 20000));
    zkt_log("ZooKeeper expired node-0's session %d ms into the partition",
            (int)(zkt_now_ms() - t0));

    /* node-0 no longer holds a session: a successor may now be chosen, so it must not
     * acknowledge a write (an error status, or no answer at all, is fine). */
    r = simple(&c, ZKV__OP__PUT, 3, key, kl, "after", 5);
    log_resp("PUT to node-0 after its session expired", r);
    CU_ASSERT(r == NULL || r->status != ZKV__STATUS__OK);
    if (r)
        zkv__response__free_unpacked(r, NULL);
    r = simple(&c, ZKV__OP__GET, 4, key, kl, NULL, 0);
    log_resp("GET from node-0 after its session expired", r);
    if (r)
        zkv__response__free_unpacked(r, NULL);
    conn_close(&c);

    /* Through libzkv, in bounded time: a failure, or (once a successor was promoted,
     * issue 3) a write acknowledged in a newer epoch than node-0's, never by node-0. */
    uint64_t t1 = zkt_now_ms();
    zkv_version ver = {0, 0};
    int rc = zkv_put(g_client, key, kl, "client", 6, 2000, 0, &ver);
    int el = (int)(zkt_now_ms() - t1);
    zkt_log("zkv_put to node-0's range during the partition: %s in %d ms (epoch %llu, node-0's "
            "%llu): %s",
            zkv_strerror(rc), el, (unsigned long long)ver.epoch, (unsigned long long)epoch0,
            rc == ZKV_OK ? "" : zkv_last_error());
    CU_ASSERT(rc != ZKV_OK || ver.epoch > epoch0);
    CU_ASSERT(el <= 2000 + 3000);

    zkt_proxy_set_blackhole(g_proxy, false);
    CU_ASSERT_FATAL(zkt_cluster_wait_registered(&g_cl, 0, 0, 30000, NULL));
    CU_ASSERT_FATAL(zkt_cluster_wait_ready(&g_cl, 30000));
    CU_ASSERT(zkt_wait_for(get_works, &k, 30000));
    CU_ASSERT(zkv_put(g_client, key, kl, "healed", 6, 0, 0, NULL) == ZKV_OK);
    zkv_value *v = NULL;
    CU_ASSERT(zkv_get(g_client, key, kl, 0, 0, &v) == ZKV_OK);
    CU_ASSERT(v && zkv_value_len(v) == 6 && memcmp(zkv_value_data(v), "healed", 6) == 0);
    zkv_value_free(v);
    CU_ASSERT(zkt_proc_alive(g_cl.servers[0].pid));
    /* Back to the generated value for the read-back checks that follow. */
    static uint8_t val[IT_VAL_MAX];
    size_t vl = it_value(k, 1, val);
    CU_ASSERT(zkv_put(g_client, key, kl, val, vl, 0, 0, NULL) == ZKV_OK);
    g_gen[k] = 1;
}

/* --- 2. SIGSTOP / SIGCONT ---------------------------------------------------------------- */

static void test_sigstop_past_session_timeout(void)
{
    const int victim = 2;
    CU_ASSERT_FATAL(put_all(2) == 0);
    int k = key_owned_by(victim);
    CU_ASSERT_FATAL(k >= 0);
    pid_t pid = g_cl.servers[victim].pid;
    CU_ASSERT_FATAL(zkt_proc_signal(pid, SIGSTOP) == 0);
    node_arg na = {victim};
    CU_ASSERT(zkt_wait_for(node_gone, &na, 20000));

    /* Bounded time; since issue 3 the answer may come from a replica (stale) or from the
     * promoted successor: then it is the value last written. */
    uint8_t key[IT_KEY_MAX];
    size_t kl = it_key(k, key);
    zkv_value *v = NULL;
    uint64_t t0 = zkt_now_ms();
    int rc = zkv_get(g_client, key, kl, 1500, 0, &v);
    int el = (int)(zkt_now_ms() - t0);
    zkt_log("get from the stopped node's range: %s in %d ms: %s%s", zkv_strerror(rc), el,
            rc == ZKV_OK ? "" : zkv_last_error(),
            rc == ZKV_OK && zkv_value_stale(v) ? "stale" : "");
    if (rc == ZKV_OK) {
        static uint8_t want[IT_VAL_MAX];
        size_t wl = it_value(k, 2, want);
        CU_ASSERT(zkv_value_len(v) == wl && memcmp(zkv_value_data(v), want, wl) == 0);
        CU_ASSERT(strcmp(zkv_value_node(v), g_cl.servers[victim].id) != 0);
    }
    CU_ASSERT(el <= 1500 + 2500);
    zkv_value_free(v);

    CU_ASSERT_FATAL(zkt_proc_signal(pid, SIGCONT) == 0);
    CU_ASSERT_FATAL(zkt_cluster_wait_registered(&g_cl, victim, 0, 30000, NULL));
    CU_ASSERT_FATAL(zkt_cluster_wait_ready(&g_cl, 30000));
    CU_ASSERT(zkt_wait_for(get_works, &k, 30000));
    CU_ASSERT(zkt_proc_alive(pid));
    CU_ASSERT(read_all() == 0);
}

/* --- 3. ZooKeeper restart ---------------------------------------------------------------- */

/* The client refreshes its map when its watch has fired and it makes a call: call, then
 * look at the version. */
static bool client_sees(void *p)
{
    zkv_value *v = NULL;
    zkv_get(g_client, "probe", 5, 1000, 0, &v);
    zkv_value_free(v);
    return zkv_client_map_version(g_client) >= *(int64_t *)p;
}

static void test_zookeeper_restart(void)
{
    CU_ASSERT_FATAL(put_all(3) == 0);
    int k = key_owned_by(1);
    CU_ASSERT_FATAL(k >= 0);
    CU_ASSERT_FATAL(zkt_zk_stop(&g_cl.zk) == 0);
    CU_ASSERT_FATAL(zkt_zk_restart(&g_cl.zk) == 0);
    CU_ASSERT_FATAL(zkt_cluster_wait_ready(&g_cl, 30000));
    CU_ASSERT(zkt_wait_for(get_works, &k, 30000));
    CU_ASSERT(read_all() == 0);
    /* Each node serves writes again once its session is confirmed on the new ZooKeeper,
     * which may come a moment after the cluster looks ready (a node stays fenced until
     * then): wait, bounded, for a key of every node. */
    for (int i = 0; i < g_cl.n_servers; i++) {
        int ki = key_owned_by(i);
        CU_ASSERT(ki < 0 || zkt_wait_for(put_works, &ki, 30000));
    }
    CU_ASSERT(put_all(4) == 0);
    CU_ASSERT(read_all() == 0);
    for (int i = 0; i < g_cl.n_servers; i++)
        CU_ASSERT(zkt_proc_alive(g_cl.servers[i].pid));
    CU_ASSERT(zkt_proc_alive(g_cl.coords[0].pid));

    /* The coordinator still leads and the client still watches the map. */
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    int64_t v0 = m->version, version = 0;
    zkt_map_free(m);
    int idx = zkt_cluster_add_server(&g_cl);
    CU_ASSERT_FATAL(idx >= 0);
    /* Since issue 3 a coordinator moves no in_sync replica: the new node gets slots once
     * node-1 leaves (its ranges fail over, its slots go to the spare when not in_sync). */
    CU_ASSERT_FATAL(zkt_cluster_wait_registered(&g_cl, idx, 0, 30000, NULL));
    CU_ASSERT(zkt_server_stop(&g_cl, 1, SIGTERM) == 0);
    CU_ASSERT(zkt_cluster_wait_placed(&g_cl, g_cl.servers[idx].id, v0, 30000, &version, NULL));
    CU_ASSERT(zkt_wait_for(client_sees, &version, 15000));
    zkt_log("after the ZooKeeper restart: map version %lld, client sees %lld", (long long)version,
            (long long)zkv_client_map_version(g_client));
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("faults", suite_init, suite_cleanup);
    CU_add_test(s, "partitioned from ZooKeeper: no write acknowledged after session expiry",
                test_partition_from_zookeeper);
    CU_add_test(s, "SIGSTOP past the session timeout, SIGCONT: registers again, serves",
                test_sigstop_past_session_timeout);
    CU_add_test(s, "ZooKeeper restart: servers, coordinator and client recover",
                test_zookeeper_restart);
    return zkt_run_all();
}
