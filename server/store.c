/* store.c: LevelDB storage with per-range logs and group commit (see store.h).
 * Range states live in a small open-addressing hash table keyed by range id. A 4096-bit
 * filter of staged key hashes tells a read whether it may need the batch committed first
 * (a false positive only costs an early commit). */
#include "store.h"

#include <leveldb/c.h>
#include "common/keyrange.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PENDING_BITS 4096u

struct zkv_store {
    leveldb_t *db;
    leveldb_options_t *opts;
    leveldb_filterpolicy_t *filter;
    leveldb_cache_t *cache;
    leveldb_readoptions_t *ropts;
    leveldb_writeoptions_t *wopts;
    leveldb_writebatch_t *batch;
    size_t n_pending;
    bool failed;
    uint64_t pending_filter[PENDING_BITS / 64];

    zkv_range_state **ranges; /* hash table of owned pointers, NULL = empty slot */
    size_t table_cap;         /* power of two */
    size_t n_ranges;
    zkv_range_state **dirty; /* ranges with staged writes */
    size_t n_dirty, dirty_cap;

    zkv_buf kbuf, vbuf; /* scratch for keys and records */
};

static void set_err(char *err, size_t errlen, const char *what, const char *detail)
{
    if (err && errlen)
        snprintf(err, errlen, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
}

static uint64_t hash_bytes(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

static zkv_range_state **slot_of(const zkv_store *s, const char *id)
{
    size_t mask = s->table_cap - 1;
    size_t i = (size_t)hash_bytes(id, strlen(id)) & mask;
    while (s->ranges[i] && strcmp(s->ranges[i]->id, id) != 0)
        i = (i + 1) & mask;
    return &s->ranges[i];
}

static int table_grow(zkv_store *s)
{
    size_t ncap = s->table_cap ? s->table_cap * 2 : 64;
    zkv_range_state **old = s->ranges;
    size_t ocap = s->table_cap;
    s->ranges = calloc(ncap, sizeof(*s->ranges));
    if (!s->ranges) {
        s->ranges = old;
        return -1;
    }
    s->table_cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i])
            *slot_of(s, old[i]->id) = old[i];
    free(old);
    return 0;
}

/* Finds or creates the state of range id. */
static zkv_range_state *range_get(zkv_store *s, const char *id)
{
    if (strlen(id) == 0 || strlen(id) >= ZKV_ID_MAX)
        return NULL;
    if ((s->n_ranges + 1) * 2 > s->table_cap && table_grow(s) != 0)
        return NULL;
    zkv_range_state **slot = slot_of(s, id);
    if (*slot)
        return *slot;
    zkv_range_state *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    snprintf(r->id, sizeof(r->id), "%s", id);
    *slot = r;
    s->n_ranges++;
    return r;
}

const zkv_range_state *zkv_store_range(const zkv_store *s, const char *range_id)
{
    if (s->table_cap == 0)
        return NULL;
    return *slot_of(s, range_id);
}

size_t zkv_store_range_count(const zkv_store *s)
{
    return s->n_ranges;
}

static int load_ranges(zkv_store *s, char *err, size_t errlen)
{
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ropts);
    const char prefix = ZKV_REC_RANGE_PREFIX;
    int rc = 0;
    for (leveldb_iter_seek(it, &prefix, 1); leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &klen);
        const uint8_t *v = (const uint8_t *)leveldb_iter_value(it, &vlen);
        if (klen < 1 || k[0] != ZKV_REC_RANGE_PREFIX)
            break;
        char id[ZKV_ID_MAX];
        zkv_range_state_rec st;
        if (zkv_rec_range_key_decode(k, klen, id, sizeof(id)) != 0 ||
            zkv_rec_range_state_decode(v, vlen, &st) != 0) {
            set_err(err, errlen, "corrupt range state record", NULL);
            rc = ZKV_STORE_ERR;
            break;
        }
        zkv_range_state *r = range_get(s, id);
        if (!r) {
            set_err(err, errlen, "out of memory", NULL);
            rc = ZKV_STORE_ERR;
            break;
        }
        r->epoch = r->committed_epoch = st.epoch;
        r->last_seq = r->committed_seq = st.last_seq;
    }
    char *lerr = NULL;
    leveldb_iter_get_error(it, &lerr);
    if (lerr) {
        set_err(err, errlen, "reading range states", lerr);
        leveldb_free(lerr);
        rc = ZKV_STORE_ERR;
    }
    leveldb_iter_destroy(it);
    return rc;
}

