/* test_server_readvis.c: the read-visibility rule of owner reads (server/readvis.c): a found
 * value waits for its own write, a miss for the last tracked delete of its key and for the
 * writes before the ownership began, a scan page for its items and every tracked delete;
 * the commit point only rises; tracked deletes are forgotten once passed; and a randomized
 * run against a plain model of "the last delete of each key" through growth and sweeps. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "readvis.h"

#define K(s) (const uint8_t *)(s), strlen(s)

static void test_found_values(void)
{
    zkv_readvis v;
    zkv_readvis_init(&v, 0);
    zkv_readvis_set_commit_point(&v, 10);
    CU_ASSERT_EQUAL(zkv_readvis_get_wait(&v, true, 9, K("a")), 0);
    CU_ASSERT_EQUAL(zkv_readvis_get_wait(&v, true, 10, K("a")), 0);
    CU_ASSERT_EQUAL(zkv_readvis_get_wait(&v, true, 11, K("a")), 11);
    zkv_readvis_set_commit_point(&v, 11);
    CU_ASSERT_EQUAL(zkv_readvis_get_wait(&v, true, 11, K("a")), 0);
    zkv_readvis_free(&v);
}

static void test_commit_point_only_rises(void)
{
    zkv_readvis v;
    zkv_readvis_init(&v, 0);
    zkv_readvis_set_commit_point(&v, 20);
    zkv_readvis_set_commit_point(&v, 5); /* a probe reset a replica's position */
    CU_ASSERT_EQUAL(v.commit_point, 20);
    CU_ASSERT_EQUAL(zkv_readvis_get_wait(&v, true, 15, K("a")), 0);
    zkv_readvis_free(&v);
}

static void test_miss_floor(void)
{
    /* the ownership began at seq 50: deletes up to it are unknown, so misses wait */
    zkv_readvis v;
    zkv_readvis_init(&v, 50);
    zkv_readvis_set_commit_point(&v, 40);
    CU_ASSERT_EQUAL(zkv_readvis_get_wait(&v, false, 0, K("gone")), 50);
    CU_ASSERT_EQUAL(zkv_readvis_get_wait(&v, true, 30, K("kept")), 0); /* a value knows its seq */
    CU_ASSERT_EQUAL(zkv_readvis_scan_wait(&v, 30), 50);
    zkv_readvis_set_commit_point(&v, 50);
    CU_ASSERT_EQUAL(zkv_readvis_get_wait(&v, false, 0, K("gone")), 0);
    CU_ASSERT_EQUAL(zkv_readvis_scan_wait(&v, 30), 0);
    zkv_readvis_free(&v);
}

static void test_tracked_deletes(void)
{
    zkv_readvis v;
    zkv_readvis_init(&v, 0);
    zkv_readvis_set_commit_point(&v, 100);
    zkv_readvis_note_delete(&v, K("x"), 90); /* already committed: nothing to track */
    CU_ASSERT_EQUAL(v.n, 0);
    zkv_readvis_note_delete(&v, K("x"), 101);
    zkv_readvis_note_delete(&v, K("y"), 103);
    zkv_readvis_note_delete(&v, K("x"), 105); /* the last delete of x counts */
    CU_ASSERT_EQUAL(zkv_readvis_get_wait(&v, false, 0, K("x")), 105);
    CU_ASSERT_EQUAL(zkv_readvis_get_wait(&v, false, 0, K("y")), 103);
    CU_ASSERT_EQUAL(zkv_readvis_get_wait(&v, false, 0, K("z")), 0); /* never deleted */
    /* a scan cannot see which keys a delete removed: it waits for every tracked delete */
    CU_ASSERT_EQUAL(zkv_readvis_scan_wait(&v, 50), 105);
    CU_ASSERT_EQUAL(zkv_readvis_scan_wait(&v, 107), 107);
    zkv_readvis_set_commit_point(&v, 103);
    CU_ASSERT_EQUAL(zkv_readvis_get_wait(&v, false, 0, K("y")), 0);
    CU_ASSERT_EQUAL(zkv_readvis_get_wait(&v, false, 0, K("x")), 105);
    zkv_readvis_set_commit_point(&v, 105); /* everything settled: the table empties */
    CU_ASSERT_EQUAL(v.n, 0);
    CU_ASSERT_EQUAL(v.del_max, 0);
    CU_ASSERT_EQUAL(zkv_readvis_get_wait(&v, false, 0, K("x")), 0);
    CU_ASSERT_EQUAL(zkv_readvis_scan_wait(&v, 0), 0);
    zkv_readvis_free(&v);
}

/* A model: the last delete seq of each of NKEYS keys; the commit point trails the writes
 * by a random lag, so the table fills, sweeps and grows. */
#define NKEYS 2000
static void test_random_against_model(void)
{
    static uint64_t last_del[NKEYS];
    memset(last_del, 0, sizeof(last_del));
    zkv_readvis v;
    zkv_readvis_init(&v, 0);
    srand(12345);
    uint64_t seq = 0, cp = 0;
    size_t max_cap = 0;
    for (int step = 0; step < 200000; step++) {
        char key[32];
        int k = rand() % NKEYS;
        snprintf(key, sizeof(key), "key-%d", k);
        int what = rand() % 10;
        if (what < 4) {
            seq++;
            zkv_readvis_note_delete(&v, K(key), seq);
            last_del[k] = seq;
        } else if (what < 5) {
            uint64_t lag = (uint64_t)(rand() % (step % 5000 < 2500 ? 3000 : 20));
            uint64_t ncp = seq > lag ? seq - lag : 0;
            if (ncp > cp)
                cp = ncp;
            zkv_readvis_set_commit_point(&v, ncp);
        } else {
            uint64_t want = last_del[k] > cp ? last_del[k] : 0;
            uint64_t got = zkv_readvis_get_wait(&v, false, 0, K(key));
            if (got != want) {
                CU_FAIL("miss wait differs from the model");
                fprintf(stderr, "step %d key %d: got %llu want %llu (cp %llu)\n", step, k,
                        (unsigned long long)got, (unsigned long long)want, (unsigned long long)cp);
                break;
            }
        }
        CU_ASSERT_FATAL(v.n * 2 <= v.cap || v.cap == 0);
        if (v.cap > max_cap)
            max_cap = v.cap;
    }
    /* the table holds about the unsettled deletes, not every delete ever made */
    CU_ASSERT(max_cap <= 4096);
    CU_ASSERT(v.commit_point == cp);
    zkv_readvis_free(&v);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("server_readvis", NULL, NULL);
    CU_add_test(s, "found values wait for their own write", test_found_values);
    CU_add_test(s, "the commit point only rises", test_commit_point_only_rises);
    CU_add_test(s, "misses wait for the writes before the ownership", test_miss_floor);
    CU_add_test(s, "tracked deletes", test_tracked_deletes);
    CU_add_test(s, "random deletes and commit points against a model", test_random_against_model);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
