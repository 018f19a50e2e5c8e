/* test_server_store.c: server/store.c against a real LevelDB in a mkdtemp directory:
 * put/get/delete with binary keys, per-range sequence numbers, reads of staged writes,
 * scans within bounds, the log, stale epochs, and what survives a reopen (data, range
 * states, sequence numbers; keys stored at 'd' + key as docs/internals.md says). */
#include <CUnit/Basic.h>
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

static char dir[64];
static char dbpath[128];
static char err[256];

static void rm_rf(const char *path)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", path);
}

static int setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/zkv-test-store-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(dbpath, sizeof(dbpath), "%s/db", dir);
    return 0;
}

static int teardown(void)
{
    rm_rf(dir);
    return 0;
}

static zkv_store *open_store(void)
{
    zkv_store *s = NULL;
    int rc = zkv_store_open(dbpath, &s, err, sizeof(err));
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return s;
}

static int get(zkv_store *s, const void *k, size_t kl, char *out, size_t outlen, zkv_value_meta *m)
{
    zkv_store_value v;
    int rc = zkv_store_get(s, k, kl, &v, err, sizeof(err));
    if (rc == 1) {
        size_t n = v.view.value_len < outlen - 1 ? v.view.value_len : outlen - 1;
        memcpy(out, v.view.value, n);
        out[n] = '\0';
        if (m)
            *m = v.view.meta;
        zkv_store_value_release(&v);
    }
    return rc;
}