int zkv_store_open(const char *dir, zkv_store **out, char *err, size_t errlen)
{
    *out = NULL;
    zkv_store *s = calloc(1, sizeof(*s));
    if (!s) {
        set_err(err, errlen, "out of memory", NULL);
        return ZKV_STORE_ERR;
    }
    zkv_buf_init(&s->kbuf);
    zkv_buf_init(&s->vbuf);
    s->opts = leveldb_options_create();
    leveldb_options_set_create_if_missing(s->opts, 1);
    s->filter = leveldb_filterpolicy_create_bloom(10);
    leveldb_options_set_filter_policy(s->opts, s->filter);
    s->cache = leveldb_cache_create_lru(32u << 20);
    leveldb_options_set_cache(s->opts, s->cache);
    leveldb_options_set_write_buffer_size(s->opts, 16u << 20);
    s->ropts = leveldb_readoptions_create();
    s->wopts = leveldb_writeoptions_create();
    leveldb_writeoptions_set_sync(s->wopts, 0);
    s->batch = leveldb_writebatch_create();
    char *lerr = NULL;
    s->db = leveldb_open(s->opts, dir, &lerr);
    if (!s->db) {
        set_err(err, errlen, "cannot open LevelDB", lerr);
        leveldb_free(lerr);
        zkv_store_close(s);
        return ZKV_STORE_ERR;
    }
    if (table_grow(s) != 0 || load_ranges(s, err, errlen) != 0) {
        zkv_store_close(s);
        return ZKV_STORE_ERR;
    }
    *out = s;
    return 0;
}

void zkv_store_close(zkv_store *s)
{
    if (!s)
        return;
    if (s->db)
        leveldb_close(s->db);
    if (s->batch)
        leveldb_writebatch_destroy(s->batch);
    if (s->ropts)
        leveldb_readoptions_destroy(s->ropts);
    if (s->wopts)
        leveldb_writeoptions_destroy(s->wopts);
    if (s->opts)
        leveldb_options_destroy(s->opts);
    if (s->filter)
        leveldb_filterpolicy_destroy(s->filter);
    if (s->cache)
        leveldb_cache_destroy(s->cache);
    for (size_t i = 0; i < s->table_cap; i++)
        free(s->ranges[i]);
    free(s->ranges);
    free(s->dirty);
    zkv_buf_free(&s->kbuf);
    zkv_buf_free(&s->vbuf);
    free(s);
}

static void filter_add(zkv_store *s, const uint8_t *key, size_t klen)
{
    uint64_t h = hash_bytes(key, klen) % PENDING_BITS;
    s->pending_filter[h / 64] |= 1ull << (h % 64);
}

static bool filter_has(const zkv_store *s, const uint8_t *key, size_t klen)
{
    uint64_t h = hash_bytes(key, klen) % PENDING_BITS;
    return (s->pending_filter[h / 64] >> (h % 64)) & 1u;
}

/* Gives the next seq of range_id to a write at epoch and stages the log entry and the
 * data change. */
