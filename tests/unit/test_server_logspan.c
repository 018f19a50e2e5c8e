/* Unit tests of server/logspan.c: how many of a log's newest entries fit in a number of
 * bytes, from marks taken every MiB, and what it answers when it cannot tell. */
#include <CUnit/Basic.h>
#include <stdint.h>
#include <string.h>

#include "logspan.h"

static void test_entries_within(void)
{
    zkv_logspan l;
    memset(&l, 0, sizeof l);
    zkv_logspan_reset(&l);
    /* nothing logged: everything (nothing) fits */
    CU_ASSERT_EQUAL(zkv_logspan_entries_within(&l, 0, 1000), UINT64_MAX);
    /* 100 entries of 100 KiB: 10,000 KiB, a mark each ~1 MiB */
    for (uint64_t seq = 1; seq <= 100; seq++)
        zkv_logspan_add(&l, seq, (uint64_t)100 * 1024);
    /* 3 MiB hold about 30 of them, never more */
    uint64_t n = zkv_logspan_entries_within(&l, 100, (uint64_t)3 << 20);
    CU_ASSERT(n <= 30 && n >= 30 - 11);
    /* 1 byte: none */
    CU_ASSERT_EQUAL(zkv_logspan_entries_within(&l, 100, 1), 0);
    /* more than was ever logged: the marks cannot tell what came before them */
    CU_ASSERT_EQUAL(zkv_logspan_entries_within(&l, 100, (uint64_t)100 << 20), UINT64_MAX);
    /* a reset forgets the marks */
    zkv_logspan_reset(&l);
    CU_ASSERT_EQUAL(zkv_logspan_entries_within(&l, 100, 1), UINT64_MAX);
}

static void test_small_entries_and_wrap(void)
{
    zkv_logspan l;
    memset(&l, 0, sizeof l);
    /* 1 KiB entries far past what the marks cover (256 MiB): the newest marks stay */
    uint64_t seq = 0;
    for (; seq < (uint64_t)400 * 1024; seq++)
        zkv_logspan_add(&l, seq + 1, 1024);
    CU_ASSERT_EQUAL(l.n, ZKV_LOGSPAN_MARKS);
    /* 64 MiB: about 65,536 entries, to a MiB (1,024 entries) */
    uint64_t n = zkv_logspan_entries_within(&l, seq, (uint64_t)64 << 20);
    CU_ASSERT(n <= 65536 && n >= 65536 - 1024);
    /* past the oldest mark: cannot tell */
    CU_ASSERT_EQUAL(zkv_logspan_entries_within(&l, seq, (uint64_t)300 << 20), UINT64_MAX);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("server_logspan", NULL, NULL);
    CU_add_test(s, "entries within a number of bytes", test_entries_within);
    CU_add_test(s, "small entries; the marks wrap", test_small_entries_and_wrap);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
