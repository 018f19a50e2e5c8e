/* test_coordinator_autoshape.c: the automatic split and merge decision
 * (coordinator/autoshape.c) over hand-made reports:
 * - nothing while any operation is in progress;
 * - split: the range furthest past the size limit (equal ones: the last of them), or past
 *   the write rate limit when one is set; exactly at a limit splits; no limit, no split;
 * - merge: the adjacent pair with the smallest sum under the merge limit (the left range
 *   named), both quiet, only above the minimum number of ranges; a sum equal to the limit
 *   does not merge; no merge limit, no merge;
 * - a range without a report is never chosen for either;
 * - a split goes before any merge; the reason names the numbers. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "autoshape.h"

#define MIB (1024.0 * 1024.0)

static const char *const IDS[] = {"r0000", "r0001", "r0002", "r0003", "r0004", "r0005"};

/* n ranges r0000.., each reported at mib[i] MiB and no writes. */
static void ranges_mib(zkv_shape_range *r, const double *mib, size_t n)
{
    memset(r, 0, n * sizeof(*r));
    for (size_t i = 0; i < n; i++) {
        r[i].id = IDS[i];
        r[i].has_stats = true;
        r[i].bytes = mib[i] * MIB;
        r[i].writes_per_s = 0;
    }
}

/* split at 64 MiB, no rate limit, merge under 16 MiB, at least 1 range */
static zkv_shape_limits limits(void)
{
    zkv_shape_limits l = {.split_bytes = 64ull * 1024 * 1024,
                          .split_writes_per_s = 0,
                          .merge_bytes = 16ull * 1024 * 1024,
                          .min_ranges = 1};
    return l;
}

/* out set to garbage first, so a false answer must clear it */
static bool decide(const zkv_shape_range *r, size_t n, const zkv_shape_limits *l, size_t ops,
                   zkv_shape_decision *out)
{
    memset(out, 0x5a, sizeof(*out));
    return zkv_autoshape_decide(r, n, l, ops, out);
}

static void expect_nothing(const zkv_shape_range *r, size_t n, const zkv_shape_limits *l,
                           size_t ops)
{
    zkv_shape_decision d;
    CU_ASSERT_FALSE(decide(r, n, l, ops, &d));
    CU_ASSERT_EQUAL(d.kind, ZKV_OP_NONE);
    CU_ASSERT_PTR_NULL(d.range);
    CU_ASSERT_STRING_EQUAL(d.why, "");
}

static void expect_split(const zkv_shape_range *r, size_t n, const zkv_shape_limits *l,
                         size_t which)
{
    zkv_shape_decision d;
    CU_ASSERT_TRUE_FATAL(decide(r, n, l, 0, &d));
    CU_ASSERT_EQUAL(d.kind, ZKV_OP_SPLIT);
    CU_ASSERT_PTR_EQUAL(d.range, r[which].id);
    if (d.range != r[which].id)
        fprintf(stderr, "\nsplit %s, expected %s\n", d.range ? d.range : "(null)", r[which].id);
}

static void expect_merge(const zkv_shape_range *r, size_t n, const zkv_shape_limits *l, size_t left)
{
    zkv_shape_decision d;
    CU_ASSERT_TRUE_FATAL(decide(r, n, l, 0, &d));
    CU_ASSERT_EQUAL(d.kind, ZKV_OP_MERGE);
    CU_ASSERT_PTR_EQUAL(d.range, r[left].id);
    if (d.range != r[left].id)
        fprintf(stderr, "\nmerge %s, expected %s\n", d.range ? d.range : "(null)", r[left].id);
}

static void test_ops_in_progress(void)
{
    zkv_shape_range r[3];
    ranges_mib(r, (const double[]){200, 1, 1}, 3); /* would split r0000 */
    zkv_shape_limits l = limits();
    expect_split(r, 3, &l, 0);
    expect_nothing(r, 3, &l, 1);
    expect_nothing(r, 3, &l, 7);
    ranges_mib(r, (const double[]){2, 1, 1}, 3); /* would merge */
    expect_merge(r, 3, &l, 1);
    expect_nothing(r, 3, &l, 1);
    /* no ranges at all */
    expect_nothing(NULL, 0, &l, 0);
    expect_nothing(r, 0, &l, 0);
}

