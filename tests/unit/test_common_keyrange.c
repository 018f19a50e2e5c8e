/* Unit tests of common/keyrange.h: ordering of binary keys, range membership with empty
 * bounds, split boundaries, and the key escape used in JSON and logs. */
#include <CUnit/Basic.h>
#include <string.h>

#include "common/keyrange.h"

#define K(s) (const uint8_t *)(s), sizeof(s) - 1

static void test_cmp(void)
{
    CU_ASSERT_EQUAL(zkv_key_cmp(NULL, 0, NULL, 0), 0);
    CU_ASSERT(zkv_key_cmp(NULL, 0, K("\x00")) < 0);
    CU_ASSERT(zkv_key_cmp(K("\x00"), NULL, 0) > 0);
    CU_ASSERT(zkv_key_cmp(K("a"), K("ab")) < 0); /* prefix first */
    CU_ASSERT(zkv_key_cmp(K("ab"), K("a")) > 0);
    CU_ASSERT(zkv_key_cmp(K("a\x00"), K("a")) > 0); /* NUL is a real byte */
    CU_ASSERT(zkv_key_cmp(K("a\x00"), K("a\x01")) < 0);
    CU_ASSERT(zkv_key_cmp(K("\x7f"), K("\x80")) < 0); /* unsigned */
    CU_ASSERT(zkv_key_cmp(K("\xff"), K("\x01")) > 0);
    CU_ASSERT(zkv_key_cmp(K("\xff\xff"), K("\xff\xff\x00")) < 0);
    CU_ASSERT_EQUAL(zkv_key_cmp(K("\xff\x00z"), K("\xff\x00z")), 0);
    CU_ASSERT(zkv_key_cmp(K("b"), K("abc")) > 0);
}

static void test_contains(void)
{
    /* unbounded on both sides: everything, the empty key included */
    CU_ASSERT_TRUE(zkv_range_contains(NULL, 0, NULL, 0, NULL, 0));
    CU_ASSERT_TRUE(zkv_range_contains(NULL, 0, NULL, 0, K("\xff\xff\xff")));
    /* [ "", "m" ) */
    CU_ASSERT_TRUE(zkv_range_contains(NULL, 0, K("m"), NULL, 0));
    CU_ASSERT_TRUE(zkv_range_contains(NULL, 0, K("m"), K("l\xff\xff")));
    CU_ASSERT_FALSE(zkv_range_contains(NULL, 0, K("m"), K("m")));
    CU_ASSERT_FALSE(zkv_range_contains(NULL, 0, K("m"), K("m\x00")));
    /* [ "m", "" ) */
    CU_ASSERT_FALSE(zkv_range_contains(K("m"), NULL, 0, NULL, 0));
    CU_ASSERT_FALSE(zkv_range_contains(K("m"), NULL, 0, K("l")));
    CU_ASSERT_TRUE(zkv_range_contains(K("m"), NULL, 0, K("m")));
    CU_ASSERT_TRUE(zkv_range_contains(K("m"), NULL, 0, K("\xff\xff")));
    /* [ "a\0", "a\0\0" ) holds exactly one key */
    CU_ASSERT_TRUE(zkv_range_contains(K("a\x00"), K("a\x00\x00"), K("a\x00")));
    CU_ASSERT_FALSE(zkv_range_contains(K("a\x00"), K("a\x00\x00"), K("a")));
    CU_ASSERT_FALSE(zkv_range_contains(K("a\x00"), K("a\x00\x00"), K("a\x00\x00")));
    CU_ASSERT_FALSE(zkv_range_contains(K("a\x00"), K("a\x00\x00"), K("a\x01")));
}

static void test_end_cmp(void)
{
    CU_ASSERT(zkv_end_cmp(NULL, 0, K("\xff\xff\xff\xff")) > 0); /* empty end is +inf */
    CU_ASSERT(zkv_end_cmp(NULL, 0, NULL, 0) > 0);
    CU_ASSERT(zkv_end_cmp(K("m"), K("n")) < 0);
    CU_ASSERT_EQUAL(zkv_end_cmp(K("m"), K("m")), 0);
    CU_ASSERT(zkv_end_cmp(K("m"), K("l")) > 0);
    CU_ASSERT(zkv_end_cmp(K("m"), NULL, 0) > 0);
}

static unsigned boundary_value(unsigned i, unsigned n, size_t *len)
{
    uint8_t b[2] = {0xaa, 0xaa};
    *len = zkv_split_boundary(i, n, b);
    return (unsigned)b[0] << 8 | b[1];
}

