/* test_server_repl_state.c: the owner's pure replication decisions (server/repl_state.c):
 * the commit point with and without acks, caught-up tracking, shrink only after the lag
 * time, expand when caught up, --min-in-sync and the log truncation floor. */
#include <CUnit/Basic.h>
#include <string.h>

#include "repl_state.h"

static zkv_repl_replica rep(const char *id, bool in_sync, uint64_t acked)
{
    zkv_repl_replica r;
    memset(&r, 0, sizeof(r));
    strcpy(r.node_id, id);
    r.in_sync = in_sync;
    r.acked_seq = acked;
    r.acked_known = true;
    r.connected = true;
    r.streaming = true;
    return r;
}

static void test_commit_point(void)
{
    /* no replicas, or none in sync: the owner's commit alone */
    CU_ASSERT_EQUAL(zkv_repl_commit_point(10, NULL, 0), 10);
    zkv_repl_replica r[2] = {rep("b", false, 3), rep("c", false, 0)};
    CU_ASSERT_EQUAL(zkv_repl_commit_point(10, r, 2), 10);
    /* in-sync replicas hold it back to the lowest ack */
    r[0].in_sync = true;
    CU_ASSERT_EQUAL(zkv_repl_commit_point(10, r, 2), 3);
    r[1].in_sync = true;
    r[1].acked_seq = 2;
    CU_ASSERT_EQUAL(zkv_repl_commit_point(10, r, 2), 2);
    /* never above the owner's committed seq */
    r[0].acked_seq = 20;
    r[1].acked_seq = 20;
    CU_ASSERT_EQUAL(zkv_repl_commit_point(10, r, 2), 10);
    /* unknown position counts as 0 */
    r[1].acked_known = false;
    CU_ASSERT_EQUAL(zkv_repl_commit_point(10, r, 2), 0);
    /* a replica being added counts; one being removed still counts until confirmed */
    zkv_repl_replica a[2] = {rep("b", false, 4), rep("c", true, 9)};
    a[0].adding = true;
    CU_ASSERT_EQUAL(zkv_repl_commit_point(10, a, 2), 4);
    a[0].adding = false;
    a[1].removing = true;
    CU_ASSERT_EQUAL(zkv_repl_commit_point(10, a, 2), 9);
    a[1].in_sync = false; /* confirmed removal */
    a[1].removing = false;
    CU_ASSERT_EQUAL(zkv_repl_commit_point(10, a, 2), 10);
}

static void test_on_ack(void)
{
    zkv_repl_replica r = rep("b", true, 0);
    r.acked_known = false;
    zkv_repl_on_ack(&r, 5, 8, 1000, false); /* behind what was committed at send */
    CU_ASSERT_EQUAL(r.acked_seq, 5);
    CU_ASSERT_EQUAL(r.caught_up_at, 0);
    zkv_repl_on_ack(&r, 8, 8, 1100, false); /* caught up at the send time */
    CU_ASSERT_EQUAL(r.caught_up_at, 1100);
    zkv_repl_on_ack(&r, 7, 6, 1050, false); /* late answer: no step back */
    CU_ASSERT_EQUAL(r.acked_seq, 8);
    CU_ASSERT_EQUAL(r.caught_up_at, 1100);
    zkv_repl_on_ack(&r, 3, 10, 1200, true); /* probe: the true position */
    CU_ASSERT_EQUAL(r.acked_seq, 3);
    CU_ASSERT_EQUAL(zkv_repl_lag_ms(&r, 10, 1500), 400);
    zkv_repl_on_ack(&r, 10, 10, 1300, false);
    CU_ASSERT_EQUAL(zkv_repl_lag_ms(&r, 10, 1500), 0);
}

static void test_shrink_after_lag_only(void)
{
    zkv_repl_replica r = rep("b", true, 5);
    r.caught_up_at = 1000;
    CU_ASSERT_FALSE(zkv_repl_should_shrink(&r, 1000, 2000));
    CU_ASSERT_FALSE(zkv_repl_should_shrink(&r, 3000, 2000)); /* exactly the lag: not yet */
    CU_ASSERT_TRUE(zkv_repl_should_shrink(&r, 3001, 2000));
    r.removing = true; /* already proposed */
    CU_ASSERT_FALSE(zkv_repl_should_shrink(&r, 5000, 2000));
    zkv_repl_replica o = rep("c", false, 0);
    CU_ASSERT_FALSE(zkv_repl_should_shrink(&o, 9000, 2000)); /* not in sync */
    /* a replica whose node is leaving goes at once, and is not taken back meanwhile */
    zkv_repl_replica g = rep("d", true, 10);
    g.caught_up_at = 1000;
    g.leaving = true;
    CU_ASSERT_TRUE(zkv_repl_should_shrink(&g, 1000, 2000));
    g.in_sync = false;
    CU_ASSERT_FALSE(zkv_repl_should_expand(&g, 10, 10, 1000, 2000));
    g.leaving = false;
    CU_ASSERT_TRUE(zkv_repl_should_expand(&g, 10, 10, 1000, 2000));
}

