/* test_server_store.c: server/store.c against a real LevelDB in a mkdtemp directory:
 * put/get/delete with binary keys, per-range sequence numbers, reads of staged writes,
 * scans within bounds, the log, stale epochs, and what survives a reopen (data, range
 * states, sequence numbers; keys stored at 'd' + key as docs/internals.md says), and the
 * replication primitives: epoch history, applied entries, log truncation, snapshot reads
 * and range resets with their positions; log chunks (one record for a batch's small
 * entries of a range: reads from inside one, truncation by whole records, positions); range
 * positions recovered from the log's last entry (format 2: no 'r' record per write) and from
 * format-1 'r' records. Row cache coherence: targeted interleavings of cached GETs with puts,
 * deletes, applied entries, snapshot items, range resets and truncation, values held across drops
 * of their cache entry, and random operation sequences on a store with a tiny cache (forcing
 * evictions) whose every GET must equal the same sequence on a store without a cache. Split and
 * merge: zkv_store_range_fork (children continue a parent's log at its exact position, with its
 * history; start empty when this copy is elsewhere; the parent's log goes either way;
 * idempotent, durable across a restart) and zkv_store_middle_key (the middle key of a
 * small range, a bisection by size estimates for a large one). Cases that abort the
 * program under UBSan run in a child process (run_child). */
#include <CUnit/Basic.h>
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dbwrite.h"
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
    /* reverse: the same keys, descending */
    scan_rec rv = {.stop_after = -1};
    CU_ASSERT_EQUAL(zkv_store_scan_reverse(s, NULL, 0, NULL, 0, collect, &rv, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL_FATAL(rv.n, 9);
    for (int i = 0; i < 9; i++)
        CU_ASSERT(rv.klen[i] == r.klen[8 - i] &&
                  memcmp(rv.keys[i], r.keys[8 - i], r.klen[8 - i]) == 0);
    /* [\x00\x00, \xff) reversed: end exclusive (a key equal to it is left out), start
     * inclusive */
    scan_rec rv2 = {.stop_after = -1};
    CU_ASSERT_EQUAL(zkv_store_scan_reverse(s, (const uint8_t *)"\x00\x00", 2,
                                           (const uint8_t *)"\xff", 1, collect, &rv2, err,
                                           sizeof(err)),
                    0);
    CU_ASSERT_EQUAL_FATAL(rv2.n, 4);
    CU_ASSERT(rv2.klen[0] == 1 && rv2.keys[0][0] == 'c');
    CU_ASSERT(rv2.klen[3] == 2 && rv2.keys[3][0] == 0 && rv2.keys[3][1] == 0);
    /* an end between keys, and the callback stopping it */
    scan_rec rv3 = {.stop_after = 1};
    CU_ASSERT_EQUAL(zkv_store_scan_reverse(s, NULL, 0, (const uint8_t *)"b", 1, collect, &rv3, err,
                                           sizeof(err)),
                    1);
    CU_ASSERT(rv3.n == 1 && rv3.klen[0] == 2 && memcmp(rv3.keys[0], "a\x00", 2) == 0);
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
    /* the 'r' record came with the first write of epoch 3; the log's last entry (seq 7)
     * carries the position since */
    v = leveldb_get(db, ro, "rr0000", 6, &vlen, &lerr);
    CU_ASSERT_PTR_NOT_NULL(v);
    CU_ASSERT_EQUAL(vlen, 16);
    if (v && vlen == 16)
        CU_ASSERT_TRUE(zkv_get_u64be((const uint8_t *)v + 8) <= 7);
    leveldb_free(v);
    uint8_t lk[1 + 5 + 1 + 8] = {'l', 'r', '0', '0', '0', '0', 0};
    zkv_put_u64be(lk + 7, 7);
    v = leveldb_get(db, ro, (const char *)lk, sizeof(lk), &vlen, &lerr);
    CU_ASSERT_PTR_NOT_NULL(v);
    leveldb_free(v);
    leveldb_readoptions_destroy(ro);
    leveldb_close(db);
    leveldb_options_destroy(o);
}

/* ---- replication primitives, in a second database ---- */

static char db2[160];

static zkv_store *open_db2(void)
{
    zkv_store *s = NULL;
    snprintf(db2, sizeof(db2), "%s/db2", dir);
    int rc = zkv_store_open(db2, &s, err, sizeof(err));
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return s;
}

static int put_s(zkv_store *s, const char *range, uint64_t epoch, const char *k, const char *v)
{
    zkv_value_meta m;
    return zkv_store_put(s, range, epoch, (const uint8_t *)k, strlen(k), (const uint8_t *)v,
                         strlen(v), &m, err, sizeof(err));
}

static void test_history(void)
{
    zkv_store *s = open_db2();
    zkv_epoch_start h[8];
    CU_ASSERT_EQUAL(zkv_store_history(s, "h0", h, 8), 0);
    CU_ASSERT_EQUAL(put_s(s, "h0", 2, "a", "1"), 0);
    CU_ASSERT_EQUAL(put_s(s, "h0", 2, "b", "2"), 0);
    CU_ASSERT_EQUAL(zkv_store_history(s, "h0", h, 8), 1);
    CU_ASSERT_EQUAL(h[0].epoch, 2);
    CU_ASSERT_EQUAL(h[0].start_seq, 1);
    /* a new epoch (staged, not committed yet) */
    zkv_value_meta m;
    CU_ASSERT_EQUAL(zkv_store_delete(s, "h0", 5, (const uint8_t *)"a", 1, &m, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(put_s(s, "h0", 5, "c", "3"), 0);
    CU_ASSERT_EQUAL(zkv_store_history(s, "h0", h, 8), 2);
    CU_ASSERT_EQUAL(h[1].epoch, 5);
    CU_ASSERT_EQUAL(h[1].start_seq, 3);
    /* only n copied, the total returned */
    memset(h, 0, sizeof(h));
    CU_ASSERT_EQUAL(zkv_store_history(s, "h0", h, 1), 2);
    CU_ASSERT_EQUAL(h[0].epoch, 2);
    CU_ASSERT_EQUAL(h[1].epoch, 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "h0"), 1);
    zkv_store_close(s);
    /* durable, and the next epoch appends */
    s = open_db2();
    CU_ASSERT_EQUAL(zkv_store_history(s, "h0", h, 8), 2);
    CU_ASSERT_EQUAL(h[1].start_seq, 3);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "h0"), 1);
    CU_ASSERT_EQUAL(put_s(s, "h0", 6, "d", "4"), 0);
    CU_ASSERT_EQUAL(zkv_store_history(s, "h0", h, 8), 3);
    CU_ASSERT_EQUAL(h[2].epoch, 6);
    CU_ASSERT_EQUAL(h[2].start_seq, 5);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_store_close(s);
}

static zkv_store_entry entry(uint64_t seq, uint64_t epoch, zkv_log_op op, const char *k,
                             const char *v, uint64_t expiry)
{
    zkv_store_entry e = {.seq = seq,
                         .epoch = epoch,
                         .op = op,
                         .key = (const uint8_t *)k,
                         .klen = strlen(k),
                         .value = (const uint8_t *)v,
                         .vlen = v ? strlen(v) : 0,
                         .expiry_ms = expiry};
    return e;
}

typedef struct {
    uint64_t seq[16], epoch[16], vseq[16], expiry[16];
    zkv_log_op op[16];
    int n;
} log_full;

static int collect_full(void *ctx, uint64_t seq, const zkv_log_view *e)
{
    log_full *r = ctx;
    if (r->n == 16)
        return 1;
    r->seq[r->n] = seq;
    r->epoch[r->n] = e->epoch;
    r->op[r->n] = e->op;
    r->vseq[r->n] = e->value.meta.seq;
    r->expiry[r->n] = e->value.meta.expiry_ms;
    r->n++;
    return 0;
}

