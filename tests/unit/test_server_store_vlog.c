/* test_server_store_vlog.c: server/store.c with the value log, against a real LevelDB and
 * real value-log files in a mkdtemp directory. Large values are stored once (the data
 * record and the log entry are small pointers), read back by GET (with and without the
 * row cache), scans, log reads, snapshots and applied entries; a data dir written with
 * every value inline reads unchanged and takes value-log writes after the upgrade; a
 * damaged value-log record is an error, never a wrong value; garbage collection moves the
 * live values of mostly dead files and deletes them, keeps files a range's log or an open
 * snapshot may still read, and loses no value across a reopen; after a machine restart,
 * the values beyond the durability mark are read back and the ranges that lost one are
 * named. */
#include <CUnit/Basic.h>
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "store_vlog.h"

static char dir[64];
static char err[256];

static int setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/zkv-test-svlog-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static zkv_store *open_at(const char *sub, size_t inline_max, uint64_t file_bytes)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    zkv_store_tuning t = {.write_buffer = ZKV_STORE_DEFAULT_WRITE_BUFFER,
                          .inline_max = inline_max,
                          .vlog_file_bytes = file_bytes};
    zkv_store *s = NULL;
    CU_ASSERT_EQUAL_FATAL(zkv_store_open_with(path, &t, &s, err, sizeof(err)), 0);
    return s;
}

/* The value of key k in version ver: n bytes, different for every (k, ver). */
static size_t make_value(uint8_t *out, int k, int ver, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(k * 31 + ver * 7 + i);
    return n;
}

static void key_of(char *out, size_t len, int k)
{
    snprintf(out, len, "key%05d", k);
}

static int put_kv(zkv_store *s, const char *range, int k, int ver, size_t n)
{
    static uint8_t val[200000];
    char key[16];
    key_of(key, sizeof key, k);
    make_value(val, k, ver, n);
    return zkv_store_put(s, range, 1, (const uint8_t *)key, strlen(key), val, n, NULL, err,
                         sizeof(err));
}

/* 1 when key k reads as version ver of n bytes, 0 when missing, -1 otherwise. */
static int check_kv(zkv_store *s, int k, int ver, size_t n)
{
    static uint8_t want[200000];
    char key[16];
    key_of(key, sizeof key, k);
    zkv_store_value v;
    int rc = zkv_store_get(s, (const uint8_t *)key, strlen(key), &v, err, sizeof(err));
    if (rc != 1)
        return rc == 0 ? 0 : -1;
    make_value(want, k, ver, n);
    int ok = v.view.value_len == n && memcmp(v.view.value, want, n) == 0 &&
             !(v.view.meta.flags & ZKV_VALUE_INDIRECT);
    zkv_store_value_release(&v);
    return ok ? 1 : -1;
}

/* Bytes of LevelDB's files and of the value log's under sub. */
static uint64_t dir_bytes(const char *sub, const char *only)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "du -sb --apparent-size '%s/%s%s' | cut -f1", dir, sub, only);
    FILE *p = popen(cmd, "r");
    unsigned long long b = 0;
    if (p) {
        if (fscanf(p, "%llu", &b) != 1)
            b = 0;
        pclose(p);
    }
    return b;
}

typedef struct log_seen {
    int n, bad;
} log_seen;

static int check_entry(void *ctx, uint64_t seq, const zkv_log_view *e)
{
    log_seen *c = ctx;
    static uint8_t want[200000];
    int k = atoi((const char *)e->key + 3);
    (void)seq;
    size_t n = e->value.value_len;
    make_value(want, k, 0, n);
    if (e->op != ZKV_LOG_OP_PUT || (e->value.meta.flags & ZKV_VALUE_INDIRECT) ||
        memcmp(e->value.value, want, n) != 0)
        c->bad++;
    c->n++;
    return 0;
}

static int count_item(void *ctx, const uint8_t *key, size_t klen, const zkv_value_view *v)
{
    (void)key;
    (void)klen;
    uint64_t *total = ctx;
    *total += v->value_len;
    return 0;
}

/* Puts 100 KB values k = 0..n-1 as the server does: the store's progress after each. */
static void put_progressing(zkv_store *s, int n)
{
    for (int k = 0; k < n; k++) {
        CU_ASSERT_EQUAL_FATAL(put_kv(s, "r1", k, 0, 100000), 0);
        CU_ASSERT_EQUAL_FATAL(zkv_store_progress(s, err, sizeof(err)), 0);
    }
}

