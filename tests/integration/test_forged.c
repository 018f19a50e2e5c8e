/* test_forged.c: forged replication frames change nothing (docs/replication.md, "Applying";
 * issue 11, item 3). Three servers, 2 ranges, 3 copies each, 300 keys. A raw connection
 * whose HELLO names a node of the cluster then sends, as an attacker would:
 *  - to the owner of r0000, SNAPSHOT BEGIN for it at its epoch and beyond: refused
 *    (BAD_REQUEST: it owns the range; UNAVAILABLE: beyond its map), and every key still
 *    reads back from the owner;
 *  - to a replica, an empty APPEND at an epoch far beyond the map's: refused
 *    (UNAVAILABLE), so the replica does not start refusing its real owner: writes go on
 *    and every replica is back in in_sync;
 *  - to a node, replication of a range its map does not list it on is not possible here
 *    (every node holds every range), covered by tests/unit/test_server_replica.c.
 * A sender that claims to be the owner at the owner's epoch is not refused: who may claim
 * a node's id is the authentication step still to come. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>
#include "it_common.h"
#include "it_repl.h"
#include "it_wire.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_KEYS 300
#define WAIT_MS 30000

static zkt_cluster g_cl;
static zkv_client *g_client;
static int g_gens[N_KEYS];
static char g_cid[64];

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "forged") != 0)
        return -1;
    g_cl.ranges = 2;
    g_cl.replicas = 3;
    if (it_cluster_up(&g_cl, 3, 10000, 0, &g_client) != 0 ||
        zkt_cluster_id(&g_cl, g_cid, sizeof(g_cid)) != 0)
        return -1;
    return it_put_keys(g_client, 0, N_KEYS, 1, g_gens) == 0 && it_wait_all_in_sync(&g_cl, WAIT_MS)
               ? 0
               : -1;
}

static int suite_cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

/* Opens c to server i with a HELLO that names node_id. */
static void open_as(conn *c, int i, const char *node_id)
{
    CU_ASSERT_FATAL(conn_open(c, g_cl.servers[i].port) == 0);
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.id = 1;
    req.op = ZKV__OP__HELLO;
    req.cluster_id = g_cid;
    req.node_id = (char *)node_id;
    req.protocol = 1;
    Zkv__Response *r = call(c, &req);
    CU_ASSERT_FATAL(r && r->status == ZKV__STATUS__OK);
    zkv__response__free_unpacked(r, NULL);
}

/* Sends one replication frame and returns the answer's status (-1: none). */
static int forge(conn *c, Zkv__Op op, const char *range, uint64_t epoch, uint64_t id)
{
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.id = id;
    req.op = op;
    req.range_id = (char *)range;
    req.epoch = epoch;
    if (op == ZKV__OP__SNAPSHOT)
        req.phase = ZKV__SNAPSHOT_PHASE__SNAPSHOT_BEGIN;
    Zkv__Response *r = call(c, &req);
    int st = r ? (int)r->status : -1;
    if (r)
        zkt_log("forged %s of %s at epoch %llu: %s %s",
                op == ZKV__OP__SNAPSHOT ? "SNAPSHOT" : "APPEND", range, (unsigned long long)epoch,
                zkv_status_name(r->status), r->message ? r->message : "");
    if (r)
        zkv__response__free_unpacked(r, NULL);
    return st;
}

static const zkt_map_range *range0(zkt_map *m)
{
    for (int i = 0; m && i < m->n_ranges; i++)
        if (strcmp(m->ranges[i].id, "r0000") == 0)
            return &m->ranges[i];
    return NULL;
}

static void test_owner_not_emptied(void)
{
    zkt_map *m = zkt_cluster_map(&g_cl);
    const zkt_map_range *r = range0(m);
    CU_ASSERT_FATAL(r != NULL);
    if (!r)
        return; /* (the assertion has returned already; for the analysers) */
    int owner = zkt_cluster_server_index(&g_cl, r->owner);
    CU_ASSERT_FATAL(owner >= 0);
    conn c;
    open_as(&c, owner, r->replicas[0]);
    CU_ASSERT_EQUAL(forge(&c, ZKV__OP__SNAPSHOT, "r0000", r->epoch, 2), ZKV__STATUS__BAD_REQUEST);
    CU_ASSERT_EQUAL(forge(&c, ZKV__OP__SNAPSHOT, "r0000", r->epoch + 5, 3),
                    ZKV__STATUS__UNAVAILABLE);
    CU_ASSERT_EQUAL(forge(&c, ZKV__OP__APPEND, "r0000", r->epoch, 4), ZKV__STATUS__BAD_REQUEST);
    conn_close(&c);
    zkt_map_free(m);
    CU_ASSERT_EQUAL(it_read_keys(g_client, N_KEYS, g_gens), 0);
}

static void test_replica_not_fenced(void)
{
    zkt_map *m = zkt_cluster_map(&g_cl);
    const zkt_map_range *r = range0(m);
    CU_ASSERT_FATAL(r != NULL);
    if (!r)
        return; /* (the assertion has returned already; for the analysers) */
    int rep = zkt_cluster_server_index(&g_cl, r->replicas[0]);
    CU_ASSERT_FATAL(rep >= 0);
    conn c;
    open_as(&c, rep, r->replicas[1]); /* not the owner */
    CU_ASSERT_EQUAL(forge(&c, ZKV__OP__APPEND, "r0000", r->epoch + 1000, 2),
                    ZKV__STATUS__UNAVAILABLE);
    CU_ASSERT_EQUAL(forge(&c, ZKV__OP__SNAPSHOT, "r0000", r->epoch + 1000, 3),
                    ZKV__STATUS__UNAVAILABLE);
    CU_ASSERT_EQUAL(forge(&c, ZKV__OP__APPEND, "r0000", r->epoch, 4), ZKV__STATUS__STALE_EPOCH);
    conn_close(&c);
    zkt_map_free(m);
    /* the real owner's replication goes on: new writes are acknowledged by every copy */
    CU_ASSERT_EQUAL(it_put_keys(g_client, 0, N_KEYS, 2, g_gens), 0);
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
    CU_ASSERT_EQUAL(it_read_keys(g_client, N_KEYS, g_gens), 0);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("forged", suite_init, suite_cleanup);
    CU_add_test(s, "the owner's copy is not emptied", test_owner_not_emptied);
    CU_add_test(s, "a replica is not turned against its owner", test_replica_not_fenced);
    return zkt_run_all();
}
