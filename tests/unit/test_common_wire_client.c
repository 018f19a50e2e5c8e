/* test_common_wire_client.c: the client's hand-made wire fast paths of common/src/frame.c
 * against protobuf-c: zkv_frame_append_request writes exactly the bytes of
 * zkv__request__pack (every mix of fields, strings and replication fields included, and
 * through protobuf-c with repeated fields), and zkv_frame_decode_response_fast decodes
 * OK/NOT_FOUND-shaped answers exactly as zkv__response__unpack does, with its bytes
 * pointing into the payload, while leaving anything else (strings, repeated fields,
 * repeats of a field, odd varints, truncated payloads) to protobuf-c. */
#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/frame.h"
#include "test_common_wire.h"
#include "zkv.pb-c.h"

static size_t pack_request(const void *m, uint8_t *out)
{
    return zkv__request__pack(m, out);
}

static void check_request(const Zkv__Request *r)
{
    zkv_buf b;
    zkv_buf_init(&b);
    CU_ASSERT_EQUAL_FATAL(zkv_buf_append(&b, "xyz", 3), 0); /* appends after what is there */
    CU_ASSERT_EQUAL_FATAL(zkv_frame_append_request(&b, r), 0);
    check_framed(&b, 3, zkv__request__get_packed_size(r), pack_request, r);
    zkv_buf_free(&b);
}

static void test_request_bytes(void)
{
    uint8_t key[60], value[300];
    char s1[32], s2[32], s3[32], s4[32];
    for (size_t i = 0; i < sizeof(value); i++)
        value[i] = (uint8_t)(i * 3);
    memcpy(key, value, sizeof(key));
    Zkv__Request r;
    zkv__request__init(&r);
    check_request(&r); /* the empty message */
    for (int iter = 0; iter < 5000; iter++) {
        zkv__request__init(&r);
        r.id = rand_u64();
        r.op = (Zkv__Op)(next_rand() % 10);
        if (next_rand() % 4) {
            r.key.len = next_rand() % sizeof(key);
            r.key.data = r.key.len || next_rand() % 2 ? key : NULL;
        }
        if (next_rand() % 2) {
            r.value.len = next_rand() % sizeof(value);
            r.value.data = value;
        }
        if (next_rand() % 4 == 0) {
            r.end_key.len = next_rand() % sizeof(key);
            r.end_key.data = key;
        }
        r.limit = (uint32_t)(next_rand() % 3 ? 0 : next_rand());
        r.map_version = rand_u64();
        r.flags = (uint32_t)(next_rand() % 4 ? next_rand() % 8 : next_rand());
        r.protocol = (uint32_t)(next_rand() % 3);
        bool hello = next_rand() % 5 == 0;
        if (hello) {
            r.cluster_id = (char *)rand_str(s1, sizeof(s1));
            r.client_name = (char *)rand_str(s2, sizeof(s2));
        }
        if (next_rand() % 5 == 0) { /* the replication fields */
            r.range_id = (char *)rand_str(s3, sizeof(s3));
            r.epoch = rand_u64();
            r.prev_seq = rand_u64();
            r.prev_epoch = rand_u64();
            r.commit_seq = rand_u64();
            r.phase = (Zkv__SnapshotPhase)(next_rand() % 4);
            r.seq = rand_u64();
            r.node_id = (char *)rand_str(s4, sizeof(s4));
        }
        if (next_rand() % 4 == 0) { /* a scan's flags */
            r.reverse = next_rand() % 2;
            r.keys_only = next_rand() % 2;
        }
        if (next_rand() % 4 == 0) { /* a conditional write's fields */
            r.condition = (Zkv__Condition)(next_rand() % 3);
            r.if_epoch = next_rand() % 2 ? rand_u64() : 0;
            r.if_seq = rand_u64();
            r.client_id = rand_u64();
            r.client_seq = next_rand() % 2 ? rand_u64() : 0;
        }
        if (next_rand() % 4 == 0) { /* a read's staleness bound, an APPEND's head */
            r.max_lag_ms = rand_u64();
            r.max_lag_entries = next_rand() % 2 ? rand_u64() : 0;
            r.head_seq = next_rand() % 2 ? rand_u64() : 0;
        }
        check_request(&r);
    }
    /* a large value (multi-byte length prefix) */
    uint8_t *big = calloc(1, 1u << 20);
    CU_ASSERT_FATAL(big != NULL);
    zkv__request__init(&r);
    r.id = 9;
    r.op = ZKV__OP__PUT;
    r.key.data = key;
    r.key.len = 5;
    r.value.data = big;
    r.value.len = 1u << 20;
    check_request(&r);
    free(big);
}

