/* test_fallback.c: read-only fallback while a range has no serving owner and no failover
 * can happen (docs/replication.md, Reads from replicas; DESIGN.md Guarantees). A 3-node
 * cluster. While the owner serves, ZKV_FLAG_READ_REPLICA reads a replica (stale-flagged).
 * Then the coordinator is stopped (SIGTERM) first, and the owner of one range is killed
 * (kill -9):
 * - through libzkv, reads of that range return the last acknowledged values, flagged
 *   stale, from a replica of the range, with a position (epoch, seq) at the range's epoch
 *   and at or past the last acknowledged seq, both while the dead owner is still
 *   registered and after its session expired; with ZKV_FLAG_OWNER_ONLY they fail;
 * - writes fail fast with ZKV_EUNAVAILABLE (failfast 1000 ms: well under 3 s, with a 10 s
 *   call timeout), naming the range and its owner;
 * - the command line: `zkv get k` prints the value, "(stale: replica node-X at E:S)" on
 *   stderr and exits 0; `zkv put k v` exits 2 with UNAVAILABLE on stderr;
 * - the coordinator started again promotes a new owner (higher epoch) and writes succeed;
 *   reads are no longer stale. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "it_repl.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_SERVERS 3
#define N_KEYS 40
#define WAIT_MS 30000

static zkt_cluster g_cl;
static zkv_client *g_client; /* 10 s call timeout, failfast 1000 ms */

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "fallback") != 0)
        return -1;
    return it_cluster_up(&g_cl, N_SERVERS, 10000, 1000, &g_client);
}

static int suite_cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

static uint8_t g_prefix[ZKT_KEY_MAX];
static size_t g_plen;
static zkv_version g_ver[N_KEYS];
static zkt_map_range g_range; /* the range under test, before the fault (json not kept) */

static size_t fb_key(int i, char *out)
{
    memcpy(out, g_prefix, g_plen);
    return g_plen + (size_t)snprintf(out + g_plen, 32, "fb-%02d", i);
}

static size_t fb_value(int i, int gen, char *out)
{
    return (size_t)snprintf(out, 64, "value-%02d-gen%d", i, gen);
}

static bool replica_of_range(const char *id)
{
    for (int i = 0; i < g_range.n_replicas; i++)
        if (strcmp(g_range.replicas[i], id) == 0)
            return true;
    return false;
}

/* Stale reads of every key: the last acknowledged value and version, from a replica. */
static int check_stale_reads(const char *phase)
{
    uint64_t max_seq = 0;
    for (int i = 0; i < N_KEYS; i++)
        if (g_ver[i].seq > max_seq)
            max_seq = g_ver[i].seq;
    int bad = 0;
    for (int i = 0; i < N_KEYS; i++) {
        char key[64], val[64];
        size_t kl = fb_key(i, key), vl = fb_value(i, 2, val);
        zkv_value *v = NULL;
        int rc = zkv_get(g_client, key, kl, 0, 0, &v);
        bool ok = rc == ZKV_OK && zkv_value_len(v) == vl && memcmp(zkv_value_data(v), val, vl) == 0;
        if (ok) {
            zkv_version ver = zkv_value_version(v), pos = zkv_value_position(v);
            const char *node = zkv_value_node(v);
            ok = zkv_value_stale(v) == 1 && ver.epoch == g_ver[i].epoch &&
                 ver.seq == g_ver[i].seq && pos.epoch == g_range.epoch && pos.seq >= max_seq &&
                 node && replica_of_range(node);
            if (!ok && bad < 5)
                zkt_log("%s: %s: stale %d, version %llu:%llu (acked %llu:%llu), position "
                        "%llu:%llu (range epoch %llu, last acked seq %llu), node %s",
                        phase, key, zkv_value_stale(v), (unsigned long long)ver.epoch,
                        (unsigned long long)ver.seq, (unsigned long long)g_ver[i].epoch,
                        (unsigned long long)g_ver[i].seq, (unsigned long long)pos.epoch,
                        (unsigned long long)pos.seq, (unsigned long long)g_range.epoch,
                        (unsigned long long)max_seq, node ? node : "(none)");
        } else if (bad < 5) {
            zkt_log("%s: get %s: %s (%s)", phase, key, zkv_strerror(rc), zkv_last_error());
        }
        bad += !ok;
        zkv_value_free(v);
    }
    zkt_log("%s: %d stale reads, %d wrong", phase, N_KEYS, bad);
    return bad;
}

