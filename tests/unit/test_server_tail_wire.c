/* test_server_tail_wire.c: server/ship_wire.c, the owner's replication frames by hand:
 * APPEND frames byte for byte against protobuf-c (heartbeats, every field, large numbers
 * and lengths, empty and all-zero entries) and the shapes left to protobuf-c; answers
 * decoded by hand against zkv__response__unpack (OK, refusals with messages, positions,
 * skipped fields of every wire type) and malformed payloads left to protobuf-c. */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include "common/frame.h"
#include "ship_wire.h"

/* One APPEND framed by hand and by protobuf-c: the same bytes; decodable. */
static void check_same(const Zkv__Request *req)
{
    zkv_buf a, b;
    zkv_buf_init(&a);
    zkv_buf_init(&b);
    CU_ASSERT_EQUAL_FATAL(zkv_buf_append(&a, "xy", 2), 0); /* appends after what is there */
    CU_ASSERT_EQUAL_FATAL(zkv_buf_append(&b, "xy", 2), 0);
    CU_ASSERT_EQUAL_FATAL(zkv_wire_append_frame(&a, req), 0);
    CU_ASSERT_EQUAL_FATAL(zkv_frame_append_request(&b, req), 0);
    CU_ASSERT_EQUAL(a.len, b.len);
    CU_ASSERT(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    Zkv__Request *back = zkv__request__unpack(NULL, a.len - 6, a.data + 6);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    CU_ASSERT_EQUAL(back->n_entries, req->n_entries);
    CU_ASSERT_EQUAL(back->commit_seq, req->commit_seq);
    zkv__request__free_unpacked(back, NULL);
    zkv_buf_free(&a);
    zkv_buf_free(&b);
}

static void test_append_frames(void)
{
    static uint8_t big[300000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7);
    Zkv__LogEntry es[6];
    Zkv__LogEntry *ep[6];
    for (int i = 0; i < 6; i++) {
        zkv__log_entry__init(&es[i]);
        ep[i] = &es[i];
    }
    Zkv__Request req;
    /* a heartbeat: no entries, prev (0, 0) */
    zkv__request__init(&req);
    req.op = ZKV__OP__APPEND;
    req.range_id = "r0003";
    req.epoch = 1;
    check_same(&req);
    /* every field, small and large numbers */
    req.id = 300;
    req.map_version = 1ull << 40;
    req.epoch = 127;
    req.prev_seq = 128;
    req.prev_epoch = UINT64_MAX;
    req.commit_seq = 16383;
    req.entries = ep;
    req.n_entries = 6;
    es[0].seq = 129;
    es[0].epoch = 127;
    es[0].op = ZKV__OP__PUT;
    es[0].key.data = (uint8_t *)"k1";
    es[0].key.len = 2;
    es[0].value.data = (uint8_t *)"value";
    es[0].value.len = 5;
    es[1].seq = 130;
    es[1].epoch = 127;
    es[1].op = ZKV__OP__DELETE;
    es[1].key.data = (uint8_t *)"k2";
    es[1].key.len = 2;
    es[2].seq = 131;
    es[2].epoch = 128;
    es[2].op = ZKV__OP__PUT;
    es[2].key.data = big;
    es[2].key.len = 4096;
    es[2].value.data = big;
    es[2].value.len = sizeof(big); /* a three-byte length */
    es[2].expiry_ms = 1700000000000ull;
    es[3].seq = 132; /* an empty value: the field is left out */
    es[3].epoch = 128;
    es[3].op = ZKV__OP__PUT;
    es[3].key.data = (uint8_t *)"";
    es[4].seq = 0; /* an all-zero entry is still written (tag, length 0) */
    es[5].seq = UINT64_MAX;
    es[5].op = ZKV__OP__PUT;
    es[5].value.data = big;
    es[5].value.len = 200;
    check_same(&req);
    /* shapes the hand encoder leaves to protobuf-c */
    zkv_buf o;
    zkv_buf_init(&o);
    req.flags = 1;
    CU_ASSERT_EQUAL(zkv_wire_append_frame(&o, &req), -1);
    req.flags = 0;
    req.node_id = "n";
    CU_ASSERT_EQUAL(zkv_wire_append_frame(&o, &req), -1);
    req.node_id = NULL;
    req.n_history = 1;
    CU_ASSERT_EQUAL(zkv_wire_append_frame(&o, &req), -1);
    CU_ASSERT_EQUAL(o.len, 0);
    zkv_buf_free(&o);
}

/* Encodes r with protobuf-c, decodes it by hand and compares with protobuf-c's decoding. */
static void check_answer(const Zkv__Response *r)
{
    zkv_buf b;
    zkv_buf_init(&b);
    CU_ASSERT_EQUAL_FATAL(zkv_frame_append_response(&b, r), 0);
    const uint8_t *payload = b.data + 4;
    size_t len = b.len - 4;
    Zkv__Response *ref = zkv__response__unpack(NULL, len, payload);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
    Zkv__Response got;
    char msg[512];
    CU_ASSERT_EQUAL_FATAL(zkv_wire_decode_answer(payload, len, &got, msg, sizeof(msg)), 1);
    CU_ASSERT_EQUAL(got.id, ref->id);
    CU_ASSERT_EQUAL(got.status, ref->status);
    CU_ASSERT_EQUAL(got.range_epoch, ref->range_epoch);
    CU_ASSERT_EQUAL(got.range_seq, ref->range_seq);
    CU_ASSERT_STRING_EQUAL(got.message, ref->message ? ref->message : "");
    zkv__response__free_unpacked(ref, NULL);
    zkv_buf_free(&b);
}

static void test_answers(void)
{
    Zkv__Response r = ZKV__RESPONSE__INIT;
    check_answer(&r); /* all zero: an empty payload */
    r.id = 1ull << 63;
    r.status = ZKV__STATUS__OK;
    r.range_id = "r0003";
    r.range_epoch = 5;
    r.range_seq = 1234567;
    r.map_version = 99;
    check_answer(&r);
    r.status = ZKV__STATUS__LOG_MISMATCH;
    r.message = "range r0003: APPEND after (1, 2) but the last entry here is (1, 1)";
    check_answer(&r);
    r.status = ZKV__STATUS__STALE_EPOCH;
    check_answer(&r);
    /* fields the shipper does not read, of every wire type protobuf-c writes */
    Zkv__KeyValue kv = ZKV__KEY_VALUE__INIT;
    Zkv__KeyValue *kvp = &kv;
    kv.key.data = (uint8_t *)"k";
    kv.key.len = 1;
    r.n_items = 1;
    r.items = &kvp;
    r.value.data = (uint8_t *)"value";
    r.value.len = 5;
    r.more = 1;
    r.node_id = "node-1";
    r.cluster_id = "c";
    r.epoch = 3;
    r.seq = 4;
    r.owner = 1;
    check_answer(&r);
    /* a message longer than the buffer is cut */
    char longmsg[2000];
    memset(longmsg, 'm', sizeof(longmsg) - 1);
    longmsg[sizeof(longmsg) - 1] = '\0';
    r.message = longmsg;
    zkv_buf b;
    zkv_buf_init(&b);
    CU_ASSERT_EQUAL_FATAL(zkv_frame_append_response(&b, &r), 0);
    Zkv__Response got;
    char msg[16];
    CU_ASSERT_EQUAL(zkv_wire_decode_answer(b.data + 4, b.len - 4, &got, msg, sizeof(msg)), 1);
    CU_ASSERT_EQUAL(strlen(got.message), 15);
    CU_ASSERT_EQUAL(got.range_seq, 1234567);
    zkv_buf_free(&b);
}

static void test_malformed_answers(void)
{
    Zkv__Response got;
    char msg[64];
    static const uint8_t truncated_varint[] = {0x08, 0x80};
    static const uint8_t long_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    static const uint8_t short_bytes[] = {0x1a, 0x05, 'a', 'b'};
    static const uint8_t id_as_bytes[] = {0x0a, 0x01, 'x'};
    static const uint8_t group[] = {0x0b, 0x0c};
    static const uint8_t field_zero[] = {0x00, 0x01};
    static const uint8_t nul_in_message[] = {0x1a, 0x02, 'a', 0x00};
    static const uint8_t short_fixed64[] = {0x21, 1, 2, 3};
    CU_ASSERT_EQUAL(
        zkv_wire_decode_answer(truncated_varint, sizeof(truncated_varint), &got, msg, sizeof(msg)),
        0);
    CU_ASSERT_EQUAL(
        zkv_wire_decode_answer(long_varint, sizeof(long_varint), &got, msg, sizeof(msg)), 0);
    CU_ASSERT_EQUAL(
        zkv_wire_decode_answer(short_bytes, sizeof(short_bytes), &got, msg, sizeof(msg)), 0);
    CU_ASSERT_EQUAL(
        zkv_wire_decode_answer(id_as_bytes, sizeof(id_as_bytes), &got, msg, sizeof(msg)), 0);
    CU_ASSERT_EQUAL(zkv_wire_decode_answer(group, sizeof(group), &got, msg, sizeof(msg)), 0);
    CU_ASSERT_EQUAL(zkv_wire_decode_answer(field_zero, sizeof(field_zero), &got, msg, sizeof(msg)),
                    0);
    CU_ASSERT_EQUAL(
        zkv_wire_decode_answer(nul_in_message, sizeof(nul_in_message), &got, msg, sizeof(msg)), 0);
    CU_ASSERT_EQUAL(
        zkv_wire_decode_answer(short_fixed64, sizeof(short_fixed64), &got, msg, sizeof(msg)), 0);
    /* fixed32/fixed64 fields of unknown numbers are skipped */
    static const uint8_t fixed[] = {0x08, 0x07, 0xfd, 0x07, 1, 2, 3, 4, 0xf9, 0x07,
                                    1,    2,    3,    4,    5, 6, 7, 8, 0x10, 0x02};
    CU_ASSERT_EQUAL(zkv_wire_decode_answer(fixed, sizeof(fixed), &got, msg, sizeof(msg)), 1);
    CU_ASSERT_EQUAL(got.id, 7);
    CU_ASSERT_EQUAL(got.status, 2);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("server_tail_wire", NULL, NULL);
    CU_add_test(s, "APPEND frames by hand equal protobuf-c", test_append_frames);
    CU_add_test(s, "answers by hand equal protobuf-c", test_answers);
    CU_add_test(s, "malformed answers are left to protobuf-c", test_malformed_answers);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
