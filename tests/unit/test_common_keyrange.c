/* Unit tests of common/keyrange.h: ordering of binary keys, range membership with empty
 * bounds, split boundaries, the midpoint a split key is bisected with, and the key escape
 * used in JSON and logs. */
#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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

/* zkv_key_midpoint into a buffer of exactly max(alen, blen) + 1 bytes (so ASan sees any
 * write past it); returns the length and copies the key to out. */
static size_t midpoint(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t *out)
{
    size_t cap = (alen > blen ? alen : blen) + 1;
    uint8_t *m = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    if (!m)
        return 0; /* (the assertion has returned already; for the analysers) */
    size_t n = zkv_key_midpoint(a, alen, b, blen, m);
    CU_ASSERT_FATAL(n <= cap);
    memcpy(out, m, n);
    free(m);
    return n;
}

#define MID_IS(a, alen, b, blen, want)                                                             \
    do {                                                                                           \
        uint8_t out_[64];                                                                          \
        size_t n_ = midpoint((const uint8_t *)(a), alen, (const uint8_t *)(b), blen, out_);        \
        CU_ASSERT_EQUAL(n_, sizeof(want) - 1);                                                     \
        CU_ASSERT(n_ == sizeof(want) - 1 && memcmp(out_, want, n_) == 0);                          \
    } while (0)

static void test_midpoint_exact(void)
{
    /* "a" + "c" = 0xc4 over two digits, halved: 0x62 0x00, the zero trimmed: "b" */
    MID_IS("a", 1, "c", 1, "b");
    /* "a" (0x61) and "b" (0x62): 0x61 0x80 */
    MID_IS("a", 1, "b", 1, "a\x80");
    /* the whole key space: 0 + 0xff = 0xff, halved: 0x7f (rest 1 dropped) */
    MID_IS(NULL, 0, NULL, 0, "\x7f");
    /* from "" to "\x80": 0x40 */
    MID_IS(NULL, 0, "\x80", 1, "\x40");
    /* from "\x80" to +infinity (0xff 0xff over two digits): 0x80 0x00 + 0xff 0xff =
     * 0x1 0x7f 0xff, halved: 0xbf 0xff */
    MID_IS("\x80", 1, NULL, 0, "\xbf\xff");
    /* from "\xff\xff" to +infinity: stays above a */
    MID_IS("\xff\xff", 2, NULL, 0, "\xff\xff\x7f");
    /* a shorter b: "ab" and "b": 0x61 0x62 0x00 + 0x62 0x00 0x00 = 0xc3 0x62 0x00,
     * halved: 0x61 0xb1 0x00, trimmed to "a\xb1" */
    MID_IS("ab", 2, "b", 1, "a\xb1");
    /* keys with nothing strictly between them: m = a, kept at a's length */
    MID_IS("a", 1, "a\x00", 2, "a");
    MID_IS("a\x00", 2, "a\x00\x00", 3, "a\x00");
    MID_IS(NULL, 0, "\x00", 1, "");
    /* a's trailing zero bytes are kept (a shorter key would sort below a) */
    MID_IS("a\x00\x00", 3, "a\x00\x02", 3, "a\x00\x01");
    MID_IS("k\x00", 2, "m", 1, "l\x00");
    /* a carry: "\x01\xff" + "\x02\x01" = 0x04 0x00 0x00, halved: 0x02 0x00 0x00, trimmed
     * no shorter than a: "\x02\x00" */
    MID_IS("\x01\xff", 2, "\x02\x01", 2, "\x02\x00");
}

static uint64_t xs_state;

static uint64_t xs_next(void)
{
    xs_state ^= xs_state << 13;
    xs_state ^= xs_state >> 7;
    xs_state ^= xs_state << 17;
    return xs_state;
}

/* A random key of 0..6 bytes from a small alphabet (0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff and
 * 'a'..'d'), so prefixes, NULs and carries come up often. */