static void test_request_repeated(void)
{
    /* a MULTI_WRITE's writes (repeated): protobuf-c's bytes */
    Zkv__WriteOp w = ZKV__WRITE_OP__INIT;
    Zkv__WriteOp *wp[1] = {&w};
    w.op = ZKV__OP__PUT;
    w.key.data = (uint8_t *)"k";
    w.key.len = 1;
    w.condition = ZKV__CONDITION__IF_ABSENT;
    Zkv__Request m = ZKV__REQUEST__INIT;
    m.id = 4;
    m.op = ZKV__OP__MULTI_WRITE;
    m.writes = wp;
    m.n_writes = 1;
    m.client_id = 99;
    m.client_seq = 1;
    check_request(&m);
    /* APPEND and SNAPSHOT chunks go through protobuf-c: the same bytes as well. */
    Zkv__LogEntry le;
    Zkv__LogEntry *lep[1] = {&le};
    zkv__log_entry__init(&le);
    le.seq = 5;
    le.op = ZKV__OP__PUT;
    Zkv__Request r;
    zkv__request__init(&r);
    r.id = 3;
    r.op = ZKV__OP__APPEND;
    r.range_id = "r0001";
    r.epoch = 2;
    r.entries = lep;
    r.n_entries = 1;
    check_request(&r);
    Zkv__EpochStart es;
    Zkv__EpochStart *esp[1] = {&es};
    zkv__epoch_start__init(&es);
    es.epoch = 1;
    zkv__request__init(&r);
    r.op = ZKV__OP__SNAPSHOT;
    r.history = esp;
    r.n_history = 1;
    check_request(&r);
}

/* The fast decoder either declines or agrees with protobuf-c. Returns whether it decoded. */
static int check_response_payload(const uint8_t *p, size_t n)
{
    Zkv__Response fast;
    int got = zkv_frame_decode_response_fast(p, n, &fast);
    Zkv__Response *slow = zkv__response__unpack(NULL, n, p);
    if (!got) {
        if (slow)
            zkv__response__free_unpacked(slow, NULL);
        return 0;
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(slow);
    CU_ASSERT_EQUAL(fast.id, slow->id);
    CU_ASSERT_EQUAL(fast.status, slow->status);
    CU_ASSERT_EQUAL(fast.epoch, slow->epoch);
    CU_ASSERT_EQUAL(fast.seq, slow->seq);
    CU_ASSERT_EQUAL(fast.map_version, slow->map_version);
    CU_ASSERT_EQUAL(fast.more, slow->more);
    CU_ASSERT_EQUAL(fast.stale, slow->stale);
    CU_ASSERT_EQUAL(fast.range_epoch, slow->range_epoch);
    CU_ASSERT_EQUAL(fast.range_seq, slow->range_seq);
    CU_ASSERT_EQUAL(fast.owner, slow->owner);
    CU_ASSERT_EQUAL(fast.ttl_ms, slow->ttl_ms);
    CU_ASSERT_EQUAL(fast.lag_ms, slow->lag_ms);
    CU_ASSERT_EQUAL(fast.lag_entries, slow->lag_entries);
    const ProtobufCBinaryData *fb[2] = {&fast.value, &fast.next_key};
    const ProtobufCBinaryData *sb[2] = {&slow->value, &slow->next_key};
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL(fb[i]->len, sb[i]->len);
        CU_ASSERT_EQUAL(fb[i]->data == NULL, sb[i]->data == NULL);
        if (fb[i]->len && sb[i]->len == fb[i]->len) {
            CU_ASSERT_EQUAL(memcmp(fb[i]->data, sb[i]->data, fb[i]->len), 0);
            /* zero-copy: the bytes are the payload's */
            CU_ASSERT(fb[i]->data >= p && fb[i]->data + fb[i]->len <= p + n);
        }
    }
    /* the fields the fast path never sets are at their defaults in both */
    CU_ASSERT_STRING_EQUAL(fast.message, slow->message);
    CU_ASSERT_STRING_EQUAL(fast.node_id, slow->node_id);
    CU_ASSERT_STRING_EQUAL(fast.cluster_id, slow->cluster_id);
    CU_ASSERT_STRING_EQUAL(fast.range_id, slow->range_id);
    CU_ASSERT_EQUAL(fast.n_items, slow->n_items);
    CU_ASSERT_EQUAL(fast.n_replicas, slow->n_replicas);
    CU_ASSERT_EQUAL(slow->base.n_unknown_fields, 0);
    zkv__response__free_unpacked(slow, NULL);
    return 1;
}