static void test_split_by_size(void)
{
    zkv_shape_range r[4];
    zkv_shape_limits l = limits();
    /* r0001 is 100/64 past, r0002 80/64: r0001 */
    ranges_mib(r, (const double[]){10, 100, 80, 30}, 4);
    zkv_shape_decision d;
    CU_ASSERT_TRUE_FATAL(decide(r, 4, &l, 0, &d));
    CU_ASSERT_EQUAL(d.kind, ZKV_OP_SPLIT);
    CU_ASSERT_PTR_EQUAL(d.range, r[1].id);
    CU_ASSERT_STRING_EQUAL(d.why, "100.0 MiB, 0 writes/s (limits: 64 MiB, 0/s)");
    /* the order does not matter: the furthest past wins */
    ranges_mib(r, (const double[]){65, 10, 300, 64.5}, 4);
    expect_split(r, 4, &l, 2);
    /* equal ones: the code keeps the LAST of them (by >= worst_by) */
    ranges_mib(r, (const double[]){128, 10, 128, 128}, 4);
    expect_split(r, 4, &l, 3);
    ranges_mib(r, (const double[]){128, 128, 10, 10}, 4);
    expect_split(r, 4, &l, 1);
    /* exactly at the limit: split */
    ranges_mib(r, (const double[]){30, 64, 30, 30}, 4);
    CU_ASSERT_TRUE_FATAL(decide(r, 4, &l, 0, &d));
    CU_ASSERT_EQUAL(d.kind, ZKV_OP_SPLIT);
    CU_ASSERT_PTR_EQUAL(d.range, r[1].id);
    CU_ASSERT_STRING_EQUAL(d.why, "64.0 MiB, 0 writes/s (limits: 64 MiB, 0/s)");
    /* one byte under it: nothing (and no pair small enough to merge) */
    r[1].bytes = 64 * MIB - 1;
    expect_nothing(r, 4, &l, 0);
    /* a one-range cluster splits too */
    ranges_mib(r, (const double[]){65}, 1);
    expect_split(r, 1, &l, 0);
}

static void test_split_by_rate(void)
{
    zkv_shape_range r[3];
    zkv_shape_limits l = limits();
    l.split_writes_per_s = 1000;
    /* r0000: 5x the rate; r0001: 100/64 the size: r0000 */
    ranges_mib(r, (const double[]){10, 100, 30}, 3);
    r[0].writes_per_s = 5000;
    zkv_shape_decision d;
    CU_ASSERT_TRUE_FATAL(decide(r, 3, &l, 0, &d));
    CU_ASSERT_EQUAL(d.kind, ZKV_OP_SPLIT);
    CU_ASSERT_PTR_EQUAL(d.range, r[0].id);
    CU_ASSERT_STRING_EQUAL(d.why, "10.0 MiB, 5000 writes/s (limits: 64 MiB, 1000/s)");
    /* under the size limit, exactly at the rate */
    ranges_mib(r, (const double[]){10, 20, 30}, 3);
    r[2].writes_per_s = 1000;
    expect_split(r, 3, &l, 2);
    r[2].writes_per_s = 999;
    r[1].writes_per_s = 999;
    expect_nothing(r, 3, &l, 0);
    /* the rate only: size never splits */
    l.split_bytes = 0;
    ranges_mib(r, (const double[]){1e6, 20, 30}, 3);
    r[1].writes_per_s = 2000;
    CU_ASSERT_TRUE_FATAL(decide(r, 3, &l, 0, &d));
    CU_ASSERT_PTR_EQUAL(d.range, r[1].id);
    CU_ASSERT_STRING_EQUAL(d.why, "20.0 MiB, 2000 writes/s (limits: 0 MiB, 1000/s)");
    /* no rate limit: any rate is ignored */
    l = limits();
    ranges_mib(r, (const double[]){40, 40, 40}, 3);
    r[0].writes_per_s = r[1].writes_per_s = r[2].writes_per_s = 1e9;
    expect_nothing(r, 3, &l, 0);
}

static void test_no_limits(void)
{
    zkv_shape_range r[3];
    zkv_shape_limits l = {0};
    ranges_mib(r, (const double[]){1e6, 0, 0}, 3);
    r[0].writes_per_s = 1e9;
    expect_nothing(r, 3, &l, 0);
    /* merge_bytes 0: never merge, however small */
    l.split_bytes = 64ull * 1024 * 1024;
    ranges_mib(r, (const double[]){0, 0, 0}, 3);
    expect_nothing(r, 3, &l, 0);
}

static void test_without_stats(void)
{
    zkv_shape_range r[4];
    zkv_shape_limits l = limits();
    /* the biggest by far, but not reported: the next one */
    ranges_mib(r, (const double[]){10, 100000, 70, 10}, 4);
    r[1].has_stats = false;
    expect_split(r, 4, &l, 2);
    /* nothing reported past a limit: nothing, even at a huge rate */
    r[2].bytes = 20 * MIB;
    l.split_writes_per_s = 100;
    r[1].writes_per_s = 1e9;
    expect_nothing(r, 4, &l, 0);
    /* merge: the pairs with r0001 (0 bytes, no report) would be the smallest; the only
     * pair without it is r0002-r0003 (15.5 MiB) */
    l = limits();
    ranges_mib(r, (const double[]){1, 0, 7, 8.5}, 4);
    r[1].has_stats = false;
    expect_merge(r, 4, &l, 2);
    r[3].bytes = 9 * MIB; /* 16 MiB: not under the limit */
    expect_nothing(r, 4, &l, 0);
    /* nothing reported at all */
    ranges_mib(r, (const double[]){1, 1, 1, 1}, 4);
    for (int i = 0; i < 4; i++)
        r[i].has_stats = false;
    expect_nothing(r, 4, &l, 0);
}

