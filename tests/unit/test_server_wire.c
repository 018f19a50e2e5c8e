/* test_server_wire.c: the server's hand-made wire fast paths of common/src/frame.c against
 * protobuf-c: zkv_frame_append_response writes exactly the bytes of zkv__response__pack
 * (for every mix of fields, with and without repeated fields), and
 * zkv_frame_decode_request_fast decodes GET/PUT/DELETE-shaped requests exactly as
 * zkv__request__unpack does, while leaving anything else (strings, repeated fields,
 * repeats of a field, truncated or malformed payloads) to protobuf-c. */
#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/frame.h"
#include "test_common_wire.h"
#include "zkv.pb-c.h"

static size_t pack_response(const void *m, uint8_t *out)
{
    return zkv__response__pack(m, out);
}

static void check_response(const Zkv__Response *r)
{
    zkv_buf b;
    zkv_buf_init(&b);
    CU_ASSERT_EQUAL_FATAL(zkv_buf_append(&b, "xy", 2), 0); /* appends after what is there */
    CU_ASSERT_EQUAL_FATAL(zkv_frame_append_response(&b, r), 0);
    check_framed(&b, 2, zkv__response__get_packed_size(r), pack_response, r);
    zkv_buf_free(&b);
}

static void test_response_bytes(void)
{
    uint8_t value[300], next[40];
    char s1[64], s2[64], s3[64], s4[64];
    for (size_t i = 0; i < sizeof(value); i++)
        value[i] = (uint8_t)i;
    memcpy(next, value, sizeof(next));
    Zkv__Response r;
    zkv__response__init(&r);
    check_response(&r); /* the empty message */
    for (int iter = 0; iter < 5000; iter++) {
        zkv__response__init(&r);
        r.id = rand_u64();
        r.status = (Zkv__Status)(next_rand() % 10);
        r.message = (char *)rand_str(s1, sizeof(s1));
        if (next_rand() % 2) {
            r.value.len = next_rand() % sizeof(value);
            r.value.data = r.value.len || next_rand() % 2 ? value : NULL;
        }
        r.epoch = rand_u64();
        r.seq = rand_u64();
        r.map_version = rand_u64();
        r.more = next_rand() % 2;
        if (next_rand() % 2) {
            r.next_key.len = next_rand() % sizeof(next);
            r.next_key.data = next;
        }
        r.node_id = (char *)rand_str(s2, sizeof(s2));
        r.stale = next_rand() % 2;
        r.cluster_id = (char *)rand_str(s3, sizeof(s3));
        r.range_id = (char *)rand_str(s4, sizeof(s4));
        r.range_epoch = rand_u64();
        r.range_seq = rand_u64();
        r.owner = next_rand() % 2;
        check_response(&r);
    }
    /* a large value (multi-byte length prefix) */
    uint8_t *big = calloc(1, 1u << 20);
    CU_ASSERT_FATAL(big != NULL);
    zkv__response__init(&r);
    r.id = 7;
    r.value.data = big;
    r.value.len = 1u << 20;
    check_response(&r);
    free(big);
}

static void test_response_repeated(void)
{
    /* SCAN and RANGE_STATUS answers go through protobuf-c: the same bytes as well. */
    Zkv__KeyValue kv[2];
    Zkv__KeyValue *kvp[2] = {&kv[0], &kv[1]};
    for (int i = 0; i < 2; i++) {
        zkv__key_value__init(&kv[i]);
        kv[i].key.data = (uint8_t *)"k";
        kv[i].key.len = 1;
        kv[i].seq = (uint64_t)i + 1;
    }
    Zkv__ReplicaStatus rs;
    Zkv__ReplicaStatus *rsp[1] = {&rs};
    zkv__replica_status__init(&rs);
    rs.node_id = "n2";
    Zkv__Response r;
    zkv__response__init(&r);
    r.id = 3;
    r.items = kvp;
    r.n_items = 2;
    r.more = 1;
    check_response(&r);
    zkv__response__init(&r);
    r.id = 4;
    r.replicas = rsp;
    r.n_replicas = 1;
    r.owner = 1;
    r.range_id = "r0001";
    check_response(&r);
}