static void test_response_decode(void)
{
    uint8_t value[400], next[40];
    for (size_t i = 0; i < sizeof(value); i++)
        value[i] = (uint8_t)(i * 5 + 1);
    memcpy(next, value, sizeof(next));
    char s1[32];
    uint8_t buf[1024];
    int decoded = 0;
    for (int iter = 0; iter < 5000; iter++) {
        Zkv__Response r;
        zkv__response__init(&r);
        r.id = rand_u64();
        r.status = (Zkv__Status)(next_rand() % 14);
        if (next_rand() % 2) {
            r.value.len = next_rand() % sizeof(value);
            r.value.data = value;
        }
        r.epoch = rand_u64();
        r.seq = rand_u64();
        r.map_version = rand_u64();
        r.more = next_rand() % 2;
        if (next_rand() % 4 == 0) {
            r.next_key.len = next_rand() % sizeof(next);
            r.next_key.data = next;
        }
        r.stale = next_rand() % 2;
        r.range_epoch = rand_u64();
        r.range_seq = rand_u64();
        r.owner = next_rand() % 2;
        r.ttl_ms = next_rand() % 4 == 0 ? rand_u64() : 0;
        if (next_rand() % 3 == 0) { /* a replica's lag */
            r.lag_ms = next_rand() % 2 ? UINT64_MAX : rand_u64();
            r.lag_entries = rand_u64();
        }
        bool with_string = next_rand() % 5 == 0;
        if (with_string) {
            const char *s = rand_str(s1, sizeof(s1));
            with_string = s && s[0];
            switch (next_rand() % 4) {
            case 0:
                r.message = (char *)s;
                break;
            case 1:
                r.node_id = (char *)s;
                break;
            case 2:
                r.cluster_id = (char *)s;
                break;
            default:
                r.range_id = (char *)s;
                break;
            }
        }
        /* protobuf-c's bytes, and the server's hand-made encoder's: the same */
        size_t n = zkv__response__pack(&r, buf);
        CU_ASSERT_FATAL(n <= sizeof(buf));
        zkv_buf b;
        zkv_buf_init(&b);
        CU_ASSERT_EQUAL_FATAL(zkv_frame_append_response(&b, &r), 0);
        CU_ASSERT_EQUAL(b.len, ZKV_FRAME_HEADER_LEN + n);
        CU_ASSERT_EQUAL(memcmp(b.data + ZKV_FRAME_HEADER_LEN, buf, n), 0);
        zkv_buf_free(&b);
        int got = check_response_payload(buf, n);
        CU_ASSERT_EQUAL(got, with_string ? 0 : 1);
        decoded += got;
        /* every truncation: declined, or the same as protobuf-c */
        if (iter % 10 == 0)
            for (size_t k = 0; k < n; k++)
                check_response_payload(buf, k);
    }
    CU_ASSERT(decoded > 3000);
    CU_ASSERT_EQUAL(check_response_payload(buf, 0), 1); /* the empty answer */
}

