/* test_server_rejoin.c: the decisions of a node back from a machine restart
 * (server/rejoin_plan.h): it waits while it owns a range a live in-sync replica could own,
 * and forgets a damaged copy only where another live copy can rebuild it. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "rejoin_plan.h"

static zkv_range ranges[3];
static zkv_node_info nodes[3];

/* A map of ranges r0..r2 over live nodes a, b (c is not live). */
static zkv_rangemap map_of(const char *owners[3], const char *in_sync[3][2])
{
    memset(ranges, 0, sizeof ranges);
    memset(nodes, 0, sizeof nodes);
    snprintf(nodes[0].id, sizeof nodes[0].id, "a");
    snprintf(nodes[1].id, sizeof nodes[1].id, "b");
    for (int i = 0; i < 3; i++) {
        snprintf(ranges[i].id, sizeof ranges[i].id, "r%d", i);
        snprintf(ranges[i].owner, sizeof ranges[i].owner, "%s", owners[i]);
        for (int k = 0; k < 2 && in_sync[i][k]; k++) {
            snprintf(ranges[i].in_sync[k], ZKV_ID_MAX, "%s", in_sync[i][k]);
            snprintf(ranges[i].replicas[k], ZKV_ID_MAX, "%s", in_sync[i][k]);
            ranges[i].n_in_sync = ranges[i].n_replicas = k + 1;
        }
    }
    zkv_rangemap m = {.version = 1, .ranges = ranges, .n_ranges = 3, .nodes = nodes, .n_nodes = 2};
    return m;
}

static void test_wait(void)
{
    /* a owns r0 with b in sync: wait for the failover */
    const char *own1[3] = {"a", "b", "b"};
    const char *is1[3][2] = {{"b", NULL}, {"a", NULL}, {NULL, NULL}};
    zkv_rangemap m = map_of(own1, is1);
    CU_ASSERT_TRUE(zkv_rejoin_must_wait(&m, "a"));
    CU_ASSERT_TRUE(zkv_rejoin_must_wait(&m, "b")); /* b owns r1, a is in sync with it */
    /* a owns r0 whose only in-sync replica is not live (c): nobody to take it */
    const char *is2[3][2] = {{"c", NULL}, {"a", NULL}, {NULL, NULL}};
    m = map_of(own1, is2);
    CU_ASSERT_FALSE(zkv_rejoin_must_wait(&m, "a"));
    /* a owns nothing */
    const char *own3[3] = {"b", "b", ""};
    m = map_of(own3, is1);
    CU_ASSERT_FALSE(zkv_rejoin_must_wait(&m, "a"));
}

static void test_forget(void)
{
    const char *own[3] = {"b", "a", "a"};
    const char *is[3][2] = {{"a", NULL}, {"b", "c"}, {"c", NULL}};
    zkv_rangemap m = map_of(own, is);
    CU_ASSERT_TRUE(zkv_rejoin_may_forget(&m, "a", "r0"));  /* b owns it */
    CU_ASSERT_TRUE(zkv_rejoin_may_forget(&m, "a", "r1"));  /* b is in sync */
    CU_ASSERT_FALSE(zkv_rejoin_may_forget(&m, "a", "r2")); /* c is not live: the only copy */
    CU_ASSERT_TRUE(zkv_rejoin_may_forget(&m, "a", "r9"));  /* gone from the map */
    const char *own2[3] = {"", "a", "a"};
    const char *is2[3][2] = {{"a", NULL}, {NULL, NULL}, {NULL, NULL}};
    m = map_of(own2, is2);
    CU_ASSERT_FALSE(zkv_rejoin_may_forget(&m, "a", "r0")); /* no owner, a alone in sync */
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("server_rejoin", NULL, NULL);
    CU_add_test(s, "wait while owning what an in-sync replica could own", test_wait);
    CU_add_test(s, "forget a damaged copy only where another copy lives", test_forget);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed == 0 ? 0 : 1;
}
