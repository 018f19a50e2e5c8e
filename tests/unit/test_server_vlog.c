/* test_server_vlog.c: the value log's pieces. CRC-32C (the standard check value, the
 * instruction and the table agree, continuation); server/vlog.c against real files in a
 * mkdtemp directory (appends read back before and after the flush, the key and CRC checks,
 * a damaged byte, a torn tail ends a scan, values written from where they are (batches of
 * owned and referred pieces, their owners released after the next flush), batches handed to
 * the writer thread in parts, files roll over at their size, a reopen removes empty files
 * and never appends to an old one, removal); and the GC's decisions (vlog_plan.c: the
 * oldest due file, the rewrite rule, credit). */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "vlog.h"
#include "vlog_batch.h"
#include "vlog_plan.h"
#include "vlog_recover_plan.h"
#include "vlog_writer.h"

static char dir[64];
static char err[256];

static int setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/zkv-test-vlog-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_crc32c(void)
{
    CU_ASSERT_EQUAL(zkv_crc32c(0, "123456789", 9), 0xe3069283u);
    CU_ASSERT_EQUAL(zkv__crc32c_sw(0, "123456789", 9), 0xe3069283u);
    uint8_t b[1031];
    for (size_t i = 0; i < sizeof b; i++)
        b[i] = (uint8_t)(i * 131 + 7);
    for (size_t n = 0; n < sizeof b; n += 97) {
        CU_ASSERT_EQUAL(zkv_crc32c(0, b, n), zkv__crc32c_sw(0, b, n));
        CU_ASSERT_EQUAL(zkv_crc32c(zkv_crc32c(0, b, n), b + n, sizeof b - n),
                        zkv_crc32c(0, b, sizeof b));
    }
}

/* Lengths about the three-block steps (3 x 256 and 3 x 8192 bytes), at every alignment. */
static void test_crc32c_blocks(void)
{
    static uint8_t b[100007];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof b; i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (uint8_t)(x >> 16);
    }
    const size_t lens[] = {767,   768,   769,   775,   776,   1536,  2311,  24575,
                           24576, 24577, 24583, 25344, 49152, 50000, 100000};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        for (size_t a = 0; a < 8; a++)
            CU_ASSERT_EQUAL(zkv_crc32c(7, b + a, lens[i]), zkv__crc32c_sw(7, b + a, lens[i]));
}

static zkv_vlog *open_log(const char *sub, uint64_t file_bytes)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    zkv_vlog *v = NULL;
    CU_ASSERT_EQUAL_FATAL(zkv_vlog_open(path, file_bytes, &v, err, sizeof(err)), 0);
    return v;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((size_t)seed * 17 + i * 7);
}

/* Appends one record (range, seq, key; vlen bytes filled from seed) and flushes it: 0, or
 * -1. *at (unless NULL) gets where it is. */
static int append_flushed(zkv_vlog *v, const char *range, uint64_t seq, const char *key,
                          size_t vlen, unsigned seed, zkv_vptr *at)
{
    static uint8_t val[4000];
    zkv_vptr p;
    fill(val, vlen, seed);
    if (zkv_vlog_append(v, range, seq, (const uint8_t *)key, strlen(key), val, vlen, at ? at : &p,
                        err, sizeof(err)) != 0)
        return -1;
    return zkv_vlog_flush(v, false, err, sizeof(err));
}

typedef struct seen {
    int n;
    uint64_t seqs[64];
    zkv_vptr at[64];
    char ids[64][8];
} seen;

static int note(void *ctx, const zkv_vlog_rec *r)
{
    seen *s = ctx;
    s->seqs[s->n] = r->seq;
    s->at[s->n] = r->at;
    snprintf(s->ids[s->n], sizeof s->ids[0], "%s", r->range_id);
    s->n++;
    return 0;
}

