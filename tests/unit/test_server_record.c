/* test_server_record.c: the LevelDB key and record formats of server/record.c: round
 * trips with binary keys (NUL, 0xFF, empty), the exact byte layout of docs/internals.md,
 * key ordering of log entries, and rejection of malformed records. */
#include <CUnit/Basic.h>
#include <string.h>

#include "common/rangemap.h"
#include "record.h"

static zkv_buf b;

static void test_ints(void)
{
    uint8_t p[8];
    zkv_put_u64be(p, 0x0102030405060708ull);
    CU_ASSERT_EQUAL(p[0], 1);
    CU_ASSERT_EQUAL(p[7], 8);
    CU_ASSERT_EQUAL(zkv_get_u64be(p), 0x0102030405060708ull);
    zkv_put_u32be(p, 0xdeadbeefu);
    CU_ASSERT_EQUAL(p[0], 0xde);
    CU_ASSERT_EQUAL(zkv_get_u32be(p), 0xdeadbeefu);
}

static void test_data_key(void)
{
    const uint8_t key[] = {0x00, 'a', 0xff, 0x00};
    b.len = 0;
    CU_ASSERT_EQUAL_FATAL(zkv_rec_data_key(&b, key, sizeof(key)), 0);
    CU_ASSERT_EQUAL_FATAL(b.len, 5);
    CU_ASSERT_EQUAL(b.data[0], 'd');
    CU_ASSERT_EQUAL(memcmp(b.data + 1, key, sizeof(key)), 0);
    const uint8_t *k;
    size_t kl;
    CU_ASSERT_EQUAL(zkv_rec_data_key_decode(b.data, b.len, &k, &kl), 0);
    CU_ASSERT_EQUAL(kl, sizeof(key));
    CU_ASSERT_EQUAL(memcmp(k, key, kl), 0);
    /* the empty key is a key too */
    b.len = 0;
    CU_ASSERT_EQUAL(zkv_rec_data_key(&b, NULL, 0), 0);
    CU_ASSERT_EQUAL(b.len, 1);
    CU_ASSERT_EQUAL(zkv_rec_data_key_decode(b.data, b.len, &k, &kl), 0);
    CU_ASSERT_EQUAL(kl, 0);
    const uint8_t other[] = {'r', 'x'};
    CU_ASSERT_EQUAL(zkv_rec_data_key_decode(other, 2, &k, &kl), -1);
    CU_ASSERT_EQUAL(zkv_rec_data_key_decode(other, 0, &k, &kl), -1);
}

static void test_value_record(void)
{
    const uint8_t val[] = {0x00, 0xff, 'v', 0x00};
    zkv_value_meta m = {.flags = 0, .epoch = 7, .seq = 0x1122334455ull, .expiry_ms = 99};
    b.len = 0;
    CU_ASSERT_EQUAL_FATAL(zkv_rec_value_encode(&b, &m, val, sizeof(val)), 0);
    CU_ASSERT_EQUAL_FATAL(b.len, ZKV_REC_VALUE_HDR + sizeof(val));
    /* layout: u8 format, u8 flags, u64be epoch, u64be seq, u64be expiry, value */
    CU_ASSERT_EQUAL(b.data[0], 1);
    CU_ASSERT_EQUAL(b.data[1], 0);
    CU_ASSERT_EQUAL(zkv_get_u64be(b.data + 2), 7);
    CU_ASSERT_EQUAL(zkv_get_u64be(b.data + 10), 0x1122334455ull);
    CU_ASSERT_EQUAL(zkv_get_u64be(b.data + 18), 99);
    CU_ASSERT_EQUAL(memcmp(b.data + 26, val, sizeof(val)), 0);
    zkv_value_view v;
    CU_ASSERT_EQUAL_FATAL(zkv_rec_value_decode(b.data, b.len, &v), 0);
    CU_ASSERT_EQUAL(v.meta.epoch, 7);
    CU_ASSERT_EQUAL(v.meta.seq, 0x1122334455ull);
    CU_ASSERT_EQUAL(v.meta.expiry_ms, 99);
    CU_ASSERT_EQUAL(v.value_len, sizeof(val));
    CU_ASSERT_EQUAL(memcmp(v.value, val, sizeof(val)), 0);
    /* empty value */
    b.len = 0;
    CU_ASSERT_EQUAL(zkv_rec_value_encode(&b, &m, NULL, 0), 0);
    CU_ASSERT_EQUAL(zkv_rec_value_decode(b.data, b.len, &v), 0);
    CU_ASSERT_EQUAL(v.value_len, 0);
    /* truncated header, unknown format */
    CU_ASSERT_EQUAL(zkv_rec_value_decode(b.data, ZKV_REC_VALUE_HDR - 1, &v), -1);
    b.data[0] = 2;
    CU_ASSERT_EQUAL(zkv_rec_value_decode(b.data, b.len, &v), -1);
}

