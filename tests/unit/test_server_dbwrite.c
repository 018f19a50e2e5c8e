/* Unit tests of server/dbwrite.c: how a LevelDB write is judged by its time and level 0's
 * file count, and how writes are counted into the histogram and the waits. */
#include <CUnit/Basic.h>
#include <string.h>

#include "dbwrite.h"

static void test_cause(void)
{
    /* under a millisecond nothing waited, whatever level 0 holds */
    CU_ASSERT_EQUAL(zkv_dbwrite_cause_of(999, 20, false), ZKV_DBW_NONE);
    CU_ASSERT_EQUAL(zkv_dbwrite_cause_of(0, 0, true), ZKV_DBW_NONE);
    /* LevelDB's triggers: 8 files slow writes down, 12 stop them */
    CU_ASSERT_EQUAL(zkv_dbwrite_cause_of(1000, 7, false), ZKV_DBW_MEMTABLE);
    CU_ASSERT_EQUAL(zkv_dbwrite_cause_of(1000, 8, false), ZKV_DBW_LEVEL0_SLOWDOWN);
    CU_ASSERT_EQUAL(zkv_dbwrite_cause_of(1500, 11, true), ZKV_DBW_LEVEL0_SLOWDOWN);
    CU_ASSERT_EQUAL(zkv_dbwrite_cause_of(250000, 12, false), ZKV_DBW_LEVEL0_STOP);
    CU_ASSERT_EQUAL(zkv_dbwrite_cause_of(250000, 30, true), ZKV_DBW_LEVEL0_STOP);
    /* a slow write with level 0 low: the memtable, or with --sync the fsync */
    CU_ASSERT_EQUAL(zkv_dbwrite_cause_of(5000, 2, true), ZKV_DBW_SYNC);
    CU_ASSERT_STRING_EQUAL(zkv_dbwrite_cause_name(ZKV_DBW_LEVEL0_STOP), "level0_stop");
    CU_ASSERT_STRING_EQUAL(zkv_dbwrite_cause_name(ZKV_DBW_MEMTABLE), "memtable");
    CU_ASSERT_STRING_EQUAL(zkv_dbwrite_cause_name((zkv_dbwrite_cause)99), "none");
}

static void test_observe(void)
{
    zkv_dbwrite_stats st;
    memset(&st, 0, sizeof st);
    zkv_dbwrite_observe(&st, 40, zkv_dbwrite_cause_of(40, 0, false));
    zkv_dbwrite_observe(&st, 1000, zkv_dbwrite_cause_of(1000, 9, false));
    zkv_dbwrite_observe(&st, 300000, zkv_dbwrite_cause_of(300000, 12, false));
    zkv_dbwrite_observe(&st, 9000000, zkv_dbwrite_cause_of(9000000, 3, false));
    CU_ASSERT_EQUAL(st.n[0], 1);          /* <= 50 us */
    CU_ASSERT_EQUAL(st.n[4], 1);          /* <= 1 ms */
    CU_ASSERT_EQUAL(st.n[12], 1);         /* <= 0.5 s */
    CU_ASSERT_EQUAL(st.n[ZKV_LAT_NB], 1); /* past 5 s: +Inf */
    CU_ASSERT_EQUAL(st.sum_us, 40 + 1000 + 300000 + 9000000);
    CU_ASSERT_EQUAL(st.max_us, 9000000);
    CU_ASSERT_EQUAL(st.waits[ZKV_DBW_NONE], 0);
    CU_ASSERT_EQUAL(st.waits[ZKV_DBW_LEVEL0_SLOWDOWN], 1);
    CU_ASSERT_EQUAL(st.wait_us[ZKV_DBW_LEVEL0_SLOWDOWN], 1000);
    CU_ASSERT_EQUAL(st.waits[ZKV_DBW_LEVEL0_STOP], 1);
    CU_ASSERT_EQUAL(st.wait_us[ZKV_DBW_LEVEL0_STOP], 300000);
    CU_ASSERT_EQUAL(st.waits[ZKV_DBW_MEMTABLE], 1);
    CU_ASSERT_EQUAL(st.waits[ZKV_DBW_SYNC], 0);
    CU_ASSERT_EQUAL(zkv_lat_bucket(50), 0);
    CU_ASSERT_EQUAL(zkv_lat_bucket(51), 1);
    CU_ASSERT_EQUAL(zkv_lat_bucket(5000000), ZKV_LAT_NB - 1);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("server_dbwrite", NULL, NULL);
    CU_add_test(s, "a write's cause", test_cause);
    CU_add_test(s, "counting writes", test_observe);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
