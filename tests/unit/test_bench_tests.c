/* test_bench_tests.c: the -t list of zkv-bench. */
#include <CUnit/Basic.h>
#include <string.h>

#include "tests.h"

static void test_parse(void)
{
    unsigned m = 0;
    char err[128];
    CU_ASSERT_EQUAL(zkv_bench_parse_tests("get,put", &m, err, sizeof err), 0);
    CU_ASSERT_EQUAL(m, (1u << ZKV_BENCH_PUT) | (1u << ZKV_BENCH_GET));
    CU_ASSERT_EQUAL(zkv_bench_parse_tests("GET", &m, err, sizeof err), 0);
    CU_ASSERT_EQUAL(m, 1u << ZKV_BENCH_GET);
    CU_ASSERT_EQUAL(zkv_bench_parse_tests("put,put", &m, err, sizeof err), 0);
    CU_ASSERT_EQUAL(m, 1u << ZKV_BENCH_PUT);
    m = 42;
    CU_ASSERT_EQUAL(zkv_bench_parse_tests("get,incr", &m, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "-t: unknown test 'incr' (known: get, put)");
    CU_ASSERT_EQUAL(m, 42);
    CU_ASSERT_EQUAL(zkv_bench_parse_tests("", &m, err, sizeof err), -1);
    CU_ASSERT_EQUAL(zkv_bench_parse_tests("get,", &m, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "empty test name"));
    CU_ASSERT_EQUAL(zkv_bench_parse_tests("ge", &m, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(zkv_bench_test_name(ZKV_BENCH_PUT), "PUT");
    CU_ASSERT_STRING_EQUAL(zkv_bench_test_name(ZKV_BENCH_GET), "GET");
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("bench_tests", NULL, NULL);
    CU_add_test(s, "parse", test_parse);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
