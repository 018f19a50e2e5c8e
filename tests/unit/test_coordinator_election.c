/* test_coordinator_election.c: CUnit tests of the pure parts of the coordinator's leader
 * election (coordinator/election.c): sequence parsing and predecessor choice. */
#include <CUnit/Basic.h>

#include "election.h"

static void test_seq(void)
{
    CU_ASSERT_EQUAL(zkv_election_seq("c-0000000000"), 0);
    CU_ASSERT_EQUAL(zkv_election_seq("c-0000000042"), 42);
    CU_ASSERT_EQUAL(zkv_election_seq("c-"), -1);
    CU_ASSERT_EQUAL(zkv_election_seq("x-0000000001"), -1);
    CU_ASSERT_EQUAL(zkv_election_seq("c-00000000a1"), -1);
}

static void test_predecessor(void)
{
    const char *kids[] = {"c-0000000007", "c-0000000003", "junk", "c-0000000005"};
    CU_ASSERT_EQUAL(zkv_election_predecessor(kids, 4, "c-0000000003"), -1); /* leads */
    CU_ASSERT_EQUAL(zkv_election_predecessor(kids, 4, "c-0000000005"), 1);
    CU_ASSERT_EQUAL(zkv_election_predecessor(kids, 4, "c-0000000007"), 3);
    CU_ASSERT_EQUAL(zkv_election_predecessor(kids, 4, "c-0000000004"), -2); /* gone */
    CU_ASSERT_EQUAL(zkv_election_predecessor(kids, 0, "c-0000000003"), -2);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("coordinator_election", NULL, NULL);
    CU_add_test(s, "sequence numbers", test_seq);
    CU_add_test(s, "predecessor", test_predecessor);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
