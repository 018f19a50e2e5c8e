/* test_bench_hist.c: the latency histogram of zkv-bench: bucket bounds and their relative
 * width, percentiles within 1% from 1 us to 60 s, merge, clamping, empty histograms. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdlib.h>

#include "hist.h"

static zkv_bench_hist h, h2;

static void test_buckets(void)
{
    size_t prev = 0;
    /* every value lies in its bucket; buckets are ordered; widths <= 1/128 of the low */
    for (uint64_t v = 0; v <= ZKV_BENCH_HIST_MAX; v = v < 1000 ? v + 1 : v + v / 997 + 1) {
        size_t b = zkv_bench_hist_bucket(v);
        CU_ASSERT_TRUE_FATAL(b < ZKV_BENCH_HIST_BUCKETS);
        CU_ASSERT_TRUE(b >= prev);
        prev = b;
        uint64_t low = zkv_bench_hist_bucket_low(b), width = zkv_bench_hist_bucket_width(b);
        CU_ASSERT_TRUE_FATAL(low <= v && v < low + width);
        if (v >= 256)
            CU_ASSERT_TRUE(width * 128 <= low);
    }
    /* exact below 256, contiguous above */
    for (size_t b = 0; b < 256; b++)
        CU_ASSERT_EQUAL(zkv_bench_hist_bucket_low(b), b);
    for (size_t b = 0; b + 1 < ZKV_BENCH_HIST_BUCKETS; b++)
        CU_ASSERT_EQUAL(zkv_bench_hist_bucket_low(b) + zkv_bench_hist_bucket_width(b),
                        zkv_bench_hist_bucket_low(b + 1));
    CU_ASSERT_EQUAL(zkv_bench_hist_bucket(UINT64_MAX), zkv_bench_hist_bucket(ZKV_BENCH_HIST_MAX));
}

static void test_single_values_within_1_percent(void)
{
    /* 1 us .. 60 s in nanoseconds, a geometric walk */
    for (uint64_t v = 1000; v <= UINT64_C(60000000000); v = v * 137 / 100) {
        zkv_bench_hist_init(&h);
        zkv_bench_hist_record(&h, v);
        zkv_bench_hist_record(&h, 1);              /* below */
        zkv_bench_hist_record(&h, (uint64_t)60e9); /* above */
        double p50 = zkv_bench_hist_percentile(&h, 50);
        CU_ASSERT_TRUE(fabs(p50 - (double)v) <= 0.01 * (double)v);
    }
}

static void test_uniform_percentiles(void)
{
    zkv_bench_hist_init(&h);
    for (uint64_t v = 1; v <= 100000; v++)
        zkv_bench_hist_record(&h, v * 1000); /* 1 us .. 100 ms */
    CU_ASSERT_EQUAL(h.count, 100000);
    CU_ASSERT_EQUAL(h.min, 1000);
    CU_ASSERT_EQUAL(h.max, 100000000);
    const double ps[] = {1, 10, 50, 90, 99, 99.9};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        double want = ps[i] / 100.0 * 100000 * 1000;
        double got = zkv_bench_hist_percentile(&h, ps[i]);
        CU_ASSERT_TRUE(fabs(got - want) <= 0.01 * want);
    }
    CU_ASSERT_DOUBLE_EQUAL(zkv_bench_hist_percentile(&h, 0), 1000, 0.001);
    CU_ASSERT_DOUBLE_EQUAL(zkv_bench_hist_percentile(&h, 100), 100000000, 0.001);
    CU_ASSERT_DOUBLE_EQUAL(zkv_bench_hist_mean(&h), 50000.5 * 1000, 0.001);
}

static void test_small_exact(void)
{
    zkv_bench_hist_init(&h);
    for (uint64_t v = 1; v <= 100; v++)
        zkv_bench_hist_record(&h, v);
    CU_ASSERT_DOUBLE_EQUAL(zkv_bench_hist_percentile(&h, 50), 50, 0.001);
    CU_ASSERT_DOUBLE_EQUAL(zkv_bench_hist_percentile(&h, 99), 99, 0.001);
    CU_ASSERT_DOUBLE_EQUAL(zkv_bench_hist_percentile(&h, 99.5), 100, 0.001);
}

static void test_merge(void)
{
    zkv_bench_hist_init(&h);
    zkv_bench_hist_init(&h2);
    for (uint64_t v = 1; v <= 50000; v++)
        zkv_bench_hist_record(&h, v * 1000);
    for (uint64_t v = 50001; v <= 100000; v++)
        zkv_bench_hist_record(&h2, v * 1000);
    zkv_bench_hist_merge(&h, &h2);
    CU_ASSERT_EQUAL(h.count, 100000);
    CU_ASSERT_EQUAL(h.min, 1000);
    CU_ASSERT_EQUAL(h.max, 100000000);
    double p75 = zkv_bench_hist_percentile(&h, 75);
    CU_ASSERT_TRUE(fabs(p75 - 75e6) <= 0.01 * 75e6);
    /* merging an empty histogram changes nothing */
    zkv_bench_hist_init(&h2);
    zkv_bench_hist_merge(&h, &h2);
    CU_ASSERT_EQUAL(h.min, 1000);
    CU_ASSERT_EQUAL(h.count, 100000);
}

static void test_empty_and_clamp(void)
{
    zkv_bench_hist_init(&h);
    CU_ASSERT_DOUBLE_EQUAL(zkv_bench_hist_percentile(&h, 50), 0, 0.001);
    CU_ASSERT_DOUBLE_EQUAL(zkv_bench_hist_mean(&h), 0, 0.001);
    zkv_bench_hist_record(&h, UINT64_C(120000000000)); /* 120 s: over the top */
    CU_ASSERT_EQUAL(h.counts[zkv_bench_hist_bucket(ZKV_BENCH_HIST_MAX)], 1);
    CU_ASSERT_DOUBLE_EQUAL(zkv_bench_hist_percentile(&h, 50), 120e9, 1); /* exact max */
    zkv_bench_hist_record(&h, 0);
    CU_ASSERT_DOUBLE_EQUAL(zkv_bench_hist_percentile(&h, 50), 0, 0.001);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("bench_hist", NULL, NULL);
    CU_add_test(s, "buckets", test_buckets);
    CU_add_test(s, "single_values_within_1_percent", test_single_values_within_1_percent);
    CU_add_test(s, "uniform_percentiles", test_uniform_percentiles);
    CU_add_test(s, "small_exact", test_small_exact);
    CU_add_test(s, "merge", test_merge);
    CU_add_test(s, "empty_and_clamp", test_empty_and_clamp);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
