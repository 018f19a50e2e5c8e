/* test_bench_keygen.c: zkv-bench's key numbers (uniform draws, YCSB zipfian ranks, the
 * scramble) and key text (the hash prefix that spreads keys over zkv's ranges). */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "keygen.h"

static void test_zeta(void)
{
    CU_ASSERT_DOUBLE_EQUAL(zkv_bench_zeta(1, 0.99), 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(zkv_bench_zeta(2, 0.99), 1.0 + pow(0.5, 0.99), 1e-12);
    /* theta 0 counts the items. */
    CU_ASSERT_DOUBLE_EQUAL(zkv_bench_zeta(1000, 0.0), 1000.0, 1e-9);
}

/* Ranks stay in [0, n); the two head ranks come out with their exact probabilities
 * (1 / zeta and 0.5^theta / zeta) for an even sweep of u. */
static void test_zipf_bounds_and_head(void)
{
    zkv_bench_zipf z;
    zkv_bench_zipf_init(&z, 1000, ZKV_BENCH_ZIPF_THETA);
    const int sweep = 1000000;
    unsigned long r0 = 0, r1 = 0;
    for (int i = 0; i < sweep; i++) {
        uint64_t r = zkv_bench_zipf_rank(&z, (i + 0.5) / sweep);
        CU_ASSERT_TRUE(r < 1000);
        r0 += r == 0;
        r1 += r == 1;
    }
    double p0 = 1.0 / z.zetan, p1 = pow(0.5, 0.99) / z.zetan;
    CU_ASSERT_DOUBLE_EQUAL((double)r0 / sweep, p0, 1e-5);
    CU_ASSERT_DOUBLE_EQUAL((double)r1 / sweep, p1, 1e-5);
    CU_ASSERT_EQUAL(zkv_bench_zipf_rank(&z, 0.0), 0);
    CU_ASSERT_EQUAL(zkv_bench_zipf_rank(&z, 0.9999999999), 999);
    /* Degenerate key spaces. */
    zkv_bench_zipf one, two;
    zkv_bench_zipf_init(&one, 1, ZKV_BENCH_ZIPF_THETA);
    zkv_bench_zipf_init(&two, 2, ZKV_BENCH_ZIPF_THETA);
    for (int i = 0; i < 100; i++) {
        double u = i / 100.0;
        CU_ASSERT_EQUAL(zkv_bench_zipf_rank(&one, u), 0);
        CU_ASSERT_TRUE(zkv_bench_zipf_rank(&two, u) < 2);
    }
}

/* With random draws over 100,000 items the head of the distribution gets the share
 * YCSB's zipfian gives it: rank 0 1/zeta(n) (7.8%, exact), the top 10 ranks about
 * zeta(10)/zeta(n) (23.1%; the approximation beyond rank 1 gives them 24.3%), the top 1%
 * of ranks a majority (61%); and the tail is reached. */
static void test_zipf_shares(void)
{
    const uint64_t n = 100000;
    zkv_bench_zipf z;
    zkv_bench_zipf_init(&z, n, ZKV_BENCH_ZIPF_THETA);
    const int draws = 2000000;
    unsigned long top1 = 0, top10 = 0, top1pct = 0, tail = 0;
    uint64_t rng = 0x1234567;
    for (int i = 0; i < draws; i++) {
        uint64_t r = zkv_bench_zipf_rank(&z, zkv_bench_rand_unit(&rng));
        top1 += r < 1;
        top10 += r < 10;
        top1pct += r < n / 100;
        tail += r >= n / 2;
    }
    double e1 = 1.0 / z.zetan, e10 = zkv_bench_zeta(10, 0.99) / z.zetan;
    CU_ASSERT_DOUBLE_EQUAL((double)top1 / draws, e1, 0.003);
    CU_ASSERT_DOUBLE_EQUAL((double)top10 / draws, e10, 0.015);
    CU_ASSERT_TRUE(e1 > 0.07 && e1 < 0.09);
    CU_ASSERT_TRUE((double)top1pct / draws > 0.5);
    CU_ASSERT_TRUE(tail > 0);
}

static void test_rand(void)
{
    uint64_t s = 42;
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        double u = zkv_bench_rand_unit(&s);
        CU_ASSERT_TRUE(u >= 0 && u < 1);
        sum += u;
    }
    CU_ASSERT_DOUBLE_EQUAL(sum / 100000, 0.5, 0.01);
}