static void test_append_read(void)
{
    zkv_vlog *v = open_log("a", 0);
    uint8_t val[3000], key[4] = {'k', 0, 1, 2};
    zkv_vptr p[3];
    for (int i = 0; i < 3; i++) {
        fill(val, sizeof val, (unsigned)i);
        CU_ASSERT_EQUAL(zkv_vlog_append(v, "r1", 10u + (unsigned)i, key, sizeof key, val,
                                        sizeof val - (size_t)i * 1000, &p[i], err, sizeof(err)),
                        0);
    }
    CU_ASSERT_EQUAL(p[0].file, 1);
    CU_ASSERT_EQUAL(p[0].off, 0);
    CU_ASSERT_EQUAL(p[1].off, p[0].rec_len);
    CU_ASSERT_EQUAL(p[0].vlen, 3000);
    CU_ASSERT_EQUAL(p[2].vlen, 1000);
    zkv_buf out;
    zkv_buf_init(&out);
    /* before the flush: from the buffer */
    const uint8_t *got = zkv_vlog_read(v, &p[1], key, sizeof key, 0, &out, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    if (!got)
        return;
    fill(val, sizeof val, 1);
    CU_ASSERT_EQUAL(memcmp(got, val, 2000), 0);
    CU_ASSERT_EQUAL(zkv_vlog_flush(v, true, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_vlog_buffered(v), 0);
    for (int i = 0; i < 3; i++) {
        fill(val, sizeof val, (unsigned)i);
        got = zkv_vlog_read(v, &p[i], key, sizeof key, 10u + (unsigned)i, &out, err, sizeof(err));
        CU_ASSERT_PTR_NOT_NULL_FATAL(got);
        if (!got)
            return;
        CU_ASSERT_EQUAL(memcmp(got, val, p[i].vlen), 0);
    }
    /* another seq (an older write's record where a reused file had it), another key, a
     * pointer past the end, a wrong length: refused */
    CU_ASSERT_PTR_NULL(zkv_vlog_read(v, &p[0], key, sizeof key, 11, &out, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "damaged"));
    CU_ASSERT_PTR_NULL(zkv_vlog_read(v, &p[0], (const uint8_t *)"x", 1, 0, &out, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "damaged"));
    zkv_vptr bad = p[2];
    bad.off += 10;
    CU_ASSERT_PTR_NULL(zkv_vlog_read(v, &bad, NULL, 0, 0, &out, err, sizeof(err)));
    bad = p[1];
    bad.vlen--;
    CU_ASSERT_PTR_NULL(zkv_vlog_read(v, &bad, NULL, 0, 0, &out, err, sizeof(err)));
    bad = p[1];
    bad.file = 99;
    CU_ASSERT_PTR_NULL(zkv_vlog_read(v, &bad, NULL, 0, 0, &out, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "missing"));
    /* a flipped byte in the value: the CRC says so */
    char path[128];
    snprintf(path, sizeof(path), "%s/a/00000001.vlog", dir);
    int fd = open(path, O_RDWR);
    CU_ASSERT_FATAL(fd >= 0);
    uint8_t byte;
    CU_ASSERT_EQUAL(pread(fd, &byte, 1, (off_t)(p[1].off + p[1].rec_len - 5)), 1);
    byte ^= 0x40;
    CU_ASSERT_EQUAL(pwrite(fd, &byte, 1, (off_t)(p[1].off + p[1].rec_len - 5)), 1);
    close(fd);
    /* (what the last flush wrote is read from memory: flush something else first) */
    zkv_vptr other;
    CU_ASSERT_EQUAL(
        zkv_vlog_append(v, "r1", 20, key, sizeof key, val, 100, &other, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_vlog_flush(v, false, err, sizeof(err)), 0);
    CU_ASSERT_PTR_NULL(zkv_vlog_read(v, &p[1], key, sizeof key, 0, &out, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "damaged"));
    CU_ASSERT_PTR_NOT_NULL(zkv_vlog_read(v, &p[2], key, sizeof key, 0, &out, err, sizeof(err)));
    zkv_buf_free(&out);
    zkv_vlog_close(v);
}

static void test_scan_rollover_reopen(void)
{
    zkv_vlog *v = open_log("b", 10000);
    uint8_t val[4000];
    zkv_vptr p;
    for (int i = 0; i < 7; i++)
        CU_ASSERT_EQUAL(append_flushed(v, i % 2 ? "odd" : "even", (uint64_t)i + 1, "key", 4000,
                                       (unsigned)i, NULL),
                        0);
    /* 4 KB records in 10,000-byte files: 3 a file, so files 1, 2 and the active 3 */
    uint32_t nums[8];
    uint64_t sizes[8];
    CU_ASSERT_EQUAL(zkv_vlog_files(v, nums, sizes, 8), 3);
    CU_ASSERT_EQUAL(nums[0], 1);
    CU_ASSERT_EQUAL(nums[2], 3);
    CU_ASSERT_EQUAL(zkv_vlog_active(v), 3);
    seen s = {0};
    uint64_t off = 0;
    bool damaged;
    /* about one record a call */
    CU_ASSERT_EQUAL(zkv_vlog_scan(v, 1, &off, 100, true, note, &s, &damaged, err, sizeof(err)), 1);
    CU_ASSERT_EQUAL(s.n, 1);
    while (zkv_vlog_scan(v, 1, &off, 100, true, note, &s, &damaged, err, sizeof(err)) == 1)
        ;
    CU_ASSERT_EQUAL(s.n, 3);
    CU_ASSERT_FALSE(damaged);
    CU_ASSERT_EQUAL(s.seqs[2], 3);
    CU_ASSERT_STRING_EQUAL(s.ids[1], "odd");
    CU_ASSERT_EQUAL(off, sizes[0]);
    /* the active file is not scanned; nor removed */
    off = 0;
    CU_ASSERT_EQUAL(zkv_vlog_scan(v, 3, &off, 100, true, note, &s, &damaged, err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(zkv_vlog_remove(v, 3, err, sizeof(err)), -1);
    zkv_vlog_close(v);
    /* a torn tail: file 2 cut inside its last record */
    char path[128];
    snprintf(path, sizeof(path), "%s/b/00000002.vlog", dir);
    CU_ASSERT_EQUAL(truncate(path, (off_t)(sizes[1] - 100)), 0);
    snprintf(path, sizeof(path), "%s/b/00000009.vlog", dir);
    FILE *f = fopen(path, "w"); /* an empty file, as a crash leaves one */
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
    v = open_log("b", 10000);
    CU_ASSERT_EQUAL(zkv_vlog_files(v, nums, sizes, 8), 3);
    CU_ASSERT_EQUAL(access(path, F_OK), -1);
    CU_ASSERT_EQUAL(zkv_vlog_active(v), 0);
    s.n = 0;
    off = 0;
    CU_ASSERT_EQUAL(zkv_vlog_scan(v, 2, &off, 1 << 20, true, note, &s, &damaged, err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(s.n, 2);
    CU_ASSERT_TRUE(damaged);
    /* appends go to a new file, numbered after every file seen (9 included) */
    CU_ASSERT_EQUAL(
        zkv_vlog_append(v, "r", 1, (const uint8_t *)"k", 1, val, 10, &p, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(p.file, 10);
    CU_ASSERT_EQUAL(zkv_vlog_flush(v, false, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_vlog_remove(v, 1, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_vlog_files(v, nums, sizes, 8), 3);
    CU_ASSERT_EQUAL(nums[0], 2);
    uint64_t nf, nb;
    zkv_vlog_totals(v, &nf, &nb);
    CU_ASSERT_EQUAL(nf, 3);
    CU_ASSERT_EQUAL(nb, sizes[0] + sizes[1] + sizes[2]);
    zkv_vlog_close(v);
}

/* A GC move as a scan sees it: each record visited is appended anew (and flushed), so the
 * scan's callback adds files, and the log's file table grows under it. */
typedef struct copier {
    zkv_vlog *v;
    int n;
} copier;

static int copy_rec(void *ctx, const zkv_vlog_rec *r)
{
    copier *c = ctx;
    zkv_vptr p;
    if (zkv_vlog_append(c->v, r->range_id, r->seq, r->key, r->klen, r->value, r->at.vlen, &p, err,
                        sizeof(err)) != 0 ||
        zkv_vlog_flush(c->v, false, err, sizeof(err)) != 0)
        return -1;
    c->n++;
    return 0;
}

static void test_scan_while_appending(void)
{
    /* 14 closed files of three 4 KB records, then a scan of the first that appends a file's
     * worth at every record: 16 files and more, past the table's first size (16) */
    zkv_vlog *v = open_log("grow", 10000);
    for (int i = 0; i < 45; i++)
        CU_ASSERT_EQUAL_FATAL(
            append_flushed(v, "r", (uint64_t)i + 1, "key", 4000, (unsigned)i, NULL), 0);
    uint64_t files, bytes;
    zkv_vlog_totals(v, &files, &bytes);
    CU_ASSERT_EQUAL(files, 15);
    copier c = {.v = v};
    uint64_t off = 0;
    bool damaged;
    CU_ASSERT_EQUAL(
        zkv_vlog_scan(v, 1, &off, 1 << 20, true, copy_rec, &c, &damaged, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.n, 3);
    CU_ASSERT_FALSE(damaged);
    /* and once more over a file while each record adds three files */
    for (int k = 0; k < 3; k++) {
        off = 0;
        c.n = 0;
        CU_ASSERT_EQUAL(zkv_vlog_scan(v, (uint32_t)(2 + k), &off, 1 << 20, true, copy_rec, &c,
                                      &damaged, err, sizeof(err)),
                        0);
        CU_ASSERT_EQUAL(c.n, 3);
    }
    zkv_vlog_totals(v, &files, &bytes);
    CU_ASSERT(files > 16);
    zkv_vlog_close(v);
}

static ino_t inode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_ino : 0;
}

static void test_spares(void)
{
    /* a removed file is kept as a spare and becomes the next new file, written over */
    zkv_vlog *v = open_log("c", 10000);
    uint8_t val[4000];
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(append_flushed(v, "r", (uint64_t)i + 1, "old", 4000, (unsigned)i, NULL), 0);
    char path[128], spare[128];
    snprintf(path, sizeof(path), "%s/c/00000001.vlog", dir);
    snprintf(spare, sizeof(spare), "%s/c/spare-0.vlog", dir);
    ino_t ino = inode_of(path);
    CU_ASSERT(ino != 0);
    CU_ASSERT_EQUAL(zkv_vlog_remove(v, 1, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(access(path, F_OK), -1);
    CU_ASSERT_EQUAL(inode_of(spare), ino);
    /* file 2 is active (one record); fill it, then file 3 is the spare, written over */
    zkv_vptr q[8];
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(
            append_flushed(v, "r", (uint64_t)i + 10, "new", 1000, (unsigned)i + 10, &q[i]), 0);
    CU_ASSERT_EQUAL(q[5].file, 2);
    CU_ASSERT_EQUAL(q[7].file, 3);
    snprintf(path, sizeof(path), "%s/c/00000003.vlog", dir);
    CU_ASSERT_EQUAL(inode_of(path), ino);
    CU_ASSERT_EQUAL(access(spare, F_OK), -1);
    zkv_buf out;
    zkv_buf_init(&out);
    fill(val, sizeof val, 17);
    const uint8_t *got =
        zkv_vlog_read(v, &q[7], (const uint8_t *)"new", 3, 0, &out, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_EQUAL(memcmp(got, val, 1000), 0);
    zkv_buf_free(&out);
    CU_ASSERT_EQUAL(zkv_vlog_remove(v, 2, err, sizeof(err)), 0);
    /* the reused file holds old records past the new ones: a trim (a clean close) cuts
     * them, so its size says what was written */
    struct stat stb;
    uint32_t endf;
    uint64_t endo;
    CU_ASSERT_TRUE_FATAL(zkv_vlog_end(v, &endf, &endo));
    CU_ASSERT_EQUAL(endf, 3);
    CU_ASSERT_EQUAL(stat(path, &stb), 0);
    CU_ASSERT((uint64_t)stb.st_size > endo);
    CU_ASSERT_EQUAL(zkv_vlog_trim(v), 0);
    CU_ASSERT_EQUAL(stat(path, &stb), 0);
    CU_ASSERT_EQUAL((uint64_t)stb.st_size, endo);
    zkv_vlog_close(v);
    /* a reopen drops the spares */
    v = open_log("c", 10000);
    snprintf(spare, sizeof(spare), "%s/c/spare-0.vlog", dir);
    CU_ASSERT_EQUAL(access(spare, F_OK), -1);
    uint32_t nums[4];
    uint64_t sizes[4];
    CU_ASSERT_EQUAL(zkv_vlog_files(v, nums, sizes, 4), 1);
    CU_ASSERT_EQUAL(nums[0], 3);
    zkv_vlog_close(v);
}

typedef struct closed_fds {
    int fds[8];
    int n;
} closed_fds;

static void take_fd(void *ctx, int fd)
{
    closed_fds *c = ctx;
    if (c->n < 8)
        c->fds[c->n++] = fd;
    else
        close(fd);
}

/* A file unlinked (no spare slot left) goes to the closer still open, so that the close
 * that frees its blocks is not the loop's; a file kept as a spare does not. */
static void test_closer(void)
{
    zkv_vlog *v = open_log("cl", 4000);
    closed_fds c = {.n = 0};
    zkv_vlog_set_closer(v, take_fd, &c);
    for (int i = 0; i < 7; i++) /* a 4000-byte record fills a file: files 1-7, all closed */
        CU_ASSERT_EQUAL(append_flushed(v, "r", (uint64_t)i + 1, "k", 4000, (unsigned)i, NULL), 0);
    zkv__vlog_set_max_open(v, 1); /* most descriptors closed: the closer's is opened anew */
    for (uint32_t f = 1; f <= 4; f++)
        CU_ASSERT_EQUAL(zkv_vlog_remove(v, f, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.n, 0); /* four spares */
    char path[128];
    snprintf(path, sizeof(path), "%s/cl/00000005.vlog", dir);
    CU_ASSERT_EQUAL(zkv_vlog_remove(v, 5, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(access(path, F_OK), -1);
    CU_ASSERT_EQUAL_FATAL(c.n, 1);
    struct stat st;
    CU_ASSERT_EQUAL(fstat(c.fds[0], &st), 0);
    CU_ASSERT_EQUAL(st.st_nlink, 0);                  /* unlinked, still open */
    CU_ASSERT(st.st_size >= 4000 + ZKV_VLOG_REC_HDR); /* its blocks not yet freed */
    close(c.fds[0]);
    zkv_vlog_set_closer(v, NULL, NULL); /* without one the descriptor is closed in place */
    CU_ASSERT_EQUAL(zkv_vlog_remove(v, 6, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.n, 1);
    snprintf(path, sizeof(path), "%s/cl/00000006.vlog", dir);
    CU_ASSERT_EQUAL(access(path, F_OK), -1);
    zkv_vlog_close(v);
}

/* Owners of referred pieces: how often each was released. */
static int released[2048];

static void release_owner(void *owner)
{
    released[(int *)owner - released]++;
}

/* A batch of 1,500 pieces (more than one pwritev takes), owned and referred in turn: every
 * byte range reads back as the flat run, the file gets the run, each owner is released
 * once. */
static void test_vbatch(void)
{
    enum { PIECES = 1500 };
    static uint8_t flat[PIECES * 40], refd[PIECES * 40];
    zkv_vbatch b = {0};
    size_t len = 0;
    const uint8_t *first = NULL;
    memset(released, 0, sizeof(released));
    for (int i = 0; i < PIECES; i++) {
        size_t n = 1 + (size_t)(i * 13) % 39;
        fill(flat + len, n, (unsigned)i);
        if (i % 2) {
            memcpy(refd + len, flat + len, n);
            CU_ASSERT_EQUAL(zkv_vbatch_refer(&b, refd + len, n, &released[i]), 0);
        } else {
            uint8_t *at = zkv_vbatch_reserve(&b, n);
            CU_ASSERT_PTR_NOT_NULL_FATAL(at);
            if (!at)
                return; /* (the FATAL above has ended the test: for the analyzer) */
            memcpy(at, flat + len, n);
            if (i == 0)
                first = at;
        }
        len += n;
    }
    CU_ASSERT_EQUAL_FATAL(b.len, len);
    /* piece 0: 1 owned byte; piece 1: 14 referred bytes from refd + 1 */
    CU_ASSERT_PTR_EQUAL(zkv_vbatch_span(&b, 1, 14), refd + 1);
    CU_ASSERT_PTR_EQUAL(zkv_vbatch_span(&b, 3, 5), refd + 3);
    CU_ASSERT_PTR_EQUAL(zkv_vbatch_span(&b, 0, 1), first);
    CU_ASSERT_PTR_NULL(zkv_vbatch_span(&b, 0, 2));       /* across two pieces */
    CU_ASSERT_PTR_NULL(zkv_vbatch_span(&b, len - 1, 2)); /* past the end */
    static uint8_t got[sizeof flat];
    size_t from[] = {0, 1, 17, 500, len / 2, len - 40}, n[] = {len, 40, 1, 3000, 99, 40};
    for (size_t k = 0; k < sizeof from / sizeof from[0]; k++) {
        memset(got, 0, n[k]);
        zkv_vbatch_copy(&b, from[k], n[k], got);
        CU_ASSERT_EQUAL(memcmp(got, flat + from[k], n[k]), 0);
    }
    char path[128];
    snprintf(path, sizeof(path), "%s/batch", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    size_t done = 0;
    CU_ASSERT_EQUAL(zkv_vbatch_write(&b, 0, fd, 5, &done), 0);
    CU_ASSERT_EQUAL(done, len);
    memset(got, 0, len);
    CU_ASSERT_EQUAL(pread(fd, got, len, 5), (ssize_t)len);
    CU_ASSERT_EQUAL(memcmp(got, flat, len), 0);
    close(fd);
    CU_ASSERT_EQUAL(released[1], 0);
    zkv_vbatch_clear(&b, release_owner);
    CU_ASSERT_EQUAL(b.len, 0);
    for (int i = 0; i < PIECES; i++)
        CU_ASSERT_EQUAL(released[i], i % 2);
    CU_ASSERT_PTR_NOT_NULL(zkv_vbatch_reserve(&b, 3)); /* reusable after a clear */
    CU_ASSERT_EQUAL(b.len, 3);
    /* owned bytes stay where they were written while the batch grows past its chunks */
    uint8_t *a = zkv_vbatch_reserve(&b, 100), *big = zkv_vbatch_reserve(&b, 600000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(a, 0xab, 100);
    for (int i = 0; i < 3000; i++)
        CU_ASSERT_PTR_NOT_NULL(zkv_vbatch_reserve(&b, 100));
    CU_ASSERT_PTR_EQUAL(zkv_vbatch_span(&b, 3, 100), a);
    CU_ASSERT_PTR_EQUAL(zkv_vbatch_span(&b, 103, 600000), big);
    CU_ASSERT_EQUAL(a[99], 0xab);
    CU_ASSERT_EQUAL(b.len, 3 + 100 + 600000 + 300000);
    zkv_vbatch_free(&b, release_owner);
}

/* Whether value-log file num is byte for byte the same under dir/a and dir/b (up to 200,000
 * bytes of each); *len gets the length of a's. */
static bool same_file(const char *a, const char *b, uint32_t num, ssize_t *len)
{
    static uint8_t da[200000], db[200000];
    char pa[128], pb[128];
    snprintf(pa, sizeof(pa), "%s/%s/%08u.vlog", dir, a, num);
    snprintf(pb, sizeof(pb), "%s/%s/%08u.vlog", dir, b, num);
    int xa = open(pa, O_RDONLY), xb = open(pb, O_RDONLY);
    ssize_t ra = read(xa, da, sizeof(da)), rb = read(xb, db, sizeof(db));
    close(xa);
    close(xb);
    *len = ra;
    return ra == rb && ra >= 0 && memcmp(da, db, (size_t)ra) == 0;
}

/* Records appended by reference give the same file as the same records copied (the CRC
 * over head and value alike), read back before and after their flush, and each owner is
 * let go after the flush that follows the one that wrote it, or at close. */
static void test_append_ref(void)
{
    zkv_vlog *c = open_log("refc", 0), *r = open_log("refr", 0);
    static uint8_t vals[6][20000];
    zkv_vptr pc[6], pr[6];
    zkv_buf out = {0};
    memset(released, 0, sizeof(released));
    CU_ASSERT_EQUAL(zkv_vlog_append_ref(r, "r1", 1, (const uint8_t *)"k", 1, vals[0], 10,
                                        &released[0], &pr[0], err, sizeof(err)),
                    -1); /* no release function yet */
    zkv_vlog_set_release(r, release_owner);
    zkv__vlog_set_submit_min(c, 0); /* written by the flush itself */
    zkv__vlog_set_submit_min(r, 1); /* every record handed to the writer thread */
    for (int i = 0; i < 6; i++) {
        size_t vlen = 9000 + (size_t)i * 1777;
        fill(vals[i], vlen, (unsigned)i + 3);
        char key[8];
        snprintf(key, sizeof(key), "key%d", i);
        CU_ASSERT_EQUAL(zkv_vlog_append(c, "r1", (uint64_t)i + 1, (const uint8_t *)key, 4, vals[i],
                                        vlen, &pc[i], err, sizeof(err)),
                        0);
        int rc = i % 3 == 2 /* every third copied, in the same log */
                     ? zkv_vlog_append(r, "r1", (uint64_t)i + 1, (const uint8_t *)key, 4, vals[i],
                                       vlen, &pr[i], err, sizeof(err))
                     : zkv_vlog_append_ref(r, "r1", (uint64_t)i + 1, (const uint8_t *)key, 4,
                                           vals[i], vlen, &released[i], &pr[i], err, sizeof(err));
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_EQUAL(pr[i].off, pc[i].off);
        const uint8_t *v = zkv_vlog_read(r, &pr[i], (const uint8_t *)key, 4, (uint64_t)i + 1, &out,
                                         err, sizeof(err));
        CU_ASSERT(v && memcmp(v, vals[i], vlen) == 0); /* buffered */
        if (i % 3 != 2)
            CU_ASSERT_PTR_EQUAL(v, vals[i]); /* seen where it is, not copied */
        if (i == 2 || i == 5) {
            CU_ASSERT_EQUAL(zkv_vlog_flush(c, false, err, sizeof(err)), 0);
            CU_ASSERT_EQUAL(zkv_vlog_flush(r, false, err, sizeof(err)), 0);
            v = zkv_vlog_read(r, &pr[i - 1], NULL, 0, (uint64_t)i, &out, err, sizeof(err));
            CU_ASSERT(v && memcmp(v, vals[i - 1], pr[i - 1].vlen) == 0); /* recent */
        }
        if (i == 2) /* the first batch is the recent one: kept */
            CU_ASSERT_EQUAL(released[0] + released[1], 0);
    }
    CU_ASSERT_EQUAL(released[0] + released[1], 2); /* let go after the second flush */
    CU_ASSERT_EQUAL(released[3] + released[4], 0);
    ssize_t n;
    CU_ASSERT(same_file("refc", "refr", 1, &n));
    CU_ASSERT(n > 60000);
    /* read back from the file after a reopen, CRC checked */
    for (int i = 0; i < 6; i++) {
        zkv_vlog_close(r); /* reopened: reads come from the file */
        r = open_log("refr", 0);
        const uint8_t *v = zkv_vlog_read(r, &pr[i], NULL, 0, 0, &out, err, sizeof(err));
        CU_ASSERT(v && memcmp(v, vals[i], pr[i].vlen) == 0);
    }
    CU_ASSERT_EQUAL(released[3] + released[4], 2); /* at the first close */
    CU_ASSERT_EQUAL(released[2] + released[5], 0); /* copied: never referred */
    zkv_buf_free(&out);
    zkv_vlog_close(c);
    zkv_vlog_close(r);
}

static int count_call(void *arg)
{
    (*(int *)arg)++;
    return 0;
}

/* Calls run in order behind the writes; one behind a write that failed is not made (the
 * store's records must never reach LevelDB before their values), until the failure has
 * been reported by a wait. */
static void test_writer_calls(void)
{
    zkv_vwriter *w = zkv_vwriter_create();
    CU_ASSERT_FATAL(w != NULL);
    char path[128];
    snprintf(path, sizeof(path), "%s/calls.bin", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    static uint8_t buf[1 << 16];
    memset(buf, 7, sizeof(buf));
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    int calls = 0;
    CU_ASSERT_EQUAL(zkv_vwriter_submit(w, fd, 0, &iov, 1), 0);
    CU_ASSERT_EQUAL(zkv_vwriter_submit_call(w, count_call, &calls), 0);
    CU_ASSERT_EQUAL(zkv_vwriter_wait(w), 0);
    CU_ASSERT_EQUAL(calls, 1);
    struct stat st;
    CU_ASSERT(fstat(fd, &st) == 0 && st.st_size == (off_t)sizeof(buf));
    /* a write to no descriptor fails: the calls behind it are skipped */
    CU_ASSERT_EQUAL(zkv_vwriter_submit(w, -1, 0, &iov, 1), 0);
    CU_ASSERT_EQUAL(zkv_vwriter_submit_call(w, count_call, &calls), 0);
    CU_ASSERT_EQUAL(zkv_vwriter_submit_call(w, count_call, &calls), 0);
    CU_ASSERT_EQUAL(zkv_vwriter_wait(w), EBADF);
    CU_ASSERT_EQUAL(calls, 1);
    /* reported: the next call runs */
    CU_ASSERT_EQUAL(zkv_vwriter_submit_call(w, count_call, &calls), 0);
    CU_ASSERT_EQUAL(zkv_vwriter_wait(w), 0);
    CU_ASSERT_EQUAL(calls, 2);
    zkv_vwriter_free(w);
    close(fd);
}

/* Batches handed to the writer thread in parts as they grow, across files that fill up,
 * give the same files as batches the flush writes itself; what a flush returned from is
 * on file. */
static void test_writer(void)
{
    zkv_vlog *a = open_log("wra", 100000), *b = open_log("wrb", 100000);
    zkv__vlog_set_submit_min(a, 0);
    zkv__vlog_set_submit_min(b, 4096);
    static uint8_t val[30000];
    for (int i = 0; i < 200; i++) {
        size_t vlen = (size_t)(i * 7919) % 30000;
        fill(val, vlen, (unsigned)i);
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        zkv_vptr pa, pb;
        CU_ASSERT_EQUAL(zkv_vlog_append(a, "r", (uint64_t)i + 1, (const uint8_t *)key, strlen(key),
                                        val, vlen, &pa, err, sizeof(err)),
                        0);
        CU_ASSERT_EQUAL(zkv_vlog_append(b, "r", (uint64_t)i + 1, (const uint8_t *)key, strlen(key),
                                        val, vlen, &pb, err, sizeof(err)),
                        0);
        CU_ASSERT(pa.file == pb.file && pa.off == pb.off);
        if (i % 9 == 8) {
            CU_ASSERT_EQUAL(zkv_vlog_flush(a, false, err, sizeof(err)), 0);
            CU_ASSERT_EQUAL(zkv_vlog_flush(b, false, err, sizeof(err)), 0);
            /* flushed: on file, read back with its CRC checked after a reopen below */
            char path[128];
            snprintf(path, sizeof(path), "%s/wrb/%08u.vlog", dir, pb.file);
            struct stat st;
            CU_ASSERT(stat(path, &st) == 0 && (uint64_t)st.st_size >= pb.off + pb.rec_len);
        }
    }
    CU_ASSERT_EQUAL(zkv_vlog_flush(a, false, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_vlog_flush(b, false, err, sizeof(err)), 0);
    uint64_t handed, wait_us;
    zkv_vlog_writer_stats(a, &handed, &wait_us);
    CU_ASSERT_EQUAL(handed, 0);
    zkv_vlog_writer_stats(b, &handed, &wait_us);
    CU_ASSERT(handed > 1000000); /* most of 3 MB went through the thread */
    uint32_t na[64], nb[64];
    uint64_t sa[64], sb[64];
    size_t fa = zkv_vlog_files(a, na, sa, 64), fb = zkv_vlog_files(b, nb, sb, 64);
    CU_ASSERT(fa > 10);
    CU_ASSERT_EQUAL_FATAL(fa, fb);
    for (size_t i = 0; i < fa; i++) {
        ssize_t n;
        CU_ASSERT(na[i] == nb[i] && sa[i] == sb[i] && same_file("wra", "wrb", na[i], &n) && n > 0);
    }
    zkv_vlog_close(a);
    zkv_vlog_close(b);
}

static void test_fd_cap(void)
{
    /* at most max_open descriptors of closed files: reads of others reopen theirs */
    zkv_vlog *v = open_log("d", 5000);
    zkv__vlog_set_max_open(v, 2);
    uint8_t val[4000];
    zkv_vptr p[8];
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(append_flushed(v, "r", (uint64_t)i + 1, "k", 4000, (unsigned)i, &p[i]), 0);
    CU_ASSERT_EQUAL(p[7].file, 4); /* two records a file */
    zkv_buf out;
    zkv_buf_init(&out);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 8; i++) {
            fill(val, sizeof val, (unsigned)i);
            const uint8_t *got =
                zkv_vlog_read(v, &p[i], (const uint8_t *)"k", 1, 0, &out, err, sizeof(err));
            CU_ASSERT_PTR_NOT_NULL_FATAL(got);
            if (!got)
                return;
            CU_ASSERT_EQUAL(memcmp(got, val, sizeof val), 0);
            CU_ASSERT(zkv_vlog_open_fds(v) <= 3); /* two closed files and the active one */
        }
    zkv_buf_free(&out);
    /* every written file is still synced by a barrier, its descriptor open or not */
    int *fds;
    size_t n;
    uint32_t nums[16];
    uint64_t sizes[16];
    size_t files = zkv_vlog_files(v, nums, sizes, 16);
    CU_ASSERT_EQUAL(zkv_vlog_take_dirty(v, &fds, &n), 0);
    CU_ASSERT_EQUAL(n, files);
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_EQUAL(fdatasync(fds[i]), 0);
        close(fds[i]);
    }
    free(fds);
    CU_ASSERT_EQUAL(zkv_vlog_take_dirty(v, &fds, &n), 0);
    CU_ASSERT_EQUAL(n, 0);
    free(fds);
    zkv_vlog_close(v);
}

static void test_plan(void)
{
    zkv_vlog_file_gc f[3] = {
        {.num = 1, .bytes = 100, .live = 60, .measured_at = 1000},
        {.num = 2,
         .bytes = 100,
         .live = 100,
         .measured_at = ZKV_VLOG_NEVER,
         .listed_at = ZKV_VLOG_NEVER},
        {.num = 3,
         .bytes = 100,
         .live = 100,
         .measured_at = ZKV_VLOG_NEVER,
         .listed_at = ZKV_VLOG_NEVER},
    };
    /* the wait: live_total * ln(share / max_live) */
    CU_ASSERT_EQUAL(zkv_vlog_plan_wait(0.4, 0.5, 1000), 0);
    CU_ASSERT_EQUAL(zkv_vlog_plan_wait(1.0, 0.5, 1000000), 693147); /* ln 2 */
    CU_ASSERT_EQUAL(zkv_vlog_plan_wait(0.55, 0.5, 1000000), 95310); /* ln 1.1 */
    /* file 1 (60% live) waits 1000 * ln 1.2 = 182; files from before this start are measured
     * at once */
    CU_ASSERT_EQUAL(zkv_vlog_plan_pick(f, 3, 1010, 1000, 50, 0.5, 0.5, 0), 1);
    /* files closed since: not measured while their deaths may still make them low */
    f[1].listed_at = f[2].listed_at = 1000;
    CU_ASSERT_EQUAL(zkv_vlog_plan_pick(f, 3, 1010, 1000, 50, 0.5, 0.5, 0), -1);
    CU_ASSERT_EQUAL(zkv_vlog_plan_pick(f, 3, 1182, 1000, 50, 0.5, 0.5, 0), 0);
    /* a file the counted deaths make low is taken at once, but not before an older one
     * never measured and not yet due */
    f[2].dead = 60;
    CU_ASSERT_EQUAL(zkv_vlog_plan_live(&f[2]), 40);
    CU_ASSERT_TRUE(zkv_vlog_plan_low(&f[2], 0.5));
    CU_ASSERT_EQUAL(zkv_vlog_plan_pick(f, 3, 1010, 1000, 50, 0.5, 0.5, 0), -1);
    f[1].dead = 50;
    CU_ASSERT_EQUAL(zkv_vlog_plan_pick(f, 3, 1010, 1000, 50, 0.5, 0.5, 0), 1);
    f[1].dead = f[2].dead = 0;
    /* deaths since a measure count against it: 60 - (15 - 5) = 50, low */
    f[0].dead = 15;
    f[0].dead_at = 5;
    CU_ASSERT_EQUAL(zkv_vlog_plan_live(&f[0]), 50);
    CU_ASSERT_EQUAL(zkv_vlog_plan_pick(f, 3, 1010, 1000, 50, 0.5, 0.5, 0), 0);
    f[0].dead_at = 15;
    /* the counters silent (values not in the row cache): measured once uniform overwrites
     * would have taken an all-live file to max_live, after 1000 * ln 2 */
    f[0].measured_at = 1600; /* 60% live: due 182 later */
    CU_ASSERT_EQUAL(zkv_vlog_plan_pick(f, 3, 1692, 1000, 50, 0.5, 0.5, 0), -1);
    CU_ASSERT_EQUAL(zkv_vlog_plan_pick(f, 3, 1693, 1000, 50, 0.5, 0.5, 0), 1);
    /* counting (45 of the 50 bytes uniform overwrites would have killed): trusted until
     * they would have taken it to half of low_live, 1000 * ln 4 */
    f[1].dead = f[2].dead = 45;
    CU_ASSERT_EQUAL(zkv_vlog_plan_pick(f, 3, 1693, 1000, 50, 0.5, 0.5, 0), -1);
    f[0].measured_at = 2300;
    CU_ASSERT_EQUAL(zkv_vlog_plan_pick(f, 3, 2385, 1000, 50, 0.5, 0.5, 0), -1);
    CU_ASSERT_EQUAL(zkv_vlog_plan_pick(f, 3, 2386, 1000, 50, 0.5, 0.5, 0), 1);
    f[1].dead = f[2].dead = 0;
    /* a pinned file is the frontier: read again after recheck, and nothing younger before
     * it, low or not */
    f[0].measured_at = 1100;
    f[0].pinned = 7;
    f[2].dead = 60;
    CU_ASSERT_EQUAL(zkv_vlog_plan_pick(f, 3, 1120, 1000, 50, 0.5, 0.5, 0), -1);
    CU_ASSERT_EQUAL(zkv_vlog_plan_pick(f, 3, 1150, 1000, 50, 0.5, 0.5, 0), 0);
    /* a forced pass: every file it has not measured, oldest first, pinned or not */
    f[0].pass = 4;
    CU_ASSERT_EQUAL(zkv_vlog_plan_pick(f, 3, 1200, 1000, 50, 0.5, 0.5, 4), 1);
    f[1].pass = f[2].pass = 4;
    CU_ASSERT_EQUAL(zkv_vlog_plan_pick(f, 3, 1200, 1000, 50, 0.5, 0.5, 4), -1);
    CU_ASSERT_EQUAL(zkv_vlog_plan_pick(f, 3, 1200, 1000, 50, 0.5, 0.5, 5), 0);
    f[0].pinned = 0;
    f[0].live = 40;
    CU_ASSERT_TRUE(zkv_vlog_plan_rewrite(&f[0], 0.5));
    f[0].pinned = 10;
    CU_ASSERT_FALSE(zkv_vlog_plan_rewrite(&f[0], 0.5));
    f[1].measured_at = 1100;
    CU_ASSERT_FALSE(zkv_vlog_plan_rewrite(&f[1], 0.5));
    f[2].measured_at = ZKV_VLOG_NEVER;
    f[2].live = 0;
    CU_ASSERT_FALSE(zkv_vlog_plan_rewrite(&f[2], 0.5)); /* never measured */
    /* more deaths counted than bytes (the estimate leaves out range ids, never adds) */
    f[2].dead = 150;
    CU_ASSERT_EQUAL(zkv_vlog_plan_live(&f[2]), 0);
    CU_ASSERT_EQUAL(zkv_vlog_plan_credit(0, 100, 150, 1000), (uint64_t)50 * ZKV_VLOG_GC_CREDIT);
    CU_ASSERT_EQUAL(zkv_vlog_plan_credit(900, 100, 150, 1000), 1000);
    CU_ASSERT_EQUAL(zkv_vlog_plan_credit(7, 150, 150, 1000), 7);
    /* a paced call yields once its time is up, unless forced, unpaced, or behind (credit at
     * half the cap or more) */
    CU_ASSERT_TRUE(zkv_vlog_plan_yield(false, 2000, 100, 1000, 2000));
    CU_ASSERT_FALSE(zkv_vlog_plan_yield(false, 2000, 100, 1000, 1999));
    CU_ASSERT_FALSE(zkv_vlog_plan_yield(true, 2000, 100, 1000, 5000));
    CU_ASSERT_FALSE(zkv_vlog_plan_yield(false, 0, 100, 1000, 5000));
    CU_ASSERT_FALSE(zkv_vlog_plan_yield(false, 2000, 500, 1000, 5000));
    CU_ASSERT_TRUE(zkv_vlog_plan_yield(false, 2000, 499, 1000, 5000));
}

static void test_recover_plan(void)
{
    zkv_vptr mark = {.file = 3, .off = 1000};
    zkv_vptr before = {.file = 3, .off = 999}, at = {.file = 3, .off = 1000},
             later_file = {.file = 4, .off = 0}, older_file = {.file = 2, .off = 5000};
    CU_ASSERT_FALSE(zkv_vlog_beyond_mark(&before, &mark));
    CU_ASSERT_FALSE(zkv_vlog_beyond_mark(&older_file, &mark));
    CU_ASSERT_TRUE(zkv_vlog_beyond_mark(&at, &mark));
    CU_ASSERT_TRUE(zkv_vlog_beyond_mark(&later_file, &mark));
    zkv_vptr none = {0};
    CU_ASSERT_TRUE(zkv_vlog_beyond_mark(&older_file, &none)); /* no mark: everything */
    /* lost data records that lost log entries explain: their ranges will do */
    zkv_vptr logs[3] = {{.file = 5, .off = 40}, {.file = 4, .off = 10}, {.file = 5, .off = 0}};
    zkv_vptr data[2] = {{.file = 5, .off = 0}, {.file = 4, .off = 10}};
    CU_ASSERT_FALSE(zkv_vlog_recovery_all(logs, 3, data, 2));
    CU_ASSERT_FALSE(zkv_vlog_recovery_all(logs, 3, NULL, 0));
    /* one that none explains (a GC move, a snapshot item): every range */
    zkv_vptr moved[2] = {{.file = 5, .off = 0}, {.file = 5, .off = 20}};
    CU_ASSERT_TRUE(zkv_vlog_recovery_all(logs, 3, moved, 2));
    CU_ASSERT_TRUE(zkv_vlog_recovery_all(NULL, 0, moved, 1));
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("vlog", setup, teardown);
    CU_add_test(s, "crc32c", test_crc32c);
    CU_add_test(s, "crc32c: three blocks at a time", test_crc32c_blocks);
    CU_add_test(s, "append, flush, read, damaged records", test_append_read);
    CU_add_test(s, "scan, rollover, torn tail, reopen, remove", test_scan_rollover_reopen);
    CU_add_test(s, "spare files: kept, reused, dropped at open", test_spares);
    CU_add_test(s, "a deleted file's last close goes to the closer", test_closer);
    CU_add_test(s, "descriptors of closed files capped", test_fd_cap);
    CU_add_test(s, "a batch of owned and referred pieces", test_vbatch);
    CU_add_test(s, "values appended by reference", test_append_ref);
    CU_add_test(s, "batches handed to the writer thread", test_writer);
    CU_add_test(s, "calls on the writer thread: in order, none behind a failed write",
                test_writer_calls);
    CU_add_test(s, "a scan whose callback appends files", test_scan_while_appending);
    CU_add_test(s, "GC plan: pick, rewrite, credit", test_plan);
    CU_add_test(s, "recovery plan: beyond the mark, ranges or all", test_recover_plan);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