/* Packs req, then checks that the fast decoder either declines or agrees with protobuf-c. */
static int check_request_payload(const uint8_t *p, size_t n)
{
    Zkv__Request fast;
    int got = zkv_frame_decode_request_fast(p, n, &fast);
    Zkv__Request *slow = zkv__request__unpack(NULL, n, p);
    if (!got) {
        if (slow)
            zkv__request__free_unpacked(slow, NULL);
        return 0;
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(slow);
    CU_ASSERT_EQUAL(fast.id, slow->id);
    CU_ASSERT_EQUAL(fast.op, slow->op);
    CU_ASSERT_EQUAL(fast.limit, slow->limit);
    CU_ASSERT_EQUAL(fast.map_version, slow->map_version);
    CU_ASSERT_EQUAL(fast.flags, slow->flags);
    CU_ASSERT_EQUAL(fast.protocol, slow->protocol);
    const ProtobufCBinaryData *fb[3] = {&fast.key, &fast.value, &fast.end_key};
    const ProtobufCBinaryData *sb[3] = {&slow->key, &slow->value, &slow->end_key};
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(fb[i]->len, sb[i]->len);
        CU_ASSERT_EQUAL(fb[i]->data == NULL, sb[i]->data == NULL);
        if (fb[i]->len && sb[i]->len == fb[i]->len)
            CU_ASSERT_EQUAL(memcmp(fb[i]->data, sb[i]->data, fb[i]->len), 0);
    }
    /* the fields the fast path never sets are at their defaults in both */
    CU_ASSERT_STRING_EQUAL(fast.cluster_id, slow->cluster_id);
    CU_ASSERT_STRING_EQUAL(fast.client_name, slow->client_name);
    CU_ASSERT_STRING_EQUAL(fast.range_id, slow->range_id);
    CU_ASSERT_STRING_EQUAL(fast.node_id, slow->node_id);
    CU_ASSERT_EQUAL(fast.epoch, slow->epoch);
    CU_ASSERT_EQUAL(fast.n_entries, slow->n_entries);
    CU_ASSERT_EQUAL(fast.n_items, slow->n_items);
    CU_ASSERT_EQUAL(fast.n_history, slow->n_history);
    CU_ASSERT_EQUAL(slow->base.n_unknown_fields, 0);
    zkv__request__free_unpacked(slow, NULL);
    return 1;
}

static void test_request_decode(void)
{
    uint8_t key[50], value[400];
    for (size_t i = 0; i < sizeof(value); i++)
        value[i] = (uint8_t)(i * 7);
    memcpy(key, value, sizeof(key));
    uint8_t buf[1024];
    int decoded = 0;
    for (int iter = 0; iter < 5000; iter++) {
        Zkv__Request req;
        zkv__request__init(&req);
        req.id = rand_u64();
        req.op = (Zkv__Op)(next_rand() % 12);
        req.key.len = next_rand() % sizeof(key);
        req.key.data = key;
        if (next_rand() % 2) {
            req.value.len = next_rand() % sizeof(value);
            req.value.data = value;
        }
        if (next_rand() % 4 == 0) {
            req.end_key.len = next_rand() % sizeof(key);
            req.end_key.data = key;
        }
        req.limit = (uint32_t)(next_rand() % 3 ? 0 : next_rand());
        req.map_version = rand_u64();
        req.flags = (uint32_t)(next_rand() % 8);
        req.protocol = (uint32_t)(next_rand() % 3);
        bool with_string = next_rand() % 5 == 0;
        if (with_string)
            req.cluster_id = "c-1";
        size_t n = zkv__request__pack(&req, buf);
        CU_ASSERT_FATAL(n <= sizeof(buf));
        int got = check_request_payload(buf, n);
        if (with_string) {
            CU_ASSERT_EQUAL(got, 0);
        } else if (req.limit <= INT32_MAX) {
            CU_ASSERT_EQUAL(got, 1);
        }
        decoded += got;
        /* every truncation: declined, or the same as protobuf-c */
        if (iter % 10 == 0)
            for (size_t k = 0; k < n; k++)
                check_request_payload(buf, k);
    }
    CU_ASSERT(decoded > 3000);
    /* the empty request */
    CU_ASSERT_EQUAL(check_request_payload(buf, 0), 1);
}