static int stage(zkv_store *s, zkv_log_op op, const char *range_id, uint64_t epoch,
                 const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                 zkv_value_meta *meta, char *err, size_t errlen)
{
    if (s->failed) {
        set_err(err, errlen, "store failed after a write error", NULL);
        return ZKV_STORE_ERR;
    }
    zkv_range_state *r = range_get(s, range_id);
    if (!r) {
        set_err(err, errlen, "bad range id or out of memory", NULL);
        return ZKV_STORE_ERR;
    }
    if (epoch < r->epoch) {
        if (err && errlen)
            snprintf(err, errlen, "range %s: epoch %llu is older than the stored epoch %llu",
                     range_id, (unsigned long long)epoch, (unsigned long long)r->epoch);
        return ZKV_STORE_STALE_EPOCH;
    }
    if (r->pending == 0) {
        if (s->n_dirty == s->dirty_cap) {
            size_t ncap = s->dirty_cap ? s->dirty_cap * 2 : 16;
            zkv_range_state **nd = realloc(s->dirty, ncap * sizeof(*nd));
            if (!nd) {
                set_err(err, errlen, "out of memory", NULL);
                return ZKV_STORE_ERR;
            }
            s->dirty = nd;
            s->dirty_cap = ncap;
        }
        s->dirty[s->n_dirty++] = r;
    }
    zkv_value_meta m = {.flags = 0, .epoch = epoch, .seq = r->last_seq + 1, .expiry_ms = 0};
    s->kbuf.len = s->kbuf.off = 0;
    s->vbuf.len = s->vbuf.off = 0;
    if (zkv_rec_log_key(&s->kbuf, range_id, m.seq) != 0 ||
        zkv_rec_log_encode(&s->vbuf, op, epoch, key, klen, &m, value, vlen) != 0) {
        set_err(err, errlen, "out of memory", NULL);
        return ZKV_STORE_ERR;
    }
    leveldb_writebatch_put(s->batch, (const char *)s->kbuf.data, s->kbuf.len,
                           (const char *)s->vbuf.data, s->vbuf.len);
    s->kbuf.len = 0;
    if (zkv_rec_data_key(&s->kbuf, key, klen) != 0) {
        set_err(err, errlen, "out of memory", NULL);
        return ZKV_STORE_ERR;
    }
    if (op == ZKV_LOG_OP_PUT) {
        /* The value record is the tail of the log entry just encoded. */
        size_t off = s->vbuf.len - (ZKV_REC_VALUE_HDR + vlen);
        leveldb_writebatch_put(s->batch, (const char *)s->kbuf.data, s->kbuf.len,
                               (const char *)s->vbuf.data + off, ZKV_REC_VALUE_HDR + vlen);
    } else {
        leveldb_writebatch_delete(s->batch, (const char *)s->kbuf.data, s->kbuf.len);
    }
    filter_add(s, key, klen);
    r->last_seq = m.seq;
    r->epoch = epoch;
    r->pending++;
    s->n_pending++;
    if (meta)
        *meta = m;
    return 0;
}

int zkv_store_put(zkv_store *s, const char *range_id, uint64_t epoch, const uint8_t *key,
                  size_t klen, const uint8_t *value, size_t vlen, zkv_value_meta *meta, char *err,
                  size_t errlen)
{
    return stage(s, ZKV_LOG_OP_PUT, range_id, epoch, key, klen, value, vlen, meta, err, errlen);
}

int zkv_store_delete(zkv_store *s, const char *range_id, uint64_t epoch, const uint8_t *key,
                     size_t klen, zkv_value_meta *meta, char *err, size_t errlen)
{
    return stage(s, ZKV_LOG_OP_DELETE, range_id, epoch, key, klen, NULL, 0, meta, err, errlen);
}

size_t zkv_store_pending(const zkv_store *s)
{
    return s->n_pending;
}

bool zkv_store_failed(const zkv_store *s)
{
    return s->failed;
}

int zkv_store_commit(zkv_store *s, char *err, size_t errlen)
{
    if (s->failed) {
        set_err(err, errlen, "store failed after a write error", NULL);
        return ZKV_STORE_ERR;
    }
    if (s->n_pending == 0)
        return 0;
    for (size_t i = 0; i < s->n_dirty; i++) {
        zkv_range_state *r = s->dirty[i];
        zkv_range_state_rec st = {.epoch = r->epoch, .last_seq = r->last_seq};
        s->kbuf.len = s->kbuf.off = 0;
        s->vbuf.len = s->vbuf.off = 0;
        if (zkv_rec_range_key(&s->kbuf, r->id) != 0 ||
            zkv_rec_range_state_encode(&s->vbuf, &st) != 0) {
            s->failed = true;
            set_err(err, errlen, "out of memory", NULL);
            return ZKV_STORE_ERR;
        }
        leveldb_writebatch_put(s->batch, (const char *)s->kbuf.data, s->kbuf.len,
                               (const char *)s->vbuf.data, s->vbuf.len);
    }
    char *lerr = NULL;
    leveldb_write(s->db, s->wopts, s->batch, &lerr);
    if (lerr) {
        s->failed = true;
        set_err(err, errlen, "LevelDB write failed", lerr);
        leveldb_free(lerr);
        return ZKV_STORE_ERR;
    }
    for (size_t i = 0; i < s->n_dirty; i++) {
        zkv_range_state *r = s->dirty[i];
        r->committed_seq = r->last_seq;
        r->committed_epoch = r->epoch;
        r->pending = 0;
    }
    s->n_dirty = 0;
    s->n_pending = 0;
    memset(s->pending_filter, 0, sizeof(s->pending_filter));
    leveldb_writebatch_clear(s->batch);
    return 0;
}

