/* test_common_wire.h: what the wire fast-path tests (test_server_wire.c,
 * test_common_wire_client.c) share: a seeded xorshift generator and random field values
 * of varied shape, so runs are repeatable. */
#ifndef ZKV_TEST_COMMON_WIRE_H
#define ZKV_TEST_COMMON_WIRE_H
#include <CUnit/Basic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/frame.h"

static uint64_t rng = 88172645463325252ull;

static inline uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A value of varied magnitude: 0, small, or up to 64 bits. */
static inline uint64_t rand_u64(void)
{
    switch (next_rand() % 4) {
    case 0:
        return 0;
    case 1:
        return next_rand() % 200;
    case 2:
        return next_rand() % (1ull << 35);
    default:
        return next_rand();
    }
}

static inline const char *rand_str(char *buf, size_t cap)
{
    switch (next_rand() % 3) {
    case 0:
        return NULL;
    case 1:
        return "";
    default: {
        size_t n = 1 + next_rand() % (cap - 1);
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)('a' + next_rand() % 26);
        buf[n] = '\0';
        return buf;
    }
    }
}

/* Checks that b holds the prefix bytes it was given, then exactly one frame: a header for
 * the n bytes of protobuf-c's packing (pack(msg, buf)), then those bytes. */
static inline void check_framed(const zkv_buf *b, size_t prefix, size_t n,
                                size_t (*pack)(const void *, uint8_t *), const void *msg)
{
    uint8_t *want = malloc(n + 1);
    CU_ASSERT_FATAL(want != NULL);
    CU_ASSERT_EQUAL_FATAL(pack(msg, want), n);
    CU_ASSERT_EQUAL_FATAL(b->len, prefix + ZKV_FRAME_HEADER_LEN + n);
    uint8_t hdr[ZKV_FRAME_HEADER_LEN];
    zkv_frame_put_header(hdr, (uint32_t)n);
    CU_ASSERT_EQUAL(memcmp(b->data + prefix, hdr, sizeof(hdr)), 0);
    CU_ASSERT_EQUAL(memcmp(b->data + prefix + ZKV_FRAME_HEADER_LEN, want, n), 0);
    free(want);
}

#endif
