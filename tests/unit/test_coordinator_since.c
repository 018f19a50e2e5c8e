/* test_coordinator_since.c: the leader's first-seen table (coordinator/since.c): a key
 * keeps the time it was first seen while it is seen on every pass, is forgotten after a
 * pass that did not see it, and starts over when seen again. */
#include <CUnit/Basic.h>
#include <stdio.h>

#include "since.h"

static void test_first_seen(void)
{
    zkv_since *t = zkv_since_create();
    CU_ASSERT_FATAL(t != NULL);
    zkv_since_begin_pass(t);
    CU_ASSERT_EQUAL(zkv_since_seen(t, "node-1", 100), 100);
    CU_ASSERT_EQUAL(zkv_since_seen(t, "node-2", 150), 150);
    zkv_since_end_pass(t);
    zkv_since_begin_pass(t);
    CU_ASSERT_EQUAL(zkv_since_seen(t, "node-1", 900), 100); /* still the first time */
    zkv_since_end_pass(t);                                  /* node-2 not seen: forgotten */
    CU_ASSERT_EQUAL(zkv_since_count(t), 1);
    zkv_since_begin_pass(t);
    CU_ASSERT_EQUAL(zkv_since_seen(t, "node-2", 1000), 1000); /* starts over */
    CU_ASSERT_EQUAL(zkv_since_seen(t, "node-1", 1000), 100);
    zkv_since_end_pass(t);
    /* many keys */
    zkv_since_begin_pass(t);
    char key[32];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "k%d", i);
        CU_ASSERT_EQUAL(zkv_since_seen(t, key, 2000 + (uint64_t)i), 2000 + (uint64_t)i);
    }
    zkv_since_end_pass(t);
    CU_ASSERT_EQUAL(zkv_since_count(t), 100);
    zkv_since_begin_pass(t);
    zkv_since_end_pass(t);
    CU_ASSERT_EQUAL(zkv_since_count(t), 0);
    zkv_since_free(t);
    zkv_since_free(NULL);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("coordinator_since", NULL, NULL);
    CU_add_test(s, "first seen, kept while seen, forgotten after", test_first_seen);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
