/* Unit tests of common/buf.h: growth, append, consume and compact. */
#include <CUnit/Basic.h>
#include <string.h>

#include "common/buf.h"

static void test_init_free(void)
{
    zkv_buf b;
    zkv_buf_init(&b);
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_EQUAL(b.off, 0);
    CU_ASSERT_EQUAL(b.cap, 0);
    CU_ASSERT_EQUAL(zkv_buf_unread(&b), 0);
    zkv_buf_free(&b);
    CU_ASSERT_PTR_NULL(b.data);
    /* reusable after free */
    CU_ASSERT_EQUAL(zkv_buf_append(&b, "ab", 2), 0);
    CU_ASSERT_EQUAL(zkv_buf_unread(&b), 2);
    zkv_buf_free(&b);
    CU_ASSERT_EQUAL(b.cap, 0);
}

static void test_append_grow(void)
{
    zkv_buf b;
    zkv_buf_init(&b);
    uint8_t chunk[1000];
    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = (uint8_t)i;
    for (int i = 0; i < 100; i++)
        CU_ASSERT_EQUAL_FATAL(zkv_buf_append(&b, chunk, sizeof chunk), 0);
    CU_ASSERT_EQUAL(b.len, 100000);
    CU_ASSERT(b.cap >= 100000);
    for (int i = 0; i < 100; i++)
        CU_ASSERT_EQUAL(memcmp(b.data + i * 1000, chunk, 1000), 0);
    /* appending nothing is fine */
    CU_ASSERT_EQUAL(zkv_buf_append(&b, NULL, 0), 0);
    CU_ASSERT_EQUAL(b.len, 100000);
    zkv_buf_free(&b);
}

static void test_reserve(void)
{
    zkv_buf b;
    zkv_buf_init(&b);
    CU_ASSERT_EQUAL(zkv_buf_reserve(&b, 10), 0);
    CU_ASSERT(b.cap >= 10);
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_EQUAL(zkv_buf_append(&b, "0123456789", 10), 0);
    CU_ASSERT_EQUAL(zkv_buf_reserve(&b, 5000), 0);
    CU_ASSERT(b.cap >= 5010);
    CU_ASSERT_EQUAL(memcmp(b.data, "0123456789", 10), 0);
    CU_ASSERT_EQUAL(zkv_buf_reserve(&b, SIZE_MAX), -1);
    zkv_buf_free(&b);
}

static void test_consume_compact(void)
{
    zkv_buf b;
    zkv_buf_init(&b);
    CU_ASSERT_EQUAL(zkv_buf_append(&b, "hello world", 11), 0);
    zkv_buf_consume(&b, 6);
    CU_ASSERT_EQUAL(zkv_buf_unread(&b), 5);
    CU_ASSERT_EQUAL(memcmp(zkv_buf_head(&b), "world", 5), 0);
    CU_ASSERT_EQUAL(b.off, 6);
    zkv_buf_compact(&b);
    CU_ASSERT_EQUAL(b.off, 0);
    CU_ASSERT_EQUAL(b.len, 5);
    CU_ASSERT_EQUAL(memcmp(b.data, "world", 5), 0);
    CU_ASSERT_EQUAL(zkv_buf_append(&b, "!", 1), 0);
    CU_ASSERT_EQUAL(memcmp(zkv_buf_head(&b), "world!", 6), 0);
    /* consuming everything resets len and off */
    zkv_buf_consume(&b, 6);
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_EQUAL(b.off, 0);
    /* over-consuming is clamped */
    CU_ASSERT_EQUAL(zkv_buf_append(&b, "xyz", 3), 0);
    zkv_buf_consume(&b, 100);
    CU_ASSERT_EQUAL(zkv_buf_unread(&b), 0);
    CU_ASSERT_EQUAL(b.len, 0);
    /* compact of an empty or unconsumed buffer is a no-op */
    zkv_buf_compact(&b);
    CU_ASSERT_EQUAL(b.len, 0);
    zkv_buf_free(&b);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("common_buf", NULL, NULL);
    CU_add_test(s, "init_free", test_init_free);
    CU_add_test(s, "append_grow", test_append_grow);
    CU_add_test(s, "reserve", test_reserve);
    CU_add_test(s, "consume_compact", test_consume_compact);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
