/* test_server_tail_wire.c: server/ship_wire.c, replication frames by hand: APPEND frames
 * byte for byte against protobuf-c (heartbeats, every field, large numbers and lengths,
 * empty and all-zero entries) and the shapes left to protobuf-c; answers decoded by hand
 * against zkv__response__unpack (OK, refusals with messages, positions, skipped fields of
 * every wire type) and malformed payloads left to protobuf-c; APPEND requests decoded by
 * hand against zkv__request__unpack, from protobuf-c's and the hand encoder's bytes (fixed
 * cases and a seeded random round), and truncated, odd or other payloads, which are left
 * to protobuf-c. */
#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
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
    CU_ASSERT_EQUAL(back->head_seq, req->head_seq);
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
    req.owner_time_ms = 1700000000123ull;
    req.head_seq = 140; /* the owner's log end: past this frame */
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
    es[2].client_id = 0x0123456789abcdefull; /* a conditional write's */
    es[2].client_seq = 77;
    es[2].batch_end = 131; /* an atomic batch's */
    es[3].seq = 132;       /* an empty value: the field is left out */
    es[3].epoch = 128;
    es[3].op = ZKV__OP__PUT;
    es[3].key.data = (uint8_t *)"";
    es[4].seq = 0; /* an all-zero entry is still written (tag, length 0) */
    es[5].seq = UINT64_MAX;
    es[5].op = ZKV__OP__PUT;
    es[5].value.data = big;
    /* cppcheck-suppress unreadVariable ; read through ep */
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
    req.auth = "a-credential"; /* field 27, a HELLO's (found by tests/fuzz/fuzz_append.c) */
    CU_ASSERT_EQUAL(zkv_wire_append_frame(&o, &req), -1);
    req.auth = NULL;
    req.n_history = 1;
    CU_ASSERT_EQUAL(zkv_wire_append_frame(&o, &req), -1);
    /* unknown fields kept by protobuf-c's decoding, in the request (field 12) or in an
     * entry (field 15): protobuf-c writes them back, so the hand encoder declines (it
     * dropped them; found by tests/fuzz/fuzz_append.c) */
    static const uint8_t unknown_top[] = {0x10, 0x08, 0x82, 0x01, 0x01, 'r', 0x60, 0x01};
    static const uint8_t unknown_entry[] = {0x10, 0x08, 0xa2, 0x01, 0x04, 0x08, 0x05, 0x78, 0x01};
    const uint8_t *with_unknown[] = {unknown_top, unknown_entry};
    const size_t with_unknown_len[] = {sizeof(unknown_top), sizeof(unknown_entry)};
    for (int i = 0; i < 2; i++) {
        Zkv__Request *u = zkv__request__unpack(NULL, with_unknown_len[i], with_unknown[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(u);
        CU_ASSERT_EQUAL(zkv_wire_append_frame(&o, u), -1);
        zkv__request__free_unpacked(u, NULL);
    }
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
    r.value.data = (uint8_t *)"value";
    r.value.len = 5;
    r.more = 1;
    r.node_id = "node-1";
    r.cluster_id = "c";
    r.epoch = 3;
    r.seq = 4;
    r.owner = 1;
    check_answer(&r);
    /* scan items are messages whose insides protobuf-c checks: left to it */
    Zkv__KeyValue kv = ZKV__KEY_VALUE__INIT;
    Zkv__KeyValue *kvp = &kv;
    kv.key.data = (uint8_t *)"k";
    kv.key.len = 1;
    r.n_items = 1;
    r.items = &kvp;
    zkv_buf items;
    zkv_buf_init(&items);
    CU_ASSERT_EQUAL_FATAL(zkv_frame_append_response(&items, &r), 0);
    Zkv__Response declined;
    char dmsg[64];
    CU_ASSERT_EQUAL(
        zkv_wire_decode_answer(items.data + 4, items.len - 4, &declined, dmsg, sizeof(dmsg)), 0);
    zkv_buf_free(&items);
    r.n_items = 0;
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

/* Every field of Response (by the schema protobuf-c was generated from) sent with the other
 * wire type: where protobuf-c refuses it, the shipper's decoder must decline it too. A field
 * added to zkv.proto but not to ship_wire.c's table fails here, not in production. */
static void test_answer_wire_types(void)
{
    const ProtobufCMessageDescriptor *d = &zkv__response__descriptor;
    unsigned checked = 0;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        bool lengthy = f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_BYTES ||
                       f->type == PROTOBUF_C_TYPE_MESSAGE;
        uint8_t buf[8];
        size_t n = 0;
        uint32_t tag = f->id << 3 | (lengthy ? 0u : 2u); /* the wrong one */
        for (; tag >= 0x80; tag >>= 7)
            buf[n++] = (uint8_t)(tag | 0x80);
        buf[n++] = (uint8_t)tag;
        buf[n++] = 0; /* a varint 0, or a length 0 */
        Zkv__Response *ref = zkv__response__unpack(NULL, n, buf);
        if (ref) { /* (protobuf-c takes a bool sent as an empty length: declining is safe) */
            zkv__response__free_unpacked(ref, NULL);
            continue;
        }
        Zkv__Response got;
        char msg[64];
        int rc = zkv_wire_decode_answer(buf, n, &got, msg, sizeof(msg));
        if (rc != 0)
            fprintf(stderr, "field %u (%s) accepted with the wrong wire type\n", f->id, f->name);
        CU_ASSERT_EQUAL(rc, 0);
        checked++;
    }
    CU_ASSERT(checked >= 18);
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
    /* What protobuf-c refuses is declined (found by tests/fuzz/fuzz_response.c): a field of
     * the schema with another wire type (value as a varint), a tag or a length in six
     * bytes, a scan item whose inside is malformed. */
    static const uint8_t value_varint[] = {0x08, 0x01, 0x20, 0x01};
    static const uint8_t tag6[] = {0x88, 0x80, 0x80, 0x80, 0x80, 0x00, 0x05};
    static const uint8_t len6[] = {0x08, 0x01, 0xa2, 0x06, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 'x'};
    static const uint8_t bad_item[] = {0x08, 0x01, 0x42, 0x02, 0x08, 0x80};
    const struct {
        const uint8_t *p;
        size_t n;
    } refused[] = {{value_varint, sizeof(value_varint)},
                   {tag6, sizeof(tag6)},
                   {len6, sizeof(len6)},
                   {bad_item, sizeof(bad_item)}};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        CU_ASSERT_PTR_NULL(zkv__response__unpack(NULL, refused[i].n, refused[i].p));
        CU_ASSERT_EQUAL(zkv_wire_decode_answer(refused[i].p, refused[i].n, &got, msg, sizeof(msg)),
                        0);
    }
    /* fixed32/fixed64 fields of unknown numbers are skipped */
    static const uint8_t fixed[] = {0x08, 0x07, 0xfd, 0x07, 1, 2, 3, 4, 0xf9, 0x07,
                                    1,    2,    3,    4,    5, 6, 7, 8, 0x10, 0x02};
    CU_ASSERT_EQUAL(zkv_wire_decode_answer(fixed, sizeof(fixed), &got, msg, sizeof(msg)), 1);
    CU_ASSERT_EQUAL(got.id, 7);
    CU_ASSERT_EQUAL(got.status, 2);
}