static void test_apply(void)
{
    zkv_store *s = open_db2();
    zkv_store_entry e = entry(1, 3, ZKV_LOG_OP_PUT, "x", "10", 777);
    CU_ASSERT_EQUAL(zkv_store_apply(s, "a0", &e, err, sizeof(err)), 0);
    e = entry(2, 3, ZKV_LOG_OP_PUT, "y", "20", 0);
    CU_ASSERT_EQUAL(zkv_store_apply(s, "a0", &e, err, sizeof(err)), 0);
    e = entry(3, 4, ZKV_LOG_OP_DELETE, "y", NULL, 0);
    CU_ASSERT_EQUAL(zkv_store_apply(s, "a0", &e, err, sizeof(err)), 0);
    size_t pending = zkv_store_pending(s);
    /* a gap, a repeat, and an older epoch are refused and stage nothing */
    e = entry(5, 4, ZKV_LOG_OP_PUT, "z", "z", 0);
    CU_ASSERT_EQUAL(zkv_store_apply(s, "a0", &e, err, sizeof(err)), ZKV_STORE_ERR);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "does not follow"));
    e = entry(3, 4, ZKV_LOG_OP_PUT, "z", "z", 0);
    CU_ASSERT_EQUAL(zkv_store_apply(s, "a0", &e, err, sizeof(err)), ZKV_STORE_ERR);
    e = entry(4, 3, ZKV_LOG_OP_PUT, "z", "z", 0);
    CU_ASSERT_EQUAL(zkv_store_apply(s, "a0", &e, err, sizeof(err)), ZKV_STORE_ERR);
    CU_ASSERT_EQUAL(zkv_store_pending(s), pending);
    const zkv_range_state *r = zkv_store_range(s, "a0");
    CU_ASSERT_EQUAL(r->last_seq, 3);
    CU_ASSERT_EQUAL(r->epoch, 4);
    zkv_epoch_start h[4];
    CU_ASSERT_EQUAL(zkv_store_history(s, "a0", h, 4), 2);
    CU_ASSERT_EQUAL(h[0].epoch, 3);
    CU_ASSERT_EQUAL(h[0].start_seq, 1);
    CU_ASSERT_EQUAL(h[1].epoch, 4);
    CU_ASSERT_EQUAL(h[1].start_seq, 3);
    /* values stored exactly as shipped, expiry included */
    char buf[16];
    zkv_value_meta m;
    CU_ASSERT_EQUAL(get(s, "x", 1, buf, sizeof(buf), &m), 1);
    CU_ASSERT_STRING_EQUAL(buf, "10");
    CU_ASSERT_EQUAL(m.epoch, 3);
    CU_ASSERT_EQUAL(m.seq, 1);
    CU_ASSERT_EQUAL(m.expiry_ms, 777);
    CU_ASSERT_EQUAL(get(s, "y", 1, buf, sizeof(buf), NULL), 0);
    log_full lf = {0};
    CU_ASSERT_EQUAL(zkv_store_read_log(s, "a0", 1, collect_full, &lf, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL_FATAL(lf.n, 3);
    CU_ASSERT_EQUAL(lf.epoch[0], 3);
    CU_ASSERT_EQUAL(lf.expiry[0], 777);
    CU_ASSERT_EQUAL(lf.op[2], ZKV_LOG_OP_DELETE);
    CU_ASSERT_EQUAL(lf.epoch[2], 4);
    /* the owner's own writes continue the log; older epochs are refused */
    CU_ASSERT_EQUAL(put_s(s, "a0", 3, "w", "w"), ZKV_STORE_STALE_EPOCH);
    zkv_value_meta wm;
    CU_ASSERT_EQUAL(zkv_store_put(s, "a0", 4, (const uint8_t *)"w", 1, (const uint8_t *)"w", 1, &wm,
                                  err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(wm.seq, 4);
    CU_ASSERT_EQUAL(zkv_store_history(s, "a0", h, 4), 2);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_store_close(s);
}

static void test_truncate(void)
{
    zkv_store *s = open_db2();
    char k[16];
    /* one batch each: 5,000 log records of one entry (test_log_chunks has batches) */
    for (int i = 1; i <= 5000; i++) {
        snprintf(k, sizeof(k), "t%05d", i);
        CU_ASSERT_EQUAL_FATAL(put_s(s, "t0", 1, k, "v"), 0);
        if (i == 1) {
            /* nothing is committed yet: nothing to truncate */
            CU_ASSERT_EQUAL(zkv_store_truncate_log(s, "t0", 4500, err, sizeof(err)), 0);
            CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "t0"), 1);
        }
        CU_ASSERT_EQUAL_FATAL(zkv_store_commit(s, err, sizeof(err)), 0);
    }
    /* bounded work per call */
    CU_ASSERT_EQUAL(zkv_store_truncate_log(s, "t0", 4500, err, sizeof(err)),
                    4500 - (int64_t)ZKV_STORE_TRUNCATE_CHUNK);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "t0"), ZKV_STORE_TRUNCATE_CHUNK + 1);
    CU_ASSERT_TRUE(zkv_store_pending(s) > 0);
    CU_ASSERT_EQUAL(zkv_store_truncate_log(s, "t0", 4500, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "t0"), 4501);
    CU_ASSERT_EQUAL(zkv_store_truncate_log(s, "t0", 4500, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    log_full lf = {0};
    CU_ASSERT_EQUAL(zkv_store_read_log(s, "t0", 1, collect_full, &lf, err, sizeof(err)), 1);
    CU_ASSERT_EQUAL(lf.seq[0], 4501);
    /* staged entries are never truncated */
    CU_ASSERT_EQUAL(put_s(s, "t0", 1, "u1", "v"), 0);
    CU_ASSERT_EQUAL(put_s(s, "t0", 1, "u2", "v"), 0);
    CU_ASSERT_EQUAL(zkv_store_truncate_log(s, "t0", UINT64_MAX, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "t0"), 5001);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    log_full lf2 = {0};
    CU_ASSERT_EQUAL(zkv_store_read_log(s, "t0", 1, collect_full, &lf2, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL_FATAL(lf2.n, 2);
    CU_ASSERT_EQUAL(lf2.seq[0], 5001);
    /* the data stays */
    char buf[8];
    CU_ASSERT_EQUAL(get(s, "t00001", 6, buf, sizeof(buf), NULL), 1);
    zkv_store_close(s);
    s = open_db2();
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "t0"), 5001);
    /* truncating everything empties the log; the next write starts it again */
    CU_ASSERT_EQUAL(zkv_store_truncate_log(s, "t0", 5002, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "t0"), 0);
    CU_ASSERT_EQUAL(put_s(s, "t0", 1, "u3", "v"), 0);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "t0"), 5003);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_store_close(s);
}

/* Log chunks: a batch's small entries of one range share a LevelDB record (record.h). */
typedef struct {
    uint64_t first, next; /* the seq the read started at, the seq expected next */
    size_t n, vlen_big;
    bool in_order;
} chunk_read;

static int collect_chunked(void *ctx, uint64_t seq, const zkv_log_view *e)
{
    chunk_read *c = ctx;
    if (c->n == 0)
        c->first = c->next = seq;
    c->in_order = c->in_order && seq == c->next && e->value.meta.seq == seq;
    if (e->value.value_len > 100)
        c->vlen_big = e->value.value_len;
    c->next = seq + 1;
    c->n++;
    return 0;
}

static chunk_read read_from(zkv_store *s, uint64_t from)
{
    chunk_read c = {.in_order = true};
    CU_ASSERT_EQUAL(zkv_store_read_log(s, "c0", from, collect_chunked, &c, err, sizeof(err)), 0);
    return c;
}

static zkv_store *open_db4(void)
{
    zkv_store *s = NULL;
    char path[200];
    snprintf(path, sizeof(path), "%s/db4", dir);
    CU_ASSERT_EQUAL_FATAL(zkv_store_open(path, &s, err, sizeof(err)), 0);
    return s;
}

static void test_log_chunks(void)
{
    zkv_store *s = open_db4();
    char k[16], big[1001];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    /* one batch: 300 small entries, a large one (alone), 100 small ones */
    for (int i = 1; i <= 401; i++) {
        snprintf(k, sizeof(k), "c%05d", i);
        CU_ASSERT_EQUAL_FATAL(put_s(s, "c0", 2, k, i == 301 ? big : "v"), 0);
    }
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    /* then one batch of one entry */
    CU_ASSERT_EQUAL_FATAL(put_s(s, "c0", 2, "c00402", "v"), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_store_close(s);
    /* on disk: three records for the first batch (chunk, large entry, chunk) and one */
    char path[200];
    snprintf(path, sizeof(path), "%s/db4", dir);
    leveldb_options_t *o = leveldb_options_create();
    char *lerr = NULL;
    leveldb_t *db = leveldb_open(o, path, &lerr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    leveldb_readoptions_t *ro = leveldb_readoptions_create();
    leveldb_iterator_t *it = leveldb_create_iterator(db, ro);
    const char lp[4] = {'l', 'c', '0', 0};
    uint64_t firsts[8];
    int n = 0;
    for (leveldb_iter_seek(it, lp, sizeof lp); leveldb_iter_valid(it) && n < 8;
         leveldb_iter_next(it)) {
        size_t klen;
        const char *key = leveldb_iter_key(it, &klen);
        if (klen != sizeof lp + 8 || memcmp(key, lp, sizeof lp) != 0)
            break;
        firsts[n++] = zkv_get_u64be((const uint8_t *)key + sizeof lp);
    }
    leveldb_iter_destroy(it);
    leveldb_readoptions_destroy(ro);
    leveldb_close(db);
    leveldb_options_destroy(o);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    CU_ASSERT_EQUAL(firsts[0], 1);
    CU_ASSERT_EQUAL(firsts[1], 301);
    CU_ASSERT_EQUAL(firsts[2], 302);
    CU_ASSERT_EQUAL(firsts[3], 402);
    /* reopened: the position from the last record; reads from anywhere, in order */
    s = open_db4();
    const zkv_range_state *r = zkv_store_range(s, "c0");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->last_seq, 402);
    CU_ASSERT_EQUAL(r->epoch, 2);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "c0"), 1);
    uint64_t froms[] = {1, 150, 300, 301, 302, 350, 401, 402};
    for (size_t i = 0; i < sizeof froms / sizeof froms[0]; i++) {
        chunk_read c = read_from(s, froms[i]);
        CU_ASSERT_EQUAL(c.first, froms[i]);
        CU_ASSERT_EQUAL(c.n, 402 - froms[i] + 1);
        CU_ASSERT_TRUE(c.in_order);
        CU_ASSERT_EQUAL(c.vlen_big, froms[i] <= 301 ? sizeof big - 1 : 0);
    }
    /* truncation takes whole records: the first chunk holds 1-300 */
    CU_ASSERT_EQUAL(zkv_store_truncate_log(s, "c0", 200, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "c0"), 1);
    CU_ASSERT_EQUAL(zkv_store_truncate_log(s, "c0", 301, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "c0"), 302);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    chunk_read c = read_from(s, 1); /* below the log: from its first entry */
    CU_ASSERT_EQUAL(c.first, 302);
    CU_ASSERT_EQUAL(c.n, 101);
    CU_ASSERT_TRUE(c.in_order);
    zkv_store_close(s);
    s = open_db4();
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "c0"), 302);
    CU_ASSERT_EQUAL(zkv_store_truncate_log(s, "c0", 500, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "c0"), 0); /* all of it, position in 'r' */
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_store_close(s);
    s = open_db4();
    CU_ASSERT_EQUAL(zkv_store_range(s, "c0")->last_seq, 402);
    zkv_store_close(s);
}

typedef struct {
    char keys[64][8];
    char vals[64][8];
    int n;
    int calls;
} snap_rec;

static int collect_snap(void *ctx, const uint8_t *key, size_t klen, const zkv_value_view *v)
{
    snap_rec *r = ctx;
    if (r->n == 64 || klen >= 8 || v->value_len >= 8)
        return -1;
    memcpy(r->keys[r->n], key, klen);
    r->keys[r->n][klen] = '\0';
    memcpy(r->vals[r->n], v->value, v->value_len);
    r->vals[r->n][v->value_len] = '\0';
    r->n++;
    return 0;
}

