/* Unit tests of common/frame.h: the frame parser fed truncated, oversized, garbage and
 * byte-by-byte input, request-id recovery, and protobuf round trips with binary keys. */
#include <CUnit/Basic.h>
#include <string.h>

#include "common/buf.h"
#include "common/frame.h"

static const uint8_t BIN_KEY[] = {'k', 0x00, 0xff, 'x', 0x00, 0xff, 0xfe};

static void test_header(void)
{
    uint8_t h[4];
    zkv_frame_put_header(h, 0x01020304u);
    CU_ASSERT_EQUAL(h[0], 1);
    CU_ASSERT_EQUAL(h[1], 2);
    CU_ASSERT_EQUAL(h[2], 3);
    CU_ASSERT_EQUAL(h[3], 4);
    zkv_frame_put_header(h, 0);
    CU_ASSERT_EQUAL(h[0] | h[1] | h[2] | h[3], 0);
}

static void test_parse_whole_and_truncated(void)
{
    uint8_t buf[4 + 10];
    zkv_frame_put_header(buf, 10);
    for (int i = 0; i < 10; i++)
        buf[4 + i] = (uint8_t)(0xa0 + i);
    const uint8_t *payload = NULL;
    size_t plen = 99, consumed = 99;
    /* every strict prefix needs more, and leaves outputs alone */
    for (size_t n = 0; n < sizeof buf; n++) {
        CU_ASSERT_EQUAL(zkv_frame_parse(buf, n, 100, &payload, &plen, &consumed),
                        ZKV_FRAME_NEED_MORE);
    }
    CU_ASSERT_EQUAL(consumed, 99);
    CU_ASSERT_EQUAL(zkv_frame_parse(buf, sizeof buf, 100, &payload, &plen, &consumed),
                    ZKV_FRAME_OK);
    CU_ASSERT_PTR_EQUAL(payload, buf + 4);
    CU_ASSERT_EQUAL(plen, 10);
    CU_ASSERT_EQUAL(consumed, 14);
    /* max_payload equal to the length is accepted */
    CU_ASSERT_EQUAL(zkv_frame_parse(buf, sizeof buf, 10, &payload, &plen, &consumed), ZKV_FRAME_OK);
}

static void test_parse_empty_payload(void)
{
    uint8_t buf[4];
    zkv_frame_put_header(buf, 0);
    const uint8_t *payload;
    size_t plen = 1, consumed = 0;
    CU_ASSERT_EQUAL(zkv_frame_parse(buf, 4, 100, &payload, &plen, &consumed), ZKV_FRAME_OK);
    CU_ASSERT_EQUAL(plen, 0);
    CU_ASSERT_EQUAL(consumed, 4);
}

static void test_parse_too_large(void)
{
    uint8_t buf[8] = {0};
    zkv_frame_put_header(buf, 101);
    const uint8_t *payload;
    size_t plen = 0, consumed = 0;
    /* the header alone is enough to refuse */
    CU_ASSERT_EQUAL(zkv_frame_parse(buf, 4, 100, &payload, &plen, &consumed), ZKV_FRAME_TOO_LARGE);
    CU_ASSERT_EQUAL(plen, 101);
    CU_ASSERT_EQUAL(consumed, 4);
    /* the largest declared length */
    memset(buf, 0xff, 4);
    CU_ASSERT_EQUAL(zkv_frame_parse(buf, 8, ZKV_MAX_RESPONSE_FRAME, &payload, &plen, &consumed),
                    ZKV_FRAME_TOO_LARGE);
    CU_ASSERT_EQUAL(plen, 0xffffffffu);
    CU_ASSERT_EQUAL(consumed, 4);
}

static void test_parse_garbage(void)
{
    /* ASCII garbage ("GET / HTTP/1.1") reads as a huge length: refused, not buffered */
    const char *http = "GET / HTTP/1.1\r\n\r\n";
    const uint8_t *payload;
    size_t plen = 0, consumed = 0;
    CU_ASSERT_EQUAL(zkv_frame_parse((const uint8_t *)http, strlen(http),
                                    zkv_frame_max_request(4096, 1024 * 1024), &payload, &plen,
                                    &consumed),
                    ZKV_FRAME_TOO_LARGE);
    CU_ASSERT_EQUAL(plen, 0x47455420u);
    /* a well-framed payload of garbage does not decode */
    uint8_t g[4 + 6];
    zkv_frame_put_header(g, 6);
    memcpy(g + 4, "\xff\xff\xff\xff\xff\xff", 6);
    CU_ASSERT_EQUAL(zkv_frame_parse(g, sizeof g, 100, &payload, &plen, &consumed), ZKV_FRAME_OK);
    Zkv__Request *req = zkv__request__unpack(NULL, plen, payload);
    CU_ASSERT_PTR_NULL(req);
    uint64_t id = 7;
    CU_ASSERT_EQUAL(zkv_frame_peek_id(payload, plen, &id), -1);
    CU_ASSERT_EQUAL(id, 7);
}