static void test_log_key(void)
{
    char id[ZKV_ID_MAX];
    uint64_t seq;
    b.len = 0;
    CU_ASSERT_EQUAL_FATAL(zkv_rec_log_key(&b, "r0003", 258), 0);
    /* 'l' + "r0003" + 0x00 + u64be 258 */
    CU_ASSERT_EQUAL_FATAL(b.len, 1 + 5 + 1 + 8);
    CU_ASSERT_EQUAL(b.data[0], 'l');
    CU_ASSERT_EQUAL(memcmp(b.data + 1, "r0003", 5), 0);
    CU_ASSERT_EQUAL(b.data[6], 0);
    CU_ASSERT_EQUAL(b.data[13], 1);
    CU_ASSERT_EQUAL(b.data[14], 2);
    CU_ASSERT_EQUAL(zkv_rec_log_key_decode(b.data, b.len, id, sizeof(id), &seq), 0);
    CU_ASSERT_STRING_EQUAL(id, "r0003");
    CU_ASSERT_EQUAL(seq, 258);
    /* seq order is key order, and one range's entries sort before the next range's */
    zkv_buf a, c;
    zkv_buf_init(&a);
    zkv_buf_init(&c);
    zkv_rec_log_key(&a, "r0003", 255);
    zkv_rec_log_key(&c, "r00030", 0);
    CU_ASSERT_TRUE(memcmp(a.data, b.data, a.len) < 0);
    CU_ASSERT_TRUE(memcmp(b.data, c.data, b.len < c.len ? b.len : c.len) < 0);
    zkv_buf_free(&a);
    zkv_buf_free(&c);
    CU_ASSERT_EQUAL(zkv_rec_log_key_decode(b.data, b.len - 1, id, sizeof(id), &seq), -1);
    CU_ASSERT_EQUAL(zkv_rec_log_key_decode(b.data, b.len, id, 4, &seq), -1);
}

static void test_range_state(void)
{
    char id[ZKV_ID_MAX];
    b.len = 0;
    CU_ASSERT_EQUAL(zkv_rec_range_key(&b, "r0012"), 0);
    CU_ASSERT_EQUAL(b.len, 6);
    CU_ASSERT_EQUAL(b.data[0], 'r');
    CU_ASSERT_EQUAL(zkv_rec_range_key_decode(b.data, b.len, id, sizeof(id)), 0);
    CU_ASSERT_STRING_EQUAL(id, "r0012");
    CU_ASSERT_EQUAL(zkv_rec_range_key_decode(b.data, 1, id, sizeof(id)), -1);
    zkv_range_state_rec st = {.epoch = 5, .last_seq = 1ull << 40}, got;
    b.len = 0;
    CU_ASSERT_EQUAL(zkv_rec_range_state_encode(&b, &st), 0);
    CU_ASSERT_EQUAL_FATAL(b.len, 16);
    CU_ASSERT_EQUAL(zkv_get_u64be(b.data), 5);
    CU_ASSERT_EQUAL(zkv_get_u64be(b.data + 8), 1ull << 40);
    CU_ASSERT_EQUAL(zkv_rec_range_state_decode(b.data, b.len, &got), 0);
    CU_ASSERT_EQUAL(got.epoch, 5);
    CU_ASSERT_EQUAL(got.last_seq, 1ull << 40);
    CU_ASSERT_EQUAL(zkv_rec_range_state_decode(b.data, 15, &got), -1);
}