static void test_snapshot_read(void)
{
    zkv_store *s = open_db2();
    char k[8];
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof(k), "s%02d", i);
        CU_ASSERT_EQUAL_FATAL(put_s(s, "s0", 4, k, "old"), 0);
    }
    CU_ASSERT_EQUAL(put_s(s, "s1", 1, "u0", "other"), 0); /* past the range end "t" */
    /* open commits what is staged; the position is the range's */
    zkv_store_snapshot *sn = NULL;
    CU_ASSERT_EQUAL_FATAL(zkv_store_snapshot_open(s, (const uint8_t *)"s", 1, (const uint8_t *)"t",
                                                  1, "s0", &sn, err, sizeof(err)),
                          0);
    CU_ASSERT_EQUAL(zkv_store_pending(s), 0);
    const zkv_store_snapshot_info *info = zkv_store_snapshot_info_of(sn);
    CU_ASSERT_EQUAL(info->epoch, 4);
    CU_ASSERT_EQUAL(info->seq, 50);
    CU_ASSERT_EQUAL_FATAL(info->n_history, 1);
    CU_ASSERT_EQUAL(info->history[0].epoch, 4);
    /* writes after the snapshot, committed, in the middle of the iteration */
    snap_rec r = {0};
    int rc = zkv_store_snapshot_next(sn, collect_snap, &r, 40, err, sizeof(err));
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_TRUE(r.n >= 1 && r.n < 50);
    CU_ASSERT_EQUAL(put_s(s, "s0", 5, "s00", "new"), 0);
    CU_ASSERT_EQUAL(put_s(s, "s0", 5, "s49", "new"), 0);
    zkv_value_meta m;
    CU_ASSERT_EQUAL(zkv_store_delete(s, "s0", 5, (const uint8_t *)"s48", 3, &m, err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(put_s(s, "s0", 5, "s30a", "new"), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    r.calls = 1;
    while ((rc = zkv_store_snapshot_next(sn, collect_snap, &r, 40, err, sizeof(err))) == 1)
        r.calls++;
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_TRUE(r.calls > 5); /* bounded pages */
    CU_ASSERT_EQUAL_FATAL(r.n, 50);
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof(k), "s%02d", i);
        CU_ASSERT_STRING_EQUAL(r.keys[i], k);
        CU_ASSERT_STRING_EQUAL(r.vals[i], "old");
    }
    CU_ASSERT_EQUAL(info->seq, 50); /* the info does not move either */
    /* the end: further calls stay at 0 */
    CU_ASSERT_EQUAL(zkv_store_snapshot_next(sn, collect_snap, &r, 40, err, sizeof(err)), 0);
    zkv_store_snapshot_close(sn);
    /* a new snapshot sees the new state */
    CU_ASSERT_EQUAL_FATAL(zkv_store_snapshot_open(s, (const uint8_t *)"s", 1, (const uint8_t *)"t",
                                                  1, "s0", &sn, err, sizeof(err)),
                          0);
    CU_ASSERT_EQUAL(zkv_store_snapshot_info_of(sn)->seq, 54);
    CU_ASSERT_EQUAL(zkv_store_snapshot_info_of(sn)->n_history, 2);
    snap_rec r2 = {0};
    CU_ASSERT_EQUAL(zkv_store_snapshot_next(sn, collect_snap, &r2, 1u << 20, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(r2.n, 50); /* s48 deleted, s30a added */
    CU_ASSERT_STRING_EQUAL(r2.vals[0], "new");
    zkv_store_snapshot_close(sn);
    zkv_store_close(s);
}

static void test_reset_and_position(void)
{
    zkv_store *s = open_db2();
    /* range p0 = [p, q) with data, log and history; a neighbour key outside it */
    CU_ASSERT_EQUAL(put_s(s, "p0", 2, "p1", "a"), 0);
    CU_ASSERT_EQUAL(put_s(s, "p0", 3, "p2", "b"), 0);
    CU_ASSERT_EQUAL(put_s(s, "q0", 1, "q1", "keep"), 0);
    CU_ASSERT_EQUAL(put_s(s, "p0", 3, "p", "c"), 0);
    CU_ASSERT_EQUAL(zkv_store_range_reset(s, "p0", 9, (const uint8_t *)"p", 1, (const uint8_t *)"q",
                                          1, err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(zkv_store_pending(s), 0); /* committed, in pieces */
    CU_ASSERT_EQUAL(zkv_store_range_snapshot_epoch(s, "p0"), 9);
    const zkv_range_state *r = zkv_store_range(s, "p0");
    CU_ASSERT_EQUAL(r->last_seq, 0);
    CU_ASSERT_EQUAL(r->epoch, 0);
    CU_ASSERT_EQUAL(zkv_store_history(s, "p0", NULL, 0), 0);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "p0"), 0);
    char buf[16];
    CU_ASSERT_EQUAL(get(s, "p1", 2, buf, sizeof(buf), NULL), 0);
    CU_ASSERT_EQUAL(get(s, "p", 1, buf, sizeof(buf), NULL), 0);
    CU_ASSERT_EQUAL(get(s, "q1", 2, buf, sizeof(buf), NULL), 1);
    log_full lf = {0};
    CU_ASSERT_EQUAL(zkv_store_read_log(s, "p0", 0, collect_full, &lf, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(lf.n, 0);
    /* writes wait for the snapshot to finish */
    CU_ASSERT_EQUAL(put_s(s, "p0", 9, "p3", "x"), ZKV_STORE_INCOMPLETE);
    zkv_store_entry e = entry(1, 9, ZKV_LOG_OP_PUT, "p3", "x", 0);
    CU_ASSERT_EQUAL(zkv_store_apply(s, "p0", &e, err, sizeof(err)), ZKV_STORE_INCOMPLETE);
    /* a restart in the middle keeps the range incomplete */
    zkv_value_view v = {.meta = {.epoch = 2, .seq = 1, .expiry_ms = 55},
                        .value = (const uint8_t *)"A",
                        .value_len = 1};
    CU_ASSERT_EQUAL(zkv_store_put_item(s, (const uint8_t *)"p1", 2, &v, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_store_close(s);
    s = open_db2();
    CU_ASSERT_EQUAL(zkv_store_range_snapshot_epoch(s, "p0"), 9);
    CU_ASSERT_EQUAL(zkv_store_range(s, "p0")->last_seq, 0);
    /* a new BEGIN resets again, then items and the position */
    CU_ASSERT_EQUAL(zkv_store_range_reset(s, "p0", 10, (const uint8_t *)"p", 1,
                                          (const uint8_t *)"q", 1, err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(get(s, "p1", 2, buf, sizeof(buf), NULL), 0);
    CU_ASSERT_EQUAL(zkv_store_put_item(s, (const uint8_t *)"p1", 2, &v, err, sizeof(err)), 0);
    v.meta.seq = 40;
    v.meta.epoch = 8;
    v.meta.expiry_ms = 0;
    v.value = (const uint8_t *)"B";
    CU_ASSERT_EQUAL(zkv_store_put_item(s, (const uint8_t *)"p5", 2, &v, err, sizeof(err)), 0);
    zkv_epoch_start hist[] = {{2, 1}, {8, 30}};
    CU_ASSERT_EQUAL(zkv_store_range_set_position(s, "p0", 8, 45, hist, 2, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_store_close(s);
    s = open_db2();
    r = zkv_store_range(s, "p0");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->epoch, 8);
    CU_ASSERT_EQUAL(r->last_seq, 45);
    CU_ASSERT_EQUAL(zkv_store_range_snapshot_epoch(s, "p0"), 0);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "p0"), 0);
    zkv_epoch_start h[4];
    CU_ASSERT_EQUAL_FATAL(zkv_store_history(s, "p0", h, 4), 2);
    CU_ASSERT_EQUAL(h[1].epoch, 8);
    CU_ASSERT_EQUAL(h[1].start_seq, 30);
    zkv_value_meta m;
    CU_ASSERT_EQUAL(get(s, "p1", 2, buf, sizeof(buf), &m), 1);
    CU_ASSERT_STRING_EQUAL(buf, "A");
    CU_ASSERT_EQUAL(m.expiry_ms, 55);
    CU_ASSERT_EQUAL(get(s, "p5", 2, buf, sizeof(buf), &m), 1);
    CU_ASSERT_EQUAL(m.seq, 40);
    /* the log continues from the snapshot's seq */
    e = entry(47, 8, ZKV_LOG_OP_PUT, "p6", "x", 0);
    CU_ASSERT_EQUAL(zkv_store_apply(s, "p0", &e, err, sizeof(err)), ZKV_STORE_ERR);
    e = entry(46, 8, ZKV_LOG_OP_PUT, "p6", "x", 0);
    CU_ASSERT_EQUAL(zkv_store_apply(s, "p0", &e, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "p0"), 46);
    CU_ASSERT_EQUAL(zkv_store_history(s, "p0", h, 4), 2); /* same epoch: no new entry */
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_store_close(s);
}

/* Raw access to db3 for the position tests. */
static char db3[160];

static zkv_store *open_db3(void)
{
    zkv_store *s = NULL;
    snprintf(db3, sizeof(db3), "%s/db3", dir);
    int rc = zkv_store_open(db3, &s, err, sizeof(err));
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return s;
}

/* The raw 'r' record of range id in db3: 1 and *epoch, *seq set, 0 when missing. */
static int raw_state(const char *id, uint64_t *epoch, uint64_t *seq)
{
    leveldb_options_t *o = leveldb_options_create();
    char *lerr = NULL;
    leveldb_t *db = leveldb_open(o, db3, &lerr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    leveldb_readoptions_t *ro = leveldb_readoptions_create();
    char key[32];
    int kl = snprintf(key, sizeof(key), "r%s", id);
    size_t vlen = 0;
    char *v = leveldb_get(db, ro, key, (size_t)kl, &vlen, &lerr);
    int found = v && vlen == 16;
    if (found) {
        *epoch = zkv_get_u64be((const uint8_t *)v);
        *seq = zkv_get_u64be((const uint8_t *)v + 8);
    }
    leveldb_free(v);
    leveldb_readoptions_destroy(ro);
    leveldb_close(db);
    leveldb_options_destroy(o);
    return found;
}

/* Writes the 'r' record of range id in db3 as a format-1 build would have. */
static void raw_put_state(const char *id, uint64_t epoch, uint64_t seq)
{
    leveldb_options_t *o = leveldb_options_create();
    char *lerr = NULL;
    leveldb_t *db = leveldb_open(o, db3, &lerr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
    char key[32];
    int kl = snprintf(key, sizeof(key), "r%s", id);
    uint8_t v[16];
    zkv_put_u64be(v, epoch);
    zkv_put_u64be(v + 8, seq);
    leveldb_put(db, wo, key, (size_t)kl, (const char *)v, sizeof(v), &lerr);
    CU_ASSERT_PTR_NULL(lerr);
    leveldb_writeoptions_destroy(wo);
    leveldb_close(db);
    leveldb_options_destroy(o);
}

static void check_pos(zkv_store *s, const char *id, uint64_t epoch, uint64_t seq, uint64_t first)
{
    const zkv_range_state *r = zkv_store_range(s, id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->epoch, epoch);
    CU_ASSERT_EQUAL(r->last_seq, seq);
    CU_ASSERT_EQUAL(r->committed_epoch, epoch);
    CU_ASSERT_EQUAL(r->committed_seq, seq);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, id), first);
}

static void test_positions(void)
{
    uint64_t e = 0, q = 0;
    zkv_store *s = open_db3();
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(put_s(s, "q1", 1, "qa", "v"), 0);
        CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    }
    CU_ASSERT_EQUAL(put_s(s, "q2", 5, "qz", "v"), 0); /* a second range, one write */
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_store_close(s);
    /* plain writes leave the 'r' record where the epoch began */
    CU_ASSERT_EQUAL(raw_state("q1", &e, &q), 1);
    CU_ASSERT_EQUAL(e, 1);
    CU_ASSERT_EQUAL(q, 1);
    s = open_db3();
    check_pos(s, "q1", 1, 3, 1);
    check_pos(s, "q2", 5, 1, 1);
    /* a new epoch writes it again */
    CU_ASSERT_EQUAL(put_s(s, "q1", 2, "qb", "v"), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(put_s(s, "q1", 2, "qc", "v"), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_store_close(s);
    CU_ASSERT_EQUAL(raw_state("q1", &e, &q), 1);
    CU_ASSERT_EQUAL(e, 2);
    CU_ASSERT_EQUAL(q, 4);
    s = open_db3();
    check_pos(s, "q1", 2, 5, 1);
    zkv_epoch_start h[4];
    CU_ASSERT_EQUAL(zkv_store_history(s, "q1", h, 4), 2);
    /* an emptied log: the 'r' record holds the position */
    CU_ASSERT_EQUAL(zkv_store_truncate_log(s, "q1", UINT64_MAX, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_store_close(s);
    s = open_db3();
    check_pos(s, "q1", 2, 5, 0);
    zkv_value_meta m;
    CU_ASSERT_EQUAL(zkv_store_put(s, "q1", 2, (const uint8_t *)"qd", 2, (const uint8_t *)"v", 1, &m,
                                  err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(m.seq, 6);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_store_close(s);
    s = open_db3();
    check_pos(s, "q1", 2, 6, 6);
    zkv_store_close(s);
    /* format 1: an 'r' record ahead of an empty log, and one equal to the last entry */
    raw_put_state("q3", 4, 10);
    raw_put_state("q1", 2, 6);
    s = open_db3();
    check_pos(s, "q3", 4, 10, 0);
    check_pos(s, "q1", 2, 6, 6);
    CU_ASSERT_EQUAL(zkv_store_put(s, "q3", 4, (const uint8_t *)"qe", 2, (const uint8_t *)"v", 1, &m,
                                  err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(m.seq, 11);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_store_close(s);
    s = open_db3();
    check_pos(s, "q3", 4, 11, 11);
    CU_ASSERT_EQUAL(zkv_store_range_count(s), 3);
    zkv_store_close(s);
}

/* ---- row cache coherence ---- */

static zkv_store *open_at(const char *name, size_t cache_bytes)
{
    char path[200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    zkv_store *s = NULL;
    CU_ASSERT_EQUAL_FATAL(zkv_store_open(path, &s, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL_FATAL(zkv_store_set_cache(s, cache_bytes, err, sizeof(err)), 0);
    return s;
}

static int get_str(zkv_store *s, const char *k, char *out, size_t outlen)
{
    return get(s, k, strlen(k), out, outlen, NULL);
}

static void test_cache_coherence(void)
{
    zkv_store *s = open_at("dbc", 16 * 1024);
    char buf[64];
    zkv_rowcache_stats st;
    CU_ASSERT(zkv_store_cache_stats(s, &st));
    CU_ASSERT_EQUAL(st.budget, 16 * 1024);
    /* a cached "not found", then a put: the staged put replaces it (write-through) and
     * the GET commits first, then hits */
    CU_ASSERT_EQUAL(get_str(s, "a", buf, sizeof(buf)), 0);
    CU_ASSERT_EQUAL(get_str(s, "a", buf, sizeof(buf)), 0); /* from the cache */
    CU_ASSERT_EQUAL(put_s(s, "c0", 1, "a", "1"), 0);
    CU_ASSERT_EQUAL(get_str(s, "a", buf, sizeof(buf)), 1);
    CU_ASSERT_STRING_EQUAL(buf, "1");
    CU_ASSERT_EQUAL(zkv_store_pending(s), 0);
    CU_ASSERT_EQUAL(get_str(s, "a", buf, sizeof(buf)), 1); /* hit */
    CU_ASSERT_STRING_EQUAL(buf, "1");
    zkv_store_cache_stats(s, &st);
    CU_ASSERT_EQUAL(st.hits, 3);
    CU_ASSERT_EQUAL(st.misses, 1);
    /* overwrite and delete, committed or not */
    CU_ASSERT_EQUAL(put_s(s, "c0", 1, "a", "2"), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(get_str(s, "a", buf, sizeof(buf)), 1);
    CU_ASSERT_STRING_EQUAL(buf, "2");
    zkv_value_meta m;
    CU_ASSERT_EQUAL(zkv_store_delete(s, "c0", 1, (const uint8_t *)"a", 1, &m, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(get_str(s, "a", buf, sizeof(buf)), 0);
    CU_ASSERT_EQUAL(get_str(s, "a", buf, sizeof(buf)), 0);
    /* a GET of another key does not commit, and a cached key stays right meanwhile */
    CU_ASSERT_EQUAL(put_s(s, "c0", 1, "b", "B"), 0);
    CU_ASSERT_EQUAL(get_str(s, "b", buf, sizeof(buf)), 1);
    CU_ASSERT_EQUAL(put_s(s, "c0", 1, "other", "x"), 0);
    CU_ASSERT_EQUAL(get_str(s, "b", buf, sizeof(buf)), 1);
    CU_ASSERT_STRING_EQUAL(buf, "B");
    /* a value from a cache hit stays intact while its entry is replaced and evicted */
    zkv_store_value held;
    CU_ASSERT_EQUAL(zkv_store_get(s, (const uint8_t *)"b", 1, &held, err, sizeof(err)), 1);
    CU_ASSERT_PTR_NOT_NULL(held.pin);
    CU_ASSERT_EQUAL(put_s(s, "c0", 1, "b", "changed"), 0);
    char k[16];
    for (int i = 0; i < 500; i++) {
        snprintf(k, sizeof(k), "fill%d", i);
        CU_ASSERT_EQUAL(put_s(s, "c0", 1, k, "0123456789"), 0);
        CU_ASSERT_EQUAL(get_str(s, k, buf, sizeof(buf)), 1);
    }
    CU_ASSERT_EQUAL(held.view.value_len, 1);
    CU_ASSERT_EQUAL(held.view.value[0], 'B');
    zkv_store_value_release(&held);
    CU_ASSERT_PTR_NULL(held.pin);
    zkv_store_value_release(&held); /* twice is fine */
    zkv_store_cache_stats(s, &st);
    CU_ASSERT(st.evictions > 0);
    CU_ASSERT(st.bytes <= st.budget);
    CU_ASSERT_EQUAL(get_str(s, "b", buf, sizeof(buf)), 1);
    CU_ASSERT_STRING_EQUAL(buf, "changed");
    /* applied entries (replica side) */
    CU_ASSERT_EQUAL(get_str(s, "x", buf, sizeof(buf)), 0);
    zkv_store_entry e = entry(1, 3, ZKV_LOG_OP_PUT, "x", "10", 0);
    CU_ASSERT_EQUAL(zkv_store_apply(s, "a0", &e, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(get_str(s, "x", buf, sizeof(buf)), 1);
    CU_ASSERT_STRING_EQUAL(buf, "10");
    e = entry(2, 3, ZKV_LOG_OP_DELETE, "x", NULL, 0);
    CU_ASSERT_EQUAL(zkv_store_apply(s, "a0", &e, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(get_str(s, "x", buf, sizeof(buf)), 0);
    /* log truncation changes no data */
    CU_ASSERT_EQUAL(get_str(s, "b", buf, sizeof(buf)), 1);
    CU_ASSERT(zkv_store_truncate_log(s, "c0", 1000000, err, sizeof(err)) >= 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(get_str(s, "b", buf, sizeof(buf)), 1);
    CU_ASSERT_STRING_EQUAL(buf, "changed");
    /* a range reset drops what the cache knew of its keys; snapshot items are seen */
    CU_ASSERT_EQUAL(put_s(s, "p0", 1, "p1", "old"), 0);
    CU_ASSERT_EQUAL(get_str(s, "p1", buf, sizeof(buf)), 1);
    CU_ASSERT_EQUAL(get_str(s, "p2", buf, sizeof(buf)), 0);
    CU_ASSERT_EQUAL(get_str(s, "p1", buf, sizeof(buf)), 1); /* cached */
    zkv_store_cache_stats(s, &st);
    uint64_t clears = st.clears;
    CU_ASSERT_EQUAL(zkv_store_range_reset(s, "p0", 5, (const uint8_t *)"p", 1, (const uint8_t *)"q",
                                          1, err, sizeof(err)),
                    0);
    zkv_store_cache_stats(s, &st);
    CU_ASSERT(st.clears > clears);
    CU_ASSERT_EQUAL(get_str(s, "p1", buf, sizeof(buf)), 0);
    CU_ASSERT_EQUAL(get_str(s, "p2", buf, sizeof(buf)), 0); /* cached "not found" */
    zkv_value_view v = {
        .meta = {.epoch = 5, .seq = 7}, .value = (const uint8_t *)"new", .value_len = 3};
    CU_ASSERT_EQUAL(zkv_store_put_item(s, (const uint8_t *)"p2", 2, &v, err, sizeof(err)), 0);
    zkv_value_meta gm;
    CU_ASSERT_EQUAL(get(s, "p2", 2, buf, sizeof(buf), &gm), 1);
    CU_ASSERT_STRING_EQUAL(buf, "new");
    CU_ASSERT_EQUAL(gm.seq, 7);
    CU_ASSERT_EQUAL(get_str(s, "b", buf, sizeof(buf)), 1); /* outside the range */
    CU_ASSERT_EQUAL(zkv_store_range_set_position(s, "p0", 5, 7, NULL, 0, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(put_s(s, "p0", 5, "p2", "newer"), 0);
    CU_ASSERT_EQUAL(get_str(s, "p2", buf, sizeof(buf)), 1);
    CU_ASSERT_STRING_EQUAL(buf, "newer");
    /* a new cache (0: none) while a value from the old one is held */
    CU_ASSERT_EQUAL(zkv_store_get(s, (const uint8_t *)"p2", 2, &held, err, sizeof(err)), 1);
    CU_ASSERT_EQUAL(zkv_store_set_cache(s, 0, err, sizeof(err)), 0);
    CU_ASSERT_FALSE(zkv_store_cache_stats(s, &st));
    CU_ASSERT_EQUAL(held.view.value_len, 5);
    CU_ASSERT_EQUAL(memcmp(held.view.value, "newer", 5), 0);
    zkv_store_value_release(&held);
    CU_ASSERT_EQUAL(get_str(s, "p2", buf, sizeof(buf)), 1);
    CU_ASSERT_STRING_EQUAL(buf, "newer");
    zkv_store_close(s);
}

static uint64_t crng;

static unsigned crnd(unsigned n)
{
    crng ^= crng << 13;
    crng ^= crng >> 7;
    crng ^= crng << 17;
    return (unsigned)(crng % n);
}

/* Same GET on both stores: same answer, value and position. */
static void same_get(zkv_store *a, zkv_store *b, const char *k)
{
    zkv_store_value va, vb;
    int ra = zkv_store_get(a, (const uint8_t *)k, strlen(k), &va, err, sizeof(err));
    int rb = zkv_store_get(b, (const uint8_t *)k, strlen(k), &vb, err, sizeof(err));
    CU_ASSERT_EQUAL(ra, rb);
    if (ra == 1 && rb == 1) {
        CU_ASSERT_EQUAL(va.view.value_len, vb.view.value_len);
        CU_ASSERT(va.view.value_len == vb.view.value_len &&
                  memcmp(va.view.value, vb.view.value, va.view.value_len) == 0);
        CU_ASSERT_EQUAL(va.view.meta.epoch, vb.view.meta.epoch);
        CU_ASSERT_EQUAL(va.view.meta.seq, vb.view.meta.seq);
        CU_ASSERT_EQUAL(va.view.meta.expiry_ms, vb.view.meta.expiry_ms);
    }
    zkv_store_value_release(&va);
    zkv_store_value_release(&vb);
}

static void test_cache_random(void)
{
    /* budgets of a handful of entries: most GETs evict something */
    static const size_t budgets[] = {2048, 8 * 1024, 1 << 20};
    for (size_t bi = 0; bi < sizeof(budgets) / sizeof(budgets[0]); bi++) {
        char na[16], nb[16];
        snprintf(na, sizeof(na), "dbr%zu", bi);
        snprintf(nb, sizeof(nb), "dbn%zu", bi);
        zkv_store *st[2] = {open_at(na, budgets[bi]), open_at(nb, 0)};
        crng = 0x2545f4914f6cdd1dull + bi;
        uint64_t aseq = 0;      /* last applied seq of range a0 */
        bool resetting = false; /* p0 is between reset and position */
        zkv_store_value held = {0};
        char held_copy[64];
        size_t held_len = 0;
        for (int op = 0; op < 6000; op++) {
            char k[16], v[48];
            /* keys k00..k39: p0 (writes) and a0 (applied entries) share them */
            snprintf(k, sizeof(k), "k%02u", crnd(40));
            size_t vl = crnd(40);
            for (size_t i = 0; i < vl; i++)
                v[i] = (char)('a' + crnd(26));
            v[vl] = '\0';
            unsigned what = crnd(100);
            bool flip = crnd(3) == 0; /* drawn once: both stores see the same operation */
            int rc[2];
            for (int j = 0; j < 2; j++) {
                zkv_store *s = st[j];
                zkv_value_meta m;
                if (what < 20) {
                    rc[j] = put_s(s, "p0", 1, k, v);
                } else if (what < 28) {
                    rc[j] = zkv_store_delete(s, "p0", 1, (const uint8_t *)k, strlen(k), &m, err,
                                             sizeof(err));
                } else if (what < 38) {
                    zkv_store_entry e =
                        entry(aseq + 1, 2, flip ? ZKV_LOG_OP_DELETE : ZKV_LOG_OP_PUT, k, v, 9);
                    if (e.op == ZKV_LOG_OP_DELETE) {
                        e.value = NULL;
                        e.vlen = 0;
                        e.expiry_ms = 0;
                    }
                    rc[j] = zkv_store_apply(s, "a0", &e, err, sizeof(err));
                } else if (what < 45) {
                    rc[j] = zkv_store_commit(s, err, sizeof(err));
                } else if (what < 47) {
                    rc[j] = (int)zkv_store_truncate_log(s, flip ? "p0" : "a0", aseq / 2 + 1, err,
                                                        sizeof(err));
                } else if (what < 48 && !resetting) {
                    /* a snapshot of p0 begins: keys [k10, k30) go */
                    rc[j] = zkv_store_range_reset(s, "p0", 1, (const uint8_t *)"k10", 3,
                                                  (const uint8_t *)"k30", 3, err, sizeof(err));
                } else if (what < 52 && resetting) {
                    zkv_value_view iv = {.meta = {.epoch = 1, .seq = (uint64_t)op},
                                         .value = (const uint8_t *)v,
                                         .value_len = vl};
                    rc[j] =
                        zkv_store_put_item(s, (const uint8_t *)k, strlen(k), &iv, err, sizeof(err));
                } else if (what < 54 && resetting) {
                    zkv_epoch_start h = {.epoch = 1, .start_seq = 1};
                    rc[j] = zkv_store_range_set_position(s, "p0", 1, (uint64_t)op, &h, 1, err,
                                                         sizeof(err));
                } else {
                    rc[j] = 0; /* a GET, below */
                }
            }
            CU_ASSERT_EQUAL(rc[0], rc[1]);
            if (what >= 28 && what < 38 && rc[0] == 0)
                aseq++;
            if (what >= 47 && what < 48 && !resetting && rc[0] == 0)
                resetting = true;
            else if (what >= 52 && what < 54 && resetting && rc[0] == 0)
                resetting = false;
            if (what >= 54 || crnd(3) == 0)
                same_get(st[0], st[1], k);
            /* hold a cached value across many operations now and then */
            if (!held.buf && !held.pin && crnd(50) == 0 &&
                zkv_store_get(st[0], (const uint8_t *)k, strlen(k), &held, err, sizeof(err)) == 1) {
                held_len = held.view.value_len;
                memcpy(held_copy, held.view.value, held_len);
            } else if ((held.buf || held.pin) && crnd(20) == 0) {
                CU_ASSERT_EQUAL(held.view.value_len, held_len);
                CU_ASSERT_EQUAL(memcmp(held.view.value, held_copy, held_len), 0);
                zkv_store_value_release(&held);
            }
        }
        zkv_store_value_release(&held);
        for (unsigned i = 0; i < 40; i++) {
            char k[16];
            snprintf(k, sizeof(k), "k%02u", i);
            same_get(st[0], st[1], k);
        }
        zkv_rowcache_stats cs;
        CU_ASSERT(zkv_store_cache_stats(st[0], &cs));
        CU_ASSERT(cs.hits > 0);
        CU_ASSERT(cs.bytes <= cs.budget);
        if (budgets[bi] < 8192)
            CU_ASSERT(cs.evictions > 0);
        CU_ASSERT_EQUAL(zkv_store_commit(st[0], err, sizeof(err)), 0);
        CU_ASSERT_EQUAL(zkv_store_commit(st[1], err, sizeof(err)), 0);
        zkv_store_close(st[0]);
        zkv_store_close(st[1]);
    }
}

/* ---- split and merge: forking range logs, choosing a split key ---- */

/* The position of range id: (0, 0) for a range the store does not know. */
static void pos_of(zkv_store *s, const char *id, uint64_t *epoch, uint64_t *seq)
{
    const zkv_range_state *r = zkv_store_range(s, id);
    *epoch = r ? r->epoch : 0;
    *seq = r ? r->last_seq : 0;
    if (r) { /* a fork commits: nothing of it is left staged */
        CU_ASSERT_EQUAL(r->committed_epoch, r->epoch);
        CU_ASSERT_EQUAL(r->committed_seq, r->last_seq);
    }
}

/* id is at (epoch, seq) exactly, committed, with history hist and its log starting at
 * first (0: empty; else every entry first..seq is there). */
static void check_forked_log(zkv_store *s, const char *id, uint64_t epoch, uint64_t seq,
                             uint64_t first, const zkv_epoch_start *hist, int n_hist)
{
    const zkv_range_state *r = zkv_store_range(s, id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->epoch, epoch);
    CU_ASSERT_EQUAL(r->last_seq, seq);
    CU_ASSERT_EQUAL(r->committed_epoch, epoch);
    CU_ASSERT_EQUAL(r->committed_seq, seq);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, id), first);
    CU_ASSERT_EQUAL(zkv_store_range_snapshot_epoch(s, id), 0);
    zkv_epoch_start h[16];
    CU_ASSERT_EQUAL_FATAL(zkv_store_history(s, id, h, 16), n_hist);
    for (int i = 0; i < n_hist; i++) {
        CU_ASSERT_EQUAL(h[i].epoch, hist[i].epoch);
        CU_ASSERT_EQUAL(h[i].start_seq, hist[i].start_seq);
    }
    log_full lf = {0};
    CU_ASSERT_EQUAL(zkv_store_read_log(s, id, 0, collect_full, &lf, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL_FATAL(lf.n, first ? (int)(seq - first + 1) : 0);
    for (int i = 0; i < lf.n; i++)
        CU_ASSERT_EQUAL(lf.seq[i], first + (uint64_t)i);
}

static void check_forked(zkv_store *s, const char *id, uint64_t epoch, uint64_t seq,
                         const zkv_epoch_start *hist, int n_hist)
{
    check_forked_log(s, id, epoch, seq, 0, hist, n_hist);
}

/* A parent after its fork: no position, no history, no log, no snapshot marker. */
static void check_dropped(zkv_store *s, const char *id)
{
    uint64_t e, q;
    pos_of(s, id, &e, &q);
    CU_ASSERT_EQUAL(e, 0);
    CU_ASSERT_EQUAL(q, 0);
    CU_ASSERT_EQUAL(zkv_store_history(s, id, NULL, 0), 0);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, id), 0);
    CU_ASSERT_EQUAL(zkv_store_range_snapshot_epoch(s, id), 0);
    log_full lf = {0};
    CU_ASSERT_EQUAL(zkv_store_read_log(s, id, 0, collect_full, &lf, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(lf.n, 0);
}

static int fork1(zkv_store *s, const char *parent, uint64_t epoch, uint64_t seq, const char *a,
                 const char *b, bool *matched)
{
    zkv_range_parent p;
    memset(&p, 0, sizeof(p));
    snprintf(p.id, sizeof(p.id), "%s", parent);
    p.epoch = epoch;
    p.seq = seq;
    const char *kids[2] = {a, b};
    *matched = !*matched; /* must be set either way */
    return zkv_store_range_fork(s, &p, 1, kids, b ? 2 : 1, matched, err, sizeof(err));
}

static const zkv_epoch_start SP_HIST[] = {{2, 1}, {3, 3}};

static void test_fork_split_matched(void)
{
    zkv_store *s = open_at("dbf", 1 << 20);
    /* parent sp: 5 entries over epochs 2 and 3; a neighbour whose id extends sp's */
    CU_ASSERT_EQUAL(put_s(s, "sp", 2, "f1", "a"), 0);
    CU_ASSERT_EQUAL(put_s(s, "sp", 2, "f2", "b"), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(put_s(s, "sp", 3, "f3", "c"), 0);
    CU_ASSERT_EQUAL(put_s(s, "sp", 3, "f4", "d"), 0);
    zkv_value_meta m;
    CU_ASSERT_EQUAL(zkv_store_delete(s, "sp", 3, (const uint8_t *)"f2", 2, &m, err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(m.seq, 5);
    CU_ASSERT_EQUAL(put_s(s, "spx", 1, "g1", "n"), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    char buf[16];
    CU_ASSERT_EQUAL(get(s, "f3", 2, buf, sizeof(buf), NULL), 1); /* cached before the fork */
    zkv_epoch_start ph[8];
    CU_ASSERT_EQUAL_FATAL(zkv_store_history(s, "sp", ph, 8), 2);
    CU_ASSERT_EQUAL(ph[1].epoch, SP_HIST[1].epoch);
    CU_ASSERT_EQUAL(ph[1].start_seq, SP_HIST[1].start_seq);

    /* a staged write of another range goes in with the fork (it commits first) */
    CU_ASSERT_EQUAL(put_s(s, "spx", 1, "g2", "n"), 0);
    bool matched = false;
    CU_ASSERT_EQUAL(fork1(s, "sp", 3, 5, "sa", "sb", &matched), 0);
    CU_ASSERT_TRUE(matched);
    CU_ASSERT_EQUAL(zkv_store_pending(s), 0);
    check_forked(s, "sa", 3, 5, SP_HIST, 2);
    check_forked(s, "sb", 3, 5, SP_HIST, 2);
    check_dropped(s, "sp");
    /* the neighbour spx keeps everything */
    uint64_t e, q;
    pos_of(s, "spx", &e, &q);
    CU_ASSERT_EQUAL(e, 1);
    CU_ASSERT_EQUAL(q, 2);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "spx"), 1);
    CU_ASSERT_EQUAL(zkv_store_history(s, "spx", NULL, 0), 1);
    /* the data keys stay where they were */
    CU_ASSERT_EQUAL(get(s, "f1", 2, buf, sizeof(buf), &m), 1);
    CU_ASSERT_STRING_EQUAL(buf, "a");
    CU_ASSERT_EQUAL(m.epoch, 2);
    CU_ASSERT_EQUAL(m.seq, 1);
    CU_ASSERT_EQUAL(get(s, "f3", 2, buf, sizeof(buf), &m), 1);
    CU_ASSERT_STRING_EQUAL(buf, "c");
    CU_ASSERT_EQUAL(m.seq, 3);
    CU_ASSERT_EQUAL(get(s, "f2", 2, buf, sizeof(buf), NULL), 0);
    CU_ASSERT_EQUAL(get(s, "f4", 2, buf, sizeof(buf), NULL), 1);

    /* the children continue the log: a new epoch at seq 6, the same epoch at seq 6 too */
    CU_ASSERT_EQUAL(zkv_store_put(s, "sa", 4, (const uint8_t *)"f1", 2, (const uint8_t *)"A", 1, &m,
                                  err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(m.epoch, 4);
    CU_ASSERT_EQUAL(m.seq, 6);
    CU_ASSERT_EQUAL(zkv_store_put(s, "sb", 3, (const uint8_t *)"f4", 2, (const uint8_t *)"D", 1, &m,
                                  err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(m.epoch, 3);
    CU_ASSERT_EQUAL(m.seq, 6);
    /* an epoch older than the parent's is stale for a child */
    CU_ASSERT_EQUAL(put_s(s, "sb", 2, "f4", "x"), ZKV_STORE_STALE_EPOCH);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_epoch_start h[8];
    CU_ASSERT_EQUAL_FATAL(zkv_store_history(s, "sa", h, 8), 3);
    CU_ASSERT_EQUAL(h[2].epoch, 4);
    CU_ASSERT_EQUAL(h[2].start_seq, 6);
    CU_ASSERT_EQUAL(zkv_store_history(s, "sb", h, 8), 2); /* same epoch: no new entry */
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "sa"), 6);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "sb"), 6);
    log_full lf = {0};
    CU_ASSERT_EQUAL(zkv_store_read_log(s, "sa", 0, collect_full, &lf, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL_FATAL(lf.n, 1);
    CU_ASSERT_EQUAL(lf.seq[0], 6);
    CU_ASSERT_EQUAL(lf.epoch[0], 4);
    CU_ASSERT_EQUAL(get(s, "f1", 2, buf, sizeof(buf), &m), 1);
    CU_ASSERT_STRING_EQUAL(buf, "A");
    CU_ASSERT_EQUAL(m.seq, 6);
    zkv_store_close(s);
}

static void test_fork_idempotent(void)
{
    zkv_store *s = open_at("dbf", 1 << 20);
    /* what test_fork_split_matched left, after a restart */
    zkv_epoch_start sa_hist[] = {{2, 1}, {3, 3}, {4, 6}};
    check_forked_log(s, "sa", 4, 6, 6, sa_hist, 3);
    check_forked_log(s, "sb", 3, 6, 6, SP_HIST, 2);
    CU_ASSERT_PTR_NULL(zkv_store_range(s, "sp")); /* nothing of it on disk */
    check_dropped(s, "sp");
    uint64_t e, q;
    pos_of(s, "spx", &e, &q);
    CU_ASSERT_EQUAL(q, 2);
    CU_ASSERT_EQUAL(zkv_store_history(s, "spx", NULL, 0), 1);
    /* the same fork again (a map installed again, a restart): nothing changes */
    bool matched = true;
    CU_ASSERT_EQUAL(fork1(s, "sp", 3, 5, "sa", "sb", &matched), 0);
    CU_ASSERT_FALSE(matched); /* the parent is not here any more */
    check_forked_log(s, "sa", 4, 6, 6, sa_hist, 3);
    check_forked_log(s, "sb", 3, 6, 6, SP_HIST, 2);
    check_dropped(s, "sp");
    char buf[16];
    CU_ASSERT_EQUAL(get(s, "f1", 2, buf, sizeof(buf), NULL), 1);
    CU_ASSERT_STRING_EQUAL(buf, "A");

    /* a fork cut short between the children and the parent's drop: the parent is still
     * at its position, one child has one (and wrote since); forking again fills in the
     * other child, leaves the first alone and drops the parent */
    CU_ASSERT_EQUAL(put_s(s, "ip", 5, "i1", "v"), 0);
    CU_ASSERT_EQUAL(put_s(s, "ip", 5, "i2", "v"), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_epoch_start ih[] = {{5, 1}};
    CU_ASSERT_EQUAL(zkv_store_range_set_position(s, "ia", 5, 2, ih, 1, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(put_s(s, "ia", 6, "i1", "w"), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(fork1(s, "ip", 5, 2, "ia", "ib", &matched), 0);
    CU_ASSERT_TRUE(matched);
    zkv_epoch_start ia_hist[] = {{5, 1}, {6, 3}};
    check_forked_log(s, "ia", 6, 3, 3, ia_hist, 2);
    check_forked(s, "ib", 5, 2, ih, 1);
    check_dropped(s, "ip");
    zkv_store_close(s);
    /* and all of it survives a restart */
    s = open_at("dbf", 1 << 20);
    check_forked_log(s, "ia", 6, 3, 3, ia_hist, 2);
    check_forked(s, "ib", 5, 2, ih, 1);
    CU_ASSERT_PTR_NULL(zkv_store_range(s, "ip"));
    check_forked_log(s, "sa", 4, 6, 6, sa_hist, 3);
    zkv_store_close(s);
}

static void test_fork_mismatch(void)
{
    zkv_store *s = open_at("dbf", 1 << 20);
    /* mp at (2, 3): a fork at seq 2, at epoch 1, or of a parent that never was here
     * leaves the children without a position; the parent goes all the same */
    CU_ASSERT_EQUAL(put_s(s, "mp", 2, "m1", "v"), 0);
    CU_ASSERT_EQUAL(put_s(s, "mp", 2, "m2", "v"), 0);
    CU_ASSERT_EQUAL(put_s(s, "mp", 2, "m3", "v"), 0);
    CU_ASSERT_EQUAL(put_s(s, "np", 2, "n1", "v"), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    bool matched = true;
    CU_ASSERT_EQUAL(fork1(s, "mp", 2, 2, "ma", "mb", &matched), 0);
    CU_ASSERT_FALSE(matched);
    uint64_t e, q;
    pos_of(s, "ma", &e, &q);
    CU_ASSERT(e == 0 && q == 0);
    pos_of(s, "mb", &e, &q);
    CU_ASSERT(e == 0 && q == 0);
    CU_ASSERT_EQUAL(zkv_store_history(s, "ma", NULL, 0), 0);
    check_dropped(s, "mp");
    char buf[16];
    CU_ASSERT_EQUAL(get(s, "m3", 2, buf, sizeof(buf), NULL), 1); /* the data stays */
    /* a seq ahead of this copy */
    CU_ASSERT_EQUAL(fork1(s, "np", 2, 2, "na", NULL, &matched), 0);
    CU_ASSERT_FALSE(matched);
    pos_of(s, "na", &e, &q);
    CU_ASSERT(e == 0 && q == 0);
    check_dropped(s, "np");
    /* the right seq at another epoch */
    CU_ASSERT_EQUAL(put_s(s, "op", 3, "o1", "v"), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(fork1(s, "op", 2, 1, "oa", "ob", &matched), 0);
    CU_ASSERT_FALSE(matched);
    pos_of(s, "oa", &e, &q);
    CU_ASSERT(e == 0 && q == 0);
    check_dropped(s, "op");
    /* a parent this node never had */
    CU_ASSERT_EQUAL(fork1(s, "nowhere", 1, 1, "wa", "wb", &matched), 0);
    CU_ASSERT_FALSE(matched);
    pos_of(s, "wa", &e, &q);
    CU_ASSERT(e == 0 && q == 0);
    /* a parent being rebuilt from a snapshot is not at any position */
    CU_ASSERT_EQUAL(put_s(s, "rp", 1, "x1", "v"), 0);
    CU_ASSERT_EQUAL(zkv_store_range_reset(s, "rp", 7, (const uint8_t *)"x", 1, (const uint8_t *)"y",
                                          1, err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(zkv_store_range_snapshot_epoch(s, "rp"), 7);
    CU_ASSERT_EQUAL(fork1(s, "rp", 0, 0, "ra", "rb", &matched), 0);
    CU_ASSERT_FALSE(matched);
    pos_of(s, "ra", &e, &q);
    CU_ASSERT(e == 0 && q == 0);
    check_dropped(s, "rp");
    zkv_store_close(s);
    /* after a restart: the parents are gone, the children still have nothing */
    s = open_at("dbf", 1 << 20);
    const char *gone[] = {"mp", "np", "op", "rp", "ma", "mb", "na", "oa", "ob", "ra", "rb"};
    for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
        pos_of(s, gone[i], &e, &q);
        CU_ASSERT(e == 0 && q == 0);
        CU_ASSERT_EQUAL(zkv_store_history(s, gone[i], NULL, 0), 0);
        CU_ASSERT_EQUAL(zkv_store_range_snapshot_epoch(s, gone[i]), 0);
    }
    CU_ASSERT_EQUAL(get(s, "m1", 2, buf, sizeof(buf), NULL), 1);
    zkv_store_close(s);
}

static void test_fork_merge(void)
{
    zkv_store *s = open_at("dbf", 1 << 20);
    /* ga at (2, 3) and gb at (5, 7): the merged range continues at the higher seq, with
     * the history of the parent that had it */
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(put_s(s, "ga", 2, "ga", "v"), 0);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(put_s(s, "gb", 1, "gb", "v"), 0);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(put_s(s, "gb", 5, "gb", "v"), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_range_parent ps[2];
    memset(ps, 0, sizeof(ps));
    strcpy(ps[0].id, "ga");
    ps[0].epoch = 2;
    ps[0].seq = 3;
    strcpy(ps[1].id, "gb");
    ps[1].epoch = 5;
    ps[1].seq = 7;
    const char *kid[] = {"gm"};
    bool matched = false;
    CU_ASSERT_EQUAL(zkv_store_range_fork(s, ps, 2, kid, 1, &matched, err, sizeof(err)), 0);
    CU_ASSERT_TRUE(matched);
    zkv_epoch_start gb_hist[] = {{1, 1}, {5, 4}};
    check_forked(s, "gm", 5, 7, gb_hist, 2);
    check_dropped(s, "ga");
    check_dropped(s, "gb");
    /* one parent off its position: no fork, both parents go */
    for (int i = 0; i < 2; i++)
        CU_ASSERT_EQUAL(put_s(s, "ha", 1, "ha", "v"), 0);
    CU_ASSERT_EQUAL(put_s(s, "hb", 1, "hb", "v"), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    strcpy(ps[0].id, "ha");
    ps[0].epoch = 1;
    ps[0].seq = 2;
    strcpy(ps[1].id, "hb");
    ps[1].epoch = 1;
    ps[1].seq = 5; /* hb is at 1 */
    kid[0] = "hm";
    matched = true;
    CU_ASSERT_EQUAL(zkv_store_range_fork(s, ps, 2, kid, 1, &matched, err, sizeof(err)), 0);
    CU_ASSERT_FALSE(matched);
    uint64_t e, q;
    pos_of(s, "hm", &e, &q);
    CU_ASSERT(e == 0 && q == 0);
    check_dropped(s, "ha");
    check_dropped(s, "hb");
    zkv_store_close(s);
}

/* The 'r' record of range id in the database at dir/name, as a format-1 build wrote it
 * (a position, no history, no log). */
static void raw_put_state_at(const char *name, const char *id, uint64_t epoch, uint64_t seq)
{
    char path[200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    leveldb_options_t *o = leveldb_options_create();
    leveldb_options_set_create_if_missing(o, 1);
    char *lerr = NULL;
    leveldb_t *db = leveldb_open(o, path, &lerr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
    char key[32];
    int kl = snprintf(key, sizeof(key), "r%s", id);
    uint8_t v[16];
    zkv_put_u64be(v, epoch);
    zkv_put_u64be(v + 8, seq);
    leveldb_put(db, wo, key, (size_t)kl, (const char *)v, sizeof(v), &lerr);
    CU_ASSERT_PTR_NULL(lerr);
    leveldb_writeoptions_destroy(wo);
    leveldb_close(db);
    leveldb_options_destroy(o);
}

/* ---- cases that abort the program (UBSan) run in a child process ---- */

/* Runs this program again as "PROG --child NAME DIR": the case NAME (child_cases below)
 * in a process of its own, so that a sanitizer abort fails one test instead of ending
 * the suite. Returns its exit status, or 128 + the signal that ended it. */
static int run_child(const char *name)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/proc/self/exe", "test_server_store", "--child", name, dir, (char *)NULL);
        _exit(127);
    }
    CU_ASSERT_FATAL(pid > 0);
    int st = 0;
    CU_ASSERT_FATAL(waitpid(pid, &st, 0) == pid);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    if (rc != 0)
        fprintf(stderr, "\nchild case %s ended with status %d\n", name, rc);
    return rc;
}

#define CHILD_CHECK(c)                                                                             \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                  \
            bad++;                                                                                 \
        }                                                                                          \
    } while (0)

static zkv_store *child_open(const char *name)
{
    char path[200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    zkv_store *s = NULL;
    if (zkv_store_open(path, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "cannot open %s: %s\n", path, err);
        return NULL;
    }
    return s;
}

/* lp at (4, 10) without history forks into la and lb at (4, 10), history empty. */
static int child_fork_no_history(void)
{
    zkv_store *s = child_open("dbh");
    if (!s)
        return 2;
    int bad = 0;
    zkv_range_parent p = {.id = "lp", .epoch = 4, .seq = 10};
    const char *kids[] = {"la", "lb"};
    bool matched = false;
    CHILD_CHECK(zkv_store_range_fork(s, &p, 1, kids, 2, &matched, err, sizeof(err)) == 0);
    CHILD_CHECK(matched);
    for (int i = 0; i < 2; i++) {
        const zkv_range_state *r = zkv_store_range(s, kids[i]);
        CHILD_CHECK(r && r->epoch == 4 && r->last_seq == 10 && r->committed_seq == 10);
        CHILD_CHECK(zkv_store_history(s, kids[i], NULL, 0) == 0);
    }
    const zkv_range_state *lp = zkv_store_range(s, "lp");
    CHILD_CHECK(!lp || (lp->last_seq == 0 && lp->epoch == 0));
    zkv_value_meta m;
    CHILD_CHECK(zkv_store_put(s, "la", 4, (const uint8_t *)"l1", 2, (const uint8_t *)"v", 1, &m,
                              err, sizeof(err)) == 0);
    CHILD_CHECK(m.seq == 11);
    CHILD_CHECK(zkv_store_commit(s, err, sizeof(err)) == 0);
    zkv_store_close(s);
    return bad ? 1 : 0;
}

/* The split key of dbe (test_middle_key_estimated) with an unbounded start and/or end:
 * near the middle of b00000..b05999 like the bounded one. */
static int child_middle_unbounded(void)
{
    zkv_store *s = child_open("dbe");
    if (!s)
        return 2;
    int bad = 0;
    const char *bounds[][2] = {{NULL, NULL}, {NULL, "c"}, {"b", NULL}};
    for (size_t i = 0; i < 3; i++) {
        zkv_buf out;
        zkv_buf_init(&out);
        const char *a = bounds[i][0], *b = bounds[i][1];
        int rc = zkv_store_middle_key(s, (const uint8_t *)a, a ? strlen(a) : 0, (const uint8_t *)b,
                                      b ? strlen(b) : 0, &out, err, sizeof(err));
        CHILD_CHECK(rc == 1);
        char k[16] = "";
        if (rc == 1 && out.len < sizeof(k))
            memcpy(k, out.data, out.len);
        int idx = -1;
        CHILD_CHECK(out.len == 6 && sscanf(k, "b%05d", &idx) == 1);
        CHILD_CHECK(idx >= 2700 && idx <= 3300);
        zkv_buf_free(&out);
    }
    zkv_store_close(s);
    return bad ? 1 : 0;
}

static const struct {
    const char *name;
    int (*fn)(void);
} child_cases[] = {
    {"fork-no-history", child_fork_no_history},
    {"middle-unbounded", child_middle_unbounded},
};

/* A parent with a position but no history (written before histories existed, or rebuilt
 * from a snapshot without one): its children take the position and an empty history.
 * store.c zkv_store_range_fork copies the history with memcpy from best->hist, NULL here:
 * undefined behaviour (UBSan: "null pointer passed as argument 2"). */
static void test_fork_parent_without_history(void)
{
    raw_put_state_at("dbh", "lp", 4, 10);
    zkv_store *s = open_at("dbh", 0);
    CU_ASSERT_EQUAL(zkv_store_history(s, "lp", NULL, 0), 0);
    uint64_t e, q;
    pos_of(s, "lp", &e, &q);
    CU_ASSERT(e == 4 && q == 10);
    zkv_store_close(s);
    CU_ASSERT_EQUAL(run_child("fork-no-history"), 0);
}

/* zkv_store_middle_key over an unbounded start or end (the first and the last range of
 * every cluster) on more than ZKV_STORE_SPLIT_ESTIMATE_MIN bytes: store.c copies the
 * bounds with memcpy(lo, start, slen) / memcpy(hi, end, elen), NULL when unbounded:
 * undefined behaviour (UBSan: "null pointer passed as argument 2"). Uses dbe from
 * test_middle_key_estimated. */
static void test_middle_key_estimated_unbounded(void)
{
    CU_ASSERT_EQUAL(run_child("middle-unbounded"), 0);
}

typedef struct {
    char key[32];
    size_t klen;
} one_key;

/* zkv_store_middle_key over [start, end) as strings ("" or NULL: unbounded); returns its
 * answer and the key (NUL-terminated) in k. */
static int middle(zkv_store *s, const char *start, const char *end, one_key *k)
{
    zkv_buf out;
    zkv_buf_init(&out);
    CU_ASSERT_EQUAL_FATAL(zkv_buf_append(&out, "junk", 4), 0); /* replaced */
    size_t sl = start ? strlen(start) : 0, el = end ? strlen(end) : 0;
    int rc = zkv_store_middle_key(s, (const uint8_t *)start, sl, (const uint8_t *)end, el, &out,
                                  err, sizeof(err));
    memset(k, 0, sizeof(*k));
    if (rc == 1) {
        CU_ASSERT(out.len > 0 && out.len < sizeof(k->key));
        if (out.len < sizeof(k->key)) {
            memcpy(k->key, out.data, out.len);
            k->klen = out.len;
        }
    } else {
        CU_ASSERT_EQUAL(out.len, 0);
    }
    zkv_buf_free(&out);
    return rc;
}

static void test_middle_key_small(void)
{
    zkv_store *s = open_at("dbm", 1 << 20);
    one_key k;
    /* nothing at all, then one key: no split */
    CU_ASSERT_EQUAL(middle(s, NULL, NULL, &k), 0);
    CU_ASSERT_EQUAL(put_s(s, "mk", 1, "k000", "v"), 0);
    CU_ASSERT_EQUAL(middle(s, NULL, NULL, &k), 0); /* the staged key is seen: still 1 */
    CU_ASSERT_EQUAL(zkv_store_pending(s), 0);
    CU_ASSERT_EQUAL(middle(s, "k", "l", &k), 0);
    /* two keys: the second */
    CU_ASSERT_EQUAL(put_s(s, "mk", 1, "k001", "v"), 0);
    CU_ASSERT_EQUAL(middle(s, "k", "l", &k), 1);
    CU_ASSERT_STRING_EQUAL(k.key, "k001");
    char key[8];
    for (int i = 2; i < 100; i++) {
        snprintf(key, sizeof(key), "k%03d", i);
        CU_ASSERT_EQUAL_FATAL(put_s(s, "mk", 1, key, "v"), 0);
    }
    /* keys on both sides of [k, l), one of them exactly at the end */
    CU_ASSERT_EQUAL(put_s(s, "mo", 1, "a1", "v"), 0);
    CU_ASSERT_EQUAL(put_s(s, "mo", 1, "a2", "v"), 0);
    CU_ASSERT_EQUAL(put_s(s, "mo", 1, "l", "v"), 0);
    CU_ASSERT_EQUAL(put_s(s, "mo", 1, "z1", "v"), 0);
    /* 100 keys k000..k099: index 50 */
    CU_ASSERT_EQUAL(middle(s, "k", "l", &k), 1);
    CU_ASSERT_STRING_EQUAL(k.key, "k050");
    CU_ASSERT_EQUAL(middle(s, "k000", "k100", &k), 1);
    CU_ASSERT_STRING_EQUAL(k.key, "k050");
    /* the whole key space: a1 a2 k000..k099 l z1 = 104 keys, index 52 */
    CU_ASSERT_EQUAL(middle(s, NULL, NULL, &k), 1);
    CU_ASSERT_STRING_EQUAL(k.key, "k050");
    /* [k050, +inf): k050..k099 l z1 = 52 keys, index 26; start is inclusive */
    CU_ASSERT_EQUAL(middle(s, "k050", NULL, &k), 1);
    CU_ASSERT_STRING_EQUAL(k.key, "k076");
    /* [k000, k010): 10 keys, index 5; end is exclusive */
    CU_ASSERT_EQUAL(middle(s, "k000", "k010", &k), 1);
    CU_ASSERT_STRING_EQUAL(k.key, "k005");
    /* [k005, k006): one key */
    CU_ASSERT_EQUAL(middle(s, "k005", "k006", &k), 0);
    /* [b, c): none */
    CU_ASSERT_EQUAL(middle(s, "b", "c", &k), 0);
    /* [k0, k003): k000 k001 k002, index 1 */
    CU_ASSERT_EQUAL(middle(s, "k0", "k003", &k), 1);
    CU_ASSERT_STRING_EQUAL(k.key, "k001");
    /* deleted keys do not count; a staged put does */
    zkv_value_meta m;
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "k%03d", i);
        CU_ASSERT_EQUAL(zkv_store_delete(s, "mk", 1, (const uint8_t *)key, 4, &m, err, sizeof(err)),
                        0);
    }
    CU_ASSERT_EQUAL(middle(s, "k", "l", &k), 1); /* k010..k099: 90 keys, index 45 */
    CU_ASSERT_STRING_EQUAL(k.key, "k055");
    CU_ASSERT_EQUAL(put_s(s, "mk", 1, "k0505", "v"), 0);
    CU_ASSERT_EQUAL(middle(s, "k050", "k051", &k), 1);
    CU_ASSERT_STRING_EQUAL(k.key, "k0505");
    CU_ASSERT_EQUAL(zkv_store_pending(s), 0);
    /* binary keys: [\x00, \x00\x01) holds \x00 and \x00\x00 */
    CU_ASSERT_EQUAL(zkv_store_put(s, "mb", 1, (const uint8_t *)"\x00", 1, (const uint8_t *)"v", 1,
                                  &m, err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(zkv_store_put(s, "mb", 1, (const uint8_t *)"\x00\x00", 2, (const uint8_t *)"v",
                                  1, &m, err, sizeof(err)),
                    0);
    zkv_buf out;
    zkv_buf_init(&out);
    CU_ASSERT_EQUAL(zkv_store_middle_key(s, (const uint8_t *)"\x00", 1, (const uint8_t *)"\x00\x01",
                                         2, &out, err, sizeof(err)),
                    1);
    CU_ASSERT(out.len == 2 && memcmp(out.data, "\x00\x00", 2) == 0);
    zkv_buf_free(&out);
    zkv_store_close(s);
}

/* Over ZKV_STORE_SPLIT_ESTIMATE_MIN bytes on disk, LevelDB's size estimates bisect the
 * range: the key comes out near the middle by bytes, and is a key of the range. fmt
 * makes key i (starting with 'b'); db names the database. */
static void estimated_case(const char *db, const char *fmt)
{
    zkv_store *s = open_at(db, 0);
    char key[32], val[1024];
    uint64_t rng = 0x243f6a8885a308d3ull;
    int n = 6000; /* 6000 values of 1000 random bytes: about 6 MB, incompressible */
    size_t klen = 0;
    for (int i = 0; i < n; i++) {
        for (size_t j = 0; j < 1000; j++) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            val[j] = (char)(rng & 0xff);
        }
        klen = (size_t)snprintf(key, sizeof(key), fmt, i);
        zkv_value_meta m;
        CU_ASSERT_EQUAL_FATAL(zkv_store_put(s, "me", 1, (const uint8_t *)key, klen,
                                            (const uint8_t *)val, 1000, &m, err, sizeof(err)),
                              0);
    }
    CU_ASSERT_EQUAL(put_s(s, "mo", 1, "a", "outside"), 0);
    CU_ASSERT_EQUAL(put_s(s, "mo", 1, "c", "outside"), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_store_close(s); /* reopening flushes the memtable into a table file */
    s = open_at(db, 0);
    uint64_t total = zkv_store_approx_size(s, (const uint8_t *)"b", 1, (const uint8_t *)"c", 1);
    CU_ASSERT_FATAL(total >= ZKV_STORE_SPLIT_ESTIMATE_MIN);
    one_key k;
    CU_ASSERT_EQUAL_FATAL(middle(s, "b", "c", &k), 1);
    int idx = -1;
    CU_ASSERT_EQUAL_FATAL(k.klen, klen);
    for (int i = 0; i < n && idx < 0; i++) {
        snprintf(key, sizeof(key), fmt, i);
        if (strcmp(key, k.key) == 0)
            idx = i;
    }
    if (idx < n * 45 / 100 || idx > n * 55 / 100)
        fprintf(stderr, "\nsplit key %s (index %d of %d)\n", k.key, idx, n);
    CU_ASSERT(idx >= n * 45 / 100 && idx <= n * 55 / 100);
    zkv_store_close(s);
}

static void test_middle_key_estimated(void)
{
    estimated_case("dbe", "b%05d");
    /* the lower half only: under the threshold, so its keys are counted (index 1500) */
    zkv_store *s = open_at("dbe", 0);
    one_key k;
    CU_ASSERT_FATAL(zkv_store_approx_size(s, (const uint8_t *)"b", 1, (const uint8_t *)"b03000",
                                          6) < ZKV_STORE_SPLIT_ESTIMATE_MIN);
    CU_ASSERT_EQUAL_FATAL(middle(s, "b", "b03000", &k), 1);
    CU_ASSERT_STRING_EQUAL(k.key, "b01500");
    zkv_store_close(s);
}

/* The same with keys that share 13 bytes (as zkv-bench's do): the bisection goes on past
 * the common prefix instead of stopping at its first bytes. */
static void test_middle_key_estimated_long_prefix(void)
{
    estimated_case("dbl", "bkey:00000000%05d");
}

/* --sync: a store opened synced commits as one opened without it, says so, and counts
 * every commit's LevelDB write in its figures (dbwrite.h); the data is there after a
 * reopen without it. */
static void test_sync_and_write_stats(void)
{
    char sdir[160];
    snprintf(sdir, sizeof(sdir), "%s/synced", dir);
    const zkv_store_tuning synced = {.write_buffer = 4u << 20, .compaction_nice = 0, .sync = true};
    zkv_store *s = NULL;
    CU_ASSERT_EQUAL_FATAL(zkv_store_open_with(sdir, &synced, &s, err, sizeof(err)), 0);
    zkv_dbwrite_stats st;
    bool on = false;
    zkv_store_write_stats(s, &st, &on);
    CU_ASSERT_TRUE(on);
    uint64_t before = zkv_store_commit_count(s), writes_before = 0;
    for (int b = 0; b <= ZKV_LAT_NB; b++)
        writes_before += st.n[b];
    zkv_value_meta m;
    for (int i = 0; i < 3; i++) {
        char k[8];
        snprintf(k, sizeof(k), "k%d", i);
        CU_ASSERT_EQUAL(zkv_store_put(s, "r0000", 1, (const uint8_t *)k, 2, (const uint8_t *)"v", 1,
                                      &m, err, sizeof(err)),
                        0);
        CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    }
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0); /* nothing staged: no write */
    zkv_store_write_stats(s, &st, &on);
    uint64_t writes = 0;
    for (int b = 0; b <= ZKV_LAT_NB; b++)
        writes += st.n[b];
    CU_ASSERT_EQUAL(zkv_store_commit_count(s) - before, 3);
    CU_ASSERT_EQUAL(writes - writes_before, 3);
    zkv_store_close(s);
    const zkv_store_tuning plain = {.write_buffer = 4u << 20, .compaction_nice = 0, .sync = false};
    CU_ASSERT_EQUAL_FATAL(zkv_store_open_with(sdir, &plain, &s, err, sizeof(err)), 0);
    zkv_store_write_stats(s, &st, &on);
    CU_ASSERT_FALSE(on);
    char buf[16];
    CU_ASSERT_EQUAL(get(s, "k2", 2, buf, sizeof(buf), NULL), 1);
    CU_ASSERT_STRING_EQUAL(buf, "v");
    zkv_store_close(s);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--child") == 0) { /* run_child */
        snprintf(dir, sizeof(dir), "%s", argv[3]);
        for (size_t i = 0; i < sizeof(child_cases) / sizeof(child_cases[0]); i++)
            if (strcmp(child_cases[i].name, argv[2]) == 0)
                return child_cases[i].fn();
        return 126;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("server_store", setup, teardown);
    CU_add_test(s, "put, get, delete, sequence numbers", test_put_get_seq);
    CU_add_test(s, "scan over binary keys", test_scan_binary);
    CU_add_test(s, "reopen keeps data, states and numbering", test_reopen);
    CU_add_test(s, "--sync and the LevelDB write figures", test_sync_and_write_stats);
    CU_add_test(s, "raw LevelDB layout", test_raw_layout);
    CU_add_test(s, "epoch history", test_history);
    CU_add_test(s, "apply replicated entries", test_apply);
    CU_add_test(s, "log truncation", test_truncate);
    CU_add_test(s, "log chunks: a batch's small entries in one record", test_log_chunks);
    CU_add_test(s, "snapshot reads while writes go on", test_snapshot_read);
    CU_add_test(s, "range reset, items, position, reopen", test_reset_and_position);
    CU_add_test(s, "positions from the log and from 'r' records", test_positions);
    CU_add_test(s, "row cache: coherence with every kind of write", test_cache_coherence);
    CU_add_test(s, "row cache: random operations equal a store without cache", test_cache_random);
    CU_add_test(s, "fork of a split parent at its position", test_fork_split_matched);
    CU_add_test(s, "fork again, after a restart, cut short", test_fork_idempotent);
    CU_add_test(s, "fork of a parent off its position", test_fork_mismatch);
    CU_add_test(s, "fork of two merged parents", test_fork_merge);
    CU_add_test(s, "split key: the middle key of small ranges", test_middle_key_small);
    CU_add_test(s, "split key: bisected by size estimates", test_middle_key_estimated);
    CU_add_test(s, "split key: bisected past a long common prefix",
                test_middle_key_estimated_long_prefix);
    CU_add_test(s, "fork of a parent without history (no memcpy from NULL)",
                test_fork_parent_without_history);
    CU_add_test(s, "split key: estimated, unbounded start or end",
                test_middle_key_estimated_unbounded);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