int zkv_store_get(zkv_store *s, const uint8_t *key, size_t klen, zkv_store_value *out, char *err,
                  size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (s->n_pending && filter_has(s, key, klen) && zkv_store_commit(s, err, errlen) != 0)
        return ZKV_STORE_ERR;
    s->kbuf.len = s->kbuf.off = 0;
    if (zkv_rec_data_key(&s->kbuf, key, klen) != 0) {
        set_err(err, errlen, "out of memory", NULL);
        return ZKV_STORE_ERR;
    }
    char *lerr = NULL;
    size_t vlen = 0;
    char *v = leveldb_get(s->db, s->ropts, (const char *)s->kbuf.data, s->kbuf.len, &vlen, &lerr);
    if (lerr) {
        set_err(err, errlen, "LevelDB read failed", lerr);
        leveldb_free(lerr);
        return ZKV_STORE_ERR;
    }
    if (!v)
        return 0;
    if (zkv_rec_value_decode((const uint8_t *)v, vlen, &out->view) != 0) {
        leveldb_free(v);
        set_err(err, errlen, "corrupt value record", NULL);
        return ZKV_STORE_ERR;
    }
    out->buf = v;
    return 1;
}

void zkv_store_value_release(zkv_store_value *v)
{
    if (v && v->buf) {
        leveldb_free(v->buf);
        v->buf = NULL;
    }
}

static int iter_finish(leveldb_iterator_t *it, int rc, const char *what, char *err, size_t errlen)
{
    char *lerr = NULL;
    leveldb_iter_get_error(it, &lerr);
    if (lerr) {
        set_err(err, errlen, what, lerr);
        leveldb_free(lerr);
        rc = ZKV_STORE_ERR;
    }
    leveldb_iter_destroy(it);
    return rc;
}

int zkv_store_scan(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end, size_t elen,
                   zkv_store_scan_fn fn, void *ctx, char *err, size_t errlen)
{
    if (s->n_pending && zkv_store_commit(s, err, errlen) != 0)
        return ZKV_STORE_ERR;
    s->kbuf.len = s->kbuf.off = 0;
    if (zkv_rec_data_key(&s->kbuf, start, slen) != 0) {
        set_err(err, errlen, "out of memory", NULL);
        return ZKV_STORE_ERR;
    }
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ropts);
    int rc = 0;
    for (leveldb_iter_seek(it, (const char *)s->kbuf.data, s->kbuf.len); leveldb_iter_valid(it);
         leveldb_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &klen);
        const uint8_t *ukey;
        size_t uklen;
        if (zkv_rec_data_key_decode(k, klen, &ukey, &uklen) != 0)
            break; /* past the data keys */
        if (elen && zkv_end_cmp(end, elen, ukey, uklen) <= 0)
            break;
        const uint8_t *v = (const uint8_t *)leveldb_iter_value(it, &vlen);
        zkv_value_view view;
        if (zkv_rec_value_decode(v, vlen, &view) != 0) {
            set_err(err, errlen, "corrupt value record", NULL);
            rc = ZKV_STORE_ERR;
            break;
        }
        if (fn(ctx, ukey, uklen, &view) != 0) {
            rc = 1;
            break;
        }
    }
    return iter_finish(it, rc, "LevelDB scan failed", err, errlen);
}

int zkv_store_read_log(zkv_store *s, const char *range_id, uint64_t from_seq, zkv_store_log_fn fn,
                       void *ctx, char *err, size_t errlen)
{
    if (s->n_pending && zkv_store_commit(s, err, errlen) != 0)
        return ZKV_STORE_ERR;
    s->kbuf.len = s->kbuf.off = 0;
    if (zkv_rec_log_key(&s->kbuf, range_id, from_seq) != 0) {
        set_err(err, errlen, "out of memory", NULL);
        return ZKV_STORE_ERR;
    }
    size_t prefix_len = s->kbuf.len - 8; /* 'l' + id + 0x00 */
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ropts);
    int rc = 0;
    for (leveldb_iter_seek(it, (const char *)s->kbuf.data, s->kbuf.len); leveldb_iter_valid(it);
         leveldb_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &klen);
        if (klen != prefix_len + 8 || memcmp(k, s->kbuf.data, prefix_len) != 0)
            break;
        const uint8_t *v = (const uint8_t *)leveldb_iter_value(it, &vlen);
        zkv_log_view e;
        if (zkv_rec_log_decode(v, vlen, &e) != 0) {
            set_err(err, errlen, "corrupt log entry", NULL);
            rc = ZKV_STORE_ERR;
            break;
        }
        if (fn(ctx, zkv_get_u64be(k + prefix_len), &e) != 0) {
            rc = 1;
            break;
        }
    }
    return iter_finish(it, rc, "LevelDB log read failed", err, errlen);
}
