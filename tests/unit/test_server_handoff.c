/* test_server_handoff.c: the pure parts of a live ownership move (server/handoff.c): every
 * step of a handoff (drain until the target has every committed entry, then write the
 * range; never serve again before a map says how the write ended), the range the owner
 * writes (owner, epoch, replica slots, in_sync with and without the old owner) and the
 * choice of a target on shutdown. */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include "handoff.h"

static zkv_ho_view ready_view(void)
{
    zkv_ho_view v;
    memset(&v, 0, sizeof(v));
    v.owned = true;
    v.asked = true;
    v.target_in_sync = true;
    v.last_seq = v.committed = v.target_acked = 100;
    v.now_ms = 1000;
    v.started_ms = 900;
    v.timeout_ms = 5000;
    return v;
}

static void test_drain_steps(void)
{
    zkv_ho_view v = ready_view();
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_DRAIN, &v), ZKV_HO_SUBMIT);
    /* a staged write not committed yet */
    v.last_seq = 101;
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_DRAIN, &v), ZKV_HO_WAIT);
    v.committed = 101;
    /* the target has not acknowledged it */
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_DRAIN, &v), ZKV_HO_WAIT);
    v.target_acked = 101;
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_DRAIN, &v), ZKV_HO_SUBMIT);
    /* an in_sync write pending: its outcome changes the range first */
    v.isr_inflight = true;
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_DRAIN, &v), ZKV_HO_WAIT);
    v.isr_inflight = false;
    /* the target fell out of in_sync, the request was withdrawn, or time ran out */
    v.target_in_sync = false;
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_DRAIN, &v), ZKV_HO_ABORT);
    v.target_in_sync = true;
    v.asked = false;
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_DRAIN, &v), ZKV_HO_ABORT);
    v.asked = true;
    v.target_acked = 50;
    v.now_ms = v.started_ms + v.timeout_ms; /* exactly the timeout: still waiting */
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_DRAIN, &v), ZKV_HO_WAIT);
    v.now_ms++;
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_DRAIN, &v), ZKV_HO_ABORT);
    /* the range left this node (a failover, the coordinator) */
    v.owned = false;
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_DRAIN, &v), ZKV_HO_END);
}

static void test_flip_steps(void)
{
    zkv_ho_view v = ready_view();
    /* written, no map yet: wait, whatever the clock says */
    v.now_ms = v.started_ms + 10 * v.timeout_ms;
    v.target_in_sync = false;
    v.asked = false;
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_FLIP, &v), ZKV_HO_WAIT);
    /* a newer range that still names this node owner at the epoch: the write lost */
    v.range_changed = true;
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_FLIP, &v), ZKV_HO_ABORT);
    /* the map shows the new owner */
    v.owned = false;
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_FLIP, &v), ZKV_HO_END);
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_OVER, &v), ZKV_HO_WAIT);
}

static void range3(zkv_range *r)
{
    memset(r, 0, sizeof(*r));
    strcpy(r->id, "r0001");
    strcpy(r->owner, "a");
    strcpy(r->replicas[0], "b");
    strcpy(r->replicas[1], "c");
    r->n_replicas = 2;
    strcpy(r->in_sync[0], "b");
    strcpy(r->in_sync[1], "c");
    r->n_in_sync = 2;
    r->epoch = 4;
    strcpy(r->handoff, "c");
    r->zversion = 9;
}

static void test_flip_range(void)
{
    zkv_range cur, out;
    range3(&cur);
    CU_ASSERT_EQUAL_FATAL(zkv_ho_flip_range(&cur, "a", "c", true, &out), 0);
    CU_ASSERT_STRING_EQUAL(out.owner, "c");
    CU_ASSERT_EQUAL(out.epoch, 5);
    CU_ASSERT_EQUAL(out.zversion, 9);
    CU_ASSERT_STRING_EQUAL(out.handoff, "");
    CU_ASSERT_EQUAL(out.n_replicas, 2);
    CU_ASSERT_STRING_EQUAL(out.replicas[0], "b");
    CU_ASSERT_STRING_EQUAL(out.replicas[1], "a"); /* the old owner in the target's slot */
    CU_ASSERT_EQUAL(out.n_in_sync, 2);
    CU_ASSERT_STRING_EQUAL(out.in_sync[0], "b");
    CU_ASSERT_STRING_EQUAL(out.in_sync[1], "a");
    zkv_range_clear(&out);
    /* leaving: the old owner keeps a replica slot but not in_sync */
    CU_ASSERT_EQUAL_FATAL(zkv_ho_flip_range(&cur, "a", "b", false, &out), 0);
    CU_ASSERT_STRING_EQUAL(out.owner, "b");
    CU_ASSERT_STRING_EQUAL(out.replicas[0], "a");
    CU_ASSERT_EQUAL(out.n_in_sync, 1);
    CU_ASSERT_STRING_EQUAL(out.in_sync[0], "c");
    zkv_range_clear(&out);
    /* a target that is not a replica */
    CU_ASSERT_EQUAL(zkv_ho_flip_range(&cur, "a", "d", true, &out), -1);
}

static void test_pick_target(void)
{
    zkv_rangemap m;
    memset(&m, 0, sizeof(m));
    zkv_range rs[3];
    range3(&rs[0]); /* a owns, b c in sync */
    range3(&rs[1]);
    strcpy(rs[1].owner, "b");
    strcpy(rs[1].id, "r0002");
    range3(&rs[2]);
    strcpy(rs[2].id, "r0003");
    strcpy(rs[2].owner, "b");
    zkv_node_info nodes[3];
    memset(nodes, 0, sizeof(nodes));
    strcpy(nodes[0].id, "a");
    strcpy(nodes[1].id, "b");
    strcpy(nodes[2].id, "c");
    m.ranges = rs;
    m.n_ranges = 3;
    m.nodes = nodes;
    m.n_nodes = 3;
    char t[ZKV_ID_MAX];
    /* b owns two ranges, c none: c */
    CU_ASSERT_TRUE(zkv_ho_pick_target(&m, &rs[0], "a", t));
    CU_ASSERT_STRING_EQUAL(t, "c");
    /* c not live: b */
    m.n_nodes = 2;
    CU_ASSERT_TRUE(zkv_ho_pick_target(&m, &rs[0], "a", t));
    CU_ASSERT_STRING_EQUAL(t, "b");
    /* b out of in_sync too: nobody */
    rs[0].n_in_sync = 1; /* only "b" left... */
    strcpy(rs[0].in_sync[0], "c");
    CU_ASSERT_FALSE(zkv_ho_pick_target(&m, &rs[0], "a", t));
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("server_handoff", NULL, NULL);
    CU_add_test(s, "drain: wait for the target, give up, end", test_drain_steps);
    CU_add_test(s, "flip: never serve again before the map says", test_flip_steps);
    CU_add_test(s, "the range the owner writes", test_flip_range);
    CU_add_test(s, "the target on shutdown", test_pick_target);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
