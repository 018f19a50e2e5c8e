/* test_elastic.c: a cluster that changes shape under load (docs/operations.md), driven
 * through the operators' API (zkv_admin_submit / zkv_admin_status, what `zkv admin` runs)
 * and the coordinators' own balancing, with a writer (overwrites and keys of its own over
 * every range, 8 s per call) and a reader of acknowledged writes (owner reads only) running
 * from the first test to the last and counting every client error:
 * - grow 3 -> 5 nodes: copies and owners even out (max - min <= 1 each), every replica
 *   in_sync;
 * - `admin move` of a range to a node without a copy of it: done, the node owns it;
 * - the leading coordinator killed (kill -9) in the middle of a move: the standby finishes
 *   it;
 * - the target of a move killed in the middle: the move fails with the reason, nothing
 *   else does; the node comes back;
 * - `admin set-replicas` 3 -> 2 -> 3: every range ends with that many copies, in_sync;
 * - `admin drain` of two nodes, each then stopped (SIGTERM): back to 3 nodes;
 * - rolling restart of every server (SIGTERM, start again, wait for in_sync): owners even
 *   out again by themselves.
 * Expected: 0 client errors, 0 wrong reads, every acknowledged write reads back. */
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

#define WAIT_MS 60000

static zkt_cluster g_cl;
static zkv_client *g_client;
static it_load g_l;
static bool g_stopped[ZKT_MAX_SERVERS]; /* servers drained and stopped for good */

