/* test_client_scan_args.c: a scan's arguments (client/src/scan_args.c): a prefix narrowing
 * the bounds (0xff bytes, a prefix above or below the caller's bounds), tokens that carry
 * the bounds, flags and cursor and come back the same, and tokens refused when they are
 * not one (truncated, altered, another version). */
#include <CUnit/Basic.h>
#include <string.h>

#include "scan_args.h"

static char err[256];

static bool bytes_eq(const uint8_t *a, size_t al, const char *b, size_t bl)
{
    return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

static void test_prefix_end(void)
{
    uint8_t out[8];
    size_t n;
    zkv__prefix_end((const uint8_t *)"ab", 2, out, &n);
    CU_ASSERT(bytes_eq(out, n, "ac", 2));
    zkv__prefix_end((const uint8_t *)"a\xff\xff", 3, out, &n);
    CU_ASSERT(bytes_eq(out, n, "b", 1));
    zkv__prefix_end((const uint8_t *)"\xff\xff", 2, out, &n);
    CU_ASSERT_EQUAL(n, 0); /* no end */
    zkv__prefix_end((const uint8_t *)"a\x00", 2, out, &n);
    CU_ASSERT(bytes_eq(out, n, "a\x01", 2));
}

static void test_spec(void)
{
    zkv__scan_spec sp;
    zkv_scan_args a = {.prefix = "user:", .plen = 5, .limit = 7, .keys_only = 1};
    CU_ASSERT_EQUAL_FATAL(zkv__scan_spec_from(&sp, &a, err, sizeof err), ZKV_OK);
    CU_ASSERT(bytes_eq(sp.start, sp.slen, "user:", 5));
    CU_ASSERT(bytes_eq(sp.end, sp.elen, "user;", 5));
    CU_ASSERT(sp.keys_only && !sp.reverse && !sp.has_cursor && sp.limit == 7);
    zkv__scan_spec_free(&sp);
    /* the caller's bounds inside the prefix win; outside it the prefix does */
    zkv_scan_args b = {
        .start = "user:5", .slen = 6, .end = "zzz", .elen = 3, .prefix = "user:", .plen = 5};
    CU_ASSERT_EQUAL_FATAL(zkv__scan_spec_from(&sp, &b, err, sizeof err), ZKV_OK);
    CU_ASSERT(bytes_eq(sp.start, sp.slen, "user:5", 6));
    CU_ASSERT(bytes_eq(sp.end, sp.elen, "user;", 5));
    zkv__scan_spec_free(&sp);
    zkv_scan_args c = {
        .start = "a", .slen = 1, .end = "user:3", .elen = 6, .prefix = "user:", .plen = 5};
    CU_ASSERT_EQUAL_FATAL(zkv__scan_spec_from(&sp, &c, err, sizeof err), ZKV_OK);
    CU_ASSERT(bytes_eq(sp.start, sp.slen, "user:", 5));
    CU_ASSERT(bytes_eq(sp.end, sp.elen, "user:3", 6));
    zkv__scan_spec_free(&sp);
    /* NULL with a length */
    zkv_scan_args d = {.start = NULL, .slen = 3};
    CU_ASSERT_EQUAL(zkv__scan_spec_from(&sp, &d, err, sizeof err), ZKV_EINVAL);
    zkv__scan_spec_free(&sp);
}

static void test_tokens(void)
{
    zkv__scan_spec sp;
    zkv_scan_args a = {.start = "a\x00", .slen = 2, .end = "m", .elen = 1, .reverse = 1};
    CU_ASSERT_EQUAL_FATAL(zkv__scan_spec_from(&sp, &a, err, sizeof err), ZKV_OK);
    zkv_buf t;
    zkv_buf_init(&t);
    CU_ASSERT_EQUAL_FATAL(zkv__scan_token_encode(&t, &sp, (const uint8_t *)"k\xff", 2), 0);
    zkv__scan_spec_free(&sp);
    zkv_scan_args r = {.token = t.data, .tlen = t.len, .limit = 3, .start = "ignored", .slen = 7};
    zkv__scan_spec back;
    CU_ASSERT_EQUAL_FATAL(zkv__scan_spec_from(&back, &r, err, sizeof err), ZKV_OK);
    CU_ASSERT(back.reverse && !back.keys_only && back.has_cursor && back.limit == 3);
    CU_ASSERT(bytes_eq(back.start, back.slen, "a\x00", 2));
    CU_ASSERT(bytes_eq(back.end, back.elen, "m", 1));
    CU_ASSERT(bytes_eq(back.cursor, back.clen, "k\xff", 2));
    zkv__scan_spec_free(&back);
    /* every truncation, a flipped version, trailing bytes: not a token */
    for (size_t n = 0; n < t.len; n++) {
        zkv_scan_args cut = {.token = t.data, .tlen = n};
        CU_ASSERT_EQUAL(zkv__scan_spec_from(&back, &cut, err, sizeof err),
                        n == 0 ? ZKV_OK : ZKV_EINVAL);
        zkv__scan_spec_free(&back);
    }
    t.data[2] = 9;
    zkv_scan_args v = {.token = t.data, .tlen = t.len};
    CU_ASSERT_EQUAL(zkv__scan_spec_from(&back, &v, err, sizeof err), ZKV_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "token"));
    zkv__scan_spec_free(&back);
    t.data[2] = 1;
    zkv_buf_append(&t, "x", 1);
    zkv_scan_args longer = {.token = t.data, .tlen = t.len};
    CU_ASSERT_EQUAL(zkv__scan_spec_from(&back, &longer, err, sizeof err), ZKV_EINVAL);
    zkv__scan_spec_free(&back);
    zkv_buf_free(&t);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("client_scan_args", NULL, NULL);
    CU_add_test(s, "prefix end", test_prefix_end);
    CU_add_test(s, "bounds from a prefix", test_spec);
    CU_add_test(s, "tokens", test_tokens);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