static void test_request_decline(void)
{
    Zkv__Request out;
    /* id twice */
    const uint8_t twice[] = {0x08, 0x01, 0x08, 0x02};
    CU_ASSERT_EQUAL(zkv_frame_decode_request_fast(twice, sizeof(twice), &out), 0);
    /* key with the wrong wire type (varint) */
    const uint8_t wt[] = {0x08, 0x01, 0x18, 0x05};
    CU_ASSERT_EQUAL(zkv_frame_decode_request_fast(wt, sizeof(wt), &out), 0);
    /* an unknown (reserved) field 12 */
    const uint8_t unk[] = {0x08, 0x01, 0x60, 0x01};
    CU_ASSERT_EQUAL(zkv_frame_decode_request_fast(unk, sizeof(unk), &out), 0);
    /* a 32-bit field with a long varint: protobuf-c's truncation rules */
    const uint8_t longv[] = {0x30, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    CU_ASSERT_EQUAL(zkv_frame_decode_request_fast(longv, sizeof(longv), &out), 0);
    /* an overlong varint */
    const uint8_t over[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    CU_ASSERT_EQUAL(zkv_frame_decode_request_fast(over, sizeof(over), &out), 0);
    /* key length beyond the payload */
    const uint8_t past[] = {0x1a, 0x05, 'a'};
    CU_ASSERT_EQUAL(zkv_frame_decode_request_fast(past, sizeof(past), &out), 0);
    /* a key length in six bytes (a valid value, padded): protobuf-c refuses it */
    const uint8_t six[] = {0x1a, 0x82, 0x80, 0x80, 0x80, 0x80, 0x00, 'h', 'i'};
    CU_ASSERT_EQUAL(zkv_frame_decode_request_fast(six, sizeof(six), &out), 0);
    CU_ASSERT_PTR_NULL(zkv__request__unpack(NULL, sizeof(six), six));
    /* the id's tag in six bytes (field 1, padded): protobuf-c reads tags of at most five
     * bytes and refuses it, so the fast path must decline (found by tests/fuzz) */
    const uint8_t tag6[] = {0x88, 0x80, 0x80, 0x80, 0x80, 0x00, 0x05};
    CU_ASSERT_PTR_NULL(zkv__request__unpack(NULL, sizeof(tag6), tag6));
    CU_ASSERT_EQUAL(zkv_frame_decode_request_fast(tag6, sizeof(tag6), &out), 0);
    /* in five bytes protobuf-c takes it: the fast path may too, with the same result */
    const uint8_t tag5[] = {0x88, 0x80, 0x80, 0x80, 0x00, 0x05};
    check_request_payload(tag5, sizeof(tag5));
    /* a plain GET: bytes alias the payload */
    const uint8_t get[] = {0x08, 0x2a, 0x10, 0x01, 0x1a, 0x02, 'h', 'i'};
    CU_ASSERT_EQUAL_FATAL(zkv_frame_decode_request_fast(get, sizeof(get), &out), 1);
    CU_ASSERT_EQUAL(out.id, 42);
    CU_ASSERT_EQUAL(out.op, 1);
    CU_ASSERT_EQUAL(out.key.len, 2);
    CU_ASSERT_PTR_EQUAL(out.key.data, get + 6);
    CU_ASSERT_EQUAL(out.value.len, 0);
    CU_ASSERT_PTR_NULL(out.value.data);
    check_request_payload(get, sizeof(get));
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("server_wire", NULL, NULL);
    CU_add_test(s, "response bytes equal protobuf-c", test_response_bytes);
    CU_add_test(s, "responses with repeated fields", test_response_repeated);
    CU_add_test(s, "request decode equals protobuf-c", test_request_decode);
    CU_add_test(s, "request decode declines", test_request_decline);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