/* The scramble keeps ranks in [0, n) and scatters neighbouring ranks. */
static void test_scramble(void)
{
    const uint64_t n = 100000;
    unsigned adjacent = 0;
    for (uint64_t r = 0; r < 1000; r++) {
        uint64_t a = zkv_bench_scramble(r, n), b = zkv_bench_scramble(r + 1, n);
        CU_ASSERT_TRUE(a < n && b < n);
        adjacent += (a > b ? a - b : b - a) < 100;
    }
    CU_ASSERT_TRUE(adjacent < 10);
    CU_ASSERT_EQUAL(zkv_bench_scramble(5, 0), 0);
    CU_ASSERT_EQUAL(zkv_bench_scramble(5, 1), 0);
}

static void test_make_key(void)
{
    char key[ZKV_BENCH_KEY_MAX];
    size_t len = zkv_bench_make_key(12345, false, key);
    CU_ASSERT_EQUAL(len, 16);
    CU_ASSERT_EQUAL(memcmp(key, "key:000000012345", 16), 0);
    len = zkv_bench_make_key(12345, true, key);
    CU_ASSERT_EQUAL(len, 18);
    CU_ASSERT_EQUAL(memcmp(key + 2, "key:000000012345", 16), 0);
    /* The prefix is a function of the key number. */
    char again[ZKV_BENCH_KEY_MAX];
    CU_ASSERT_EQUAL(zkv_bench_make_key(12345, true, again), 18);
    CU_ASSERT_EQUAL(memcmp(key, again, 18), 0);
    len = zkv_bench_make_key(999999999999ull, false, key);
    CU_ASSERT_EQUAL(len, 16);
    /* The text is snprintf's "key:%012llu", up to the largest key number. */
    const uint64_t ks[] = {0, 9, 10, 999999999999ull, 1000000000000ull, UINT64_MAX};
    uint64_t rng = 7;
    for (int i = 0; i < 1000; i++) {
        uint64_t k = i < 6 ? ks[i] : zkv_bench_rand(&rng) >> (i % 64);
        char want[ZKV_BENCH_KEY_MAX];
        int n = snprintf(want, sizeof want, "key:%012llu", (unsigned long long)k);
        len = zkv_bench_make_key(k, false, key);
        CU_ASSERT_EQUAL(len, (size_t)n);
        CU_ASSERT_STRING_EQUAL(key, want);
    }
}

/* zkv splits the key space evenly on the first two bytes: with the prefix, 100,000 keys
 * fall evenly into 8 (and 64) such ranges; without it, all into one. */
static void test_prefix_spreads(void)
{
    const unsigned ranges[] = {8, 64};
    for (size_t ri = 0; ri < sizeof ranges / sizeof ranges[0]; ri++) {
        unsigned nr = ranges[ri];
        unsigned long hashed[64] = {0}, plain[64] = {0};
        char key[ZKV_BENCH_KEY_MAX];
        const unsigned long keys = 100000;
        for (uint64_t k = 0; k < keys; k++) {
            zkv_bench_make_key(k, true, key);
            unsigned prefix = (unsigned)(unsigned char)key[0] << 8 | (unsigned char)key[1];
            hashed[prefix * nr / 65536]++;
            zkv_bench_make_key(k, false, key);
            prefix = (unsigned)(unsigned char)key[0] << 8 | (unsigned char)key[1];
            plain[prefix * nr / 65536]++;
        }
        unsigned long expect = keys / nr, max_plain = 0;
        for (unsigned i = 0; i < nr; i++) {
            CU_ASSERT_TRUE(hashed[i] > expect * 9 / 10 && hashed[i] < expect * 11 / 10);
            if (plain[i] > max_plain)
                max_plain = plain[i];
        }
        CU_ASSERT_EQUAL(max_plain, keys);
    }
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("bench_keygen", NULL, NULL);
    CU_add_test(s, "zeta", test_zeta);
    CU_add_test(s, "zipf bounds and head", test_zipf_bounds_and_head);
    CU_add_test(s, "zipf shares", test_zipf_shares);
    CU_add_test(s, "rand", test_rand);
    CU_add_test(s, "scramble", test_scramble);
    CU_add_test(s, "make key", test_make_key);
    CU_add_test(s, "prefix spreads", test_prefix_spreads);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