static void test_epoch_and_snap_keys(void)
{
    char id[ZKV_ID_MAX];
    uint64_t epoch = 0;
    b.len = 0;
    CU_ASSERT_EQUAL_FATAL(zkv_rec_epoch_key(&b, "r0003", 0x0102ull), 0);
    /* 'e' + id + 0x00 + u64be epoch */
    CU_ASSERT_EQUAL_FATAL(b.len, 1 + 5 + 1 + 8);
    CU_ASSERT_EQUAL(b.data[0], 'e');
    CU_ASSERT_EQUAL(memcmp(b.data + 1, "r0003", 5), 0);
    CU_ASSERT_EQUAL(b.data[6], 0);
    CU_ASSERT_EQUAL(zkv_get_u64be(b.data + 7), 0x0102ull);
    CU_ASSERT_EQUAL(zkv_rec_epoch_key_decode(b.data, b.len, id, sizeof(id), &epoch), 0);
    CU_ASSERT_STRING_EQUAL(id, "r0003");
    CU_ASSERT_EQUAL(epoch, 0x0102ull);
    /* epochs of one range sort numerically, before the next range's */
    zkv_buf c, d;
    zkv_buf_init(&c);
    zkv_buf_init(&d);
    CU_ASSERT_EQUAL(zkv_rec_epoch_key(&c, "r0003", 0x0201ull), 0);
    CU_ASSERT_EQUAL(zkv_rec_epoch_key(&d, "r00030", 0), 0);
    CU_ASSERT_TRUE(memcmp(b.data, c.data, b.len) < 0);
    CU_ASSERT_TRUE(memcmp(c.data, d.data, c.len) < 0);
    zkv_buf_free(&c);
    zkv_buf_free(&d);
    /* a log key is not an epoch key */
    b.len = 0;
    CU_ASSERT_EQUAL(zkv_rec_log_key(&b, "r0003", 1), 0);
    CU_ASSERT_EQUAL(zkv_rec_epoch_key_decode(b.data, b.len, id, sizeof(id), &epoch), -1);
    b.len = 0;
    CU_ASSERT_EQUAL(zkv_rec_snap_key(&b, "r0003"), 0);
    CU_ASSERT_EQUAL_FATAL(b.len, 6);
    CU_ASSERT_EQUAL(b.data[0], 'p');
    CU_ASSERT_EQUAL(zkv_rec_snap_key_decode(b.data, b.len, id, sizeof(id)), 0);
    CU_ASSERT_STRING_EQUAL(id, "r0003");
    CU_ASSERT_EQUAL(zkv_rec_snap_key_decode(b.data, 1, id, sizeof(id)), -1);
    b.len = 0;
    CU_ASSERT_EQUAL(zkv_rec_u64_encode(&b, 77), 0);
    CU_ASSERT_EQUAL_FATAL(b.len, 8);
    uint64_t v = 0;
    CU_ASSERT_EQUAL(zkv_rec_u64_decode(b.data, b.len, &v), 0);
    CU_ASSERT_EQUAL(v, 77);
    CU_ASSERT_EQUAL(zkv_rec_u64_decode(b.data, 7, &v), -1);
}

