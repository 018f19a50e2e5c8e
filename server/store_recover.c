/* store_recover.c: the value log's check after a machine restart (store.h,
 * zkv_store_vlog_recover). Without --sync the kernel writes the page cache back in its own
 * order, so a power failure can leave LevelDB records whose value-log bytes never reached
 * the disk. Every pointer beyond the last durability mark is read back (gathered by a walk
 * of the data records and logs, then read in file order) and the ranges whose
 * copy lost a value are named, for the node to forget them and be given them back by
 * snapshots instead of answering errors (rejoin.h, docs/guarantees.md). Decisions:
 * vlog_recover_plan.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "store_vlog.h"
#include "vlog_recover_plan.h"

typedef char lost_range[ZKV_ID_MAX];

/* A pointer beyond the mark, read back once the walks are done: sorted by place, so that
 * the reads go through the value log front to back (with the kernel's readahead) and not
 * in key order (a random read each, 15.7 s for a million 2 KB values from a cold cache). */
typedef struct pending {
    zkv_vptr p;
    uint64_t seq;
    size_t key_off; /* the key, in check.keys */
    size_t klen;
    long range; /* a log entry's range (index in check.walked_ranges); -1: a data record */
} pending;

/* Pointers gathered before a batch is read back: bounds the check's memory (about 60 MB
 * and the keys) whatever lies beyond the mark. zkv__store_recover_batch changes it (tests). */
#define PENDING_MAX ((size_t)1 << 20)
static size_t pending_max = PENDING_MAX;

void zkv__store_recover_batch(size_t n)
{
    pending_max = n ? n : PENDING_MAX;
}

typedef struct check {
    zkv_store *s;
    zkv_vptr mark;
    zkv_buf rec; /* a record read back */
    pending *pend;
    size_t n_pend, cap_pend;
    zkv_buf keys;                /* the pending pointers' keys */
    lost_range *walked_ranges;   /* the ranges whose logs were walked, in order */
    size_t n_walked, cap_walked; /* (the last is the log key being walked) */
    zkv_vptr *data_lost, *log_lost;
    size_t n_data, cap_data, n_log, cap_log;
    lost_range *ranges;
    size_t n_ranges, cap_ranges;
    zkv_vlog_recovery *out;
    bool oom;
} check;

static bool grow(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return true;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, c * size);
    if (!p)
        return false;
    *arr = p;
    *cap = c;
    return true;
}

static void read_back(check *c);

/* Notes the value v (a data record's or a log entry's, of range index range or -1) for
 * reading back when it points beyond the mark (a full batch is read back first). */
static void defer(check *c, const zkv_value_view *v, const uint8_t *key, size_t klen, long range)
{
    zkv_vptr p;
    if (!(v->meta.flags & ZKV_VALUE_INDIRECT) ||
        zkv_rec_vptr_decode(v->value, v->value_len, &p) != 0 || !zkv_vlog_beyond_mark(&p, &c->mark))
        return;
    if (c->n_pend >= pending_max)
        read_back(c);
    if (!grow((void **)&c->pend, &c->cap_pend, c->n_pend, sizeof *c->pend)) {
        c->oom = true;
        return;
    }
    size_t off = c->keys.len;
    if (zkv_buf_append(&c->keys, key, klen) != 0) {
        c->oom = true;
        return;
    }
    c->pend[c->n_pend++] =
        (pending){.p = p, .seq = v->meta.seq, .key_off = off, .klen = klen, .range = range};
    c->out->checked++;
}

/* Appends p to the lost pointers arr (n of cap); false out of memory (c->oom set). */
static bool push_lost(check *c, zkv_vptr **arr, size_t *n, size_t *cap, const zkv_vptr *p)
{
    if (!grow((void **)arr, cap, *n, sizeof **arr)) {
        c->oom = true;
        return false;
    }
    (*arr)[(*n)++] = *p;
    return true;
}

static void note_range(check *c, const char *id)
{
    for (size_t i = 0; i < c->n_ranges; i++)
        if (strcmp(c->ranges[i], id) == 0)
            return;
    if (!grow((void **)&c->ranges, &c->cap_ranges, c->n_ranges, sizeof *c->ranges)) {
        c->oom = true;
        return;
    }
    snprintf(c->ranges[c->n_ranges++], ZKV_ID_MAX, "%s", id);
}

static int on_entry(void *ctx, uint64_t seq, const uint8_t *rec, size_t len)
{
    (void)seq;
    check *c = ctx;
    zkv_log_view e;
    if (zkv_rec_log_decode(rec, len, &e) == 0 && e.op == ZKV_LOG_OP_PUT)
        defer(c, &e.value, e.key, e.key_len, (long)c->n_walked - 1);
    return c->oom ? 1 : 0;
}

static void on_data(check *c, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
    const uint8_t *key;
    size_t keylen;
    zkv_value_view view;
    if (zkv_rec_data_key_decode(k, klen, &key, &keylen) == 0 &&
        zkv_rec_value_decode(v, vlen, &view) == 0)
        defer(c, &view, key, keylen, -1);
}

static void on_log(check *c, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
    char id[ZKV_ID_MAX];
    uint64_t seq;
    if (zkv_rec_log_key_decode(k, klen, id, sizeof id, &seq) != 0)
        return;
    /* a range's log records are walked one after another: a new id starts a new range */
    if (c->n_walked == 0 || strcmp(c->walked_ranges[c->n_walked - 1], id) != 0) {
        if (!grow((void **)&c->walked_ranges, &c->cap_walked, c->n_walked,
                  sizeof *c->walked_ranges)) {
            c->oom = true;
            return;
        }
        snprintf(c->walked_ranges[c->n_walked++], ZKV_ID_MAX, "%s", id);
    }
    (void)zkv_rec_log_value_walk(v, vlen, seq, on_entry, c);
}