/* Owner-only reads fail; writes fail fast with ZKV_EUNAVAILABLE naming range and owner. */
static void check_no_owner(const char *phase)
{
    char key[64];
    size_t kl = fb_key(0, key);
    zkv_value *v = NULL;
    uint64_t t0 = zkt_now_ms();
    int rc = zkv_get(g_client, key, kl, 0, ZKV_FLAG_OWNER_ONLY, &v);
    zkt_log("%s: owner-only get: %s in %d ms: %s", phase, zkv_strerror(rc),
            (int)(zkt_now_ms() - t0), zkv_last_error());
    CU_ASSERT(rc != ZKV_OK);
    zkv_value_free(v);
    for (int i = 0; i < 3; i++) {
        t0 = zkt_now_ms();
        rc = zkv_put(g_client, key, kl, "no-owner", 8, 0, 0, NULL);
        int el = (int)(zkt_now_ms() - t0);
        const char *why = zkv_last_error();
        zkt_log("%s: put: %s in %d ms: %s", phase, zkv_strerror(rc), el, why);
        CU_ASSERT(rc == ZKV_EUNAVAILABLE);
        CU_ASSERT(el < 3000); /* failfast 1000 ms, call timeout 10 s */
        CU_ASSERT(why && strstr(why, g_range.id) != NULL);
        CU_ASSERT(why && strstr(why, g_range.owner) != NULL);
    }
}

static int cli(zkt_run_result *r, const char *a1, const char *a2, const char *a3)
{
    const char *bin = zkt_bin("ZKV_CLI_BIN");
    if (!bin)
        return -1;
    const char *argv[] = {bin, "--zk", g_cl.zk.connect, "--cluster", g_cl.name, a1, a2, a3, NULL};
    memset(r, 0, sizeof *r);
    if (zkt_run(argv, NULL, 0, 30000, r) != 0)
        return -1;
    zkt_log("zkv %s %s %s -> exit %d in %d ms; stdout: %.200s; stderr: %.300s", a1, a2,
            a3 ? a3 : "", r->code, r->elapsed_ms, r->out, r->err);
    return 0;
}

static void check_command_line(void)
{
    if (!getenv("ZKV_CLI_BIN")) {
        zkt_log("SKIPPED the command line: ZKV_CLI_BIN not set");
        return;
    }
    char key[64], val[64], want[80];
    size_t kl = fb_key(3, key), vl = fb_value(3, 2, val);
    key[kl] = '\0';
    val[vl] = '\0';
    zkt_run_result r;
    CU_ASSERT_FATAL(cli(&r, "get", key, NULL) == 0);
    CU_ASSERT(r.code == 0);
    snprintf(want, sizeof want, "%s\n", val);
    CU_ASSERT(r.out && strcmp(r.out, want) == 0);
    const char *st = r.err ? strstr(r.err, "(stale: replica ") : NULL;
    CU_ASSERT(st != NULL);
    if (st) {
        char node[64] = "";
        unsigned long long e = 0, s = 0;
        int n = sscanf(st, "(stale: replica %63s at %llu:%llu)", node, &e, &s);
        CU_ASSERT(n == 3);
        CU_ASSERT(replica_of_range(node));
        CU_ASSERT(e == g_range.epoch);
        CU_ASSERT(s >= g_ver[3].seq);
    }
    zkt_run_result_free(&r);

    CU_ASSERT_FATAL(cli(&r, "put", key, "from-cli") == 0);
    CU_ASSERT(r.code == 2);
    CU_ASSERT(r.err && strstr(r.err, "UNAVAILABLE") != NULL);
    CU_ASSERT(r.elapsed_ms < 10000); /* fails fast, not at the 5 s call timeout plus retries */
    zkt_run_result_free(&r);
}

