/* test_server_ownerclock.c: the owners' clocks as a replica knows them
 * (server/ownerclock.c): the owner's time advanced by the local monotonic clock, never
 * going back when an older owner's APPEND arrives late, one entry per range. */
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

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("server_ownerclock", NULL, NULL);
    CU_add_test(s, "the owner's time", test_clock);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