static int cmp_place(const void *a, const void *b)
{
    const zkv_vptr *x = &((const pending *)a)->p, *y = &((const pending *)b)->p;
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Reads the pending pointers back in file order, and empties the batch; a record that does
 * not check out (CRC, key, seq) is lost: a log entry's names its range. */
static void read_back(check *c)
{
    qsort(c->pend, c->n_pend, sizeof *c->pend, cmp_place);
    zkv_vlog *v = zkv__store_vlog(c->s);
    for (size_t i = 0; i < c->n_pend && !c->oom; i++) {
        const pending *q = &c->pend[i];
        char err[256];
        const uint8_t *key = q->klen ? c->keys.data + q->key_off : (const uint8_t *)"";
        if (zkv_vlog_read(v, &q->p, key, q->klen, q->seq, &c->rec, err, sizeof err))
            continue;
        if (q->range < 0) {
            c->out->lost_data++;
            (void)push_lost(c, &c->data_lost, &c->n_data, &c->cap_data, &q->p);
        } else {
            c->out->lost_log++;
            if (push_lost(c, &c->log_lost, &c->n_log, &c->cap_log, &q->p))
                note_range(c, c->walked_ranges[q->range]);
        }
    }
    c->n_pend = 0;
    c->keys.len = c->keys.off = 0;
}

/* Walks the keys of one prefix byte through fn. */
static int walk(check *c, char prefix,
                void (*fn)(check *, const uint8_t *, size_t, const uint8_t *, size_t), char *err,
                size_t errlen)
{
    leveldb_readoptions_t *ro = leveldb_readoptions_create();
    leveldb_readoptions_set_fill_cache(ro, 0);
    leveldb_iterator_t *it = leveldb_create_iterator(zkv__store_db(c->s), ro);
    for (leveldb_iter_seek(it, &prefix, 1); leveldb_iter_valid(it) && !c->oom;
         leveldb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = leveldb_iter_key(it, &klen);
        if (klen == 0 || k[0] != prefix)
            break;
        const char *v = leveldb_iter_value(it, &vlen);
        c->out->walked++;
        fn(c, (const uint8_t *)k, klen, (const uint8_t *)v, vlen);
    }
    char *lerr = NULL;
    leveldb_iter_get_error(it, &lerr);
    leveldb_iter_destroy(it);
    leveldb_readoptions_destroy(ro);
    if (lerr) {
        snprintf(err, errlen, "value log check: LevelDB read failed: %s", lerr);
        leveldb_free(lerr);
        return ZKV_STORE_ERR;
    }
    if (c->oom) {
        snprintf(err, errlen, "value log check: out of memory");
        return ZKV_STORE_ERR;
    }
    return 0;
}

/* With all: every range the store has, in place of those found. */
static int all_ranges(check *c, char *err, size_t errlen)
{
    size_t n = zkv_store_range_ids(c->s, NULL, 0);
    const char **ids = calloc(n ? n : 1, sizeof *ids);
    if (!ids) {
        snprintf(err, errlen, "value log check: out of memory");
        return ZKV_STORE_ERR;
    }
    n = zkv_store_range_ids(c->s, ids, n);
    c->n_ranges = 0;
    for (size_t i = 0; i < n && !c->oom; i++)
        note_range(c, ids[i]);
    free(ids);
    if (c->oom) {
        snprintf(err, errlen, "value log check: out of memory");
        return ZKV_STORE_ERR;
    }
    return 0;
}

int zkv_store_vlog_recover(zkv_store *s, zkv_vlog_recovery *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    check c = {.s = s, .out = out};
    if (zkv__store_vlog_mark_read(s, &c.mark, err, errlen) != 0)
        return ZKV_STORE_ERR;
    zkv_vptr end = {0};
    if (!zkv_vlog_end(zkv__store_vlog(s), &end.file, &end.off) ||
        !zkv_vlog_beyond_mark(&end, &c.mark) ||
        (end.file == c.mark.file && end.off == c.mark.off)) {
        out->clean = true; /* nothing written after the mark */
        return 0;
    }
    zkv_buf_init(&c.rec);
    zkv_buf_init(&c.keys);
    int rc = walk(&c, ZKV_REC_DATA_PREFIX, on_data, err, errlen);
    if (rc == 0)
        rc = walk(&c, ZKV_REC_LOG_PREFIX, on_log, err, errlen);
    if (rc == 0) {
        read_back(&c);
        if (c.oom) {
            snprintf(err, errlen, "value log check: out of memory");
            rc = ZKV_STORE_ERR;
        }
    }
    if (rc == 0) {
        out->all = zkv_vlog_recovery_all(c.log_lost, c.n_log, c.data_lost, c.n_data);
        if (out->all)
            rc = all_ranges(&c, err, errlen);
    }
    zkv_buf_free(&c.rec);
    zkv_buf_free(&c.keys);
    free(c.pend);
    free(c.walked_ranges);
    free(c.data_lost);
    free(c.log_lost);
    if (rc != 0) {
        free(c.ranges);
        return rc;
    }
    out->ranges = (char(*)[ZKV_ID_MAX])c.ranges;
    out->n_ranges = c.n_ranges;
    return 0;
}

void zkv_vlog_recovery_free(zkv_vlog_recovery *r)
{
    free(r->ranges);
    r->ranges = NULL;
    r->n_ranges = 0;
}