static void test_read_only_fallback(void)
{
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    int ri = -1;
    for (int i = 0; i < m->n_ranges && ri < 0; i++)
        if ((g_plen = it_range_prefix(m, &m->ranges[i], g_prefix, true)) > 0)
            ri = i;
    if (ri < 0) {
        CU_FAIL("no range with printable keys");
        zkt_map_free(m);
        return;
    }
    g_range = m->ranges[ri];
    g_range.json = NULL;
    zkt_map_free(m);
    const int owner = zkt_cluster_server_index(&g_cl, g_range.owner);
    CU_ASSERT_FATAL(owner >= 0);
    zkt_log("range %s (keys '%c...'), owner %s, epoch %llu", g_range.id, g_prefix[0], g_range.owner,
            (unsigned long long)g_range.epoch);

    for (int gen = 1; gen <= 2; gen++)
        for (int i = 0; i < N_KEYS; i++) {
            char key[64], val[64];
            size_t kl = fb_key(i, key), vl = fb_value(i, gen, val);
            int rc = zkv_put(g_client, key, kl, val, vl, 0, 0, &g_ver[i]);
            CU_ASSERT_FATAL(rc == ZKV_OK);
        }
    CU_ASSERT_FATAL(g_ver[0].epoch == g_range.epoch);

    /* With the owner up: owner reads are not stale; ZKV_FLAG_READ_REPLICA reads a replica
     * on purpose, flagged stale, once it has the value (replicas apply before the ack). */
    for (int i = 0; i < N_KEYS; i += 7) {
        char key[64], val[64];
        size_t kl = fb_key(i, key), vl = fb_value(i, 2, val);
        zkv_value *v = NULL;
        CU_ASSERT(zkv_get(g_client, key, kl, 0, 0, &v) == ZKV_OK);
        CU_ASSERT(v && !zkv_value_stale(v) && strcmp(zkv_value_node(v), g_range.owner) == 0);
        zkv_value_free(v);
        v = NULL;
        int rc = zkv_get(g_client, key, kl, 0, ZKV_FLAG_READ_REPLICA, &v);
        CU_ASSERT(rc == ZKV_OK);
        if (rc == ZKV_OK) {
            CU_ASSERT(zkv_value_len(v) == vl && memcmp(zkv_value_data(v), val, vl) == 0);
            CU_ASSERT(zkv_value_stale(v) == 1);
            CU_ASSERT(replica_of_range(zkv_value_node(v)));
            CU_ASSERT(zkv_value_position(v).epoch == g_range.epoch &&
                      zkv_value_position(v).seq >= g_ver[i].seq);
        }
        zkv_value_free(v);
    }

    /* No failover can happen: the coordinator goes first. */
    CU_ASSERT(zkt_coord_stop(&g_cl, 0, SIGTERM) == 0);
    CU_ASSERT(zkt_server_stop(&g_cl, owner, SIGKILL) == -SIGKILL);

    /* Owner unreachable, still registered (its session outlives it for 2 s). */
    CU_ASSERT(check_stale_reads("owner down, still registered") == 0);
    check_no_owner("owner down, still registered");

    /* Owner's session expired: the range has a dead owner. */
    it_node_arg na = {&g_cl, g_range.owner};
    CU_ASSERT(zkt_wait_for(it_node_gone, &na, 20000));
    CU_ASSERT(check_stale_reads("owner not live") == 0);
    check_no_owner("owner not live");
    check_command_line();
    zkt_map *m2 = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m2 != NULL);
    const zkt_map_range *r2 = zkt_map_range_by_id(m2, g_range.id);
    CU_ASSERT(r2 && strcmp(r2->owner, g_range.owner) == 0 && r2->epoch == g_range.epoch);
    zkt_map_free(m2);

    /* The coordinator returns: a new owner is promoted and writes succeed again. */
    CU_ASSERT_FATAL(zkt_coord_start(&g_cl, 0) == 0);
    it_owner_arg oa;
    CU_ASSERT_FATAL(it_wait_new_owner(&oa, &g_cl, g_range.id, g_range.owner, g_range.epoch, 20000));
    zkt_log("%s: new owner %s, epoch %llu", g_range.id, oa.now.owner,
            (unsigned long long)oa.now.epoch);
    CU_ASSERT(replica_of_range(oa.now.owner));
    char key[64], val[64];
    size_t kl = fb_key(0, key);
    int rc = ZKV_EUNAVAILABLE;
    uint64_t until = zkt_now_ms() + 20000;
    zkv_version ver = {0, 0};
    while (rc != ZKV_OK && zkt_now_ms() < until) {
        size_t vl = fb_value(0, 3, val);
        rc = zkv_put(g_client, key, kl, val, vl, 0, 0, &ver);
        if (rc != ZKV_OK)
            zkt_pause_ms(100);
    }
    CU_ASSERT_FATAL(rc == ZKV_OK);
    CU_ASSERT(ver.epoch == oa.now.epoch);
    zkv_value *v = NULL;
    CU_ASSERT(zkv_get(g_client, key, kl, 0, 0, &v) == ZKV_OK);
    if (v) {
        CU_ASSERT(zkv_value_stale(v) == 0);
        CU_ASSERT_STRING_EQUAL(zkv_value_node(v), oa.now.owner);
        CU_ASSERT(zkv_value_len(v) == fb_value(0, 3, val) &&
                  memcmp(zkv_value_data(v), val, zkv_value_len(v)) == 0);
    }
    zkv_value_free(v);
    /* Everything acknowledged before is there, from the owner. */
    int bad = 0;
    for (int i = 1; i < N_KEYS; i++) {
        size_t vl = fb_value(i, 2, val);
        kl = fb_key(i, key);
        v = NULL;
        rc = zkv_get(g_client, key, kl, 0, ZKV_FLAG_OWNER_ONLY, &v);
        bad += !(rc == ZKV_OK && !zkv_value_stale(v) && zkv_value_len(v) == vl &&
                 memcmp(zkv_value_data(v), val, vl) == 0);
        zkv_value_free(v);
    }
    CU_ASSERT(bad == 0);

    /* The old owner returns as a replica. */
    CU_ASSERT_FATAL(zkt_server_start(&g_cl, owner) == 0);
    CU_ASSERT(it_wait_in_sync(&g_cl, g_cl.servers[owner].id, true, WAIT_MS));
    CU_ASSERT(it_check_sane(&g_cl) == 0);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("read-only fallback", suite_init, suite_cleanup);
    CU_add_test(s,
                "owner down, no failover: stale reads, fast UNAVAILABLE writes, CLI; "
                "coordinator back: new owner",
                test_read_only_fallback);
    return zkt_run_all();
}