/* ---- APPEND requests decoded by hand ---- */

static bool same_bytes(ProtobufCBinaryData a, ProtobufCBinaryData b)
{
    return a.len == b.len && (a.data == NULL) == (b.data == NULL) &&
           (a.len == 0 || (a.data && b.data && memcmp(a.data, b.data, a.len) == 0));
}

/* bytes of a hand-decoded field point into payload[0..len) (zero copy) */
static bool inside(ProtobufCBinaryData b, const uint8_t *payload, size_t len)
{
    return b.len == 0 || (b.data >= payload && b.data + b.len <= payload + len);
}

/* got (hand-decoded from payload) equals ref (protobuf-c's), field by field. */
static void check_equal(const Zkv__Request *got, const Zkv__Request *ref, const uint8_t *payload,
                        size_t len)
{
    CU_ASSERT_EQUAL(got->id, ref->id);
    CU_ASSERT_EQUAL(got->op, ref->op);
    CU_ASSERT_EQUAL(got->map_version, ref->map_version);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got->range_id);
    CU_ASSERT_STRING_EQUAL(got->range_id, ref->range_id);
    CU_ASSERT_EQUAL(got->epoch, ref->epoch);
    CU_ASSERT_EQUAL(got->prev_seq, ref->prev_seq);
    CU_ASSERT_EQUAL(got->prev_epoch, ref->prev_epoch);
    CU_ASSERT_EQUAL(got->commit_seq, ref->commit_seq);
    /* what an APPEND leaves at its default */
    CU_ASSERT(same_bytes(got->key, ref->key) && same_bytes(got->value, ref->value) &&
              same_bytes(got->end_key, ref->end_key));
    CU_ASSERT(got->limit == ref->limit && got->flags == ref->flags &&
              got->protocol == ref->protocol && got->phase == ref->phase && got->seq == ref->seq);
    CU_ASSERT(got->n_items == ref->n_items && got->n_history == ref->n_history);
    CU_ASSERT_STRING_EQUAL(got->cluster_id, ref->cluster_id);
    CU_ASSERT_STRING_EQUAL(got->node_id, ref->node_id);
    CU_ASSERT_STRING_EQUAL(got->client_name, ref->client_name);
    CU_ASSERT_EQUAL_FATAL(got->n_entries, ref->n_entries);
    CU_ASSERT((got->entries == NULL) == (got->n_entries == 0));
    for (size_t i = 0; got->entries && ref->entries && i < got->n_entries; i++) {
        const Zkv__LogEntry *g = got->entries[i], *r = ref->entries[i];
        CU_ASSERT_PTR_NOT_NULL_FATAL(g);
        CU_ASSERT_EQUAL(g->seq, r->seq);
        CU_ASSERT_EQUAL(g->epoch, r->epoch);
        CU_ASSERT_EQUAL(g->op, r->op);
        CU_ASSERT(same_bytes(g->key, r->key));
        CU_ASSERT(same_bytes(g->value, r->value));
        CU_ASSERT(inside(g->key, payload, len) && inside(g->value, payload, len));
        CU_ASSERT_EQUAL(g->expiry_ms, r->expiry_ms);
        CU_ASSERT_EQUAL(g->client_id, r->client_id);
        CU_ASSERT_EQUAL(g->client_seq, r->client_seq);
        CU_ASSERT_EQUAL(g->batch_end, r->batch_end);
        CU_ASSERT_EQUAL(g->base.descriptor, &zkv__log_entry__descriptor);
    }
}

