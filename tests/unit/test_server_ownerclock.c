/* test_server_ownerclock.c: what a replica knows of its owners (server/ownerclock.c): the
 * owner's time advanced by the local monotonic clock, never going back when an older
 * owner's APPEND arrives late, one entry per range; how far behind the owner the replica
 * is (time since it last held all the owner had, entries it knows it lacks) and the bound
 * check of reads. */
#include <CUnit/Basic.h>
#include <stdio.h>

#include "ownerclock.h"

static void test_clock(void)
{
    zkv_ownerclock *c = zkv_ownerclock_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    uint64_t t = 0;
    CU_ASSERT_FALSE(zkv_ownerclock_now(c, "r0001", 10, &t));
    zkv_ownerclock_note(c, "r0001", 1000000, 50); /* owner said 1,000,000 at our 50 */
    CU_ASSERT_TRUE(zkv_ownerclock_now(c, "r0001", 50, &t));
    CU_ASSERT_EQUAL(t, 1000000);
    CU_ASSERT_TRUE(zkv_ownerclock_now(c, "r0001", 250, &t));
    CU_ASSERT_EQUAL(t, 1000200); /* 200 ms later here */
    /* an older owner time arriving late is ignored; a newer one taken */
    zkv_ownerclock_note(c, "r0001", 999000, 300);
    CU_ASSERT_TRUE(zkv_ownerclock_now(c, "r0001", 300, &t));
    CU_ASSERT_EQUAL(t, 1000250);
    zkv_ownerclock_note(c, "r0001", 1005000, 300);
    CU_ASSERT_TRUE(zkv_ownerclock_now(c, "r0001", 300, &t));
    CU_ASSERT_EQUAL(t, 1005000);
    /* ranges are separate; 0 is no time */
    zkv_ownerclock_note(c, "r0002", 7, 1);
    zkv_ownerclock_note(c, "r0003", 0, 1);
    CU_ASSERT_TRUE(zkv_ownerclock_now(c, "r0002", 3, &t));
    CU_ASSERT_EQUAL(t, 9);
    CU_ASSERT_FALSE(zkv_ownerclock_now(c, "r0003", 3, &t));
    for (int i = 0; i < 100; i++) { /* grows */
        char id[16];
        snprintf(id, sizeof id, "x%d", i);
        zkv_ownerclock_note(c, id, 100 + (uint64_t)i, 0);
    }
    CU_ASSERT_TRUE(zkv_ownerclock_now(c, "x99", 0, &t));
    CU_ASSERT_EQUAL(t, 199);
    zkv_ownerclock_free(c);
    zkv_ownerclock_free(NULL);
}

static void test_lag(void)
{
    zkv_ownerclock *c = zkv_ownerclock_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    uint64_t ms, n;
    /* nothing heard: never caught up */
    zkv_ownerclock_lag(c, "r0001", 0, 100, &ms, &n);
    CU_ASSERT_EQUAL(ms, UINT64_MAX);
    CU_ASSERT_EQUAL(n, 0);
    /* an APPEND whose head the replica does not reach yet: behind, not caught up */
    zkv_ownerclock_note_position(c, "r0001", 50, 40, 1000);
    zkv_ownerclock_lag(c, "r0001", 40, 1100, &ms, &n);
    CU_ASSERT_EQUAL(ms, UINT64_MAX);
    CU_ASSERT_EQUAL(n, 10);
    /* caught up at 1200 (a heartbeat at the owner's head) */
    zkv_ownerclock_note_position(c, "r0001", 50, 50, 1200);
    zkv_ownerclock_lag(c, "r0001", 50, 1200, &ms, &n);
    CU_ASSERT_EQUAL(ms, 0);
    CU_ASSERT_EQUAL(n, 0);
    /* then silence: the lag grows with our clock */
    zkv_ownerclock_lag(c, "r0001", 50, 1950, &ms, &n);
    CU_ASSERT_EQUAL(ms, 750);
    /* the owner writes on: entries it told of that are not applied count, the time since
     * the last catch-up keeps running until the replica holds the head again */
    zkv_ownerclock_note_position(c, "r0001", 80, 60, 2000);
    zkv_ownerclock_lag(c, "r0001", 60, 2000, &ms, &n);
    CU_ASSERT_EQUAL(ms, 800);
    CU_ASSERT_EQUAL(n, 20);
    zkv_ownerclock_note_position(c, "r0001", 80, 80, 2010);
    zkv_ownerclock_lag(c, "r0001", 80, 2020, &ms, &n);
    CU_ASSERT_EQUAL(ms, 10);
    CU_ASSERT_EQUAL(n, 0);
    /* a position entry alone does not give the owner's time */
    uint64_t t;
    CU_ASSERT_FALSE(zkv_ownerclock_now(c, "r0001", 2020, &t));
    /* ranges are separate */
    zkv_ownerclock_lag(c, "r0002", 0, 2020, &ms, &n);
    CU_ASSERT_EQUAL(ms, UINT64_MAX);
    /* the bounds: 0 is none on that measure */
    CU_ASSERT_TRUE(zkv_lag_within(100, 5, 0, 0));
    CU_ASSERT_TRUE(zkv_lag_within(100, 5, 100, 5));
    CU_ASSERT_FALSE(zkv_lag_within(101, 5, 100, 0));
    CU_ASSERT_FALSE(zkv_lag_within(100, 6, 0, 5));
    CU_ASSERT_FALSE(zkv_lag_within(UINT64_MAX, 0, 1000000, 0));
    CU_ASSERT_TRUE(zkv_lag_within(UINT64_MAX, 0, 0, 10));
    zkv_ownerclock_lag(NULL, "r0001", 0, 1, &ms, &n); /* no table: unknown */
    CU_ASSERT_EQUAL(ms, UINT64_MAX);
    zkv_ownerclock_free(c);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("server_ownerclock", NULL, NULL);
    CU_add_test(s, "the owner's time", test_clock);
    CU_add_test(s, "how far behind the owner", test_lag);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