static void test_split_boundary(void)
{
    size_t len;
    uint8_t b[2];
    /* n = 1: one range, no inner boundary */
    CU_ASSERT_EQUAL(zkv_split_boundary(0, 1, b), 0);
    CU_ASSERT_EQUAL(zkv_split_boundary(1, 1, b), 0);
    /* n = 2 */
    CU_ASSERT_EQUAL(zkv_split_boundary(0, 2, b), 0);
    CU_ASSERT_EQUAL(boundary_value(1, 2, &len), 0x8000);
    CU_ASSERT_EQUAL(len, 2);
    CU_ASSERT_EQUAL(zkv_split_boundary(2, 2, b), 0);
    /* n = 3: floor(65536/3) = 21845 = 0x5555, floor(2*65536/3) = 43690 = 0xaaaa */
    CU_ASSERT_EQUAL(boundary_value(1, 3, &len), 0x5555);
    CU_ASSERT_EQUAL(boundary_value(2, 3, &len), 0xaaaa);
    /* n = 8 */
    for (unsigned i = 1; i < 8; i++) {
        CU_ASSERT_EQUAL(boundary_value(i, 8, &len), i * 0x2000);
        CU_ASSERT_EQUAL(len, 2);
    }
    /* n = 65536: every two-byte prefix is its own range */
    CU_ASSERT_EQUAL(boundary_value(1, 65536, &len), 1);
    CU_ASSERT_EQUAL(boundary_value(0x1234, 65536, &len), 0x1234);
    CU_ASSERT_EQUAL(boundary_value(65535, 65536, &len), 0xffff);
    CU_ASSERT_EQUAL(zkv_split_boundary(65536, 65536, b), 0);
    /* boundaries strictly increase for a few n, so no range is empty */
    unsigned ns[] = {2, 3, 7, 8, 100, 4096, 65535, 65536};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        unsigned prev = 0;
        for (unsigned i = 1; i < ns[k]; i++) {
            unsigned v = boundary_value(i, ns[k], &len);
            CU_ASSERT_EQUAL_FATAL(len, 2);
            CU_ASSERT_FATAL(v > prev);
            prev = v;
        }
    }
}

static void test_escape_basic(void)
{
    char out[64];
    CU_ASSERT_EQUAL(zkv_key_escape(NULL, 0, out), 0);
    CU_ASSERT_STRING_EQUAL(out, "");
    CU_ASSERT_EQUAL(zkv_key_escape(K("user:42 ~"), out), 9);
    CU_ASSERT_STRING_EQUAL(out, "user:42 ~");
    zkv_key_escape(K("a\x00\xff\\\"\n\x7f\x1f"), out);
    CU_ASSERT_STRING_EQUAL(out, "a\\x00\\xff\\x5c\"\\x0a\\x7f\\x1f");
}

static void test_escape_round_trip_all_bytes(void)
{
    uint8_t key[256];
    for (int i = 0; i < 256; i++)
        key[i] = (uint8_t)i;
    char esc[4 * 256 + 1];
    size_t n = zkv_key_escape(key, sizeof key, esc);
    CU_ASSERT_EQUAL(n, strlen(esc));
    /* 95 printable bytes minus the backslash stay, the other 162 take 4 chars */
    CU_ASSERT_EQUAL(n, 94 + 162 * 4);
    for (size_t i = 0; i < n; i++)
        CU_ASSERT(esc[i] >= 0x20 && esc[i] <= 0x7e);
    uint8_t back[sizeof esc];
    long k = zkv_key_unescape(esc, back);
    CU_ASSERT_EQUAL_FATAL(k, 256);
    CU_ASSERT_EQUAL(memcmp(back, key, 256), 0);
    /* one byte at a time too */
    for (int i = 0; i < 256; i++) {
        uint8_t b = (uint8_t)i;
        char e[5];
        zkv_key_escape(&b, 1, e);
        uint8_t r[5];
        CU_ASSERT_EQUAL(zkv_key_unescape(e, r), 1);
        CU_ASSERT_EQUAL(r[0], b);
    }
}

static void test_unescape(void)
{
    uint8_t out[32];
    CU_ASSERT_EQUAL(zkv_key_unescape("", out), 0);
    CU_ASSERT_EQUAL(zkv_key_unescape("a\\\\b", out), 3); /* "\\\\" is a backslash */
    CU_ASSERT_EQUAL(memcmp(out, "a\\b", 3), 0);
    CU_ASSERT_EQUAL(zkv_key_unescape("\\xFF\\x0a", out), 2); /* uppercase hex accepted */
    CU_ASSERT_EQUAL(out[0], 0xff);
    CU_ASSERT_EQUAL(out[1], 0x0a);
    /* bad escapes */
    CU_ASSERT_EQUAL(zkv_key_unescape("\\", out), -1);
    CU_ASSERT_EQUAL(zkv_key_unescape("ab\\x", out), -1);
    CU_ASSERT_EQUAL(zkv_key_unescape("ab\\x4", out), -1);
    CU_ASSERT_EQUAL(zkv_key_unescape("\\xg0", out), -1);
    CU_ASSERT_EQUAL(zkv_key_unescape("\\x0g", out), -1);
    CU_ASSERT_EQUAL(zkv_key_unescape("\\n", out), -1);
    CU_ASSERT_EQUAL(zkv_key_unescape("\\u0041", out), -1);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("common_keyrange", NULL, NULL);
    CU_add_test(s, "cmp", test_cmp);
    CU_add_test(s, "contains", test_contains);
    CU_add_test(s, "end_cmp", test_end_cmp);
    CU_add_test(s, "split_boundary", test_split_boundary);
    CU_add_test(s, "escape_basic", test_escape_basic);
    CU_add_test(s, "escape_round_trip_all_bytes", test_escape_round_trip_all_bytes);
    CU_add_test(s, "unescape", test_unescape);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