static void test_peek_id(void)
{
    uint64_t id = 0;
    const uint8_t one[] = {0x08, 0x01, 0x10, 0x02};
    CU_ASSERT_EQUAL(zkv_frame_peek_id(one, sizeof one, &id), 0);
    CU_ASSERT_EQUAL(id, 1);
    const uint8_t v300[] = {0x08, 0xac, 0x02};
    CU_ASSERT_EQUAL(zkv_frame_peek_id(v300, sizeof v300, &id), 0);
    CU_ASSERT_EQUAL(id, 300);
    const uint8_t max[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    CU_ASSERT_EQUAL(zkv_frame_peek_id(max, sizeof max, &id), 0);
    CU_ASSERT_EQUAL(id, UINT64_MAX);
    /* truncated varint at every length */
    for (size_t n = 0; n < sizeof max; n++)
        CU_ASSERT_EQUAL(zkv_frame_peek_id(max, n, &id), -1);
    /* overlong varint (11 bytes) and overflow in the 10th byte */
    const uint8_t overlong[] = {0x08, 0x80, 0x80, 0x80, 0x80, 0x80,
                                0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    CU_ASSERT_EQUAL(zkv_frame_peek_id(overlong, sizeof overlong, &id), -1);
    const uint8_t overflow[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    CU_ASSERT_EQUAL(zkv_frame_peek_id(overflow, sizeof overflow, &id), -1);
    /* wrong tag: field 2 first, or field 1 with another wire type */
    const uint8_t field2[] = {0x10, 0x02};
    CU_ASSERT_EQUAL(zkv_frame_peek_id(field2, sizeof field2, &id), -1);
    const uint8_t wt2[] = {0x0a, 0x01, 0x00};
    CU_ASSERT_EQUAL(zkv_frame_peek_id(wt2, sizeof wt2, &id), -1);
    CU_ASSERT_EQUAL(zkv_frame_peek_id(NULL, 0, &id), -1);
    CU_ASSERT_EQUAL(id, UINT64_MAX);
}

static void test_request_round_trip(void)
{
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.id = 123456789012ull;
    req.op = ZKV__OP__PUT;
    req.key.data = (uint8_t *)BIN_KEY;
    req.key.len = sizeof BIN_KEY;
    uint8_t value[300];
    for (size_t i = 0; i < sizeof value; i++)
        value[i] = (uint8_t)(255 - i % 256);
    req.value.data = value;
    req.value.len = sizeof value;
    req.flags = ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE;
    req.map_version = 42;
    req.cluster_id = "c1";

    zkv_buf out;
    zkv_buf_init(&out);
    CU_ASSERT_EQUAL_FATAL(zkv_frame_append_request(&out, &req), 0);
    CU_ASSERT_EQUAL_FATAL(zkv_frame_append_request(&out, &req), 0); /* pipelined */
    size_t one = out.len / 2;
    CU_ASSERT_EQUAL(out.len, 2 * one);

    for (int k = 0; k < 2; k++) {
        const uint8_t *payload;
        size_t plen, consumed;
        CU_ASSERT_EQUAL_FATAL(zkv_frame_parse(zkv_buf_head(&out), zkv_buf_unread(&out),
                                              zkv_frame_max_request(4096, 1 << 20), &payload, &plen,
                                              &consumed),
                              ZKV_FRAME_OK);
        CU_ASSERT_EQUAL(consumed, one);
        uint64_t id = 0;
        CU_ASSERT_EQUAL(zkv_frame_peek_id(payload, plen, &id), 0);
        CU_ASSERT_EQUAL(id, 123456789012ull);
        Zkv__Request *got = zkv__request__unpack(NULL, plen, payload);
        CU_ASSERT_PTR_NOT_NULL_FATAL(got);
        CU_ASSERT_EQUAL(got->id, req.id);
        CU_ASSERT_EQUAL(got->op, ZKV__OP__PUT);
        CU_ASSERT_EQUAL(got->key.len, sizeof BIN_KEY);
        CU_ASSERT_EQUAL(memcmp(got->key.data, BIN_KEY, sizeof BIN_KEY), 0);
        CU_ASSERT_EQUAL(got->value.len, sizeof value);
        CU_ASSERT_EQUAL(memcmp(got->value.data, value, sizeof value), 0);
        CU_ASSERT_EQUAL(got->flags, 1);
        CU_ASSERT_EQUAL(got->map_version, 42);
        CU_ASSERT_STRING_EQUAL(got->cluster_id, "c1");
        zkv__request__free_unpacked(got, NULL);
        zkv_buf_consume(&out, consumed);
    }
    CU_ASSERT_EQUAL(zkv_buf_unread(&out), 0);
    zkv_buf_free(&out);
}

static void test_response_round_trip_byte_by_byte(void)
{
    Zkv__Response resp = ZKV__RESPONSE__INIT;
    resp.id = 9;
    resp.status = ZKV__STATUS__NOT_OWNER;
    resp.message = "not the owner";
    resp.map_version = 17;
    resp.epoch = 3;
    resp.seq = 99;
    resp.stale = 1;
    Zkv__KeyValue kv1 = ZKV__KEY_VALUE__INIT, kv2 = ZKV__KEY_VALUE__INIT;
    kv1.key.data = (uint8_t *)BIN_KEY;
    kv1.key.len = sizeof BIN_KEY;
    kv1.value.data = (uint8_t *)"\0\xff";
    kv1.value.len = 2;
    kv2.key.data = (uint8_t *)"\xff\xff";
    kv2.key.len = 2;
    kv2.epoch = 5;
    Zkv__KeyValue *items[] = {&kv1, &kv2};
    resp.items = items;
    resp.n_items = 2;
    resp.more = 1;
    resp.next_key.data = (uint8_t *)"\x00";
    resp.next_key.len = 1;

    zkv_buf out;
    zkv_buf_init(&out);
    CU_ASSERT_EQUAL_FATAL(zkv_frame_append_response(&out, &resp), 0);

    /* feed the frame one byte at a time into a second buffer */
    zkv_buf in;
    zkv_buf_init(&in);
    const uint8_t *payload = NULL;
    size_t plen = 0, consumed = 0;
    int ok_at = -1;
    for (size_t i = 0; i < out.len; i++) {
        CU_ASSERT_EQUAL_FATAL(zkv_buf_append(&in, out.data + i, 1), 0);
        zkv_frame_result r = zkv_frame_parse(zkv_buf_head(&in), zkv_buf_unread(&in),
                                             ZKV_MAX_RESPONSE_FRAME, &payload, &plen, &consumed);
        if (r == ZKV_FRAME_OK) {
            ok_at = (int)i;
            break;
        }
        CU_ASSERT_EQUAL(r, ZKV_FRAME_NEED_MORE);
    }
    CU_ASSERT_EQUAL(ok_at, (int)out.len - 1);
    CU_ASSERT_EQUAL(consumed, out.len);
    Zkv__Response *got = zkv__response__unpack(NULL, plen, payload);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_EQUAL(got->id, 9);
    CU_ASSERT_EQUAL(got->status, ZKV__STATUS__NOT_OWNER);
    CU_ASSERT_STRING_EQUAL(got->message, "not the owner");
    CU_ASSERT_EQUAL(got->map_version, 17);
    CU_ASSERT_EQUAL(got->epoch, 3);
    CU_ASSERT_EQUAL(got->seq, 99);
    CU_ASSERT_TRUE(got->stale);
    CU_ASSERT_TRUE(got->more);
    CU_ASSERT_EQUAL_FATAL(got->n_items, 2);
    CU_ASSERT_EQUAL(got->items[0]->key.len, sizeof BIN_KEY);
    CU_ASSERT_EQUAL(memcmp(got->items[0]->key.data, BIN_KEY, sizeof BIN_KEY), 0);
    CU_ASSERT_EQUAL(got->items[0]->value.len, 2);
    CU_ASSERT_EQUAL(memcmp(got->items[0]->value.data, "\0\xff", 2), 0);
    CU_ASSERT_EQUAL(got->items[1]->key.len, 2);
    CU_ASSERT_EQUAL(got->items[1]->epoch, 5);
    CU_ASSERT_EQUAL(got->next_key.len, 1);
    CU_ASSERT_EQUAL(got->next_key.data[0], 0);
    zkv__response__free_unpacked(got, NULL);
    zkv_buf_free(&in);
    zkv_buf_free(&out);
}

static void test_peek_id_of_truncated_real_frame(void)
{
    /* a node refusing an oversized frame sees only its first bytes */
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.id = 77777;
    req.op = ZKV__OP__PUT;
    uint8_t big[5000];
    memset(big, 'v', sizeof big);
    req.value.data = big;
    req.value.len = sizeof big;
    zkv_buf out;
    zkv_buf_init(&out);
    CU_ASSERT_EQUAL_FATAL(zkv_frame_append_request(&out, &req), 0);
    const uint8_t *payload;
    size_t plen, consumed;
    CU_ASSERT_EQUAL(zkv_frame_parse(out.data, 16, 1000, &payload, &plen, &consumed),
                    ZKV_FRAME_TOO_LARGE);
    CU_ASSERT_EQUAL(plen, out.len - 4);
    uint64_t id = 0;
    CU_ASSERT_EQUAL(zkv_frame_peek_id(out.data + 4, 12, &id), 0);
    CU_ASSERT_EQUAL(id, 77777);
    zkv_buf_free(&out);
}

static void test_limits_and_names(void)
{
    CU_ASSERT_EQUAL(zkv_frame_max_request(4096, 1048576), 4096 + 1048576 + ZKV_FRAME_SLACK);
    CU_ASSERT_EQUAL(zkv_frame_max_request(0, 0), ZKV_FRAME_SLACK);
    CU_ASSERT_STRING_EQUAL(zkv_status_name(ZKV__STATUS__OK), "OK");
    CU_ASSERT_STRING_EQUAL(zkv_status_name(ZKV__STATUS__NOT_FOUND), "NOT_FOUND");
    CU_ASSERT_STRING_EQUAL(zkv_status_name(ZKV__STATUS__NOT_OWNER), "NOT_OWNER");
    CU_ASSERT_STRING_EQUAL(zkv_status_name(ZKV__STATUS__UNAVAILABLE), "UNAVAILABLE");
    CU_ASSERT_STRING_EQUAL(zkv_status_name(ZKV__STATUS__TOO_LARGE), "TOO_LARGE");
    CU_ASSERT_STRING_EQUAL(zkv_status_name(ZKV__STATUS__BAD_REQUEST), "BAD_REQUEST");
    CU_ASSERT_STRING_EQUAL(zkv_status_name(ZKV__STATUS__TIMEOUT), "TIMEOUT");
    CU_ASSERT_STRING_EQUAL(zkv_status_name(ZKV__STATUS__INTERNAL), "INTERNAL");
    CU_ASSERT_STRING_EQUAL(zkv_status_name(ZKV__STATUS__LOG_MISMATCH), "LOG_MISMATCH");
    CU_ASSERT_STRING_EQUAL(zkv_status_name(ZKV__STATUS__STALE_EPOCH), "STALE_EPOCH");
    CU_ASSERT_STRING_EQUAL(zkv_status_name(ZKV__STATUS__WRONG_CLUSTER), "WRONG_CLUSTER");
    CU_ASSERT_STRING_EQUAL(zkv_status_name(ZKV__STATUS__AUTH_FAILED), "AUTH_FAILED");
    CU_ASSERT_STRING_EQUAL(zkv_status_name(ZKV__STATUS__CONDITION_FAILED), "CONDITION_FAILED");
    CU_ASSERT_STRING_EQUAL(zkv_status_name(ZKV__STATUS__TOO_STALE), "TOO_STALE");
    CU_ASSERT_STRING_EQUAL(zkv_status_name(14), "UNKNOWN");
    CU_ASSERT_STRING_EQUAL(zkv_status_name(-1), "UNKNOWN");
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("common_frame", NULL, NULL);
    CU_add_test(s, "header", test_header);
    CU_add_test(s, "parse_whole_and_truncated", test_parse_whole_and_truncated);
    CU_add_test(s, "parse_empty_payload", test_parse_empty_payload);
    CU_add_test(s, "parse_too_large", test_parse_too_large);
    CU_add_test(s, "parse_garbage", test_parse_garbage);
    CU_add_test(s, "peek_id", test_peek_id);
    CU_add_test(s, "request_round_trip", test_request_round_trip);
    CU_add_test(s, "response_round_trip_byte_by_byte", test_response_round_trip_byte_by_byte);
    CU_add_test(s, "peek_id_of_truncated_real_frame", test_peek_id_of_truncated_real_frame);
    CU_add_test(s, "limits_and_names", test_limits_and_names);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