static void test_put_get_seq(void)
{
    zkv_store *s = open_store();
    CU_ASSERT_EQUAL(zkv_store_range_count(s), 0);
    CU_ASSERT_PTR_NULL(zkv_store_range(s, "r0000"));
    zkv_value_meta m;
    char buf[64];
    CU_ASSERT_EQUAL(zkv_store_put(s, "r0000", 2, (const uint8_t *)"a", 1, (const uint8_t *)"1", 1,
                                  &m, err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(m.epoch, 2);
    CU_ASSERT_EQUAL(m.seq, 1);
    CU_ASSERT_EQUAL(zkv_store_put(s, "r0000", 2, (const uint8_t *)"b", 1, (const uint8_t *)"2", 1,
                                  &m, err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(m.seq, 2);
    CU_ASSERT_EQUAL(zkv_store_put(s, "r0001", 1, (const uint8_t *)"\xff", 1, (const uint8_t *)"3",
                                  1, &m, err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(m.seq, 1); /* each range counts on its own */
    CU_ASSERT_EQUAL(zkv_store_pending(s), 3);
    const zkv_range_state *r = zkv_store_range(s, "r0000");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->last_seq, 2);
    CU_ASSERT_EQUAL(r->committed_seq, 0);
    /* a read of a staged key commits the batch first */
    CU_ASSERT_EQUAL(get(s, "a", 1, buf, sizeof(buf), &m), 1);
    CU_ASSERT_STRING_EQUAL(buf, "1");
    CU_ASSERT_EQUAL(m.epoch, 2);
    CU_ASSERT_EQUAL(m.seq, 1);
    CU_ASSERT_EQUAL(zkv_store_pending(s), 0);
    CU_ASSERT_EQUAL(r->committed_seq, 2);
    CU_ASSERT_EQUAL(get(s, "zz", 2, buf, sizeof(buf), NULL), 0);
    /* overwrite and delete */
    CU_ASSERT_EQUAL(zkv_store_put(s, "r0000", 2, (const uint8_t *)"a", 1, (const uint8_t *)"one", 3,
                                  &m, err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(m.seq, 3);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(get(s, "a", 1, buf, sizeof(buf), &m), 1);
    CU_ASSERT_STRING_EQUAL(buf, "one");
    CU_ASSERT_EQUAL(m.seq, 3);
    CU_ASSERT_EQUAL(zkv_store_delete(s, "r0000", 2, (const uint8_t *)"b", 1, &m, err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(m.seq, 4);
    CU_ASSERT_EQUAL(get(s, "b", 1, buf, sizeof(buf), NULL), 0);
    /* deleting a missing key is logged all the same */
    CU_ASSERT_EQUAL(
        zkv_store_delete(s, "r0000", 2, (const uint8_t *)"nope", 4, &m, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(m.seq, 5);
    /* an older epoch is refused, a newer one is taken */
    CU_ASSERT_EQUAL(zkv_store_put(s, "r0000", 1, (const uint8_t *)"a", 1, (const uint8_t *)"x", 1,
                                  &m, err, sizeof(err)),
                    ZKV_STORE_STALE_EPOCH);
    CU_ASSERT_EQUAL(zkv_store_put(s, "r0000", 3, (const uint8_t *)"c", 1, (const uint8_t *)"c", 1,
                                  &m, err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(m.epoch, 3);
    CU_ASSERT_EQUAL(m.seq, 6);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    CU_ASSERT_FALSE(zkv_store_failed(s));
    zkv_store_close(s);
}

typedef struct {
    char keys[16][16];
    size_t klen[16];
    int n;
    int stop_after;
} scan_rec;

static int collect(void *ctx, const uint8_t *key, size_t klen, const zkv_value_view *v)
{
    scan_rec *r = ctx;
    if (r->n == r->stop_after || r->n == 16)
        return 1;
    memcpy(r->keys[r->n], key, klen);
    r->klen[r->n] = klen;
    r->n++;
    return 0;
}

static void test_scan_binary(void)
{
    zkv_store *s = open_store();
    /* state of test_put_get_seq: a, c in r0000; \xff in r0001. Add binary keys. */
    const char *keys[] = {"", "\x00", "\x00\x00", "a\x00", "\xff\xff", "\xff\x00"};
    const size_t lens[] = {0, 1, 2, 2, 2, 2};
    zkv_value_meta m;
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(zkv_store_put(s, "r0002", 1, (const uint8_t *)keys[i], lens[i],
                                      (const uint8_t *)"v", 1, &m, err, sizeof(err)),
                        0);
    /* everything, in memcmp order (the scan commits the staged writes first) */
    scan_rec r = {.stop_after = -1};
    CU_ASSERT_EQUAL(zkv_store_scan(s, NULL, 0, NULL, 0, collect, &r, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL_FATAL(r.n, 9);
    CU_ASSERT_EQUAL(r.klen[0], 0);
    CU_ASSERT_EQUAL(r.klen[1], 1);
    CU_ASSERT_EQUAL(r.keys[1][0], 0);
    CU_ASSERT_EQUAL(r.klen[2], 2);
    CU_ASSERT_EQUAL(memcmp(r.keys[3], "a", 1), 0);
    CU_ASSERT_EQUAL(r.klen[3], 1);
    CU_ASSERT_EQUAL(memcmp(r.keys[4], "a\x00", 2), 0);
    CU_ASSERT_EQUAL(memcmp(r.keys[5], "c", 1), 0);
    CU_ASSERT_EQUAL(memcmp(r.keys[6], "\xff", 1), 0);
    CU_ASSERT_EQUAL(r.klen[6], 1);
    CU_ASSERT_EQUAL(memcmp(r.keys[7], "\xff\x00", 2), 0);
    CU_ASSERT_EQUAL(memcmp(r.keys[8], "\xff\xff", 2), 0);
    /* [\x00\x00, \xff): start inclusive, end exclusive */
    scan_rec r2 = {.stop_after = -1};
    CU_ASSERT_EQUAL(zkv_store_scan(s, (const uint8_t *)"\x00\x00", 2, (const uint8_t *)"\xff", 1,
                                   collect, &r2, err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(r2.n, 4);
    /* the callback stops the scan */
    scan_rec r3 = {.stop_after = 2};
    CU_ASSERT_EQUAL(zkv_store_scan(s, NULL, 0, NULL, 0, collect, &r3, err, sizeof(err)), 1);
    CU_ASSERT_EQUAL(r3.n, 2);
    zkv_store_close(s);
}

typedef struct {
    uint64_t seqs[16];
    zkv_log_op ops[16];
    int n;
} log_rec;

static int collect_log(void *ctx, uint64_t seq, const zkv_log_view *e)
{
    log_rec *r = ctx;
    if (r->n == 16)
        return 1;
    r->seqs[r->n] = seq;
    r->ops[r->n] = e->op;
    r->n++;
    return 0;
}

static void test_reopen(void)
{
    zkv_store *s = open_store();
    CU_ASSERT_EQUAL(zkv_store_range_count(s), 3);
    const zkv_range_state *r = zkv_store_range(s, "r0000");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->last_seq, 6);
    CU_ASSERT_EQUAL(r->committed_seq, 6);
    CU_ASSERT_EQUAL(r->epoch, 3);
    CU_ASSERT_EQUAL(zkv_store_range(s, "r0002")->last_seq, 6);
    char buf[64];
    zkv_value_meta m;
    CU_ASSERT_EQUAL(get(s, "a", 1, buf, sizeof(buf), &m), 1);
    CU_ASSERT_STRING_EQUAL(buf, "one");
    CU_ASSERT_EQUAL(m.seq, 3);
    CU_ASSERT_EQUAL(get(s, "b", 1, buf, sizeof(buf), NULL), 0);
    /* numbering continues */
    CU_ASSERT_EQUAL(zkv_store_put(s, "r0000", 3, (const uint8_t *)"d", 1, (const uint8_t *)"d", 1,
                                  &m, err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(m.seq, 7);
    /* the log of r0000: puts 1-3, deletes 4-5, puts 6-7 */
    log_rec lr = {0};
    CU_ASSERT_EQUAL(zkv_store_read_log(s, "r0000", 1, collect_log, &lr, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL_FATAL(lr.n, 7);
    for (int i = 0; i < 7; i++)
        CU_ASSERT_EQUAL(lr.seqs[i], (uint64_t)i + 1);
    CU_ASSERT_EQUAL(lr.ops[0], ZKV_LOG_OP_PUT);
    CU_ASSERT_EQUAL(lr.ops[3], ZKV_LOG_OP_DELETE);
    CU_ASSERT_EQUAL(lr.ops[4], ZKV_LOG_OP_DELETE);
    CU_ASSERT_EQUAL(lr.ops[6], ZKV_LOG_OP_PUT);
    log_rec lr2 = {0};
    CU_ASSERT_EQUAL(zkv_store_read_log(s, "r0000", 6, collect_log, &lr2, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(lr2.n, 2);
    zkv_store_close(s);
}

/* The integration tests read the database directly: values live at 'd' + key. */
static void test_raw_layout(void)
{
    leveldb_options_t *o = leveldb_options_create();
    char *lerr = NULL;
    leveldb_t *db = leveldb_open(o, dbpath, &lerr);
    CU_ASSERT_PTR_NULL(lerr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    leveldb_readoptions_t *ro = leveldb_readoptions_create();
    size_t vlen = 0;
    char *v = leveldb_get(db, ro, "da", 2, &vlen, &lerr);
    CU_ASSERT_PTR_NOT_NULL(v);
    CU_ASSERT_EQUAL(vlen, ZKV_REC_VALUE_HDR + 3);
    if (v && vlen == ZKV_REC_VALUE_HDR + 3) {
        CU_ASSERT_EQUAL(v[0], 1);
        CU_ASSERT_EQUAL(memcmp(v + ZKV_REC_VALUE_HDR, "one", 3), 0);
    }
    leveldb_free(v);
    v = leveldb_get(db, ro, "rr0000", 6, &vlen, &lerr);
    CU_ASSERT_PTR_NOT_NULL(v);
    CU_ASSERT_EQUAL(vlen, 16);
    if (v && vlen == 16)
        CU_ASSERT_EQUAL(zkv_get_u64be((const uint8_t *)v + 8), 7);
    leveldb_free(v);
    leveldb_readoptions_destroy(ro);
    leveldb_close(db);
    leveldb_options_destroy(o);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("server_store", setup, teardown);
    CU_add_test(s, "put, get, delete, sequence numbers", test_put_get_seq);
    CU_add_test(s, "scan over binary keys", test_scan_binary);
    CU_add_test(s, "reopen keeps data, states and numbering", test_reopen);
    CU_add_test(s, "raw LevelDB layout", test_raw_layout);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
