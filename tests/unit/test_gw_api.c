/* Unit tests of client/examples/http-gateway/gw_api.c: keys from paths (percent-decoded,
 * binary), ETags both ways, the Zkv-TTL header, the HTTP status of every libzkv code, JSON
 * error bodies, bytes as JSON (text or base64) and scan tokens as hex. */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include "gw_api.h"

static void test_paths(void)
{
    uint8_t k[16];
    CU_ASSERT_EQUAL(gw_key_of_path("/kv/user%3A1", k, sizeof k), 6);
    CU_ASSERT_EQUAL(memcmp(k, "user:1", 6), 0);
    CU_ASSERT_EQUAL(gw_key_of_path("/kv/a%00%ff+b", k, sizeof k), 5);
    CU_ASSERT_EQUAL(memcmp(k, "a\0\xff+b", 5), 0);
    CU_ASSERT_EQUAL(gw_key_of_path("/kv", k, sizeof k), 0);
    CU_ASSERT_EQUAL(gw_key_of_path("/kv/", k, sizeof k), 0);
    CU_ASSERT_EQUAL(gw_key_of_path("/other", k, sizeof k), -1);
    CU_ASSERT_EQUAL(gw_key_of_path("/kv/%zz", k, sizeof k), -1);
    CU_ASSERT_EQUAL(gw_key_of_path("/kv/%4", k, sizeof k), -1);
    CU_ASSERT_EQUAL(gw_key_of_path("/kv/0123456789abcdefX", k, sizeof k), -1); /* no room */
}

static void test_etags_and_ttl(void)
{
    char e[64];
    gw_etag((zkv_version){3, 1742}, e, sizeof e);
    CU_ASSERT_STRING_EQUAL(e, "\"3:1742\"");
    bool any;
    zkv_version v;
    CU_ASSERT_EQUAL(gw_etag_parse("\"3:1742\"", &any, &v), 0);
    CU_ASSERT(!any && v.epoch == 3 && v.seq == 1742);
    CU_ASSERT_EQUAL(gw_etag_parse("W/\"1:2\"", &any, &v), 0);
    CU_ASSERT_EQUAL(gw_etag_parse(" *", &any, &v), 0);
    CU_ASSERT_TRUE(any);
    CU_ASSERT_EQUAL(gw_etag_parse("3:1742", &any, &v), -1);
    CU_ASSERT_EQUAL(gw_etag_parse("\"3:1742\" x", &any, &v), -1);
    CU_ASSERT_EQUAL(gw_etag_parse(NULL, &any, &v), -1);
    uint64_t ms;
    CU_ASSERT_EQUAL(gw_ttl_parse("60", &ms), 0);
    CU_ASSERT_EQUAL(ms, 60000);
    CU_ASSERT_EQUAL(gw_ttl_parse("0", &ms), -1);
    CU_ASSERT_EQUAL(gw_ttl_parse("1.5", &ms), -1);
    CU_ASSERT_EQUAL(gw_ttl_parse("315360001", &ms), -1);
    CU_ASSERT_EQUAL(gw_ttl_parse("", &ms), -1);
}

static void test_statuses_and_errors(void)
{
    CU_ASSERT_EQUAL(gw_http_status(ZKV_OK), 200);
    CU_ASSERT_EQUAL(gw_http_status(ZKV_ENOTFOUND), 404);
    CU_ASSERT_EQUAL(gw_http_status(ZKV_ECONDITION), 412);
    CU_ASSERT_EQUAL(gw_http_status(ZKV_ETOOLARGE), 413);
    CU_ASSERT_EQUAL(gw_http_status(ZKV_EINVAL), 400);
    CU_ASSERT_EQUAL(gw_http_status(ZKV_EUNAVAILABLE), 503);
    CU_ASSERT_EQUAL(gw_http_status(ZKV_ECONNECT), 503);
    CU_ASSERT_EQUAL(gw_http_status(ZKV_ETIMEOUT), 504);
    CU_ASSERT_EQUAL(gw_http_status(ZKV_EINTERNAL), 500);
    zkv_version v = {2, 9};
    char *j = gw_json_error(ZKV_ECONDITION, "condition \"failed\"", &v);
    CU_ASSERT_STRING_EQUAL(j,
                           "{\"error\":\"condition "
                           "\\\"failed\\\"\",\"code\":\"ZKV_ECONDITION\",\"version\":\"2:9\"}\n");
    free(j);
    j = gw_json_error(ZKV_ENOTFOUND, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"code\":\"ZKV_ENOTFOUND\"}"));
    free(j);
}

static void test_json_bytes_and_hex(void)
{
    char *b = NULL;
    size_t len = 0, cap = 0;
    CU_ASSERT_EQUAL(gw_json_bytes(&b, &len, &cap, "caf\xc3\xa9 \"q\"", 9), 0);
    CU_ASSERT_STRING_EQUAL(b, "\"caf\xc3\xa9 \\\"q\\\"\"");
    len = 0;
    CU_ASSERT_EQUAL(gw_json_bytes(&b, &len, &cap, "a\0\xff", 3), 0);
    CU_ASSERT_STRING_EQUAL(b, "{\"base64\":\"YQD/\"}");
    len = 0;
    CU_ASSERT_EQUAL(gw_json_bytes(&b, &len, &cap, "\xc3", 1), 0); /* cut UTF-8 */
    CU_ASSERT_STRING_EQUAL(b, "{\"base64\":\"ww==\"}");
    len = 0;
    CU_ASSERT_EQUAL(gw_json_bytes(&b, &len, &cap, "", 0), 0);
    CU_ASSERT_STRING_EQUAL(b, "\"\"");
    free(b);
    char hex[16];
    gw_hex_encode((const uint8_t *)"\x00\xab\x7f", 3, hex);
    CU_ASSERT_STRING_EQUAL(hex, "00ab7f");
    uint8_t out[4];
    CU_ASSERT_EQUAL(gw_hex_decode("00AB7f", out, sizeof out), 3);
    CU_ASSERT_EQUAL(memcmp(out, "\x00\xab\x7f", 3), 0);
    CU_ASSERT_EQUAL(gw_hex_decode("abc", out, sizeof out), -1);
    CU_ASSERT_EQUAL(gw_hex_decode("zz", out, sizeof out), -1);
    CU_ASSERT_EQUAL(gw_hex_decode("0011223344", out, sizeof out), -1);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("gw_api", NULL, NULL);
    CU_add_test(s, "keys from paths", test_paths);
    CU_add_test(s, "ETags and Zkv-TTL", test_etags_and_ttl);
    CU_add_test(s, "statuses and JSON errors", test_statuses_and_errors);
    CU_add_test(s, "bytes as JSON, tokens as hex", test_json_bytes_and_hex);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
