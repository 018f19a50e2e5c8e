/* test_server_lease.c: the serving lease (server/lease.c): confirmations extend it to
 * three quarters of the timeout after the send time, never shrink it, a new session
 * replaces it, and it is valid only with a map read under the same session. */
#include <CUnit/Basic.h>

#include "lease.h"

static void test_confirm_and_expiry(void)
{
    zkv_lease l = {0};
    CU_ASSERT_FALSE(zkv_lease_valid(&l, 0, 0)); /* no session: never valid */
    zkv_lease_confirm(&l, 7, 1000, 2000);
    CU_ASSERT_EQUAL(l.until_ms, 2500);
    CU_ASSERT_TRUE(zkv_lease_valid(&l, 7, 1000));
    CU_ASSERT_TRUE(zkv_lease_valid(&l, 7, 2499));
    CU_ASSERT_FALSE(zkv_lease_valid(&l, 7, 2500));
    /* an older round trip answered late does not shrink the lease */
    zkv_lease_confirm(&l, 7, 900, 2000);
    CU_ASSERT_EQUAL(l.until_ms, 2500);
    zkv_lease_confirm(&l, 7, 1500, 2000);
    CU_ASSERT_EQUAL(l.until_ms, 3000);
}

static void test_session_rules(void)
{
    zkv_lease l = {0};
    zkv_lease_confirm(&l, 7, 1000, 2000);
    /* a map read under another session does not count */
    CU_ASSERT_FALSE(zkv_lease_valid(&l, 8, 1100));
    /* a new session replaces the lease, even with an earlier end */
    zkv_lease_confirm(&l, 8, 1100, 400);
    CU_ASSERT_EQUAL(l.session, 8);
    CU_ASSERT_EQUAL(l.until_ms, 1400);
    CU_ASSERT_FALSE(zkv_lease_valid(&l, 7, 1200));
    CU_ASSERT_TRUE(zkv_lease_valid(&l, 8, 1200));
}

static void test_interval(void)
{
    CU_ASSERT_EQUAL(zkv_lease_confirm_interval_ms(2000), 500);
    CU_ASSERT_EQUAL(zkv_lease_confirm_interval_ms(40), 20);
    CU_ASSERT_EQUAL(zkv_lease_confirm_interval_ms(0), 20);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("server lease", NULL, NULL);
    CU_add_test(s, "confirm and expiry", test_confirm_and_expiry);
    CU_add_test(s, "session rules", test_session_rules);
    CU_add_test(s, "confirm interval", test_interval);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