static void test_early_writes(void)
{
    zkv_store *s = open_at("early", ZKV_STORE_DEFAULT_INLINE_MAX, 0);
    put_progressing(s, 30);
    /* written ahead, behind the values the writer thread took; still pending */
    uint64_t early = zkv_store_early_writes(s);
    CU_ASSERT(early >= 3);
    CU_ASSERT(zkv_store_pending(s) > 0);
    const zkv_range_state *rs = zkv_store_range(s, "r1");
    CU_ASSERT_FATAL(rs != NULL);
    CU_ASSERT_EQUAL(rs->committed_seq, 0);
    CU_ASSERT_EQUAL(rs->last_seq, 30);
    CU_ASSERT_EQUAL_FATAL(zkv_store_commit(s, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_store_range(s, "r1")->committed_seq, 30);
    for (int k = 0; k < 30; k++)
        CU_ASSERT_EQUAL(check_kv(s, k, 0, 100000), 1);
    /* small values hand nothing to the writer thread: nothing ahead */
    for (int k = 100; k < 200; k++) {
        CU_ASSERT_EQUAL_FATAL(put_kv(s, "r1", k, 0, 100), 0);
        CU_ASSERT_EQUAL_FATAL(zkv_store_progress(s, err, sizeof(err)), 0);
    }
    CU_ASSERT_EQUAL(zkv_store_early_writes(s), early);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_store_close(s);

    /* a crash before the commit: the records written ahead came with their log entries
     * and their values, the rest never reached LevelDB */
    s = open_at("early-crash", ZKV_STORE_DEFAULT_INLINE_MAX, 0);
    put_progressing(s, 28); /* (the writer takes a batch's bytes 512 KiB at a time) */
    CU_ASSERT(zkv_store_early_writes(s) >= 3);
    zkv__store_abandon(s);
    s = open_at("early-crash", ZKV_STORE_DEFAULT_INLINE_MAX, 0);
    log_seen c = {0};
    CU_ASSERT_EQUAL(zkv_store_read_log(s, "r1", 1, check_entry, &c, err, sizeof(err)), 0);
    CU_ASSERT(c.n > 0 && c.n < 28);
    CU_ASSERT_EQUAL(c.bad, 0);
    rs = zkv_store_range(s, "r1");
    CU_ASSERT(rs && rs->last_seq == (uint64_t)c.n);
    for (int k = 0; k < 28; k++)
        CU_ASSERT_EQUAL(check_kv(s, k, 0, 100000), k < c.n ? 1 : 0);
    zkv_store_close(s);
}

static void test_values_once(void)
{
    zkv_store *s = open_at("once", ZKV_STORE_DEFAULT_INLINE_MAX, 0);
    /* 50 values of 100 KB and 50 small ones */
    for (int k = 0; k < 100; k++)
        CU_ASSERT_EQUAL_FATAL(put_kv(s, "r1", k, 0, k < 50 ? 100000 : 100), 0);
    CU_ASSERT_EQUAL_FATAL(zkv_store_commit(s, err, sizeof(err)), 0);
    for (int k = 0; k < 100; k++)
        CU_ASSERT_EQUAL(check_kv(s, k, 0, k < 50 ? 100000 : 100), 1);
    zkv_store_close(s);
    /* on disk once: 5 MB in the value log, LevelDB holds pointers */
    uint64_t vlog = dir_bytes("once", "/vlog"), all = dir_bytes("once", "");
    CU_ASSERT(vlog >= 5000000 && vlog < 5100000);
    CU_ASSERT(all - vlog < 500000);
    /* after a reopen, without the row cache: from the files */
    s = open_at("once", ZKV_STORE_DEFAULT_INLINE_MAX, 0);
    /* the size estimate counts the value log's bytes, not only the pointers */
    uint64_t est = zkv_store_approx_size(s, NULL, 0, NULL, 0);
    CU_ASSERT(est > 4500000 && est < 6000000);
    CU_ASSERT_EQUAL(zkv_store_set_cache(s, 0, err, sizeof(err)), 0);
    for (int k = 0; k < 100; k++)
        CU_ASSERT_EQUAL(check_kv(s, k, 0, k < 50 ? 100000 : 100), 1);
    /* the log gives the values, from LevelDB and from the batch just committed */
    log_seen c = {0};
    CU_ASSERT_EQUAL(zkv_store_read_log(s, "r1", 1, check_entry, &c, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.n, 100);
    CU_ASSERT_EQUAL(c.bad, 0);
    CU_ASSERT_EQUAL(put_kv(s, "r1", 7, 0, 100000), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    c = (log_seen){0};
    CU_ASSERT_EQUAL(zkv_store_read_log(s, "r1", 101, check_entry, &c, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.n, 1);
    CU_ASSERT_EQUAL(c.bad, 0);
    uint64_t mem, db;
    zkv_store_log_read_counts(s, &mem, &db);
    CU_ASSERT_EQUAL(mem, 1);
    /* scans: values, or with scan_meta only their lengths */
    uint64_t total = 0;
    CU_ASSERT_EQUAL(zkv_store_scan(s, NULL, 0, NULL, 0, count_item, &total, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(total, 50 * 100000 + 50 * 100);
    total = 0;
    CU_ASSERT_EQUAL(zkv_store_scan_meta(s, NULL, 0, NULL, 0, count_item, &total, err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(total, 50 * 100000 + 50 * 100);
    /* a snapshot's items carry the values; a replica's store takes them and entries */
    zkv_store_snapshot *sn;
    CU_ASSERT_EQUAL_FATAL(zkv_store_snapshot_open(s, NULL, 0, NULL, 0, "r1", &sn, err, sizeof(err)),
                          0);
    zkv_store *rep = open_at("once-replica", 4096, 0);
    total = 0;
    int rc;
    while ((rc = zkv_store_snapshot_next(sn, count_item, &total, 1 << 20, err, sizeof(err))) == 1)
        ;
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(total, 50 * 100000 + 50 * 100);
    zkv_store_snapshot_close(sn);
    static uint8_t val[100000];
    make_value(val, 3, 0, sizeof val);
    zkv_value_view item = {.meta = {.epoch = 1, .seq = 4}, .value = val, .value_len = sizeof val};
    CU_ASSERT_EQUAL(
        zkv_store_put_item(rep, (const uint8_t *)"key00003", 8, &item, err, sizeof(err)), 0);
    zkv_store_entry e = {.seq = 1,
                         .epoch = 1,
                         .op = ZKV_LOG_OP_PUT,
                         .key = (const uint8_t *)"key00004",
                         .klen = 8,
                         .value = val,
                         .vlen = 5000};
    make_value(val, 4, 0, 5000);
    CU_ASSERT_EQUAL(zkv_store_apply(rep, "r1", &e, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(rep, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_store_set_cache(rep, 0, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(check_kv(rep, 3, 0, 100000), 1);
    CU_ASSERT_EQUAL(check_kv(rep, 4, 0, 5000), 1);
    zkv_vlog_stats st;
    zkv_store_vlog_stats(rep, &st);
    CU_ASSERT_EQUAL(st.files, 1);
    CU_ASSERT(st.appended > 105000);
    zkv_store_close(rep);
    zkv_store_close(s);
}

static int middle_of(zkv_store *s, char *out, size_t len)
{
    zkv_buf b;
    zkv_buf_init(&b);
    int rc = zkv_store_middle_key(s, NULL, 0, NULL, 0, &b, err, sizeof(err));
    snprintf(out, len, "%.*s", (int)b.len, b.len ? (const char *)b.data : "");
    zkv_buf_free(&b);
    return rc;
}

static void test_sizes(void)
{
    /* ten keys; key 7's value is 100 KB in the value log: the split goes at it, and the
     * range's bytes count it */
    zkv_store *s = open_at("sizes", ZKV_STORE_DEFAULT_INLINE_MAX, 0);
    for (int k = 0; k < 10; k++)
        CU_ASSERT_EQUAL_FATAL(put_kv(s, "r", k, 0, k == 7 ? 100000 : 10), 0);
    char mid[32];
    CU_ASSERT_EQUAL(middle_of(s, mid, sizeof mid), 1);
    CU_ASSERT_STRING_EQUAL(mid, "key00007");
    uint64_t b = zkv_store_range_bytes(s, NULL, 0, NULL, 0);
    CU_ASSERT(b >= 100000 && b < 110000);
    CU_ASSERT(zkv_store_approx_size(s, NULL, 0, NULL, 0) < 100000); /* all in the memtable */
    zkv_store_close(s);
}

/* A visit that counts keys and stops after `stop` of them (0: never). */
typedef struct seen_keys {
    int n, stop;
} seen_keys;

static int see_key(void *ctx, const uint8_t *key, size_t klen, const zkv_value_view *v)
{
    (void)key;
    (void)klen;
    (void)v;
    seen_keys *k = ctx;
    if (k->stop && k->n == k->stop)
        return 1;
    k->n++;
    return 0;
}

static void test_bytes_walk(void)
{
    /* the range's bytes and a caller's visit of the same keys in one walk (INFO's key count):
     * the bytes as zkv_store_range_bytes gives them, the visit seeing every key up to the
     * sample, and the walk's end told apart from a stop */
    zkv_store *s = open_at("walk", ZKV_STORE_DEFAULT_INLINE_MAX, 0);
    for (int k = 0; k < 10; k++)
        CU_ASSERT_EQUAL_FATAL(put_kv(s, "r", k, 0, k == 3 ? 50000 : 10), 0);
    seen_keys all = {0}, five = {.stop = 5};
    int walked = -9;
    uint64_t b = zkv_store_range_bytes_walk(s, NULL, 0, NULL, 0, see_key, &all, &walked);
    CU_ASSERT_EQUAL(b, zkv_store_range_bytes(s, NULL, 0, NULL, 0));
    CU_ASSERT(b >= 50000);
    CU_ASSERT_EQUAL(all.n, 10);
    CU_ASSERT_EQUAL(walked, 0);
    b = zkv_store_range_bytes_walk(s, NULL, 0, NULL, 0, see_key, &five, &walked);
    CU_ASSERT_EQUAL(five.n, 5);
    CU_ASSERT_EQUAL(walked, 1);
    CU_ASSERT(b >= 50000); /* key 3 was in the sample */
    /* more keys than the sample: the walk stops after it */
    for (int k = 10; k < (int)ZKV_STORE_SIZE_SAMPLE + 50; k++)
        CU_ASSERT_EQUAL_FATAL(put_kv(s, "r", k, 0, 10), 0);
    all.n = 0;
    b = zkv_store_range_bytes_walk(s, NULL, 0, NULL, 0, see_key, &all, &walked);
    CU_ASSERT_EQUAL(all.n, (int)ZKV_STORE_SIZE_SAMPLE + 1);
    CU_ASSERT_EQUAL(walked, 1);
    CU_ASSERT_EQUAL(b, zkv_store_range_bytes(s, NULL, 0, NULL, 0));
    zkv_store_close(s);
}

static void test_upgrade_and_damage(void)
{
    /* written by a store that keeps every value inline (as before the value log) */
    zkv_store *s = open_at("up", (size_t)1 << 30, 0);
    for (int k = 0; k < 20; k++)
        CU_ASSERT_EQUAL_FATAL(put_kv(s, "r", k, 0, 10000), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_store_close(s);
    s = open_at("up", ZKV_STORE_DEFAULT_INLINE_MAX, 0);
    zkv_vlog_stats st;
    zkv_store_vlog_stats(s, &st);
    CU_ASSERT_EQUAL(st.files, 0);
    CU_ASSERT_EQUAL(zkv_store_set_cache(s, 0, err, sizeof(err)), 0);
    for (int k = 0; k < 20; k++)
        CU_ASSERT_EQUAL(check_kv(s, k, 0, 10000), 1);
    for (int k = 10; k < 30; k++)
        CU_ASSERT_EQUAL(put_kv(s, "r", k, 1, 10000), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    for (int k = 0; k < 30; k++)
        CU_ASSERT_EQUAL(check_kv(s, k, k < 10 ? 0 : 1, 10000), 1);
    log_seen c = {0};
    CU_ASSERT_EQUAL(zkv_store_read_log(s, "r", 1, check_entry, &c, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.n, 40); /* inline and value-log entries alike (version 1 differs) */
    CU_ASSERT_EQUAL(c.bad, 20);
    zkv_store_close(s);
    /* a byte of a value-log record flipped: that GET fails, the others answer */
    char path[160];
    snprintf(path, sizeof(path), "%s/up/vlog/00000001.vlog", dir);
    FILE *f = fopen(path, "r+b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fseek(f, 5000, SEEK_SET), 0); /* inside key 10's record */
    CU_ASSERT_EQUAL(fputc(0xff, f), 0xff);
    fclose(f);
    s = open_at("up", ZKV_STORE_DEFAULT_INLINE_MAX, 0);
    CU_ASSERT_EQUAL(zkv_store_set_cache(s, 0, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(check_kv(s, 10, 1, 10000), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "damaged"));
    CU_ASSERT_EQUAL(check_kv(s, 11, 1, 10000), 1);
    CU_ASSERT_EQUAL(check_kv(s, 0, 0, 10000), 1);
    c = (log_seen){0};
    CU_ASSERT_EQUAL(zkv_store_read_log(s, "r", 1, check_entry, &c, err, sizeof(err)), -1);
    zkv_store_close(s);
}

/* Until the moved files are deleted (their barriers run on a thread; bounded: 10 s), or
 * at once while a snapshot is open. */
static void reap_wait(zkv_store *s, bool snapshot_open)
{
    for (int i = 0; i < 10000; i++) {
        zkv_vlog_stats st;
        CU_ASSERT_EQUAL_FATAL(zkv_store_vlog_gc(s, 0, 0, false, err, sizeof(err)), 0);
        zkv_store_vlog_stats(s, &st);
        if (st.gc_files_waiting == 0 || snapshot_open)
            return;
        usleep(1000);
    }
    CU_FAIL("moved files not deleted within 10 s");
}

/* Runs forced GC passes over every file until one neither moves nor deletes anything. */
static void gc_all(zkv_store *s, bool snapshot_open)
{
    for (int i = 0; i < 100; i++) {
        zkv_vlog_stats a, b;
        zkv_store_vlog_stats(s, &a);
        CU_ASSERT_EQUAL_FATAL(zkv_store_vlog_gc(s, 256 << 20, 0, true, err, sizeof(err)), 0);
        reap_wait(s, snapshot_open);
        zkv_store_vlog_stats(s, &b);
        if (a.gc_moved == b.gc_moved && a.gc_files_removed == b.gc_files_removed)
            return;
    }
    CU_FAIL("GC did not settle");
}

/* Log entries read back with their values (n), and those whose value is not as written. */
static int read_entry(void *ctx, uint64_t seq, const zkv_log_view *e)
{
    log_seen *c = ctx;
    static uint8_t want[8000];
    int k = atoi((const char *)e->key + 3);
    size_t n = e->value.value_len;
    make_value(want, k, seq > 200 ? 1 : 0, n < sizeof want ? n : sizeof want);
    if (n != 4000 || (e->value.meta.flags & ZKV_VALUE_INDIRECT) ||
        memcmp(e->value.value, want, n) != 0)
        c->bad++;
    c->n++;
    return 0;
}

/* GC steps as the server runs them (paid by appends; bonus: as when idle) until one
 * neither moves nor deletes anything. */
static void gc_paid(zkv_store *s)
{
    for (int i = 0; i < 200; i++) {
        zkv_vlog_stats a, b;
        zkv_store_vlog_stats(s, &a);
        CU_ASSERT_EQUAL_FATAL(zkv_store_vlog_gc(s, 1 << 20, 1 << 20, false, err, sizeof(err)), 0);
        reap_wait(s, false);
        zkv_store_vlog_stats(s, &b);
        if (a.gc_moved == b.gc_moved && a.gc_files_removed == b.gc_files_removed &&
            a.gc_read == b.gc_read)
            return;
    }
    CU_FAIL("GC did not settle");
}

/* The live estimate (the live-bytes metric) follows the counted deaths as they come, not as
 * of the GC's last pick. */
static void test_live_estimate_current(void)
{
    zkv_store *s = open_at("gle", ZKV_STORE_DEFAULT_INLINE_MAX, 64 << 10);
    CU_ASSERT_EQUAL(zkv_store_vlog_gc(s, 1 << 20, 0, false, err, sizeof(err)), 0); /* listed */
    for (int k = 0; k < 100; k++)
        CU_ASSERT_EQUAL_FATAL(put_kv(s, "r", k, 0, 4000), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_store_vlog_gc(s, 1 << 20, 0, false, err, sizeof(err)), 0); /* a pick */
    zkv_vlog_stats a, b;
    zkv_store_vlog_stats(s, &a);
    for (int k = 0; k < 100; k++) /* every value again, no GC call in between */
        CU_ASSERT_EQUAL_FATAL(put_kv(s, "r", k, 1, 4000), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_store_vlog_stats(s, &b);
    CU_ASSERT(b.bytes >= 2 * a.bytes - (64 << 10));
    /* 100 values live before and after: the old records of the closed files count dead */
    CU_ASSERT(b.live_estimate <= a.live_estimate + (a.live_estimate / 5));
    zkv_store_close(s);
}

/* A paced call stops after a 2 MiB scan once its time is up (the rest of its credit waits
 * for the next call); unpaced, the same call reads what it was paid for. */
static void test_gc_paced(void)
{
    zkv_store *s = open_at("gcp", ZKV_STORE_DEFAULT_INLINE_MAX, 1 << 20);
    for (int k = 0; k < 2000; k++) { /* 8 MB in 1 MiB files */
        CU_ASSERT_EQUAL_FATAL(put_kv(s, "r", k, 0, 4000), 0);
        if (k % 50 == 49)
            CU_ASSERT_EQUAL_FATAL(zkv_store_commit(s, err, sizeof(err)), 0);
    }
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    while (zkv_store_truncate_log(s, "r", 2000, err, sizeof(err)) > 0) /* nothing pinned */
        CU_ASSERT_EQUAL_FATAL(zkv_store_commit(s, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_store_close(s);
    s = open_at("gcp", ZKV_STORE_DEFAULT_INLINE_MAX, 1 << 20); /* files from before: measured */
    zkv_vlog_stats a, b, c;
    zkv_store_vlog_stats(s, &a);
    zkv_store_vlog_gc_pace(s, 1); /* a microsecond: every call yields after its first scan */
    CU_ASSERT_EQUAL(zkv_store_vlog_gc(s, 16 << 20, 8 << 20, false, err, sizeof(err)), 0);
    zkv_store_vlog_stats(s, &b);
    CU_ASSERT(b.gc_read > a.gc_read);
    CU_ASSERT(b.gc_read - a.gc_read <= (2 << 20) + 5000);
    zkv_store_vlog_gc_pace(s, 0); /* the same call unpaced reads what it was paid for */
    CU_ASSERT_EQUAL(zkv_store_vlog_gc(s, 16 << 20, 8 << 20, false, err, sizeof(err)), 0);
    zkv_store_vlog_stats(s, &c);
    CU_ASSERT(c.gc_read - b.gc_read > (4 << 20));
    zkv_store_close(s);
}

static void test_gc_counted(void)
{
    /* 64 KiB files of 4 KB values, the row cache on: 200 keys, then 150 of them again. The
     * overwrites kill records the cache knows the places of, so the first files are known
     * mostly dead without a read */
    zkv_store *s = open_at("gcc", ZKV_STORE_DEFAULT_INLINE_MAX, 64 << 10);
    CU_ASSERT_EQUAL(zkv_store_vlog_gc(s, 1 << 20, 0, false, err, sizeof(err)), 0); /* listed */
    for (int ver = 0; ver < 2; ver++)
        for (int k = 0; k < (ver ? 150 : 200); k++) {
            CU_ASSERT_EQUAL_FATAL(put_kv(s, "r", k, ver, 4000), 0);
            if (k % 10 == 9)
                CU_ASSERT_EQUAL_FATAL(zkv_store_commit(s, err, sizeof(err)), 0);
        }
    zkv_vlog_stats before, st;
    /* the range's log still holds every entry: a move stops at the first record it may
     * point at, and nothing goes */
    gc_paid(s);
    zkv_store_vlog_stats(s, &st);
    CU_ASSERT_EQUAL(st.gc_files_removed, 0);
    CU_ASSERT(st.gc_pinned_skips > 0);
    log_seen c = {0};
    CU_ASSERT_EQUAL(zkv_store_read_log(s, "r", 1, read_entry, &c, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.n, 350);
    CU_ASSERT_EQUAL(c.bad, 0);
    /* the log cut, and writes go on (a pinned file is read again once a file's worth was
     * appended): each known-dead file is read once, to move what lives, and deleted */
    while (zkv_store_truncate_log(s, "r", 350, err, sizeof(err)) > 0)
        CU_ASSERT_EQUAL_FATAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_store_vlog_stats(s, &before);
    for (int k = 200; k < 220; k++)
        CU_ASSERT_EQUAL_FATAL(put_kv(s, "r", k, 0, 4000), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    gc_paid(s);
    zkv_store_vlog_stats(s, &st);
    uint64_t removed = st.gc_files_removed - before.gc_files_removed;
    CU_ASSERT(removed >= 6);
    /* a measure of every file and a move of the dead ones would read 1.7 MB here: what is
     * read beyond the removed files is the measure of files no writes killed, due once
     * live_total * ln 2 was appended after them */
    CU_ASSERT(st.gc_read - before.gc_read <= removed * ((64 << 10) + 4100) * 3 / 2);
    CU_ASSERT(st.live_estimate <= st.bytes);
    CU_ASSERT_EQUAL(zkv_store_set_cache(s, 0, err, sizeof(err)), 0);
    for (int k = 0; k < 220; k++)
        CU_ASSERT_EQUAL(check_kv(s, k, k < 150 ? 1 : 0, 4000), 1);
    zkv_store_close(s);
}

static void test_gc(void)
{
    /* 64 KiB files of 4 KB values: 200 keys, then 150 of them written again */
    zkv_store *s = open_at("gc", ZKV_STORE_DEFAULT_INLINE_MAX, 64 << 10);
    for (int k = 0; k < 200; k++) {
        CU_ASSERT_EQUAL_FATAL(put_kv(s, "r", k, 0, 4000), 0);
        if (k % 10 == 9)
            CU_ASSERT_EQUAL_FATAL(zkv_store_commit(s, err, sizeof(err)), 0);
    }
    for (int k = 0; k < 150; k++) {
        CU_ASSERT_EQUAL_FATAL(put_kv(s, "r", k, 1, 4000), 0);
        if (k % 10 == 9)
            CU_ASSERT_EQUAL_FATAL(zkv_store_commit(s, err, sizeof(err)), 0);
    }
    zkv_vlog_stats before, st;
    zkv_store_vlog_stats(s, &before);
    CU_ASSERT(before.bytes > (uint64_t)350 * 4000);
    /* the range's log still holds every entry: nothing may go */
    gc_all(s, false);
    zkv_store_vlog_stats(s, &st);
    CU_ASSERT_EQUAL(st.gc_files_removed, 0);
    CU_ASSERT(st.gc_pinned_skips > 0);
    CU_ASSERT_EQUAL(st.files, before.files);
    /* the log truncated: the files of the first 200 writes are mostly dead */
    while (zkv_store_truncate_log(s, "r", 350, err, sizeof(err)) > 0)
        CU_ASSERT_EQUAL_FATAL(zkv_store_commit(s, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    /* an open snapshot keeps the files it may read */
    zkv_store_snapshot *sn;
    CU_ASSERT_EQUAL_FATAL(zkv_store_snapshot_open(s, NULL, 0, NULL, 0, "r", &sn, err, sizeof(err)),
                          0);
    gc_all(s, true);
    zkv_store_vlog_stats(s, &st);
    CU_ASSERT_EQUAL(st.gc_files_removed, 0);
    CU_ASSERT(st.gc_files_waiting >= 7);
    CU_ASSERT(st.gc_moved > 0);
    uint64_t total = 0;
    int rc;
    while ((rc = zkv_store_snapshot_next(sn, count_item, &total, 1 << 20, err, sizeof(err))) == 1)
        ;
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(total, (uint64_t)200 * 4000);
    zkv_store_snapshot_close(sn);
    reap_wait(s, false);
    zkv_store_vlog_stats(s, &st);
    /* 350 records of 4,031 bytes, 200 live: 8 files deleted, what is left is live */
    CU_ASSERT(st.gc_files_removed >= 7);
    CU_ASSERT(st.bytes < before.bytes * 6 / 10);
    CU_ASSERT(st.bytes >= (uint64_t)200 * 4000);
    CU_ASSERT_EQUAL(zkv_store_set_cache(s, 0, err, sizeof(err)), 0);
    for (int k = 0; k < 200; k++)
        CU_ASSERT_EQUAL(check_kv(s, k, k < 150 ? 1 : 0, 4000), 1);
    /* again, with the row cache on: keys 0..149 once more, so the files holding the moved
     * values of 150..199 die in part; the GC tells the moved values' new places from the
     * cache's tags (and moves them again), the rest from LevelDB */
    CU_ASSERT_EQUAL(zkv_store_set_cache(s, 64 << 20, err, sizeof(err)), 0);
    for (int k = 100; k < 200; k++)
        CU_ASSERT_EQUAL(check_kv(s, k, k < 150 ? 1 : 0, 4000), 1); /* cached by GETs */
    for (int k = 0; k < 150; k++) {
        CU_ASSERT_EQUAL_FATAL(put_kv(s, "r", k, 2, 4000), 0);
        if (k % 10 == 9)
            CU_ASSERT_EQUAL_FATAL(zkv_store_commit(s, err, sizeof(err)), 0);
    }
    while (zkv_store_truncate_log(s, "r", 500, err, sizeof(err)) > 0)
        CU_ASSERT_EQUAL_FATAL(zkv_store_commit(s, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    uint64_t moved = st.gc_moved;
    gc_all(s, false);
    gc_all(s, false);
    zkv_store_vlog_stats(s, &st);
    CU_ASSERT(st.gc_moved > moved);
    CU_ASSERT(st.bytes < (uint64_t)250 * 4100);
    CU_ASSERT_EQUAL(zkv_store_set_cache(s, 0, err, sizeof(err)), 0);
    for (int k = 0; k < 200; k++)
        CU_ASSERT_EQUAL(check_kv(s, k, k < 150 ? 2 : 0, 4000), 1);
    /* deletes make the rest garbage too; nothing lost across a reopen */
    for (int k = 150; k < 200; k++) {
        char key[16];
        key_of(key, sizeof key, k);
        CU_ASSERT_EQUAL(
            zkv_store_delete(s, "r", 1, (const uint8_t *)key, strlen(key), NULL, err, sizeof(err)),
            0);
    }
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_store_close(s);
    s = open_at("gc", ZKV_STORE_DEFAULT_INLINE_MAX, 64 << 10);
    CU_ASSERT_EQUAL(zkv_store_set_cache(s, 0, err, sizeof(err)), 0);
    for (int k = 0; k < 200; k++)
        CU_ASSERT_EQUAL(check_kv(s, k, 2, 4000), k < 150 ? 1 : 0);
    /* without writes, GC runs on its bonus alone */
    uint64_t files = st.files;
    for (int i = 0; i < 50; i++)
        CU_ASSERT_EQUAL(zkv_store_vlog_gc(s, 64 << 10, 64 << 10, false, err, sizeof(err)), 0);
    reap_wait(s, false);
    zkv_store_vlog_stats(s, &st);
    CU_ASSERT(st.gc_read > 0);
    CU_ASSERT(st.files <= files);
    for (int k = 0; k < 200; k++)
        CU_ASSERT_EQUAL(check_kv(s, k, 2, 4000), k < 150 ? 1 : 0);
    zkv_store_close(s);
}

/* What a power failure leaves when the kernel wrote LevelDB's records but not the value
 * log's: every value-log byte at or beyond the durability mark becomes zeros. */
static void lose_after_mark(const char *sub)
{
    zkv_store *s = open_at(sub, ZKV_STORE_DEFAULT_INLINE_MAX, 64 << 10);
    zkv_vptr mark;
    CU_ASSERT_EQUAL_FATAL(zkv__store_vlog_mark_read(s, &mark, err, sizeof(err)), 0);
    CU_ASSERT_TRUE(mark.file > 0);
    zkv__store_abandon(s); /* a clean close would mark everything durable */
    for (uint32_t n = mark.file; n < mark.file + 100; n++) {
        char path[160];
        snprintf(path, sizeof(path), "%s/%s/vlog/%08u.vlog", dir, sub, n);
        FILE *f = fopen(path, "r+b");
        if (!f)
            continue;
        long from = n == mark.file ? (long)mark.off : 0;
        CU_ASSERT_EQUAL_FATAL(fseek(f, 0, SEEK_END), 0);
        long end = ftell(f);
        CU_ASSERT_EQUAL_FATAL(fseek(f, from, SEEK_SET), 0);
        for (long i = from; i < end; i++)
            fputc(0, f);
        fclose(f);
    }
}

static void put_item_kv(zkv_store *s, int k, size_t n)
{
    static uint8_t val[200000];
    char key[16];
    key_of(key, sizeof key, k);
    zkv_value_view v = {.meta = {.epoch = 1, .seq = 5}, .value = val, .value_len = n};
    make_value(val, k, 0, n);
    CU_ASSERT_EQUAL_FATAL(
        zkv_store_put_item(s, (const uint8_t *)key, strlen(key), &v, err, sizeof(err)), 0);
}

/* (The node forgets what the check names where another copy can rebuild it: rejoin.c.) */
static void test_recover(void)
{
    /* r1 written and marked durable (a clean close records the mark) */
    zkv_store *s = open_at("rec", ZKV_STORE_DEFAULT_INLINE_MAX, 64 << 10);
    for (int k = 0; k < 20; k++)
        CU_ASSERT_EQUAL_FATAL(put_kv(s, "r1", k, 0, 20000), 0);
    CU_ASSERT_EQUAL_FATAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv_store_close(s);
    /* then r2's large values and r3's small ones, and the machine stops */
    s = open_at("rec", ZKV_STORE_DEFAULT_INLINE_MAX, 64 << 10);
    zkv_vlog_recovery rep;
    CU_ASSERT_EQUAL(zkv_store_vlog_recover(s, &rep, err, sizeof(err)), 0);
    CU_ASSERT_TRUE(rep.clean); /* nothing beyond the mark: nothing read */
    CU_ASSERT_EQUAL(rep.n_ranges, 0);
    for (int k = 20; k < 30; k++)
        CU_ASSERT_EQUAL_FATAL(put_kv(s, "r2", k, 0, 20000), 0);
    for (int k = 30; k < 35; k++)
        CU_ASSERT_EQUAL_FATAL(put_kv(s, "r3", k, 0, 100), 0);
    CU_ASSERT_EQUAL_FATAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv__store_abandon(s);
    /* the files survived: every pointer beyond the mark reads back, nothing is forgotten */
    s = open_at("rec", ZKV_STORE_DEFAULT_INLINE_MAX, 64 << 10);
    CU_ASSERT_EQUAL(zkv_store_vlog_recover(s, &rep, err, sizeof(err)), 0);
    CU_ASSERT_FALSE(rep.clean);
    CU_ASSERT_EQUAL(rep.checked, 20); /* r2's 10 data records and 10 log entries */
    CU_ASSERT_EQUAL(rep.lost_data + rep.lost_log + rep.n_ranges, 0);
    zkv_vlog_recovery_free(&rep);
    zkv__store_abandon(s);
    /* they did not: r2 is forgotten (rebuilt from the other copies), r1 and r3 stay */
    lose_after_mark("rec");
    s = open_at("rec", ZKV_STORE_DEFAULT_INLINE_MAX, 64 << 10);
    CU_ASSERT_PTR_NOT_NULL(zkv_store_range(s, "r2"));
    CU_ASSERT_EQUAL(zkv_store_vlog_recover(s, &rep, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(rep.lost_data, 10);
    CU_ASSERT_EQUAL(rep.lost_log, 10);
    CU_ASSERT_FALSE(rep.all);
    CU_ASSERT_EQUAL_FATAL(rep.n_ranges, 1);
    CU_ASSERT_STRING_EQUAL(rep.ranges[0], "r2");
    zkv_vlog_recovery_free(&rep);
    zkv__store_recover_batch(3); /* read back three pointers at a time: the same answer */
    CU_ASSERT_EQUAL(zkv_store_vlog_recover(s, &rep, err, sizeof(err)), 0);
    zkv__store_recover_batch(0);
    CU_ASSERT_EQUAL(rep.checked, 20);
    CU_ASSERT_EQUAL(rep.lost_data, 10);
    CU_ASSERT_EQUAL(rep.lost_log, 10);
    CU_ASSERT_EQUAL_FATAL(rep.n_ranges, 1);
    CU_ASSERT_STRING_EQUAL(rep.ranges[0], "r2");
    zkv_vlog_recovery_free(&rep);
    CU_ASSERT_EQUAL(zkv_store_range_forget(s, "r2", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_store_range_ids(s, NULL, 0), 2);    /* r1 and r3 */
    CU_ASSERT_EQUAL(zkv_store_range(s, "r2")->last_seq, 0); /* reads as never written */
    CU_ASSERT_EQUAL(zkv_store_range(s, "r1")->last_seq, 20);
    CU_ASSERT_EQUAL(zkv_store_range(s, "r3")->last_seq, 5);
    CU_ASSERT_EQUAL(zkv_store_set_cache(s, 0, err, sizeof(err)), 0);
    for (int k = 0; k < 35; k++)
        CU_ASSERT_EQUAL(check_kv(s, k, 0, k < 30 ? 20000 : 100), k < 20 || k >= 30 ? 1 : -1);
    zkv_store_close(s);
    /* a lost value no log entry points at (a snapshot item; a GC move is alike): which range
     * holds the key is not known here, so every range is forgotten */
    s = open_at("rec", ZKV_STORE_DEFAULT_INLINE_MAX, 64 << 10);
    for (int k = 40; k < 45; k++)
        put_item_kv(s, k, 20000);
    CU_ASSERT_EQUAL_FATAL(zkv_store_commit(s, err, sizeof(err)), 0);
    zkv__store_abandon(s);
    lose_after_mark("rec");
    s = open_at("rec", ZKV_STORE_DEFAULT_INLINE_MAX, 64 << 10);
    CU_ASSERT_EQUAL(zkv_store_vlog_recover(s, &rep, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(rep.lost_data, 5);
    CU_ASSERT_EQUAL(rep.lost_log, 0);
    CU_ASSERT_TRUE(rep.all);
    CU_ASSERT_EQUAL(rep.n_ranges, 2); /* r1 and r3 */
    zkv_vlog_recovery_free(&rep);
    zkv_store_close(s);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("server_store_vlog", setup, teardown);
    CU_add_test(s, "large values stored once, read by every path", test_values_once);
    CU_add_test(s, "records written ahead of the commit, and a crash before it", test_early_writes);
    CU_add_test(s, "inline data dirs upgrade in place; damage is an error",
                test_upgrade_and_damage);
    CU_add_test(s, "range bytes and split keys weigh value-log values", test_sizes);
    CU_add_test(s, "range bytes and a visit of its keys in one walk", test_bytes_walk);
    CU_add_test(s, "GC: moves live values, keeps pinned files, loses nothing", test_gc);
    CU_add_test(s, "GC: the live estimate follows the counted deaths", test_live_estimate_current);
    CU_add_test(s, "GC: a paced call yields after a scan", test_gc_paced);
    CU_add_test(s, "GC: a file the writes are known to have killed is read once", test_gc_counted);
    CU_add_test(s, "after a machine restart: lost values name their ranges", test_recover);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
