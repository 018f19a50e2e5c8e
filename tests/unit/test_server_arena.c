/* test_server_arena.c: the request-decoding arena of server/arena.c: protobuf-c decodes
 * through it (small and large requests), memory is reused after reset, the main block
 * grows to the largest request seen within its cap, and allocations are aligned. */
#include <CUnit/Basic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "zkv.pb-c.h"

static void test_alloc_reset(void)
{
    zkv_arena a;
    zkv_arena_init(&a, 1024, 1u << 20);
    void *p1 = zkv_arena_alloc(&a, 10);
    void *p2 = zkv_arena_alloc(&a, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p2);
    CU_ASSERT_NOT_EQUAL(p1, p2);
    CU_ASSERT_EQUAL((uintptr_t)p2 % sizeof(max_align_t), 0);
    memset(p1, 1, 10);
    /* larger than the block: an overflow chunk */
    void *big = zkv_arena_alloc(&a, 4000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, 2, 4000);
    zkv_arena_reset(&a);
    /* after the reset the block has grown to fit the last request in one piece */
    CU_ASSERT_TRUE(a.cap >= 4000 + 32);
    CU_ASSERT_EQUAL(a.used, 0);
    CU_ASSERT_PTR_NULL(a.overflow);
    void *again = zkv_arena_alloc(&a, 4000);
    CU_ASSERT_PTR_NOT_NULL(again);
    CU_ASSERT_PTR_NULL(a.overflow);
    /* beyond the cap the block stays put, overflow still works */
    CU_ASSERT_PTR_NOT_NULL(zkv_arena_alloc(&a, 2u << 20));
    zkv_arena_reset(&a);
    CU_ASSERT_TRUE(a.cap <= 1u << 20);
    zkv_arena_free(&a);
}

static void test_protobuf_decode(void)
{
    zkv_arena a;
    zkv_arena_init(&a, 256, 4u << 20);
    static uint8_t value[100000];
    for (size_t i = 0; i < sizeof(value); i++)
        value[i] = (uint8_t)i;
    for (int round = 0; round < 3; round++) {
        Zkv__Request req = ZKV__REQUEST__INIT;
        req.id = 77 + (uint64_t)round;
        req.op = ZKV__OP__PUT;
        req.key.data = (uint8_t *)"k\0y";
        req.key.len = 3;
        req.value.data = value;
        req.value.len = round == 1 ? 10 : sizeof(value);
        size_t n = zkv__request__get_packed_size(&req);
        uint8_t *buf = malloc(n);
        CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
        zkv__request__pack(&req, buf);
        Zkv__Request *got = zkv__request__unpack(&a.pb, n, buf);
        free(buf);
        CU_ASSERT_PTR_NOT_NULL_FATAL(got);
        CU_ASSERT_EQUAL(got->id, 77 + (uint64_t)round);
        CU_ASSERT_EQUAL(got->op, ZKV__OP__PUT);
        CU_ASSERT_EQUAL(got->key.len, 3);
        CU_ASSERT_EQUAL(memcmp(got->key.data, "k\0y", 3), 0);
        CU_ASSERT_EQUAL(got->value.len, req.value.len);
        CU_ASSERT_EQUAL(memcmp(got->value.data, value, req.value.len), 0);
        zkv_arena_reset(&a);
    }
    /* garbage fails cleanly */
    const uint8_t junk[] = {0x08, 0xff};
    CU_ASSERT_PTR_NULL(zkv__request__unpack(&a.pb, sizeof(junk), junk));
    zkv_arena_reset(&a);
    zkv_arena_free(&a);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("server_arena", NULL, NULL);
    CU_add_test(s, "alloc and reset", test_alloc_reset);
    CU_add_test(s, "protobuf decode", test_protobuf_decode);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
