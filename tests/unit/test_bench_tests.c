/* test_bench_tests.c: the -t and --workload lists of zkv-bench and the operation mix of
 * each test. */
#include <CUnit/Basic.h>
#include <string.h>

#include "tests.h"
#include "zkv/zkv.h"

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
    CU_ASSERT_STRING_EQUAL(err, "-t: unknown test 'incr' (known: get, put, load)");
    CU_ASSERT_EQUAL(m, 42);
    CU_ASSERT_EQUAL(zkv_bench_parse_tests("", &m, err, sizeof err), -1);
    CU_ASSERT_EQUAL(zkv_bench_parse_tests("get,", &m, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "empty test name"));
    CU_ASSERT_EQUAL(zkv_bench_parse_tests("ge", &m, err, sizeof err), -1);
    CU_ASSERT_EQUAL(zkv_bench_parse_tests("get,Load", &m, err, sizeof err), 0);
    CU_ASSERT_EQUAL(m, (1u << ZKV_BENCH_LOAD) | (1u << ZKV_BENCH_GET));
    CU_ASSERT(ZKV_BENCH_LOAD < ZKV_BENCH_PUT && ZKV_BENCH_PUT < ZKV_BENCH_GET); /* run order */
    CU_ASSERT_STRING_EQUAL(zkv_bench_test_name(ZKV_BENCH_LOAD), "LOAD");
    CU_ASSERT_EQUAL(zkv_bench_pick_op(ZKV_BENCH_LOAD, 0.5), ZKV_BENCH_OP_UPDATE);
    CU_ASSERT_STRING_EQUAL(zkv_bench_test_name(ZKV_BENCH_PUT), "PUT");
    CU_ASSERT_STRING_EQUAL(zkv_bench_test_name(ZKV_BENCH_GET), "GET");
}