static void test_expand_when_caught_up(void)
{
    zkv_repl_replica r = rep("b", false, 9);
    r.caught_up_at = 4900;
    CU_ASSERT_FALSE(zkv_repl_should_expand(&r, 10, 10, 5000, 2000));
    r.acked_seq = 10;
    CU_ASSERT_TRUE(zkv_repl_should_expand(&r, 10, 10, 5000, 2000));
    /* an idle range (0 == 0) and a silent replica: no ack for long, no expand */
    zkv_repl_replica idle = rep("c", false, 0);
    idle.caught_up_at = 1000;
    CU_ASSERT_FALSE(zkv_repl_should_expand(&idle, 0, 0, 5000, 2000));
    idle.caught_up_at = 4200;
    CU_ASSERT_TRUE(zkv_repl_should_expand(&idle, 0, 0, 5000, 2000));
    /* under load: caught up recently and holding every released answer */
    r.acked_seq = 9;
    r.caught_up_at = 4500;
    CU_ASSERT_TRUE(zkv_repl_should_expand(&r, 12, 9, 5000, 2000));
    CU_ASSERT_FALSE(zkv_repl_should_expand(&r, 12, 10, 5000, 2000)); /* misses a released one */
    CU_ASSERT_FALSE(zkv_repl_should_expand(&r, 12, 9, 6001, 2000));  /* too long ago */
    r.acked_seq = 12;
    r.streaming = false; /* snapshot or probe in progress */
    CU_ASSERT_FALSE(zkv_repl_should_expand(&r, 12, 12, 5000, 2000));
    r.streaming = true;
    r.adding = true;
    CU_ASSERT_FALSE(zkv_repl_should_expand(&r, 12, 12, 5000, 2000));
    r.adding = false;
    r.in_sync = true;
    CU_ASSERT_FALSE(zkv_repl_should_expand(&r, 12, 12, 5000, 2000));
}

static void test_min_in_sync(void)
{
    char msg[256];
    zkv_repl_replica r[2] = {rep("b", false, 0), rep("c", false, 0)};
    CU_ASSERT_EQUAL(zkv_repl_in_sync_copies(r, 2), 1);
    CU_ASSERT_TRUE(zkv_repl_min_in_sync_ok("r0003", 1, 1, msg, sizeof(msg)));
    CU_ASSERT_FALSE(zkv_repl_min_in_sync_ok("r0003", 1, 2, msg, sizeof(msg)));
    CU_ASSERT_STRING_EQUAL(msg, "range r0003 has 1 in-sync copy (owner only); --min-in-sync is 2");
    r[0].in_sync = true;
    r[1].adding = true; /* not confirmed: does not count */
    CU_ASSERT_EQUAL(zkv_repl_in_sync_copies(r, 2), 2);
    CU_ASSERT_FALSE(zkv_repl_min_in_sync_ok("r0001", 2, 3, msg, sizeof(msg)));
    CU_ASSERT_STRING_EQUAL(msg, "range r0001 has 2 in-sync copies; --min-in-sync is 3");
    CU_ASSERT_TRUE(zkv_repl_min_in_sync_ok("r0001", 2, 2, msg, sizeof(msg)));
}

static void test_truncate_floor(void)
{
    CU_ASSERT_EQUAL(zkv_repl_truncate_floor(50, 100, NULL, 0), 0);
    CU_ASSERT_EQUAL(zkv_repl_truncate_floor(150, 100, NULL, 0), 50);
    zkv_repl_replica r[2] = {rep("b", true, 30), rep("c", false, 1)};
    CU_ASSERT_EQUAL(zkv_repl_truncate_floor(150, 100, r, 2), 30); /* c is not in sync */
    r[0].acked_seq = 140;
    CU_ASSERT_EQUAL(zkv_repl_truncate_floor(150, 100, r, 2), 50);
    r[1].adding = true;
    CU_ASSERT_EQUAL(zkv_repl_truncate_floor(150, 100, r, 2), 1);
    r[1].adding = false;
    r[0].acked_known = false;
    CU_ASSERT_EQUAL(zkv_repl_truncate_floor(150, 100, r, 2), 0);
    CU_ASSERT_EQUAL(zkv_repl_truncate_floor(150, 0, NULL, 0), 150);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("server_repl_state", NULL, NULL);
    CU_add_test(s, "commit point", test_commit_point);
    CU_add_test(s, "acks and caught-up time", test_on_ack);
    CU_add_test(s, "shrink after the lag time only", test_shrink_after_lag_only);
    CU_add_test(s, "expand when caught up", test_expand_when_caught_up);
    CU_add_test(s, "min in-sync", test_min_in_sync);
    CU_add_test(s, "truncation floor", test_truncate_floor);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