static void test_response_decline(void)
{
    Zkv__Response out;
    const uint8_t twice[] = {0x08, 0x01, 0x08, 0x02}; /* id twice */
    CU_ASSERT_EQUAL(zkv_frame_decode_response_fast(twice, sizeof(twice), &out), 0);
    const uint8_t wt[] = {0x08, 0x01, 0x22, 0x01}; /* value (bytes) as a varint: 0x20 */
    CU_ASSERT_EQUAL(check_response_payload(wt, sizeof(wt)), 0);
    const uint8_t wt2[] = {0x08, 0x01, 0x20, 0x01};
    CU_ASSERT_EQUAL(zkv_frame_decode_response_fast(wt2, sizeof(wt2), &out), 0);
    const uint8_t msg[] = {0x08, 0x01, 0x10, 0x02, 0x1a, 0x01, 'x'}; /* a message */
    CU_ASSERT_EQUAL(zkv_frame_decode_response_fast(msg, sizeof(msg), &out), 0);
    const uint8_t items[] = {0x08, 0x01, 0x42, 0x02, 0x0a, 0x00}; /* a scan item */
    CU_ASSERT_EQUAL(zkv_frame_decode_response_fast(items, sizeof(items), &out), 0);
    const uint8_t unk[] = {0x08, 0x01, 0xf8, 0x01, 0x01}; /* unknown field 31 */
    CU_ASSERT_EQUAL(zkv_frame_decode_response_fast(unk, sizeof(unk), &out), 0);
    const uint8_t big[] = {0x08, 0x01, 0x80, 0x04, 0x01}; /* unknown field 64 */
    CU_ASSERT_EQUAL(zkv_frame_decode_response_fast(big, sizeof(big), &out), 0);
    const uint8_t bool2[] = {0x60, 0x02}; /* stale = 2 */
    CU_ASSERT_EQUAL(zkv_frame_decode_response_fast(bool2, sizeof(bool2), &out), 0);
    const uint8_t boollong[] = {0x60, 0x81, 0x00}; /* stale in two bytes */
    CU_ASSERT_EQUAL(zkv_frame_decode_response_fast(boollong, sizeof(boollong), &out), 0);
    const uint8_t neg[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0x0f}; /* status -1 (32 bits) */
    CU_ASSERT_EQUAL(zkv_frame_decode_response_fast(neg, sizeof(neg), &out), 0);
    const uint8_t over[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    CU_ASSERT_EQUAL(zkv_frame_decode_response_fast(over, sizeof(over), &out), 0);
    const uint8_t past[] = {0x22, 0x05, 'a'}; /* value longer than the payload */
    CU_ASSERT_EQUAL(zkv_frame_decode_response_fast(past, sizeof(past), &out), 0);
    /* the id's tag in six bytes: protobuf-c refuses tags over five bytes (found by
     * tests/fuzz) */
    const uint8_t tag6[] = {0x88, 0x80, 0x80, 0x80, 0x80, 0x00, 0x05};
    CU_ASSERT_PTR_NULL(zkv__response__unpack(NULL, sizeof(tag6), tag6));
    CU_ASSERT_EQUAL(zkv_frame_decode_response_fast(tag6, sizeof(tag6), &out), 0);
    /* a plain GET answer: the value aliases the payload */
    const uint8_t get[] = {0x08, 0x2a, 0x22, 0x02, 'h', 'i', 0x38, 0x07, 0x60, 0x01};
    CU_ASSERT_EQUAL_FATAL(zkv_frame_decode_response_fast(get, sizeof(get), &out), 1);
    CU_ASSERT_EQUAL(out.id, 42);
    CU_ASSERT_EQUAL(out.status, ZKV__STATUS__OK);
    CU_ASSERT_EQUAL(out.value.len, 2);
    CU_ASSERT_PTR_EQUAL(out.value.data, get + 4);
    CU_ASSERT_EQUAL(out.map_version, 7);
    CU_ASSERT_EQUAL(out.stale, 1);
    CU_ASSERT_PTR_NULL(out.next_key.data);
    CU_ASSERT_EQUAL(check_response_payload(get, sizeof(get)), 1);
    /* a NOT_FOUND answer */
    const uint8_t nf[] = {0x08, 0x03, 0x10, 0x01, 0x38, 0x02};
    CU_ASSERT_EQUAL(check_response_payload(nf, sizeof(nf)), 1);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("common_wire_client", NULL, NULL);
    CU_add_test(s, "request bytes equal protobuf-c", test_request_bytes);
    CU_add_test(s, "requests with repeated fields", test_request_repeated);
    CU_add_test(s, "response decode equals protobuf-c", test_response_decode);
    CU_add_test(s, "response decode declines", test_response_decline);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