/* Decodes payload by hand and with protobuf-c: expect 1 (decoded, equal) or 0 (left to
 * protobuf-c). The payload is copied to a buffer of exactly len bytes, so a read past it
 * trips ASan. Returns protobuf-c's verdict (1 decoded, 0 refused). */
static int check_decode(const uint8_t *payload, size_t len, zkv_arena *arena, int expect)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy || (len && !payload)) {
        CU_FAIL("out of memory or no payload");
        free(copy);
        return 0;
    }
    if (len)
        memcpy(copy, payload, len);
    Zkv__Request got;
    int rc = zkv_wire_decode_append(copy, len, arena, &got);
    CU_ASSERT_EQUAL(rc, expect);
    Zkv__Request *ref = zkv__request__unpack(NULL, len, copy);
    if (rc == 1) {
        CU_ASSERT_PTR_NOT_NULL(ref);
        if (ref)
            check_equal(&got, ref, copy, len);
    }
    int ok = ref != NULL;
    if (ref)
        zkv__request__free_unpacked(ref, NULL);
    zkv_arena_reset(arena);
    free(copy);
    return ok;
}

/* An APPEND encoded by protobuf-c and by the hand encoder decodes by hand as by protobuf-c. */
static void check_append(const Zkv__Request *req, zkv_arena *arena)
{
    size_t n = zkv__request__get_packed_size(req);
    uint8_t *pb = malloc(n ? n : 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pb);
    CU_ASSERT_EQUAL_FATAL(zkv__request__pack(req, pb), n);
    CU_ASSERT_EQUAL(check_decode(pb, n, arena, 1), 1);
    zkv_buf b;
    zkv_buf_init(&b);
    CU_ASSERT_EQUAL_FATAL(zkv_wire_append_frame(&b, req), 0);
    CU_ASSERT_EQUAL(b.len, 4 + n);
    CU_ASSERT_EQUAL(check_decode(b.data + 4, b.len - 4, arena, 1), 1);
    zkv_buf_free(&b);
    free(pb);
}