static void test_workloads(void)
{
    unsigned m = 1u << ZKV_BENCH_PUT;
    char err[128];
    CU_ASSERT_EQUAL(zkv_bench_parse_workloads("a,F", &m, err, sizeof err), 0);
    CU_ASSERT_EQUAL(m, (1u << ZKV_BENCH_PUT) | (1u << ZKV_BENCH_YCSB_A) | (1u << ZKV_BENCH_YCSB_F));
    m = 0;
    CU_ASSERT_EQUAL(zkv_bench_parse_workloads("c,b,a,f", &m, err, sizeof err), 0);
    CU_ASSERT_EQUAL(m, (1u << ZKV_BENCH_YCSB_A) | (1u << ZKV_BENCH_YCSB_B) |
                           (1u << ZKV_BENCH_YCSB_C) | (1u << ZKV_BENCH_YCSB_F));
    m = 7;
    CU_ASSERT_EQUAL(zkv_bench_parse_workloads("a,d", &m, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "--workload: unknown workload 'd' (known: a, b, c, f)");
    CU_ASSERT_EQUAL(m, 7);
    CU_ASSERT_EQUAL(zkv_bench_parse_workloads("a,,b", &m, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "empty workload name"));
    /* -t knows only get, put and load. */
    CU_ASSERT_EQUAL(zkv_bench_parse_tests("ycsb-a", &m, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(zkv_bench_test_name(ZKV_BENCH_YCSB_A), "YCSB-A");
    CU_ASSERT_STRING_EQUAL(zkv_bench_test_name(ZKV_BENCH_YCSB_F), "YCSB-F");
    CU_ASSERT_STRING_EQUAL(zkv_bench_test_name(ZKV_BENCH_NTESTS), "?");
    CU_ASSERT_STRING_EQUAL(zkv_bench_op_name(ZKV_BENCH_OP_RMW), "rmw");
    /* --read */
    unsigned f = 99;
    CU_ASSERT_EQUAL(zkv_bench_parse_read("owner", &f, err, sizeof err), 0);
    CU_ASSERT_EQUAL(f, 0);
    CU_ASSERT_EQUAL(zkv_bench_parse_read("Hedge", &f, err, sizeof err), 0);
    CU_ASSERT_EQUAL(f, ZKV_FLAG_HEDGE);
    CU_ASSERT_EQUAL(zkv_bench_parse_read("nearest", &f, err, sizeof err), 0);
    CU_ASSERT_EQUAL(f, ZKV_FLAG_READ_NEAREST);
    CU_ASSERT_EQUAL(zkv_bench_parse_read("replica", &f, err, sizeof err), 0);
    CU_ASSERT_EQUAL(f, ZKV_FLAG_READ_REPLICA);
    CU_ASSERT_EQUAL(zkv_bench_parse_read("fast", &f, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err,
                           "--read: unknown policy 'fast' (known: owner, replica, nearest, hedge)");
}

static void test_mix(void)
{
    for (int t = 0; t < ZKV_BENCH_NTESTS; t++) {
        unsigned sum = 0;
        for (int op = 0; op < ZKV_BENCH_NOPS; op++)
            sum += zkv_bench_op_percent((zkv_bench_test)t, (zkv_bench_op)op);
        CU_ASSERT_EQUAL(sum, 100);
    }
    CU_ASSERT_EQUAL(zkv_bench_op_percent(ZKV_BENCH_YCSB_A, ZKV_BENCH_OP_UPDATE), 50);
    CU_ASSERT_EQUAL(zkv_bench_op_percent(ZKV_BENCH_YCSB_B, ZKV_BENCH_OP_READ), 95);
    CU_ASSERT_EQUAL(zkv_bench_op_percent(ZKV_BENCH_YCSB_C, ZKV_BENCH_OP_READ), 100);
    CU_ASSERT_EQUAL(zkv_bench_op_percent(ZKV_BENCH_YCSB_F, ZKV_BENCH_OP_RMW), 50);
    CU_ASSERT_EQUAL(zkv_bench_pick_op(ZKV_BENCH_PUT, 0.0), ZKV_BENCH_OP_UPDATE);
    CU_ASSERT_EQUAL(zkv_bench_pick_op(ZKV_BENCH_GET, 0.999999), ZKV_BENCH_OP_READ);
    CU_ASSERT_EQUAL(zkv_bench_pick_op(ZKV_BENCH_YCSB_A, 0.49), ZKV_BENCH_OP_READ);
    CU_ASSERT_EQUAL(zkv_bench_pick_op(ZKV_BENCH_YCSB_A, 0.51), ZKV_BENCH_OP_UPDATE);
    CU_ASSERT_EQUAL(zkv_bench_pick_op(ZKV_BENCH_YCSB_B, 0.94), ZKV_BENCH_OP_READ);
    CU_ASSERT_EQUAL(zkv_bench_pick_op(ZKV_BENCH_YCSB_B, 0.96), ZKV_BENCH_OP_UPDATE);
    CU_ASSERT_EQUAL(zkv_bench_pick_op(ZKV_BENCH_YCSB_F, 0.75), ZKV_BENCH_OP_RMW);
    CU_ASSERT_EQUAL(zkv_bench_pick_op(ZKV_BENCH_YCSB_F, 1.0), ZKV_BENCH_OP_RMW);
    /* Over an even sweep of draws, each op gets its share. */
    unsigned counts[ZKV_BENCH_NOPS] = {0};
    for (int i = 0; i < 10000; i++)
        counts[zkv_bench_pick_op(ZKV_BENCH_YCSB_B, (i + 0.5) / 10000.0)]++;
    CU_ASSERT_EQUAL(counts[ZKV_BENCH_OP_READ], 9500);
    CU_ASSERT_EQUAL(counts[ZKV_BENCH_OP_UPDATE], 500);
    CU_ASSERT_EQUAL(counts[ZKV_BENCH_OP_RMW], 0);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("bench_tests", NULL, NULL);
    CU_add_test(s, "parse", test_parse);
    CU_add_test(s, "workloads", test_workloads);
    CU_add_test(s, "mix", test_mix);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