static size_t random_key(uint8_t *k)
{
    static const uint8_t alpha[] = {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 'a', 'b', 'c', 'd'};
    size_t n = (size_t)(xs_next() % 7);
    for (size_t i = 0; i < n; i++)
        k[i] = alpha[xs_next() % sizeof(alpha)];
    return n;
}

static void test_midpoint_random(void)
{
    xs_state = 0x9e3779b97f4a7c15ull;
    int checked = 0, inside = 0, bad = 0;
    for (int it = 0; it < 10000; it++) {
        uint8_t a[8], b[8], m[16];
        size_t alen = random_key(a), blen = random_key(b);
        bool b_inf = xs_next() % 8 == 0; /* b empty: +infinity */
        if (b_inf)
            blen = 0;
        if (!b_inf) {
            int c = zkv_key_cmp(a, alen, b, blen);
            if (c == 0 || blen == 0)
                continue; /* need a < b, and an empty b means +infinity */
            if (c > 0) {
                uint8_t t[8];
                size_t tl = alen;
                memcpy(t, a, alen);
                memcpy(a, b, blen);
                alen = blen;
                memcpy(b, t, tl);
                blen = tl;
            }
        }
        size_t mlen = midpoint(a, alen, b, blen, m);
        checked++;
        bool ge_a = zkv_key_cmp(a, alen, m, mlen) <= 0;
        bool lt_b = zkv_end_cmp(b, blen, m, mlen) > 0;
        if (!ge_a || !lt_b) {
            if (bad++ < 5) {
                char ea[40], eb[40], em[70];
                zkv_key_escape(a, alen, ea);
                zkv_key_escape(b, blen, eb);
                zkv_key_escape(m, mlen, em);
                fprintf(stderr, "\nmidpoint(%s, %s) = %s is not in [a, b)\n", ea,
                        blen ? eb : "+inf", em);
            }
        }
        if (zkv_key_cmp(a, alen, m, mlen) < 0)
            inside++;
        /* never longer than max(alen, blen) + 1 */
        CU_ASSERT(mlen <= (alen > blen ? alen : blen) + 1);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(checked > 5000);
    CU_ASSERT(inside > checked / 2); /* most pairs have room for a key strictly between */
}

/* Bisection as the split-key search runs it: halving [lo, hi) toward a target key keeps
 * lo <= target < hi, every midpoint lies strictly between lo and hi while there is room,
 * and 32 halvings of the whole key space pin down the target's first 3 bytes. */
static void test_midpoint_bisect(void)
{
    const uint8_t target[] = {'k', '0', '5', '0'};
    uint8_t lo[64], hi[64], mid[64];
    size_t llen = 0, hlen = 0; /* the whole key space */
    for (int step = 0; step < 40; step++) {
        size_t mlen = midpoint(lo, llen, hi, hlen, mid);
        CU_ASSERT_FATAL(mlen < sizeof(mid) - 8);
        CU_ASSERT_FATAL(zkv_key_cmp(mid, mlen, lo, llen) > 0);
        CU_ASSERT_FATAL(zkv_end_cmp(hi, hlen, mid, mlen) > 0);
        if (zkv_key_cmp(mid, mlen, target, sizeof target) <= 0) {
            memcpy(lo, mid, mlen);
            llen = mlen;
        } else {
            memcpy(hi, mid, mlen);
            hlen = mlen;
        }
        CU_ASSERT_FATAL(zkv_key_cmp(lo, llen, target, sizeof target) <= 0);
        CU_ASSERT_FATAL(zkv_end_cmp(hi, hlen, target, sizeof target) > 0);
    }
    CU_ASSERT(llen >= 3 && memcmp(lo, "k05", 3) == 0);
    CU_ASSERT(hlen >= 4 && memcmp(hi, "k050", 4) == 0);
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
    CU_add_test(s, "midpoint_exact", test_midpoint_exact);
    CU_add_test(s, "midpoint_random", test_midpoint_random);
    CU_add_test(s, "midpoint_bisect", test_midpoint_bisect);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