static void test_log_entry(void)
{
    const uint8_t key[] = {0xff, 0x00, 0xff};
    const uint8_t val[] = "hello\0world";
    zkv_value_meta m = {.epoch = 3, .seq = 42};
    b.len = 0;
    CU_ASSERT_EQUAL_FATAL(
        zkv_rec_log_encode(&b, ZKV_LOG_OP_PUT, 3, NULL, key, sizeof(key), &m, val, sizeof(val)), 0);
    /* u8 op, u64be epoch, u32be key length, key, value record */
    CU_ASSERT_EQUAL_FATAL(b.len, 1 + 8 + 4 + sizeof(key) + ZKV_REC_VALUE_HDR + sizeof(val));
    CU_ASSERT_EQUAL(b.data[0], 1);
    CU_ASSERT_EQUAL(zkv_get_u64be(b.data + 1), 3);
    CU_ASSERT_EQUAL(zkv_get_u32be(b.data + 9), sizeof(key));
    zkv_log_view e;
    CU_ASSERT_EQUAL_FATAL(zkv_rec_log_decode(b.data, b.len, &e), 0);
    CU_ASSERT_EQUAL(e.op, ZKV_LOG_OP_PUT);
    CU_ASSERT_EQUAL(e.epoch, 3);
    CU_ASSERT_EQUAL(e.key_len, sizeof(key));
    CU_ASSERT_EQUAL(memcmp(e.key, key, sizeof(key)), 0);
    CU_ASSERT_EQUAL(e.value.meta.seq, 42);
    CU_ASSERT_EQUAL(e.value.value_len, sizeof(val));
    CU_ASSERT_EQUAL(memcmp(e.value.value, val, sizeof(val)), 0);
    /* truncations are refused */
    for (size_t n = 0; n < 13 + sizeof(key) + ZKV_REC_VALUE_HDR; n++)
        CU_ASSERT_EQUAL(zkv_rec_log_decode(b.data, n, &e), -1);

    b.len = 0;
    CU_ASSERT_EQUAL(
        zkv_rec_log_encode(&b, ZKV_LOG_OP_DELETE, 4, NULL, key, sizeof(key), NULL, NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(b.len, 13 + sizeof(key));
    CU_ASSERT_EQUAL(zkv_rec_log_decode(b.data, b.len, &e), 0);
    CU_ASSERT_EQUAL(e.op, ZKV_LOG_OP_DELETE);
    CU_ASSERT_EQUAL(e.epoch, 4);
    /* trailing bytes after a delete, unknown op */
    uint8_t bad[64];
    memcpy(bad, b.data, b.len);
    bad[b.len] = 0;
    CU_ASSERT_EQUAL(zkv_rec_log_decode(bad, b.len + 1, &e), -1);
    bad[0] = 3;
    CU_ASSERT_EQUAL(zkv_rec_log_decode(bad, b.len, &e), -1);
    CU_ASSERT_EQUAL(zkv_rec_log_encode(&b, (zkv_log_op)9, 1, NULL, key, 1, NULL, NULL, 0), -1);
    /* an entry without a tag decodes with none (the format before tags) */
    CU_ASSERT_EQUAL(e.tag.client_id, 0);
    CU_ASSERT_EQUAL(e.tag.client_seq, 0);
}

/* A conditional write's entry: the op's bit 0x80 and the tag after the epoch. */
typedef struct {
    uint64_t seqs[8];
    size_t lens[8];
    int n;
} walked;

static int walk_note(void *ctx, uint64_t seq, const uint8_t *rec, size_t len)
{
    walked *w = ctx;
    (void)rec;
    if (w->n == 8)
        return 1;
    w->seqs[w->n] = seq;
    w->lens[w->n++] = len;
    return 0;
}

/* Log chunks: entries framed by length after a header with the last seq; a single entry
 * reads as a chunk of one; every malformed chunk is refused before any entry is seen. */
static void test_log_chunk(void)
{
    zkv_buf e1, e2, c;
    zkv_buf_init(&e1);
    zkv_buf_init(&e2);
    zkv_buf_init(&c);
    zkv_value_meta m = {.epoch = 3, .seq = 10};
    CU_ASSERT_EQUAL_FATAL(zkv_rec_log_encode(&e1, ZKV_LOG_OP_PUT, 3, NULL, (const uint8_t *)"k", 1,
                                             &m, (const uint8_t *)"v", 1),
                          0);
    CU_ASSERT_EQUAL_FATAL(
        zkv_rec_log_encode(&e2, ZKV_LOG_OP_DELETE, 3, NULL, (const uint8_t *)"k", 1, &m, NULL, 0),
        0);
    CU_ASSERT_NOT_EQUAL(e1.data[0], ZKV_REC_LOG_CHUNK); /* an entry never looks like one */
    CU_ASSERT_EQUAL(zkv_rec_chunk_append(&c, e1.data, e1.len), 0);
    CU_ASSERT_EQUAL(zkv_rec_chunk_append(&c, e2.data, e2.len), 0);
    size_t vlen = 0;
    CU_ASSERT_PTR_EQUAL(zkv_rec_chunk_finish(&c, 10, 11, &vlen), c.data);
    CU_ASSERT_EQUAL(vlen, c.len);
    CU_ASSERT_EQUAL(c.len, ZKV_REC_LOG_CHUNK_HDR + 8 + e1.len + e2.len);
    uint64_t last = 0;
    CU_ASSERT_EQUAL(zkv_rec_log_value_last(c.data, c.len, 10, &last), 0);
    CU_ASSERT_EQUAL(last, 11);
    walked w = {0};
    CU_ASSERT_EQUAL(zkv_rec_log_value_walk(c.data, c.len, 10, walk_note, &w), 0);
    CU_ASSERT_EQUAL_FATAL(w.n, 2);
    CU_ASSERT_EQUAL(w.seqs[0], 10);
    CU_ASSERT_EQUAL(w.lens[0], e1.len);
    CU_ASSERT_EQUAL(w.seqs[1], 11);
    CU_ASSERT_EQUAL(w.lens[1], e2.len);
    /* a single entry: a chunk of one is written bare */
    zkv_buf c1;
    zkv_buf_init(&c1);
    CU_ASSERT_EQUAL(zkv_rec_chunk_append(&c1, e1.data, e1.len), 0);
    const uint8_t *bare = zkv_rec_chunk_finish(&c1, 7, 7, &vlen);
    CU_ASSERT_EQUAL(vlen, e1.len);
    CU_ASSERT(bare && memcmp(bare, e1.data, e1.len) == 0);
    zkv_buf_free(&c1);
    walked one = {0};
    CU_ASSERT_EQUAL(zkv_rec_log_value_last(e1.data, e1.len, 7, &last), 0);
    CU_ASSERT_EQUAL(last, 7);
    CU_ASSERT_EQUAL(zkv_rec_log_value_walk(e1.data, e1.len, 7, walk_note, &one), 0);
    CU_ASSERT_EQUAL(one.n, 1);
    CU_ASSERT_EQUAL(one.seqs[0], 7);
    /* malformed: the count does not match the header, a length runs past the end, a
     * truncated header, a last seq below the key's, an empty value */
    walked bad = {0};
    CU_ASSERT_EQUAL(zkv_rec_log_value_walk(c.data, c.len, 9, walk_note, &bad), -1);
    CU_ASSERT_EQUAL(zkv_rec_log_value_walk(c.data, c.len - 1, 10, walk_note, &bad), -1);
    CU_ASSERT_EQUAL(zkv_rec_log_value_walk(c.data, 5, 10, walk_note, &bad), -1);
    CU_ASSERT_EQUAL(zkv_rec_log_value_last(c.data, c.len, 12, &last), -1);
    CU_ASSERT_EQUAL(zkv_rec_log_value_walk(c.data, 0, 10, walk_note, &bad), -1);
    CU_ASSERT_EQUAL(bad.n, 0);
    zkv_buf_free(&e1);
    zkv_buf_free(&e2);
    zkv_buf_free(&c);
}

static void test_log_entry_tagged(void)
{
    const uint8_t key[] = {'k', 0x00};
    zkv_value_meta m = {.epoch = 5, .seq = 9};
    zkv_write_tag tag = {.client_id = 0x1122334455667788ull, .client_seq = 12};
    b.len = 0;
    CU_ASSERT_EQUAL_FATAL(zkv_rec_log_encode(&b, ZKV_LOG_OP_PUT, 5, &tag, key, sizeof(key), &m,
                                             (const uint8_t *)"v", 1),
                          0);
    CU_ASSERT_EQUAL_FATAL(b.len, 1 + 8 + 16 + 4 + sizeof(key) + ZKV_REC_VALUE_HDR + 1);
    CU_ASSERT_EQUAL(b.data[0], ZKV_LOG_OP_PUT | ZKV_REC_LOG_TAGGED);
    CU_ASSERT_EQUAL(zkv_get_u64be(b.data + 9), tag.client_id);
    CU_ASSERT_EQUAL(zkv_get_u64be(b.data + 17), tag.client_seq);
    zkv_log_view e;
    CU_ASSERT_EQUAL_FATAL(zkv_rec_log_decode(b.data, b.len, &e), 0);
    CU_ASSERT_EQUAL(e.op, ZKV_LOG_OP_PUT);
    CU_ASSERT_EQUAL(e.epoch, 5);
    CU_ASSERT_EQUAL(e.tag.client_id, tag.client_id);
    CU_ASSERT_EQUAL(e.tag.client_seq, tag.client_seq);
    CU_ASSERT(e.key_len == sizeof(key) && memcmp(e.key, key, sizeof(key)) == 0);
    CU_ASSERT(e.value.value_len == 1 && e.value.value[0] == 'v');
    for (size_t n = 0; n < b.len - 1; n++) /* (the value bytes are the rest: any length) */
        CU_ASSERT_EQUAL(zkv_rec_log_decode(b.data, n, &e), -1);
    /* a delete with a tag; a tag of zeros is no tag */
    b.len = 0;
    CU_ASSERT_EQUAL(zkv_rec_log_encode(&b, ZKV_LOG_OP_DELETE, 6, &tag, key, 1, NULL, NULL, 0), 0);
    CU_ASSERT_EQUAL(zkv_rec_log_decode(b.data, b.len, &e), 0);
    CU_ASSERT(e.op == ZKV_LOG_OP_DELETE && e.tag.client_seq == 12);
    /* an atomic batch's entry: the batch end after the tag, or alone */
    zkv_write_tag both = {.client_id = 5, .client_seq = 6, .batch_end = 99};
    zkv_write_tag batch = {.batch_end = 98};
    b.len = 0;
    CU_ASSERT_EQUAL(zkv_rec_log_encode(&b, ZKV_LOG_OP_DELETE, 6, &both, key, 1, NULL, NULL, 0), 0);
    CU_ASSERT_EQUAL(b.data[0], ZKV_LOG_OP_DELETE | ZKV_REC_LOG_TAGGED | ZKV_REC_LOG_BATCH);
    CU_ASSERT_EQUAL(b.len, 13 + 16 + 8 + 1);
    CU_ASSERT_EQUAL(zkv_rec_log_decode(b.data, b.len, &e), 0);
    CU_ASSERT(e.tag.client_id == 5 && e.tag.client_seq == 6 && e.tag.batch_end == 99);
    b.len = 0;
    CU_ASSERT_EQUAL(
        zkv_rec_log_encode(&b, ZKV_LOG_OP_PUT, 6, &batch, key, 1, &m, (const uint8_t *)"w", 1), 0);
    CU_ASSERT_EQUAL(b.data[0], ZKV_LOG_OP_PUT | ZKV_REC_LOG_BATCH);
    CU_ASSERT_EQUAL(zkv_rec_log_decode(b.data, b.len, &e), 0);
    CU_ASSERT(e.tag.client_id == 0 && e.tag.batch_end == 98 && e.value.value_len == 1);
    for (size_t n = 0; n < 13 + 8 + 1 + ZKV_REC_VALUE_HDR; n++)
        CU_ASSERT_EQUAL(zkv_rec_log_decode(b.data, n, &e), -1);
    zkv_write_tag none = {0, 0, 0};
    b.len = 0;
    CU_ASSERT_EQUAL(zkv_rec_log_encode(&b, ZKV_LOG_OP_DELETE, 6, &none, key, 1, NULL, NULL, 0), 0);
    CU_ASSERT_EQUAL(b.data[0], ZKV_LOG_OP_DELETE);
    CU_ASSERT_EQUAL(b.len, 13 + 1);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    zkv_buf_init(&b);
    CU_pSuite s = CU_add_suite("server_record", NULL, NULL);
    CU_add_test(s, "log entry with a conditional write's tag", test_log_entry_tagged);
    CU_add_test(s, "big-endian integers", test_ints);
    CU_add_test(s, "data key", test_data_key);
    CU_add_test(s, "value record", test_value_record);
    CU_add_test(s, "log key", test_log_key);
    CU_add_test(s, "range state", test_range_state);
    CU_add_test(s, "log entry", test_log_entry);
    CU_add_test(s, "log chunk", test_log_chunk);
    CU_add_test(s, "epoch history and snapshot marker keys", test_epoch_and_snap_keys);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    zkv_buf_free(&b);
    return failed ? 1 : 0;
}
