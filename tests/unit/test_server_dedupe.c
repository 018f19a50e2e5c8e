/* test_server_dedupe.c: the table of applied conditional writes (server/dedupe.c) and the
 * rule of conditions (server/condition.c): what is found, generations dropped after the
 * keep time or when full, a range forgotten after a reset, and every condition against a
 * present and a missing key. */
#include <CUnit/Basic.h>
#include <stdio.h>

#include "condition.h"
#include "dedupe.h"

static void test_note_find(void)
{
    zkv_dedupe *d = zkv_dedupe_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    zkv_dedupe_hit h;
    CU_ASSERT_FALSE(zkv_dedupe_find(d, 7, 1, &h));
    zkv_dedupe_note(d, 7, 1, "r0001", 2, 40, 1000);
    zkv_dedupe_note(d, 7, 2, "r0002", 2, 41, 1000);
    zkv_dedupe_note(d, 8, 1, "r0001", 3, 42, 1000);
    zkv_dedupe_note(d, 0, 1, "r0001", 3, 43, 1000); /* client 0: no request */
    CU_ASSERT_TRUE(zkv_dedupe_find(d, 7, 1, &h));
    CU_ASSERT(h.epoch == 2 && h.seq == 40);
    CU_ASSERT_TRUE(zkv_dedupe_find(d, 8, 1, &h));
    CU_ASSERT(h.epoch == 3 && h.seq == 42);
    CU_ASSERT_FALSE(zkv_dedupe_find(d, 8, 2, &h));
    CU_ASSERT_FALSE(zkv_dedupe_find(d, 0, 1, &h));
    CU_ASSERT_EQUAL(zkv_dedupe_count(d), 3);
    /* many: the table grows and keeps them all */
    for (uint64_t i = 1; i <= 20000; i++)
        zkv_dedupe_note(d, 100 + i % 7, i, "r0003", 4, i, 2000);
    int found = 0;
    for (uint64_t i = 1; i <= 20000; i++)
        found += zkv_dedupe_find(d, 100 + i % 7, i, &h) && h.seq == i;
    CU_ASSERT_EQUAL(found, 20000);
    zkv_dedupe_free(d);
    zkv_dedupe_free(NULL);
}

static void test_generations(void)
{
    zkv_dedupe *d = zkv_dedupe_new();
    zkv_dedupe_hit h;
    zkv_dedupe_note(d, 1, 1, "r", 1, 1, 0);
    /* half the keep time later the first generation becomes the old one: still found */
    zkv_dedupe_note(d, 1, 2, "r", 1, 2, ZKV_DEDUPE_KEEP_MS / 2);
    CU_ASSERT_TRUE(zkv_dedupe_find(d, 1, 1, &h));
    /* another half: the first is dropped, the second kept */
    zkv_dedupe_note(d, 1, 3, "r", 1, 3, ZKV_DEDUPE_KEEP_MS);
    CU_ASSERT_FALSE(zkv_dedupe_find(d, 1, 1, &h));
    CU_ASSERT_TRUE(zkv_dedupe_find(d, 1, 2, &h));
    CU_ASSERT_TRUE(zkv_dedupe_find(d, 1, 3, &h));
    /* a full generation starts the next one early: at least the last GEN_MAX stay */
    for (uint64_t i = 1; i <= 3 * ZKV_DEDUPE_GEN_MAX; i++)
        zkv_dedupe_note(d, 2, i, "r", 1, i, ZKV_DEDUPE_KEEP_MS + 1);
    CU_ASSERT_TRUE(zkv_dedupe_find(d, 2, 3 * ZKV_DEDUPE_GEN_MAX, &h));
    CU_ASSERT_TRUE(zkv_dedupe_find(d, 2, 2 * ZKV_DEDUPE_GEN_MAX + 1, &h));
    CU_ASSERT_FALSE(zkv_dedupe_find(d, 2, 1, &h));
    CU_ASSERT(zkv_dedupe_count(d) <= 2 * ZKV_DEDUPE_GEN_MAX);
    zkv_dedupe_free(d);
}

static void test_forget_range(void)
{
    zkv_dedupe *d = zkv_dedupe_new();
    zkv_dedupe_hit h;
    for (uint64_t i = 1; i <= 10; i++) {
        zkv_dedupe_note(d, 5, i, "r0001", 1, i, 10);
        zkv_dedupe_note(d, 6, i, "r0002", 1, i, 10);
    }
    zkv_dedupe_forget_range(d, "r0001", 4); /* its log was cut back to seq 4 */
    CU_ASSERT_TRUE(zkv_dedupe_find(d, 5, 4, &h));
    CU_ASSERT_FALSE(zkv_dedupe_find(d, 5, 5, &h));
    CU_ASSERT_TRUE(zkv_dedupe_find(d, 6, 10, &h)); /* another range: kept */
    zkv_dedupe_forget_range(d, "r0002", 0);
    CU_ASSERT_FALSE(zkv_dedupe_find(d, 6, 1, &h));
    CU_ASSERT_EQUAL(zkv_dedupe_count(d), 4);
    /* noted again after being forgotten: found */
    zkv_dedupe_note(d, 6, 1, "r0002", 2, 11, 20);
    CU_ASSERT_TRUE(zkv_dedupe_find(d, 6, 1, &h));
    CU_ASSERT_EQUAL(h.seq, 11);
    zkv_dedupe_free(d);
}

static void test_conditions(void)
{
    zkv_cond_key present = {.found = true, .epoch = 3, .seq = 17};
    zkv_cond_key missing = {.found = false};
    CU_ASSERT_TRUE(zkv_cond_holds(ZKV__CONDITION__COND_NONE, 0, 0, &present));
    CU_ASSERT_TRUE(zkv_cond_holds(ZKV__CONDITION__IF_ABSENT, 0, 0, &missing));
    CU_ASSERT_FALSE(zkv_cond_holds(ZKV__CONDITION__IF_ABSENT, 0, 0, &present));
    CU_ASSERT_TRUE(zkv_cond_holds(ZKV__CONDITION__IF_VERSION, 3, 17, &present));
    CU_ASSERT_FALSE(zkv_cond_holds(ZKV__CONDITION__IF_VERSION, 3, 16, &present));
    CU_ASSERT_FALSE(zkv_cond_holds(ZKV__CONDITION__IF_VERSION, 2, 17, &present));
    CU_ASSERT_FALSE(zkv_cond_holds(ZKV__CONDITION__IF_VERSION, 3, 17, &missing));
    CU_ASSERT_TRUE(zkv_cond_holds(ZKV__CONDITION__IF_VERSION, 0, 0, &missing));
    CU_ASSERT_FALSE(zkv_cond_holds(ZKV__CONDITION__IF_VERSION, 0, 0, &present));
    CU_ASSERT_FALSE(zkv_cond_holds((Zkv__Condition)9, 0, 0, &missing));
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("server_dedupe", NULL, NULL);
    CU_add_test(s, "note and find", test_note_find);
    CU_add_test(s, "generations by time and by size", test_generations);
    CU_add_test(s, "a range forgotten", test_forget_range);
    CU_add_test(s, "conditions", test_conditions);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