static void test_merge_pick(void)
{
    zkv_shape_range r[5];
    zkv_shape_limits l = limits();
    /* sums 8, 5, 11, 13: r0001 with r0002 */
    ranges_mib(r, (const double[]){5, 3, 2, 9, 4}, 5);
    zkv_shape_decision d;
    CU_ASSERT_TRUE_FATAL(decide(r, 5, &l, 0, &d));
    CU_ASSERT_EQUAL(d.kind, ZKV_OP_MERGE);
    CU_ASSERT_PTR_EQUAL(d.range, r[1].id); /* the left one */
    CU_ASSERT_STRING_EQUAL(d.why, "with r0002: 5.0 MiB together (limit 16 MiB)");
    /* the smallest pair at the end */
    ranges_mib(r, (const double[]){5, 3, 9, 1, 1}, 5);
    expect_merge(r, 5, &l, 3);
    /* equal sums: the first pair (strictly smaller replaces) */
    ranges_mib(r, (const double[]){2, 2, 9, 2, 2}, 5);
    expect_merge(r, 5, &l, 0);
    /* a sum equal to the limit does not merge, one byte under does */
    ranges_mib(r, (const double[]){8, 8, 20}, 3);
    expect_nothing(r, 3, &l, 0);
    r[1].bytes -= 1;
    CU_ASSERT_TRUE_FATAL(decide(r, 3, &l, 0, &d));
    CU_ASSERT_EQUAL(d.kind, ZKV_OP_MERGE);
    CU_ASSERT_PTR_EQUAL(d.range, r[0].id);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.why, "with r0001: 16.0 MiB together (limit 16 MiB)"));
    /* a single range has no neighbour */
    ranges_mib(r, (const double[]){0}, 1);
    l.min_ranges = 0;
    expect_nothing(r, 1, &l, 0);
}

static void test_merge_min_ranges(void)
{
    zkv_shape_range r[3];
    zkv_shape_limits l = limits();
    ranges_mib(r, (const double[]){1, 1, 1}, 3);
    l.min_ranges = 3; /* n == min: no merge */
    expect_nothing(r, 3, &l, 0);
    l.min_ranges = 4;
    expect_nothing(r, 3, &l, 0);
    l.min_ranges = 2; /* n > min */
    expect_merge(r, 3, &l, 0);
    l.min_ranges = 0;
    expect_merge(r, 3, &l, 0);
    /* two ranges, at least one: they merge */
    l.min_ranges = 1;
    expect_merge(r, 2, &l, 0);
}

static void test_merge_quiet(void)
{
    zkv_shape_range r[4];
    zkv_shape_limits l = limits();
    l.split_writes_per_s = 1000; /* quiet: under 250 writes/s */
    /* r0000-r0001 is the smallest pair, but r0001 writes 250/s: r0002-r0003 */
    ranges_mib(r, (const double[]){1, 1, 3, 4}, 4);
    r[1].writes_per_s = 250;
    expect_merge(r, 4, &l, 2);
    /* 249.9/s is quiet */
    r[1].writes_per_s = 249.9;
    expect_merge(r, 4, &l, 0);
    /* the left one busy counts the same */
    r[1].writes_per_s = 0;
    r[0].writes_per_s = 900;
    expect_merge(r, 4, &l, 1);
    /* every pair has a busy member: nothing */
    r[0].writes_per_s = r[2].writes_per_s = 300;
    expect_nothing(r, 4, &l, 0);
    /* without a rate limit, any rate is quiet */
    l.split_writes_per_s = 0;
    r[0].writes_per_s = r[1].writes_per_s = 1e6;
    expect_merge(r, 4, &l, 0);
}

static void test_split_before_merge(void)
{
    zkv_shape_range r[4];
    zkv_shape_limits l = limits();
    ranges_mib(r, (const double[]){1, 1, 1, 70}, 4);
    zkv_shape_decision d;
    CU_ASSERT_TRUE_FATAL(decide(r, 4, &l, 0, &d));
    CU_ASSERT_EQUAL(d.kind, ZKV_OP_SPLIT);
    CU_ASSERT_PTR_EQUAL(d.range, r[3].id);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.why, "70.0 MiB"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.why, "64 MiB"));
    /* the split done (the big one unreported), the merge comes */
    r[3].has_stats = false;
    expect_merge(r, 4, &l, 0);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("coordinator_autoshape", NULL, NULL);
    CU_add_test(s, "nothing while an operation is in progress", test_ops_in_progress);
    CU_add_test(s, "split: the range furthest past the size", test_split_by_size);
    CU_add_test(s, "split: by write rate", test_split_by_rate);
    CU_add_test(s, "no limits: nothing", test_no_limits);
    CU_add_test(s, "a range without a report is never chosen", test_without_stats);
    CU_add_test(s, "merge: the smallest pair under the limit", test_merge_pick);
    CU_add_test(s, "merge: only above min_ranges", test_merge_min_ranges);
    CU_add_test(s, "merge: both quiet", test_merge_quiet);
    CU_add_test(s, "split before merge", test_split_before_merge);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