static int init(void)
{
    if (zkt_cluster_init(&g_cl, "elastic") != 0)
        return -1;
    g_cl.owner_balance = true;
    /* the writer paced so that its attempts last the whole sequence of tests */
    return zkt_cluster_coord_flag(&g_cl, "--rebalance-delay-ms", "5000") != 0 ||
                   it_cluster_up(&g_cl, 3, 8000, 4000, &g_client) != 0 ||
                   zkt_cluster_add_coordinator(&g_cl, 3) < 0 || /* a standby */
                   !it_wait_all_in_sync(&g_cl, WAIT_MS) ||
                   it_load_start(&g_l, &g_cl, -1, 2, 200, WAIT_MS) != 0
               ? -1
               : 0;
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

/* ---- balance ---- */

typedef struct balance_arg {
    zkt_cluster *cl;
    int replicas; /* copies per range, owner included */
    int nodes;    /* live nodes expected */
} balance_arg;

/* Every range has replicas-1 replicas, all in_sync and live, no handoff pending, and among
 * the live nodes owners and copies differ by at most 1. */
static bool balanced(void *p)
{
    balance_arg *a = p;
    zkt_map *m = zkt_cluster_map(a->cl);
    if (!m)
        return false;
    bool ok = zkt_map_all_owned(m, a->cl->ranges) && m->n_nodes == a->nodes;
    for (int i = 0; ok && i < m->n_ranges; i++) {
        const zkt_map_range *r = &m->ranges[i];
        int want = a->replicas - 1 < m->n_nodes - 1 ? a->replicas - 1 : m->n_nodes - 1;
        ok = r->n_replicas == want && r->n_in_sync == want && !r->handoff[0];
        for (int k = 0; ok && k < r->n_replicas; k++)
            ok = zkt_map_node_by_id(m, r->replicas[k]) != NULL;
    }
    int omin = 1 << 30, omax = 0, cmin = 1 << 30, cmax = 0;
    for (int j = 0; ok && j < m->n_nodes; j++) {
        int o = zkt_map_owned_by(m, m->nodes[j].id), c = o;
        for (int i = 0; i < m->n_ranges; i++)
            c += zkt_range_has_replica(&m->ranges[i], m->nodes[j].id) &&
                 strcmp(m->ranges[i].owner, m->nodes[j].id) != 0;
        omin = o < omin ? o : omin;
        omax = o > omax ? o : omax;
        cmin = c < cmin ? c : cmin;
        cmax = c > cmax ? c : cmax;
    }
    ok = ok && omax - omin <= 1 && cmax - cmin <= 1;
    zkt_map_free(m);
    return ok;
}

/* Servers running now (not stopped for good, not stopped for a moment). */
static int running_servers(void)
{
    int n = 0;
    for (int i = 0; i < g_cl.n_servers; i++)
        n += g_cl.servers[i].pid != 0;
    return n;
}

static bool wait_balanced(int replicas, const char *what)
{
    balance_arg a = {&g_cl, replicas, running_servers()};
    uint64_t t0 = zkt_now_ms();
    bool ok = zkt_wait_for(balanced, &a, WAIT_MS);
    if (ok)
        zkt_log("%s: balanced after %llu ms", what, (unsigned long long)(zkt_now_ms() - t0));
    else
        it_log_map(&g_cl, "NOT balanced");
    return ok;
}

/* ---- operations ---- */

/* Records an operation; its id into id. */
static bool submit(const char *kind, const char *a0, const char *a1, char *id, size_t idlen)
{
    return it_admin_submit(g_client, kind, a0, a1, id, idlen);
}

static bool wait_op(const char *id)
{
    return it_wait_op(g_client, id, WAIT_MS);
}

/* A range and a live node that holds no copy of it; false when none. */
static bool pick_move(char *range, char *node)
{
    zkt_map *m = zkt_cluster_map(&g_cl);
    if (!m)
        return false;
    bool found = false;
    for (int i = 0; i < m->n_ranges && !found; i++)
        for (int j = 0; j < m->n_nodes && !found; j++)
            if (!zkt_range_has_replica(&m->ranges[i], m->nodes[j].id)) {
                snprintf(range, ZKT_ID_MAX, "%s", m->ranges[i].id);
                snprintf(node, ZKT_ID_MAX, "%s", m->nodes[j].id);
                found = true;
            }
    zkt_map_free(m);
    return found;
}

/* ---- tests ---- */

static void test_grow(void)
{
    CU_ASSERT_FATAL(zkt_cluster_add_server(&g_cl) >= 0);
    CU_ASSERT_FATAL(zkt_cluster_add_server(&g_cl) >= 0);
    CU_ASSERT(wait_balanced(3, "grown to 5 nodes"));
    no_errors("grow");
}

static void test_admin_move(void)
{
    char range[ZKT_ID_MAX], node[ZKT_ID_MAX], id[64];
    CU_ASSERT_FATAL(pick_move(range, node));
    CU_ASSERT_FATAL(submit("move", range, node, id, sizeof id));
    CU_ASSERT(wait_op(id)); /* done means: node owned the range (the owner balance may move
                               it again afterwards, docs/operations.md) */
    /* a bad request is refused at once, with the reason */
    const char *args[2] = {"r9999", node};
    char *op = NULL;
    CU_ASSERT(zkv_admin_submit(g_client, "move", args, 2, &op) == ZKV_EINVAL);
    CU_ASSERT(strstr(zkv_last_error(), "r9999") != NULL);
    no_errors("admin move");
}

static void test_coordinator_killed_mid_move(void)
{
    CU_ASSERT(wait_balanced(3, "before the coordinator kill"));
    char range[ZKT_ID_MAX], node[ZKT_ID_MAX], id[64];
    CU_ASSERT_FATAL(pick_move(range, node));
    CU_ASSERT_FATAL(submit("move", range, node, id, sizeof id));
    it_op_arg a = {.client = g_client, .id = id, .want = "catch_up"};
    bool mid = zkt_wait_for(it_op_reached, &a, WAIT_MS);
    int lead = it_leading_coordinator(&g_cl);
    zkt_log("move %s at step %s; killing coordinator %d", id, a.step, lead);
    CU_ASSERT(mid || a.step[0] == '\0');
    CU_ASSERT_FATAL(lead >= 0);
    zkt_coord_stop(&g_cl, lead, SIGKILL);
    CU_ASSERT(wait_op(id));
    CU_ASSERT(zkt_coord_start(&g_cl, lead) == 0); /* back as a standby */
    no_errors("coordinator killed mid-move");
}

static void test_target_killed_mid_move(void)
{
    CU_ASSERT(wait_balanced(3, "before the target kill"));
    char range[ZKT_ID_MAX], node[ZKT_ID_MAX], id[64];
    CU_ASSERT_FATAL(pick_move(range, node));
    int t = zkt_cluster_server_index(&g_cl, node);
    CU_ASSERT_FATAL(t >= 0);
    CU_ASSERT_FATAL(submit("move", range, node, id, sizeof id));
    it_op_arg a = {.client = g_client, .id = id, .want = "catch_up"};
    zkt_wait_for(it_op_reached, &a, WAIT_MS);
    zkt_log("move %s at step %s; killing its target %s", id, a.step, node);
    zkt_server_stop(&g_cl, t, SIGKILL);
    it_op_arg end = {.client = g_client, .id = id};
    CU_ASSERT(zkt_wait_for(it_op_reached, &end, WAIT_MS));
    zkt_log("move %s ended: %s %s", id, end.step[0] ? end.step : "done", end.err);
    /* it either finished before the kill or failed naming the target */
    CU_ASSERT(end.step[0] == '\0' || (strcmp(end.step, "failed") == 0 && strstr(end.err, node)));
    CU_ASSERT(zkt_server_start(&g_cl, t) == 0);
    CU_ASSERT(wait_balanced(3, "target back"));
    no_errors("target killed mid-move");
}

static void test_set_replicas(void)
{
    char id[64];
    CU_ASSERT_FATAL(submit("set-replicas", "2", NULL, id, sizeof id));
    CU_ASSERT(wait_op(id));
    CU_ASSERT(wait_balanced(2, "replicas 2"));
    CU_ASSERT_FATAL(submit("set-replicas", "3", NULL, id, sizeof id));
    CU_ASSERT(wait_op(id));
    CU_ASSERT(wait_balanced(3, "replicas 3"));
    no_errors("set-replicas");
}

static void test_drain_and_stop(void)
{
    for (int k = 0; k < 2; k++) {
        int victim = g_cl.n_servers - 1 - k; /* the two that joined */
        const char *node = g_cl.servers[victim].id;
        char id[64];
        CU_ASSERT_FATAL(submit("drain", node, NULL, id, sizeof id));
        CU_ASSERT(wait_op(id));
        zkt_map *m = zkt_cluster_map(&g_cl);
        CU_ASSERT_FATAL(m != NULL);
        if (!m)
            return;
        int holds = zkt_map_owned_by(m, node);
        for (int i = 0; i < m->n_ranges; i++)
            holds += zkt_range_has_replica(&m->ranges[i], node);
        zkt_map_free(m);
        CU_ASSERT_EQUAL(holds, 0);
        CU_ASSERT(zkt_server_stop(&g_cl, victim, SIGTERM) == 0);
        g_stopped[victim] = true;
        no_errors("drain");
    }
    CU_ASSERT(wait_balanced(3, "back to 3 nodes"));
}

static void test_rolling_restart(void)
{
    for (int i = 0; i < g_cl.n_servers; i++) {
        if (g_stopped[i])
            continue;
        CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
        uint64_t t0 = zkt_now_ms();
        int code = zkt_server_stop(&g_cl, i, SIGTERM);
        zkt_log("rolling restart: %s stopped (exit %d) in %llu ms", g_cl.servers[i].id, code,
                (unsigned long long)(zkt_now_ms() - t0));
        CU_ASSERT(code == 0);
        CU_ASSERT_FATAL(zkt_server_start(&g_cl, i) == 0);
        CU_ASSERT(zkt_cluster_wait_registered(&g_cl, i, 0, WAIT_MS, NULL));
        no_errors("rolling restart");
    }
    CU_ASSERT(wait_balanced(3, "after the rolling restart"));
    no_errors("rolling restart");
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
    CU_pSuite s = CU_add_suite("elastic", init, cleanup);
    CU_add_test(s, "grow 3 -> 5 nodes: copies and owners even out", test_grow);
    CU_add_test(s, "admin move to a node without a copy", test_admin_move);
    CU_add_test(s, "the leading coordinator killed mid-move", test_coordinator_killed_mid_move);
    CU_add_test(s, "the target killed mid-move", test_target_killed_mid_move);
    CU_add_test(s, "set-replicas 3 -> 2 -> 3", test_set_replicas);
    CU_add_test(s, "drain two nodes and stop them", test_drain_and_stop);
    CU_add_test(s, "rolling restart of every server", test_rolling_restart);
    CU_add_test(s, "every acknowledged write reads back", test_read_back);
    return zkt_run_all();
}
