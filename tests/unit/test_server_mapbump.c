/* test_server_mapbump.c: the retry rule of writes that bump the map (server/mapbump.h): a
 * try that failed on map alone is tried again, and on the last try reports ZKV_ZK_MAPRACE
 * (nothing written), never the ZBADVERSION that would say the range changed; a failure of
 * the write's own ops, or of the multi as a whole, is reported as it is. */
#include <CUnit/Basic.h>
#include <string.h>

#include "common/zk.h"
#include "mapbump.h"

/* n ops with errs, then the map bump's result */
static void fill(zoo_op_result_t *res, const int *errs, int n, int map_err)
{
    memset(res, 0, (size_t)(n + 1) * sizeof(*res));
    for (int i = 0; i < n; i++)
        res[i].err = errs[i];
    res[n].err = map_err;
}

static void test_map_alone(void)
{
    zoo_op_result_t res[5];
    int inconsistent[4] = {ZRUNTIMEINCONSISTENCY, ZRUNTIMEINCONSISTENCY, ZRUNTIMEINCONSISTENCY,
                           ZRUNTIMEINCONSISTENCY};
    fill(res, inconsistent, 1, ZBADVERSION);
    CU_ASSERT_EQUAL(zkv_mapbump_verdict(ZBADVERSION, res, 1, false), ZKV_MAPBUMP_AGAIN);
    CU_ASSERT_EQUAL(zkv_mapbump_verdict(ZBADVERSION, res, 1, true), ZKV_ZK_MAPRACE);
    /* a split's four ops, all of which would have gone through */
    fill(res, inconsistent, 4, ZBADVERSION);
    CU_ASSERT_EQUAL(zkv_mapbump_verdict(ZBADVERSION, res, 4, false), ZKV_MAPBUMP_AGAIN);
    CU_ASSERT_EQUAL(zkv_mapbump_verdict(ZBADVERSION, res, 4, true), ZKV_ZK_MAPRACE);
}

static void test_own_failures(void)
{
    zoo_op_result_t res[5];
    int range_moved[1] = {ZBADVERSION};
    fill(res, range_moved, 1, ZBADVERSION);
    CU_ASSERT_EQUAL(zkv_mapbump_verdict(ZBADVERSION, res, 1, false), ZBADVERSION);
    CU_ASSERT_EQUAL(zkv_mapbump_verdict(ZBADVERSION, res, 1, true), ZBADVERSION);
    /* the range changed while map did not */
    fill(res, range_moved, 1, ZRUNTIMEINCONSISTENCY);
    CU_ASSERT_EQUAL(zkv_mapbump_verdict(ZBADVERSION, res, 1, false), ZBADVERSION);
    /* a split whose new id is taken */
    int taken[4] = {ZRUNTIMEINCONSISTENCY, ZRUNTIMEINCONSISTENCY, ZNODEEXISTS,
                    ZRUNTIMEINCONSISTENCY};
    fill(res, taken, 4, ZBADVERSION);
    CU_ASSERT_EQUAL(zkv_mapbump_verdict(ZNODEEXISTS, res, 4, true), ZNODEEXISTS);
}

static void test_whole_multi(void)
{
    zoo_op_result_t res[2];
    int none[1] = {ZOK};
    /* the connection dropped: the results are as the caller cleared them */
    fill(res, none, 1, ZOK);
    CU_ASSERT_EQUAL(zkv_mapbump_verdict(ZCONNECTIONLOSS, res, 1, false), ZCONNECTIONLOSS);
    CU_ASSERT_EQUAL(zkv_mapbump_verdict(ZOK, res, 1, false), ZOK);
    CU_ASSERT_EQUAL(zkv_mapbump_verdict(ZOK, res, 1, true), ZOK);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("server_mapbump", NULL, NULL);
    CU_add_test(s, "map alone moved: again, then ZKV_ZK_MAPRACE", test_map_alone);
    CU_add_test(s, "the write's own ops failed: their code", test_own_failures);
    CU_add_test(s, "the multi as a whole", test_whole_multi);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