static void test_decode_appends(void)
{
    zkv_arena arena;
    zkv_arena_init(&arena, 4096, 1u << 20);
    static uint8_t big[70000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 13 + 1);
    static char long_id[300];
    memset(long_id, 'r', sizeof(long_id) - 1);
    Zkv__LogEntry es[40];
    Zkv__LogEntry *ep[40];
    for (int i = 0; i < 40; i++) {
        zkv__log_entry__init(&es[i]);
        ep[i] = &es[i];
    }
    Zkv__Request req;
    zkv__request__init(&req);
    req.op = ZKV__OP__APPEND;
    check_append(&req, &arena); /* a heartbeat without range_id: "" */
    req.range_id = "";
    check_append(&req, &arena);
    req.range_id = "r0003";
    req.epoch = 1;
    check_append(&req, &arena); /* a heartbeat */
    req.range_id = long_id;     /* a two-byte length */
    req.id = UINT64_MAX;
    req.map_version = 1ull << 63;
    req.epoch = UINT64_MAX - 1;
    req.prev_seq = 1ull << 35;
    req.prev_epoch = 127;
    req.commit_seq = 128;
    check_append(&req, &arena);
    /* one entry */
    req.range_id = "r0003";
    req.entries = ep;
    req.n_entries = 1;
    es[0].seq = (1ull << 35) + 1;
    es[0].epoch = UINT64_MAX - 1;
    es[0].op = ZKV__OP__PUT;
    es[0].key.data = (uint8_t *)"key";
    es[0].key.len = 3;
    es[0].value.data = (uint8_t *)"value";
    es[0].value.len = 5;
    es[0].expiry_ms = UINT64_MAX;
    check_append(&req, &arena);
    /* many entries: DELETEs without value, empty keys and values, values of 1, 2 and 3
     * length bytes, all-zero entries */
    req.n_entries = 40;
    for (size_t i = 1; i < 40; i++) {
        es[i].seq = es[0].seq + i;
        es[i].epoch = i % 7 ? es[0].epoch : 0;
        es[i].op = i % 3 ? ZKV__OP__PUT : ZKV__OP__DELETE;
        es[i].key.data = big + i;
        es[i].key.len = i % 5;
        static const size_t vlens[] = {0, 1, 127, 128, 16383, 16384, 65000};
        size_t vl = vlens[i % (sizeof(vlens) / sizeof(vlens[0]))];
        if (es[i].op == ZKV__OP__PUT && vl) {
            es[i].value.data = big + i;
            es[i].value.len = vl;
        }
        es[i].expiry_ms = i % 4 ? 0 : 1700000000000ull + i;
    }
    zkv__log_entry__init(&es[20]);
    check_append(&req, &arena);
    zkv_arena_free(&arena);
    /* an arena without a block: everything in overflow chunks */
    zkv_arena_init(&arena, 0, 0);
    check_append(&req, &arena);
    zkv_arena_free(&arena);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* a number of random magnitude: 0, small, or up to 64 bits */
static uint64_t rnd_num(void)
{
    uint64_t r = rnd();
    return r % 8 == 0 ? 0 : rnd() >> (r % 64);
}

static void test_decode_random(void)
{
    zkv_arena arena;
    zkv_arena_init(&arena, 1024, 1u << 20);
    static uint8_t pool[40000];
    for (size_t i = 0; i < sizeof(pool); i++)
        pool[i] = (uint8_t)rnd();
    char rid[64];
    Zkv__LogEntry es[24];
    Zkv__LogEntry *ep[24];
    for (int round = 0; round < 3000; round++) {
        Zkv__Request req;
        zkv__request__init(&req);
        req.op = ZKV__OP__APPEND;
        req.id = rnd_num();
        req.map_version = rnd_num();
        req.epoch = rnd_num();
        req.prev_seq = rnd_num();
        req.prev_epoch = rnd_num();
        req.commit_seq = rnd_num();
        size_t rl = rnd() % sizeof(rid);
        for (size_t i = 0; i < rl; i++)
            rid[i] = (char)(1 + rnd() % 255); /* any byte but NUL */
        rid[rl] = '\0';
        req.range_id = rnd() % 8 ? rid : NULL;
        req.n_entries = rnd() % 25;
        req.entries = req.n_entries ? ep : NULL;
        for (size_t i = 0; i < req.n_entries; i++) {
            Zkv__LogEntry *e = &es[i];
            zkv__log_entry__init(e);
            ep[i] = e;
            e->seq = rnd_num();
            e->epoch = rnd_num();
            e->op = (Zkv__Op)(rnd() % 10);
            e->expiry_ms = rnd() % 3 ? 0 : rnd_num();
            if (rnd() % 4 == 0) {
                e->client_id = rnd_num();
                e->client_seq = rnd_num();
                e->batch_end = rnd() % 2 ? rnd_num() : 0;
            }
            e->key.len = rnd() % 4 ? rnd() % 40 : 0;
            e->key.data = pool + rnd() % 1000;
            size_t vl = rnd() % 16 == 0 ? rnd() % 30000 : rnd() % 200;
            e->value.len = rnd() % 4 ? vl : 0;
            e->value.data = pool + rnd() % 10000;
        }
        check_append(&req, &arena);
    }
    zkv_arena_free(&arena);
}

/* Packs req with protobuf-c into buf (cap bytes); returns the length. */
static size_t pack(const Zkv__Request *req, uint8_t *buf, size_t cap)
{
    size_t n = zkv__request__get_packed_size(req);
    CU_ASSERT_FATAL(n <= cap);
    return zkv__request__pack(req, buf);
}

static void test_decode_odd(void)
{
    zkv_arena arena;
    zkv_arena_init(&arena, 4096, 1u << 20);
    static uint8_t big[20000];
    memset(big, 'v', sizeof(big));
    Zkv__LogEntry es[3];
    Zkv__LogEntry *ep[3] = {&es[0], &es[1], &es[2]};
    for (int i = 0; i < 3; i++) {
        zkv__log_entry__init(&es[i]);
        es[i].seq = 1000 + (uint64_t)i;
        es[i].epoch = 3;
        es[i].op = ZKV__OP__PUT;
        es[i].key.data = (uint8_t *)"some-key";
        es[i].key.len = 8;
        es[i].value.data = big;
        es[i].value.len = i == 1 ? 200 : i == 2 ? 17000 : 5;
        es[i].expiry_ms = 99;
    }
    Zkv__Request req;
    zkv__request__init(&req);
    req.id = 77;
    req.op = ZKV__OP__APPEND;
    req.map_version = 5;
    req.range_id = "r0001";
    req.epoch = 3;
    req.prev_seq = 999;
    req.prev_epoch = 3;
    req.commit_seq = 998;
    req.entries = ep;
    req.n_entries = 3;
    static uint8_t buf[40000];
    size_t len = pack(&req, buf, sizeof(buf));
    /* truncated at every byte: decoded exactly when protobuf-c decodes an APPEND (a cut
     * between fields), else left to it */
    size_t decoded = 0;
    for (size_t cut = 0; cut < len; cut++) {
        Zkv__Request *ref = zkv__request__unpack(NULL, cut, buf);
        int expect = ref && ref->op == ZKV__OP__APPEND;
        if (ref)
            zkv__request__free_unpacked(ref, NULL);
        check_decode(buf, cut, &arena, expect);
        decoded += (size_t)expect;
    }
    CU_ASSERT_EQUAL(decoded, 9); /* the cuts between the fields after op */
    CU_ASSERT_EQUAL(check_decode(buf, len, &arena, 1), 1);
    /* an unknown field (12, varint) after a valid APPEND: protobuf-c keeps it */
    uint8_t odd[40100];
    memcpy(odd, buf, len);
    odd[len] = 12 << 3;
    odd[len + 1] = 1;
    CU_ASSERT_EQUAL(check_decode(odd, len + 2, &arena, 0), 1);
    /* a known field of another message: key (3) */
    odd[len] = 3 << 3 | 2;
    odd[len + 1] = 0;
    CU_ASSERT_EQUAL(check_decode(odd, len + 2, &arena, 0), 1);
    /* a field twice (last wins, for protobuf-c): epoch (17) again */
    odd[len] = 0x88;
    odd[len + 1] = 0x01;
    odd[len + 2] = 4;
    CU_ASSERT_EQUAL(check_decode(odd, len + 3, &arena, 0), 1);
    /* range_id again */
    static const uint8_t rid2[] = {0x82, 0x01, 1, 'x'};
    memcpy(odd + len, rid2, sizeof(rid2));
    CU_ASSERT_EQUAL(check_decode(odd, len + sizeof(rid2), &arena, 0), 1);
    /* wrong wire types: epoch as bytes, range_id as a varint, entries as a varint */
    static const uint8_t epoch_bytes[] = {0x10, 0x08, 0x8a, 0x01, 0x01, 'x'};
    static const uint8_t rid_varint[] = {0x10, 0x08, 0x80, 0x01, 0x05};
    static const uint8_t entries_varint[] = {0x10, 0x08, 0xa0, 0x01, 0x01};
    check_decode(epoch_bytes, sizeof(epoch_bytes), &arena, 0);
    check_decode(rid_varint, sizeof(rid_varint), &arena, 0);
    check_decode(entries_varint, sizeof(entries_varint), &arena, 0);
    /* entries: an unknown field (10), a field twice (seq), a wrong wire type (key varint) */
    static const uint8_t entry_unknown[] = {0x10, 0x08, 0xa2, 0x01, 0x04, 0x08, 0x01, 0x50, 0x05};
    static const uint8_t entry_twice[] = {0x10, 0x08, 0xa2, 0x01, 0x04, 0x08, 0x01, 0x08, 0x02};
    static const uint8_t entry_key_varint[] = {0x10, 0x08, 0xa2, 0x01, 0x02, 0x20, 0x01};
    CU_ASSERT_EQUAL(check_decode(entry_unknown, sizeof(entry_unknown), &arena, 0), 1);
    CU_ASSERT_EQUAL(check_decode(entry_twice, sizeof(entry_twice), &arena, 0), 1);
    check_decode(entry_key_varint, sizeof(entry_key_varint), &arena, 0);
    /* an entry whose length runs past the end of the request */
    static const uint8_t entry_long[] = {0x10, 0x08, 0xa2, 0x01, 0x05, 0x08, 0x01};
    CU_ASSERT_EQUAL(check_decode(entry_long, sizeof(entry_long), &arena, 0), 0);
    /* odd varints and lengths: an 11-byte id; a negative op (ten bytes); an op above
     * INT32_MAX; a range_id length in six bytes (protobuf-c reads five); a field 0 */
    static const uint8_t long_id[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0x01, 0x10, 0x08};
    static const uint8_t neg_op[] = {0x10, 0xf8, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0x01};
    static const uint8_t big_op[] = {0x10, 0x88, 0x80, 0x80, 0x80, 0x08};
    static const uint8_t rid_6[] = {0x10, 0x08, 0x82, 0x01, 0x81, 0x80,
                                    0x80, 0x80, 0x80, 0x00, 'x'};
    static const uint8_t field0[] = {0x10, 0x08, 0x00, 0x01};
    CU_ASSERT_EQUAL(check_decode(long_id, sizeof(long_id), &arena, 0), 0);
    CU_ASSERT_EQUAL(check_decode(neg_op, sizeof(neg_op), &arena, 0), 1);
    CU_ASSERT_EQUAL(check_decode(big_op, sizeof(big_op), &arena, 0), 1);
    CU_ASSERT_EQUAL(check_decode(rid_6, sizeof(rid_6), &arena, 0), 0);
    check_decode(field0, sizeof(field0), &arena, 0);
    /* ...but a length in five bytes, or an op in two, is what protobuf-c reads */
    static const uint8_t rid_5[] = {0x10, 0x88, 0x00, 0x82, 0x01, 0x81,
                                    0x80, 0x80, 0x80, 0x00, 'x'};
    CU_ASSERT_EQUAL(check_decode(rid_5, sizeof(rid_5), &arena, 1), 1);
    /* a tag in six bytes, which protobuf-c refuses; an op in six bytes, which it reads */
    static const uint8_t tag_6[] = {0x90, 0x80, 0x80, 0x80, 0x80, 0x00, 0x08};
    static const uint8_t op_6[] = {0x10, 0x88, 0x80, 0x80, 0x80, 0x80, 0x00};
    CU_ASSERT_EQUAL(check_decode(tag_6, sizeof(tag_6), &arena, 0), 0);
    CU_ASSERT_EQUAL(check_decode(op_6, sizeof(op_6), &arena, 0), 1);
    /* present but empty key, value and range_id (encoders leave them out): data NULL and
     * range_id "", as protobuf-c gives; an empty entry */
    static const uint8_t empties[] = {0x10, 0x08, 0x82, 0x01, 0x00, 0xa2, 0x01, 0x06, 0x18,
                                      0x03, 0x22, 0x00, 0x2a, 0x00, 0xa2, 0x01, 0x00};
    CU_ASSERT_EQUAL(check_decode(empties, sizeof(empties), &arena, 1), 1);
    /* a NUL in range_id: left to protobuf-c */
    static const uint8_t rid_nul[] = {0x10, 0x08, 0x82, 0x01, 0x03, 'a', 0x00, 'b'};
    CU_ASSERT_EQUAL(check_decode(rid_nul, sizeof(rid_nul), &arena, 0), 1);
    /* not an APPEND: the same fields with op SNAPSHOT, PING or none; an empty payload */
    req.op = ZKV__OP__SNAPSHOT;
    CU_ASSERT_EQUAL(check_decode(buf, pack(&req, buf, sizeof(buf)), &arena, 0), 1);
    req.op = ZKV__OP__PING;
    CU_ASSERT_EQUAL(check_decode(buf, pack(&req, buf, sizeof(buf)), &arena, 0), 1);
    req.op = ZKV__OP__OP_NONE;
    CU_ASSERT_EQUAL(check_decode(buf, pack(&req, buf, sizeof(buf)), &arena, 0), 1);
    CU_ASSERT_EQUAL(check_decode(buf, 0, &arena, 0), 1);
    Zkv__Request got;
    CU_ASSERT_EQUAL(zkv_wire_decode_append(NULL, 0, &arena, &got), 0);
    /* a GET, a SNAPSHOT chunk with items */
    Zkv__Request get;
    zkv__request__init(&get);
    get.id = 5;
    get.op = ZKV__OP__GET;
    get.key.data = (uint8_t *)"k";
    get.key.len = 1;
    CU_ASSERT_EQUAL(check_decode(buf, pack(&get, buf, sizeof(buf)), &arena, 0), 1);
    Zkv__KeyValue kv = ZKV__KEY_VALUE__INIT;
    Zkv__KeyValue *kvp = &kv;
    Zkv__Request snap;
    zkv__request__init(&snap);
    snap.op = ZKV__OP__SNAPSHOT;
    snap.range_id = "r0001";
    snap.phase = ZKV__SNAPSHOT_PHASE__SNAPSHOT_CHUNK;
    snap.n_items = 1;
    snap.items = &kvp;
    CU_ASSERT_EQUAL(check_decode(buf, pack(&snap, buf, sizeof(buf)), &arena, 0), 1);
    zkv_arena_free(&arena);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("server_tail_wire", NULL, NULL);
    CU_add_test(s, "APPEND frames by hand equal protobuf-c", test_append_frames);
    CU_add_test(s, "answers by hand equal protobuf-c", test_answers);
    CU_add_test(s, "malformed answers are left to protobuf-c", test_malformed_answers);
    CU_add_test(s, "every answer field with the wrong wire type declined", test_answer_wire_types);
    CU_add_test(s, "APPEND requests by hand equal protobuf-c", test_decode_appends);
    CU_add_test(s, "random APPEND requests by hand equal protobuf-c", test_decode_random);
    CU_add_test(s, "odd and other requests are left to protobuf-c", test_decode_odd);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
