/* store.c: LevelDB storage with per-range logs and group commit (see store.h).
 * Range states live in a small open-addressing hash table keyed by range id. A 4096-bit
 * filter of staged key hashes tells a read whether it may need the batch committed first
 * (a false positive only costs an early commit).
 *
 * Per range the store also keeps in memory what replication asks for often: the epoch
 * history (mirrors the 'e' keys), the first seq of the log (the log is always the
 * contiguous [first_seq, last_seq], so truncation deletes keys it can compute), and the
 * snapshot-in-progress mark ('p' key). All are loaded at open.
 *
 * Range positions (data-dir format 2): a range's position (epoch, last seq) is the later
 * of its 'r' record and its last log entry, which carries both. So a plain write stages
 * two records (data and log entry); the 'r' record is written only where the log cannot
 * tell: with the first write of each epoch (with the 'e' history key), with a truncation
 * of the log (which may empty it), and by a snapshot's reset and position. Open reads the
 * 'r' records, then the first and last log entry of every range. A format-1 data dir
 * (an 'r' record in every batch) reads the same way.
 *
 * Log reads of what was just committed (logbatch.h): each staged log record is also
 * copied into the staged batch's chain for its range; a commit keeps that batch as the
 * last committed one. zkv_store_read_log answers from it when the range was written in
 * that batch and the read starts inside its chain (the shipper right after a commit),
 * otherwise from LevelDB. The chain is exactly the committed entries [first, last] of the
 * range: seqs are consecutive within a batch (a jump restarts the chain), the read
 * requires last to be the range's last seq, and the log changes otherwise only by
 * truncation (staged deletions, so the read commits first and the chains are of the new
 * batch, above the truncation's committed bound) and by reset and set_position, which
 * drop the range's records.
 *
 * Row cache (rowcache.h): GETs look in a bounded cache of user key -> value record or
 * "known missing" before LevelDB, and fill it on a miss; writes fill it too
 * (write-through). Invariant: every cached entry of key k equals the state of 'd' + k
 * once the staged batch is committed (the committed state when no change of k is staged),
 * and a GET reads the cache only when no change of k is staged. Why it holds:
 * - Every GET first checks the pending filter: if a change of k is staged, the filter has
 *   k (it has no false negatives) and the batch is committed first. So a GET only looks
 *   at entries of keys with nothing staged, whose entries equal the committed state.
 * - A read fill happens only in zkv_store_get, after that check: what LevelDB returns is
 *   the committed state, and nothing runs between the read and the fill (one thread).
 * - Every staged change of a 'd' key goes through stage_data_key, which adds the key to
 *   the filter and, in the same step, puts the staged value record (or "missing" for a
 *   deletion) in the cache, replacing its entry; a record the cache does not take drops
 *   the old entry. A later change of the same key in the same batch replaces it again, so
 *   the entry is the batch's last word on k, which is what the commit writes. Callers:
 *   stage_entry (put, delete, applied entries) and zkv_store_put_item (snapshot items).
 * - A failed commit fails the store: the batch stays staged and every GET of its keys
 *   (still in the filter) tries to commit and fails, so its entries are never served.
 * - The one writer of 'd' keys that bypasses the filter, delete_prefix (range reset),
 *   clears the whole cache and sets rc_bypass, which makes GETs neither use nor fill the
 *   cache, and writes only drop their entries, until a commit wrote those deletions.
 *   Nothing else writes 'd' keys: the 'l', 'r', 'e' and 'p' records (log, truncation,
 *   positions, history, snapshot marks) never change a GET's answer.
 * - A commit writes exactly the staged batch, whose last word on each key the cache
 *   already holds. So a cached entry a GET may see equals LevelDB.
 * So a GET answered from the cache returns exactly what leveldb_get would have: the
 * guarantees of docs/guarantees.md rest on the store's answers, which do not change.
 * A hit pins its entry (zkv_store_value.pin), so the zero-copy view stays valid until
 * zkv_store_value_release even if a later write or eviction drops the entry. */
#include "store.h"

#include "dbstats.h"
#include "dbwrite.h"
#include "early_write.h"

#include <leveldb/c.h>
#include "bgnice.h"
#include "common/keyrange.h"
#include "common/util.h"
#include "logbatch.h"
#include "logspan.h"
#include "rowcache.h"
#include "bgsync.h"
#include "store_vlog.h"
#include "vlog.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PENDING_BITS 4096u
#define RESET_CHUNK 4096u /* deletions per commit while a range is reset */
/* Log chunks (record.h): a range's small entries of one batch go to LevelDB as one record,
 * since LevelDB's cost (memtable insertion, above all) is per record. Entries larger than
 * CHUNK_ENTRY_MAX go alone (copying them into a chunk would cost more than it saves); a
 * chunk is cut at CHUNK_BYTES. */
#define CHUNK_ENTRY_MAX 1024u
#define CHUNK_BYTES ((size_t)64 * 1024)

/* A range as the store keeps it: the public state first, then what only the store sees. */
typedef struct range {
    zkv_range_state st;
    zkv_epoch_start *hist; /* epoch history, oldest first (staged entries included) */
    size_t n_hist, hist_cap;
    uint64_t first_seq;     /* first entry of the log (0: empty log) */
    uint64_t snap_epoch;    /* a snapshot of this epoch is being received (0: none) */
    uint64_t peer_epoch;    /* highest epoch of accepted replication traffic (memory only) */
    bool state_dirty;       /* the next commit writes the 'r' record */
    zkv_logchain staged;    /* its log records in the batch being staged */
    zkv_logchain recent;    /* ... in the batch committed last, valid while recent_commit */
    uint64_t recent_commit; /* == n_commits (0: none) */
    zkv_buf pend;           /* small log entries staged, not yet in the batch: one chunk */
    uint64_t pend_first, pend_last; /* their seqs (pend_first 0: none) */
    uint64_t head_last;             /* last seq of the log record at first_seq (0: not known) */
    zkv_logspan span;               /* log bytes by seq, for zkv_store_log_retain */
} range;

struct zkv_store_snapshot {
    zkv_store *s;
    const leveldb_snapshot_t *snap;
    leveldb_readoptions_t *ropts;
    leveldb_iterator_t *it;
    uint8_t *end;
    size_t elen;
    zkv_store_snapshot_info info;
    zkv_epoch_start *hist;
};

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

    range **ranges;   /* hash table of owned pointers, NULL = empty slot */
    size_t table_cap; /* power of two */
    size_t n_ranges;
    uint64_t n_commits; /* commits that wrote a batch */
    size_t n_snap;      /* ranges with snap_epoch set: reads skip the lookup while 0 */
    range **dirty;      /* ranges with staged writes */
    size_t n_dirty, dirty_cap;

    /* The log records of the staged batch (lb[lb_staged]) and of the one committed last
     * (the other): log reads of just-committed entries come from memory (logbatch.h). */
    zkv_logbatch lb[2];
    int lb_staged;
    uint64_t log_reads_mem, log_reads_db; /* zkv_store_log_read_counts */

    zkv_rowcache *rc; /* row cache of committed 'd' records (NULL: disabled) */
    bool rc_bypass;   /* data keys deleted in the batch without the filter: no cache */

    zkv_buf kbuf, vbuf; /* scratch for keys and records */

    /* The value log (vlog.h): values above inline_max are stored there once, the data
     * record and log entry holding a pointer. vres holds the last value read from it (a
     * log read's or scan's entry: valid during the callback). */
    zkv_vlog *vlog;
    size_t inline_max;
    zkv_buf vres;
    uint64_t vlog_appended; /* record bytes appended since open (GC credit) */
    size_t n_snapshots;     /* open snapshots: GC keeps the files they may read */
    zkv_vlog_gc *gc;
    zkv_bgsync *bg;       /* durability barriers: the GC's and the marks' (started on first use) */
    uint64_t mark_asked;  /* the value log's end as of the last mark asked for (a tag) */
    uint64_t mark_ticket; /* that mark's barrier (0: none) */
    bool abandon;         /* zkv__store_abandon: close as a crash would, without the mark */

    /* LevelDB writes (dbwrite.h): synced (--sync), their times and waits, and level 0's
     * file count as last read (at most every L0_SAMPLE_US before a write, and after a
     * write that waited). */
    bool sync;
    zkv_dbwrite_stats wstats;
    uint64_t l0_files, l0_at_us;

    /* The batch's records written ahead of the commit, behind the values the value log's
     * writer thread took (early_write.h); early_handed: its bytes handed as of the last. */
    zkv_early *early;
    uint64_t early_handed;
};

#define L0_SAMPLE_US 10000u

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

static range **slot_of(const zkv_store *s, const char *id)
{
    size_t mask = s->table_cap - 1;
    size_t i = (size_t)hash_bytes(id, strlen(id)) & mask;
    while (s->ranges[i] && strcmp(s->ranges[i]->st.id, id) != 0)
        i = (i + 1) & mask;
    return &s->ranges[i];
}

static int table_grow(zkv_store *s)
{
    size_t ncap = s->table_cap ? s->table_cap * 2 : 64;
    range **old = s->ranges;
    size_t ocap = s->table_cap;
    s->ranges = calloc(ncap, sizeof(*s->ranges));
    if (!s->ranges) {
        s->ranges = old;
        return -1;
    }
    s->table_cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i])
            *slot_of(s, old[i]->st.id) = old[i];
    free(old);
    return 0;
}

/* Finds or creates the state of range id. */
static range *range_get(zkv_store *s, const char *id)
{
    if (!id || strlen(id) == 0 || strlen(id) >= ZKV_ID_MAX)
        return NULL;
    if ((s->n_ranges + 1) * 2 > s->table_cap && table_grow(s) != 0)
        return NULL;
    range **slot = slot_of(s, id);
    if (*slot) /* find-or-create: an existing range is returned as it is */
        /* cppcheck-suppress identicalInnerCondition */
        return *slot;
    range *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    snprintf(r->st.id, sizeof(r->st.id), "%s", id);
    *slot = r;
    s->n_ranges++;
    return r;
}

/* Sets r's snapshot-in-progress epoch (0: none), keeping s->n_snap. */
static void set_snap_epoch(zkv_store *s, range *r, uint64_t epoch)
{
    if (!r->snap_epoch && epoch)
        s->n_snap++;
    else if (r->snap_epoch && !epoch)
        s->n_snap--;
    r->snap_epoch = epoch;
}

static range *range_find(const zkv_store *s, const char *id)
{
    if (s->table_cap == 0 || !id)
        return NULL;
    return *slot_of(s, id);
}

const zkv_range_state *zkv_store_range(const zkv_store *s, const char *range_id)
{
    range *r = range_find(s, range_id);
    return r ? &r->st : NULL;
}

size_t zkv_store_range_count(const zkv_store *s)
{
    return s->n_ranges;
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

static int hist_push(range *r, uint64_t epoch, uint64_t start_seq)
{
    if (r->n_hist == r->hist_cap) {
        size_t ncap = r->hist_cap ? r->hist_cap * 2 : 4;
        zkv_epoch_start *nh = realloc(r->hist, ncap * sizeof(*nh));
        if (!nh)
            return -1;
        r->hist = nh;
        r->hist_cap = ncap;
    }
    r->hist[r->n_hist].epoch = epoch;
    r->hist[r->n_hist].start_seq = start_seq;
    r->n_hist++;
    return 0;
}

/* Visits every key starting with prefix (plen bytes) in key order. */
typedef int (*prefix_fn)(zkv_store *s, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen,
                         char *err, size_t errlen);

static int scan_prefix(zkv_store *s, const void *prefix, size_t plen, prefix_fn fn, char *err,
                       size_t errlen)
{
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ropts);
    int rc = 0;
    for (leveldb_iter_seek(it, prefix, plen); leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &klen);
        if (klen < plen || memcmp(k, prefix, plen) != 0)
            break;
        const uint8_t *v = (const uint8_t *)leveldb_iter_value(it, &vlen);
        if ((rc = fn(s, k, klen, v, vlen, err, errlen)) != 0)
            break;
    }
    char *lerr = NULL;
    leveldb_iter_get_error(it, &lerr);
    if (lerr) {
        set_err(err, errlen, "reading the store at open", lerr);
        leveldb_free(lerr);
        rc = ZKV_STORE_ERR;
    }
    leveldb_iter_destroy(it);
    return rc;
}

static int load_state(zkv_store *s, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen,
                      char *err, size_t errlen)
{
    char id[ZKV_ID_MAX];
    zkv_range_state_rec st;
    if (zkv_rec_range_key_decode(k, klen, id, sizeof(id)) != 0 ||
        zkv_rec_range_state_decode(v, vlen, &st) != 0) {
        set_err(err, errlen, "corrupt range state record", NULL);
        return ZKV_STORE_ERR;
    }
    range *r = range_get(s, id);
    if (!r) {
        set_err(err, errlen, "out of memory", NULL);
        return ZKV_STORE_ERR;
    }
    r->st.epoch = r->st.committed_epoch = st.epoch;
    r->st.last_seq = r->st.committed_seq = st.last_seq;
    return 0;
}

static int load_history(zkv_store *s, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen,
                        char *err, size_t errlen)
{
    char id[ZKV_ID_MAX];
    uint64_t epoch, start;
    if (zkv_rec_epoch_key_decode(k, klen, id, sizeof(id), &epoch) != 0 ||
        zkv_rec_u64_decode(v, vlen, &start) != 0) {
        set_err(err, errlen, "corrupt epoch history record", NULL);
        return ZKV_STORE_ERR;
    }
    range *r = range_get(s, id);
    if (!r || hist_push(r, epoch, start) != 0) {
        set_err(err, errlen, "out of memory", NULL);
        return ZKV_STORE_ERR;
    }
    return 0;
}

static int load_snap_marker(zkv_store *s, const uint8_t *k, size_t klen, const uint8_t *v,
                            size_t vlen, char *err, size_t errlen)
{
    char id[ZKV_ID_MAX];
    uint64_t epoch;
    if (zkv_rec_snap_key_decode(k, klen, id, sizeof(id)) != 0 ||
        zkv_rec_u64_decode(v, vlen, &epoch) != 0) {
        set_err(err, errlen, "corrupt snapshot marker", NULL);
        return ZKV_STORE_ERR;
    }
    range *r = range_get(s, id);
    if (!r) {
        set_err(err, errlen, "out of memory", NULL);
        return ZKV_STORE_ERR;
    }
    set_snap_epoch(s, r, epoch ? epoch : 1);
    return 0;
}

/* The last entry of a log record (a chunk, or one entry). */
typedef struct last_entry {
    uint64_t seq;
    const uint8_t *rec;
    size_t len;
} last_entry;

static int note_last_entry(void *ctx, uint64_t seq, const uint8_t *rec, size_t len)
{
    last_entry *le = ctx;
    le->seq = seq;
    le->rec = rec;
    le->len = len;
    return 0;
}

/* The first and the last log entry of every range: first_seq, and the range's position
 * when the log is ahead of its 'r' record. Three seeks per range, whatever the log size. */
static int load_logs(zkv_store *s, char *err, size_t errlen)
{
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ropts);
    uint8_t past[1 + ZKV_ID_MAX + 1]; /* 'l' + id + 0x01: just after the range's entries */
    past[0] = ZKV_REC_LOG_PREFIX;
    int rc = 0;
    const char *bad = NULL;
    leveldb_iter_seek(it, (const char *)past, 1);
    while (rc == 0 && leveldb_iter_valid(it)) {
        size_t klen, vlen;
        const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &klen);
        if (klen < 1 || k[0] != ZKV_REC_LOG_PREFIX)
            break;
        char id[ZKV_ID_MAX], last_id[ZKV_ID_MAX];
        uint64_t first, last;
        if (zkv_rec_log_key_decode(k, klen, id, sizeof(id), &first) != 0) {
            bad = "corrupt log key";
            break;
        }
        size_t idl = strlen(id);
        memcpy(past + 1, id, idl);
        past[1 + idl] = 0x01;
        leveldb_iter_seek(it, (const char *)past, idl + 2);
        if (leveldb_iter_valid(it))
            leveldb_iter_prev(it);
        else
            leveldb_iter_seek_to_last(it);
        zkv_log_view e;
        const uint8_t *v;
        last_entry le = {0};
        if (!leveldb_iter_valid(it) || !(k = (const uint8_t *)leveldb_iter_key(it, &klen)) ||
            zkv_rec_log_key_decode(k, klen, last_id, sizeof(last_id), &last) != 0 ||
            strcmp(last_id, id) != 0 || last < first ||
            !(v = (const uint8_t *)leveldb_iter_value(it, &vlen)) ||
            zkv_rec_log_value_walk(v, vlen, last, note_last_entry, &le) != 0 || !le.rec ||
            zkv_rec_log_decode(le.rec, le.len, &e) != 0) {
            bad = "corrupt log entry";
            break;
        }
        last = le.seq; /* (a chunk's last entry) */
        range *r = range_get(s, id);
        if (!r) {
            bad = "out of memory";
            break;
        }
        r->first_seq = first;
        if (last > r->st.last_seq) {
            r->st.last_seq = r->st.committed_seq = last;
            r->st.epoch = r->st.committed_epoch = e.epoch;
        }
        leveldb_iter_seek(it, (const char *)past, idl + 2); /* the next range's log */
    }
    if (bad) {
        set_err(err, errlen, bad, "reading the range logs at open");
        rc = ZKV_STORE_ERR;
    }
    return iter_finish(it, rc, "reading the range logs at open", err, errlen);
}

static int load_ranges(zkv_store *s, char *err, size_t errlen)
{
    const char pr = ZKV_REC_RANGE_PREFIX, pe = ZKV_REC_EPOCH_PREFIX, pp = ZKV_REC_SNAP_PREFIX;
    if (scan_prefix(s, &pr, 1, load_state, err, errlen) != 0 ||
        scan_prefix(s, &pe, 1, load_history, err, errlen) != 0 ||
        scan_prefix(s, &pp, 1, load_snap_marker, err, errlen) != 0 ||
        load_logs(s, err, errlen) != 0)
        return ZKV_STORE_ERR;
    for (size_t i = 0; i < s->table_cap; i++) {
        range *r = s->ranges[i];
        if (!r)
            continue;
        if (r->snap_epoch) {
            /* An unfinished snapshot: whatever is left of the range is void until the next
             * reset; the range reads as empty. */
            r->n_hist = 0;
            r->first_seq = 0;
            r->st.epoch = r->st.committed_epoch = 0;
            r->st.last_seq = r->st.committed_seq = 0;
        }
    }
    return 0;
}

int zkv_store_open(const char *dir, zkv_store **out, char *err, size_t errlen)
{
    return zkv_store_open_with(dir, NULL, out, err, errlen);
}

typedef struct {
    zkv_store *s;
    const char *dir;
    char *lerr;
} open_call;

/* Opens the database; run on a thread of lower priority (bgnice.h), so LevelDB's
 * background thread, which the first scheduled work starts, inherits it: opening
 * schedules work only when there is some to do, so a compaction of a key range no
 * record uses (every key starts with a record type letter) schedules a memtable switch
 * and an empty level-0 compaction, which start it. Later databases of the process share
 * that thread. */
static void open_db(void *arg)
{
    open_call *c = arg;
    c->s->db = leveldb_open(c->s->opts, c->dir, &c->lerr);
    static const char no_record[1] = {0}; /* record keys start with a letter (record.h) */
    if (c->s->db)
        leveldb_compact_range(c->s->db, no_record, 1, no_record, 1);
}

/* The value log lets go of a row-cache entry it wrote a value from (put_large). */
static void unpin_entry(void *e)
{
    zkv_rowcache_unpin(e);
}

static void close_later(void *ctx, int fd); /* (bgsync's, below) */

int zkv_store_open_with(const char *dir, const zkv_store_tuning *t, zkv_store **out, char *err,
                        size_t errlen)
{
    const zkv_store_tuning defaults = {.write_buffer = ZKV_STORE_DEFAULT_WRITE_BUFFER,
                                       .compaction_nice = ZKV_STORE_DEFAULT_COMPACTION_NICE,
                                       .inline_max = ZKV_STORE_DEFAULT_INLINE_MAX};
    if (!t)
        t = &defaults;
    *out = NULL;
    zkv_store *s = calloc(1, sizeof(*s));
    if (!s) {
        set_err(err, errlen, "out of memory", NULL);
        return ZKV_STORE_ERR;
    }
    zkv_buf_init(&s->kbuf);
    zkv_buf_init(&s->vbuf);
    zkv_buf_init(&s->vres);
    s->inline_max = t->inline_max;
    zkv_logbatch_init(&s->lb[0]);
    zkv_logbatch_init(&s->lb[1]);
    s->opts = leveldb_options_create();
    leveldb_options_set_create_if_missing(s->opts, 1);
    s->filter = leveldb_filterpolicy_create_bloom(10);
    leveldb_options_set_filter_policy(s->opts, s->filter);
    s->cache = leveldb_cache_create_lru(32u << 20);
    leveldb_options_set_cache(s->opts, s->cache);
    /* Memtable size is a trade: every write stores its value twice (data and log entry),
     * so with small memtables level 0 fills faster than compaction drains it once
     * values reach kilobytes and LevelDB slows every write down (64 MiB doubles PUT
     * throughput at 10 KB and 100 KB values), while a large skiplist makes each small
     * write's insertion slower (64 MiB costs a quarter of PUT throughput at 100-byte
     * values). 16 MiB by default, --write-buffer-mb for large values; 8 MiB tables
     * (LevelDB's default is 2 MiB) mean fewer, larger compactions either way
     * (docs/performance.md). */
    leveldb_options_set_write_buffer_size(s->opts, t->write_buffer);
    leveldb_options_set_max_file_size(s->opts, 8u << 20);
    s->ropts = leveldb_readoptions_create();
    s->wopts = leveldb_writeoptions_create();
    s->sync = t->sync;
    leveldb_writeoptions_set_sync(s->wopts, t->sync);
    s->batch = leveldb_writebatch_create();
    s->rc = zkv_rowcache_create(ZKV_STORE_DEFAULT_CACHE_BYTES);
    if (!s->rc) {
        set_err(err, errlen, "out of memory", NULL);
        zkv_store_close(s);
        return ZKV_STORE_ERR;
    }
    open_call oc = {.s = s, .dir = dir, .lerr = NULL};
    if (zkv_run_niced(t->compaction_nice, open_db, &oc) != 0)
        open_db(&oc); /* no thread to spare: at the caller's priority */
    if (!s->db) {
        set_err(err, errlen, "cannot open LevelDB", oc.lerr);
        leveldb_free(oc.lerr);
        zkv_store_close(s);
        return ZKV_STORE_ERR;
    }
    char vdir[4096];
    snprintf(vdir, sizeof(vdir), "%s/vlog", dir);
    if (zkv_vlog_open(vdir, t->vlog_file_bytes, &s->vlog, err, errlen) != 0 ||
        !(s->gc = zkv__vlog_gc_create())) {
        if (!s->gc && s->vlog)
            set_err(err, errlen, "out of memory", NULL);
        zkv_store_close(s);
        return ZKV_STORE_ERR;
    }
    zkv_vlog_set_closer(s->vlog, close_later, s);
    zkv_vlog_set_release(s->vlog, unpin_entry);
    if (table_grow(s) != 0 || load_ranges(s, err, errlen) != 0) {
        zkv_store_close(s);
        return ZKV_STORE_ERR;
    }
    *out = s;
    return 0;
}

static void final_mark(zkv_store *s);

/* Waits for the records written ahead and forgets them (a failed commit, a close). */
static void drop_early(zkv_store *s)
{
    if (!zkv_early_queued(s->early))
        return;
    zkv_vlog_wait_writer(s->vlog);
    char err[8];
    (void)zkv_early_collect(s->early, NULL, NULL, err, sizeof(err));
}

void zkv_store_close(zkv_store *s)
{
    if (!s)
        return;
    drop_early(s); /* (a crash's close: they write to the database) */
    zkv_early_free(s->early);
    final_mark(s);
    zkv_bgsync_free(s->bg); /* finishes its barriers, which write to the database */
    s->bg = NULL;           /* (a deleted file's close from here on is done in place) */
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
    for (size_t i = 0; i < s->table_cap; i++) {
        if (s->ranges[i]) {
            free(s->ranges[i]->hist);
            zkv_buf_free(&s->ranges[i]->pend);
        }
        free(s->ranges[i]);
    }
    free(s->ranges);
    free(s->dirty);
    zkv_rowcache_free(s->rc);
    zkv_vlog_close(s->vlog);
    zkv__vlog_gc_free(s->gc);
    zkv_buf_free(&s->kbuf);
    zkv_buf_free(&s->vbuf);
    zkv_buf_free(&s->vres);
    zkv_logbatch_free(&s->lb[0]);
    zkv_logbatch_free(&s->lb[1]);
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

/* The row-cache tag of a value-log value: where it is (file and offset), so the GC learns
 * from a cached entry whether a record is live without a LevelDB read. 0 when a pointer
 * does not fit (file >= 2^24 or offset >= 2^40): such values are not cached. */
#define TAG_OFF_BITS 40
static uint64_t vptr_tag(uint32_t file, uint64_t off)
{
    if (file == 0 || file >= (1u << 24) || off >> TAG_OFF_BITS)
        return 0;
    return (uint64_t)file << TAG_OFF_BITS | off;
}

static void tag_where(uint64_t tag, zkv_vptr *p)
{
    p->file = (uint32_t)(tag >> TAG_OFF_BITS);
    p->off = tag & (((uint64_t)1 << TAG_OFF_BITS) - 1);
}

/* Caches key's value-log value (value, vlen; its metadata m) as the inline record of it,
 * tagged with where it is: the record is built in the entry, one copy. The entry, or NULL
 * when not cached. */
static zkv_rowcache_entry *cache_value(zkv_rowcache *rc, const uint8_t *key, size_t klen,
                                       const zkv_value_meta *m, const uint8_t *value, size_t vlen,
                                       uint64_t tag)
{
    zkv_value_meta im = *m;
    im.flags &= (uint8_t)~ZKV_VALUE_INDIRECT;
    uint8_t head[ZKV_REC_VALUE_HDR];
    zkv_rec_value_head(head, &im);
    return zkv_rowcache_put_parts(rc, key, klen, head, sizeof head, value, vlen, tag);
}

/* The row-cache entry of key, looked at without counting it as a read (the GC), or NULL. */
static zkv_rowcache_entry *cache_peek(zkv_store *s, const uint8_t *key, size_t klen)
{
    return s->rc && !s->rc_bypass ? zkv_rowcache_peek(s->rc, key, klen) : NULL;
}

/* A staged change of key kills its value-log record the row cache knows of (tagged): its
 * bytes (but the range id's) count against its file, the GC's estimate of what is live. */
static void note_dead(zkv_store *s, const uint8_t *key, size_t klen)
{
    zkv_rowcache_entry *e = cache_peek(s, key, klen);
    uint64_t tag = e ? zkv_rowcache_entry_tag(e) : 0;
    if (!tag)
        return;
    size_t rlen;
    (void)zkv_rowcache_entry_record(e, &rlen);
    zkv_vptr p;
    tag_where(tag, &p);
    uint64_t vlen = rlen > ZKV_REC_VALUE_HDR ? rlen - ZKV_REC_VALUE_HDR : 0;
    zkv_vlog_note_dead(s->vlog, p.file, ZKV_VLOG_REC_HDR + klen + vlen);
}

/* Every staged change of 'd' + key (put, delete, snapshot item) calls this with the value
 * record it stages (NULL: a deletion): a read of key then commits first (filter), and the
 * row cache holds key's state as of that commit (write-through, see the top), so a read
 * after a write does not have to go to LevelDB. */
static void stage_data_key(zkv_store *s, const uint8_t *key, size_t klen, const uint8_t *rec,
                           size_t rlen)
{
    note_dead(s, key, klen);
    filter_add(s, key, klen);
    if (!s->rc)
        return;
    if (s->rc_bypass)
        zkv_rowcache_invalidate(s->rc, key, klen);
    else if (rec)
        zkv_rowcache_put(s->rc, key, klen, rec, rlen); /* not cached: old entry dropped */
    else
        zkv_rowcache_put_missing(s->rc, key, klen);
}

/* A 'd' key is deleted in the batch without the filter (delete_prefix): drop the whole
 * cache and keep GETs off it until a commit wrote the deletion. */
static void stage_data_reset(zkv_store *s)
{
    if (s->rc && !s->rc_bypass)
        zkv_rowcache_clear(s->rc);
    s->rc_bypass = true;
}

static int mark_dirty(zkv_store *s, range *r, char *err, size_t errlen)
{
    if (r->st.pending == 0) {
        if (s->n_dirty == s->dirty_cap) {
            size_t ncap = s->dirty_cap ? s->dirty_cap * 2 : 16;
            range **nd = realloc(s->dirty, ncap * sizeof(*nd));
            if (!nd) {
                set_err(err, errlen, "out of memory", NULL);
                return ZKV_STORE_ERR;
            }
            s->dirty = nd;
            s->dirty_cap = ncap;
        }
        s->dirty[s->n_dirty++] = r;
    }
    r->st.pending++;
    s->n_pending++;
    return 0;
}

static int oom(zkv_store *s, char *err, size_t errlen)
{
    /* Something may already be in the batch: the in-memory state can no longer be trusted. */
    s->failed = true;
    set_err(err, errlen, "out of memory", NULL);
    return ZKV_STORE_ERR;
}

/* Stages the 'r' record of r: its position now (staged writes included). */
static int stage_state(zkv_store *s, range *r, char *err, size_t errlen)
{
    zkv_range_state_rec st = {.epoch = r->st.epoch, .last_seq = r->st.last_seq};
    s->kbuf.len = s->kbuf.off = 0;
    s->vbuf.len = s->vbuf.off = 0;
    if (zkv_rec_range_key(&s->kbuf, r->st.id) != 0 ||
        zkv_rec_range_state_encode(&s->vbuf, &st) != 0)
        return oom(s, err, errlen);
    leveldb_writebatch_put(s->batch, (const char *)s->kbuf.data, s->kbuf.len,
                           (const char *)s->vbuf.data, s->vbuf.len);
    return 0;
}

/* Stages 'e' + id + epoch -> start_seq and appends it to the in-memory history. */
static int stage_history(zkv_store *s, range *r, uint64_t epoch, uint64_t start_seq, char *err,
                         size_t errlen)
{
    s->kbuf.len = s->kbuf.off = 0;
    s->vbuf.len = s->vbuf.off = 0;
    if (zkv_rec_epoch_key(&s->kbuf, r->st.id, epoch) != 0 ||
        zkv_rec_u64_encode(&s->vbuf, start_seq) != 0 || hist_push(r, epoch, start_seq) != 0)
        return oom(s, err, errlen);
    leveldb_writebatch_put(s->batch, (const char *)s->kbuf.data, s->kbuf.len,
                           (const char *)s->vbuf.data, s->vbuf.len);
    return 0;
}

/* true when a write at epoch after r's last write starts a new epoch in the history. A range
 * with writes but no history (written before histories existed) records only a change. */
static bool new_epoch(const range *r, uint64_t epoch)
{
    if (r->n_hist == 0)
        return r->st.last_seq == 0 || epoch != r->st.epoch;
    return epoch != r->hist[r->n_hist - 1].epoch;
}

/* Stages r's pending small entries: one entry as itself, more as a chunk under the first's
 * seq. */
static int flush_pend(zkv_store *s, range *r, char *err, size_t errlen)
{
    if (!r->pend_first)
        return 0;
    s->kbuf.len = s->kbuf.off = 0;
    if (zkv_rec_log_key(&s->kbuf, r->st.id, r->pend_first) != 0)
        return oom(s, err, errlen);
    size_t vlen;
    const uint8_t *v = zkv_rec_chunk_finish(&r->pend, r->pend_first, r->pend_last, &vlen);
    leveldb_writebatch_put(s->batch, (const char *)s->kbuf.data, s->kbuf.len, (const char *)v,
                           vlen);
    r->pend.len = r->pend.off = 0;
    r->pend_first = r->pend_last = 0;
    return 0;
}

/* Stages the log entry s->vbuf of seq: into r's pending chunk when it is small and follows
 * it, otherwise (after the pending chunk) as a record of its own. */
static int stage_log_record(zkv_store *s, range *r, uint64_t seq, char *err, size_t errlen)
{
    bool small = s->vbuf.len <= CHUNK_ENTRY_MAX;
    if (r->pend_first && (!small || seq != r->pend_last + 1 || r->pend.len >= CHUNK_BYTES) &&
        flush_pend(s, r, err, errlen) != 0)
        return ZKV_STORE_ERR;
    if (small) {
        if (zkv_rec_chunk_append(&r->pend, s->vbuf.data, s->vbuf.len) != 0)
            return oom(s, err, errlen);
        if (!r->pend_first)
            r->pend_first = seq;
        r->pend_last = seq;
        return 0;
    }
    s->kbuf.len = s->kbuf.off = 0;
    if (zkv_rec_log_key(&s->kbuf, r->st.id, seq) != 0)
        return oom(s, err, errlen);
    leveldb_writebatch_put(s->batch, (const char *)s->kbuf.data, s->kbuf.len,
                           (const char *)s->vbuf.data, s->vbuf.len);
    return 0;
}

/* Appends a value to the value log for (range_id, seq, key); ptr receives its pointer and
 * *tag its row-cache tag. paid: a write's append, which pays for GC reading (vlog_plan.h);
 * a GC move is not. owner: NULL, or the pinned row-cache entry that holds value, which the
 * log then writes from where it is (zkv_vlog_append_ref) and unpins when done with it. */
static int vlog_put(zkv_store *s, bool paid, const char *range_id, uint64_t seq, const uint8_t *key,
                    size_t klen, const uint8_t *value, size_t vlen, zkv_rowcache_entry *owner,
                    uint8_t ptr[ZKV_REC_VPTR_LEN], uint64_t *tag, char *err, size_t errlen)
{
    zkv_vptr p;
    if ((owner ? zkv_vlog_append_ref(s->vlog, range_id, seq, key, klen, value, vlen, owner, &p, err,
                                     errlen)
               : zkv_vlog_append(s->vlog, range_id, seq, key, klen, value, vlen, &p, err,
                                 errlen)) != 0) {
        s->failed = true;
        return ZKV_STORE_ERR;
    }
    zkv_rec_vptr_encode(ptr, &p);
    *tag = vptr_tag(p.file, p.off);
    if (paid)
        s->vlog_appended += p.rec_len;
    return 0;
}

/* Values of this size or more that the row cache takes are written to the value log from
 * the cache's entry (zkv_vlog_append_ref) rather than copied into the log's batch as well:
 * one copy of the value on the loop thread instead of two. Smaller ones are copied. */
#define VLOG_REF_MIN 8192u

/* A put's value-log half for a large value: its append (paid) and, where the row cache is
 * in use, its caching (stage_data_value's part, which the caller then skips: *cached). A
 * value of VLOG_REF_MIN or more is cached first and appended from its entry, which the log
 * keeps pinned until it has let go of the bytes. */
static int put_large(zkv_store *s, const char *range_id, uint64_t seq, const uint8_t *key,
                     size_t klen, const zkv_value_meta *m, const uint8_t *value, size_t vlen,
                     uint8_t ptr[ZKV_REC_VPTR_LEN], uint64_t *tag, bool *cached, char *err,
                     size_t errlen)
{
    *cached = false;
    if (!s->rc || s->rc_bypass || vlen < VLOG_REF_MIN)
        return vlog_put(s, true, range_id, seq, key, klen, value, vlen, NULL, ptr, tag, err,
                        errlen);
    note_dead(s, key, klen);
    filter_add(s, key, klen);
    *cached = true; /* from here on the cache holds the new value or nothing for key */
    zkv_rowcache_entry *e = cache_value(s->rc, key, klen, m, value, vlen, 0);
    if (!e)
        return vlog_put(s, true, range_id, seq, key, klen, value, vlen, NULL, ptr, tag, err,
                        errlen);
    size_t rlen;
    const uint8_t *rec = zkv_rowcache_entry_record(e, &rlen);
    zkv_rowcache_pin(e);
    if (vlog_put(s, true, range_id, seq, key, klen, rec + ZKV_REC_VALUE_HDR, vlen, e, ptr, tag, err,
                 errlen) != 0) {
        zkv_rowcache_unpin(e);
        zkv_rowcache_invalidate(s->rc, key, klen);
        return ZKV_STORE_ERR;
    }
    if (*tag)
        zkv_rowcache_entry_set_tag(e, *tag);
    else
        zkv_rowcache_invalidate(s->rc, key, klen);
    return 0;
}

/* stage_data_key for a put whose data record is rec: the row cache holds values, so a
 * record that points into the value log (indirect) is cached as the inline record of the
 * value (built in the cache's entry: one copy), tagged with where it is (without a tag: not
 * cached). */
static int stage_data_value(zkv_store *s, const uint8_t *key, size_t klen, const uint8_t *rec,
                            size_t rlen, bool indirect, uint64_t tag, const zkv_value_meta *m,
                            const uint8_t *value, size_t vlen)
{
    if (!indirect || !s->rc || s->rc_bypass) {
        stage_data_key(s, key, klen, rec, rlen);
        return 0;
    }
    note_dead(s, key, klen);
    filter_add(s, key, klen);
    if (!tag) {
        zkv_rowcache_invalidate(s->rc, key, klen);
        return 0;
    }
    (void)cache_value(s->rc, key, klen, m, value, vlen, tag);
    return 0;
}

/* Stages one log entry at (m->epoch, m->seq) = r's next seq, its data change, and the history
 * entry when it opens an epoch. The caller checked every rule. */
static int stage_entry(zkv_store *s, range *r, zkv_log_op op, const zkv_write_tag *tag,
                       const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                       const zkv_value_meta *m, char *err, size_t errlen)
{
    if (mark_dirty(s, r, err, errlen) != 0)
        return ZKV_STORE_ERR;
    if (new_epoch(r, m->epoch)) {
        if (stage_history(s, r, m->epoch, m->seq, err, errlen) != 0)
            return ZKV_STORE_ERR;
        r->state_dirty = true; /* epochs change rarely: the 'r' record says it too */
    }
    /* A large value goes to the value log; the entry and the data record point at it. */
    zkv_value_meta lm = *m;
    const uint8_t *lv = value;
    size_t llen = vlen;
    uint8_t ptr[ZKV_REC_VPTR_LEN];
    uint64_t ctag = 0; /* its row-cache tag */
    bool indirect = op == ZKV_LOG_OP_PUT && vlen > s->inline_max, cached = false;
    if (indirect) {
        if (put_large(s, r->st.id, m->seq, key, klen, m, value, vlen, ptr, &ctag, &cached, err,
                      errlen) != 0)
            return ZKV_STORE_ERR;
        lm.flags |= ZKV_VALUE_INDIRECT;
        lv = ptr;
        llen = sizeof(ptr);
    }
    s->vbuf.len = s->vbuf.off = 0;
    if (zkv_rec_log_encode(&s->vbuf, op, m->epoch, tag, key, klen, &lm, lv, llen) != 0)
        return oom(s, err, errlen);
    if (stage_log_record(s, r, m->seq, err, errlen) != 0)
        return ZKV_STORE_ERR;
    zkv_logspan_add(&r->span, m->seq, s->vbuf.len + (indirect ? vlen : 0));
    /* A copy for log reads right after the commit; without memory, they read LevelDB. */
    (void)zkv_logbatch_add(&s->lb[s->lb_staged], &r->staged, m->seq, s->vbuf.data, s->vbuf.len);
    s->kbuf.len = 0;
    if (zkv_rec_data_key(&s->kbuf, key, klen) != 0)
        return oom(s, err, errlen);
    if (op == ZKV_LOG_OP_PUT) {
        /* The value record is the tail of the log entry just encoded. */
        size_t off = s->vbuf.len - (ZKV_REC_VALUE_HDR + llen);
        leveldb_writebatch_put(s->batch, (const char *)s->kbuf.data, s->kbuf.len,
                               (const char *)s->vbuf.data + off, ZKV_REC_VALUE_HDR + llen);
        if (!cached && stage_data_value(s, key, klen, s->vbuf.data + off, ZKV_REC_VALUE_HDR + llen,
                                        indirect, ctag, m, value, vlen) != 0)
            return oom(s, err, errlen);
    } else {
        leveldb_writebatch_delete(s->batch, (const char *)s->kbuf.data, s->kbuf.len);
        stage_data_key(s, key, klen, NULL, 0);
    }
    if (r->first_seq == 0) {
        r->first_seq = m->seq;
        r->head_last = 0;
    }
    r->st.last_seq = m->seq;
    r->st.epoch = m->epoch;
    r->st.bytes_written += klen + vlen;
    return 0;
}

/* The range's log changes other than by appending: its records in memory are void. */
static void forget_log_records(range *r)
{
    zkv_logchain_init(&r->staged);
    r->recent_commit = 0;
    r->head_last = 0;
    r->pend.len = r->pend.off = 0; /* (set_position stages them first; others drop them) */
    zkv_logspan_reset(&r->span);
    r->pend_first = r->pend_last = 0;
}

static range *writable(zkv_store *s, const char *range_id, char *err, size_t errlen)
{
    if (s->failed) {
        set_err(err, errlen, "store failed after a write error", NULL);
        return NULL;
    }
    range *r = range_get(s, range_id);
    if (!r)
        set_err(err, errlen, "bad range id or out of memory", NULL);
    return r;
}

/* Gives the next seq of range_id to a write at epoch and stages the log entry and the
 * data change. */
int zkv_store_write(zkv_store *s, const char *range_id, uint64_t epoch, zkv_log_op op,
                    const zkv_write_tag *tag, const uint8_t *key, size_t klen, const uint8_t *value,
                    size_t vlen, uint64_t expiry_ms, zkv_value_meta *meta, char *err, size_t errlen)
{
    range *r = writable(s, range_id, err, errlen);
    if (!r)
        return ZKV_STORE_ERR;
    if (r->snap_epoch) {
        if (err && errlen)
            snprintf(err, errlen, "range %s is being rebuilt from a snapshot (epoch %llu)",
                     range_id, (unsigned long long)r->snap_epoch);
        return ZKV_STORE_INCOMPLETE;
    }
    if (epoch < r->st.epoch) {
        if (err && errlen)
            snprintf(err, errlen, "range %s: epoch %llu is older than the stored epoch %llu",
                     range_id, (unsigned long long)epoch, (unsigned long long)r->st.epoch);
        return ZKV_STORE_STALE_EPOCH;
    }
    zkv_value_meta m = {.flags = 0,
                        .epoch = epoch,
                        .seq = r->st.last_seq + 1,
                        .expiry_ms = op == ZKV_LOG_OP_PUT ? expiry_ms : 0};
    if (stage_entry(s, r, op, tag, key, klen, value, vlen, &m, err, errlen) != 0)
        return ZKV_STORE_ERR;
    if (meta)
        *meta = m;
    return 0;
}

static uint64_t db_size(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end,
                        size_t elen)
{
    zkv_buf a, b;
    zkv_buf_init(&a);
    zkv_buf_init(&b);
    uint64_t size = 0;
    int rc = zkv_rec_data_key(&a, start, slen);
    /* no end: up to the first key after every data key ('d' + 1) */
    const uint8_t next_prefix = ZKV_REC_DATA_PREFIX + 1;
    rc |= elen ? zkv_rec_data_key(&b, end, elen) : zkv_buf_append(&b, &next_prefix, 1);
    if (rc == 0) {
        const char *starts[1] = {(const char *)a.data}, *limits[1] = {(const char *)b.data};
        size_t slens[1] = {a.len}, llens[1] = {b.len};
        leveldb_approximate_sizes(s->db, 1, starts, slens, limits, llens, &size);
    }
    zkv_buf_free(&a);
    zkv_buf_free(&b);
    return size;
}

/* LevelDB's bytes of the interval's data records, plus the interval's share of the value
 * log's live bytes: its share of all data records' bytes (the records of value-log values
 * are pointers, which LevelDB's estimate alone would count about 70 bytes a key). */
uint64_t zkv_store_approx_size(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end,
                               size_t elen)
{
    uint64_t size = db_size(s, start, slen, end, elen);
    zkv_vlog_stats st;
    zkv_store_vlog_stats(s, &st);
    if (size == 0 || st.live_estimate == 0)
        return size;
    uint64_t all = db_size(s, NULL, 0, NULL, 0);
    if (all < size)
        all = size;
    return size + (uint64_t)((double)st.live_estimate * (double)size / (double)all);
}

int zkv_store_put(zkv_store *s, const char *range_id, uint64_t epoch, const uint8_t *key,
                  size_t klen, const uint8_t *value, size_t vlen, zkv_value_meta *meta, char *err,
                  size_t errlen)
{
    return zkv_store_write(s, range_id, epoch, ZKV_LOG_OP_PUT, NULL, key, klen, value, vlen, 0,
                           meta, err, errlen);
}

int zkv_store_delete(zkv_store *s, const char *range_id, uint64_t epoch, const uint8_t *key,
                     size_t klen, zkv_value_meta *meta, char *err, size_t errlen)
{
    return zkv_store_write(s, range_id, epoch, ZKV_LOG_OP_DELETE, NULL, key, klen, NULL, 0, 0, meta,
                           err, errlen);
}

int zkv_store_apply(zkv_store *s, const char *range_id, const zkv_store_entry *e, char *err,
                    size_t errlen)
{
    range *r = writable(s, range_id, err, errlen);
    if (!r)
        return ZKV_STORE_ERR;
    if (r->snap_epoch) {
        if (err && errlen)
            snprintf(err, errlen, "range %s is being rebuilt from a snapshot", range_id);
        return ZKV_STORE_INCOMPLETE;
    }
    if (e->op != ZKV_LOG_OP_PUT && e->op != ZKV_LOG_OP_DELETE) {
        set_err(err, errlen, "log entry with an unknown op", NULL);
        return ZKV_STORE_ERR;
    }
    if (e->seq != r->st.last_seq + 1 || e->epoch < r->st.epoch) {
        if (err && errlen)
            snprintf(err, errlen,
                     "range %s: entry (%llu, %llu) does not follow the last entry (%llu, %llu)",
                     range_id, (unsigned long long)e->epoch, (unsigned long long)e->seq,
                     (unsigned long long)r->st.epoch, (unsigned long long)r->st.last_seq);
        return ZKV_STORE_ERR;
    }
    zkv_value_meta m = {.flags = 0, .epoch = e->epoch, .seq = e->seq, .expiry_ms = e->expiry_ms};
    return stage_entry(s, r, e->op, &e->tag, e->key, e->klen, e->value, e->vlen, &m, err, errlen);
}

int zkv_store_history(const zkv_store *s, const char *range_id, zkv_epoch_start *out, size_t n)
{
    const range *r = range_find(s, range_id);
    if (!r)
        return 0;
    size_t k = r->n_hist < n ? r->n_hist : n;
    if (k)
        memcpy(out, r->hist, k * sizeof(*out));
    return r->n_hist > INT32_MAX ? ZKV_STORE_ERR : (int)r->n_hist;
}

uint64_t zkv_store_log_retain(const zkv_store *s, const char *range_id, uint64_t entries,
                              uint64_t bytes)
{
    const range *r = range_find(s, range_id);
    if (!bytes || !r)
        return entries;
    uint64_t within = zkv_logspan_entries_within(&r->span, r->st.last_seq, bytes);
    return within < entries ? within : entries;
}

uint64_t zkv_store_log_first_seq(const zkv_store *s, const char *range_id)
{
    const range *r = range_find(s, range_id);
    return r ? r->first_seq : 0;
}

uint64_t zkv_store_range_snapshot_epoch(const zkv_store *s, const char *range_id)
{
    if (s->n_snap == 0)
        return 0;
    const range *r = range_find(s, range_id);
    return r ? r->snap_epoch : 0;
}

uint64_t zkv_store_range_min_epoch(const zkv_store *s, const char *range_id)
{
    const range *r = range_find(s, range_id);
    if (!r)
        return 0;
    uint64_t e = r->st.epoch;
    if (r->snap_epoch > e)
        e = r->snap_epoch;
    if (r->peer_epoch > e)
        e = r->peer_epoch;
    return e;
}

int zkv_store_range_note_epoch(zkv_store *s, const char *range_id, uint64_t epoch)
{
    range *r = range_get(s, range_id);
    if (!r)
        return ZKV_STORE_ERR;
    if (epoch > r->peer_epoch)
        r->peer_epoch = epoch;
    return 0;
}

int64_t zkv_store_truncate_log(zkv_store *s, const char *range_id, uint64_t upto_seq, char *err,
                               size_t errlen)
{
    if (s->failed) {
        set_err(err, errlen, "store failed after a write error", NULL);
        return ZKV_STORE_ERR;
    }
    range *r = range_find(s, range_id);
    if (!r || r->first_seq == 0)
        return 0;
    uint64_t limit = upto_seq < r->st.committed_seq ? upto_seq : r->st.committed_seq;
    if (r->first_seq > limit || (r->head_last && r->head_last > limit))
        return 0; /* (the record at the head holds entries past the limit: it stays) */
    /* Whole records from the head, up to ZKV_STORE_TRUNCATE_CHUNK entries: a chunk that
     * reaches past the limit stays, and the log then starts a little before it. */
    s->kbuf.len = s->kbuf.off = 0;
    if (zkv_rec_log_key(&s->kbuf, r->st.id, r->first_seq) != 0)
        return oom(s, err, errlen);
    size_t prefix_len = s->kbuf.len - 8;
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ropts);
    uint64_t n = 0;
    bool budget_left = true;
    int rc = 0;
    r->head_last = 0;
    for (leveldb_iter_seek(it, (const char *)s->kbuf.data, s->kbuf.len); leveldb_iter_valid(it);
         leveldb_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &klen);
        if (klen != prefix_len + 8 || memcmp(k, s->kbuf.data, prefix_len) != 0)
            break;
        uint64_t first = zkv_get_u64be(k + prefix_len), last;
        const uint8_t *v = (const uint8_t *)leveldb_iter_value(it, &vlen);
        if (zkv_rec_log_value_last(v, vlen, first, &last) != 0) {
            set_err(err, errlen, "corrupt log record", NULL);
            rc = ZKV_STORE_ERR;
            break;
        }
        if (last > limit) {
            r->head_last = last;
            break;
        }
        if (n >= ZKV_STORE_TRUNCATE_CHUNK) {
            budget_left = false;
            break;
        }
        leveldb_writebatch_delete(s->batch, (const char *)k, klen);
        n += last - first + 1;
        r->first_seq = last + 1;
    }
    rc = iter_finish(it, rc, "LevelDB read failed while truncating a log", err, errlen);
    if (rc != 0)
        return rc;
    if (n == 0)
        return 0;
    /* The log may end up empty: the position goes to the 'r' record in the same batch. */
    if (stage_state(s, r, err, errlen) != 0)
        return ZKV_STORE_ERR;
    /* The records in memory need nothing: the deletions are staged, so the next log read
     * commits first, after which a range's chain holds only that batch's entries, all
     * above the committed seq this truncation stops at. */
    s->n_pending++;
    if (r->first_seq > r->st.last_seq)
        r->first_seq = 0;
    if (r->first_seq == 0 || r->first_seq > limit || budget_left)
        return 0;
    return (int64_t)(limit - r->first_seq + 1);
}

/* Stages the deletion of the keys starting with prefix, committing every RESET_CHUNK
 * deletions; with end set, data keys stop before 'd' + end. max 0: every such key, and
 * the whole row cache goes (a reset); otherwise at most max keys, each dropped from the
 * row cache, *deleted tells how many and last (unless NULL) holds the last user key. */
static int delete_keys(zkv_store *s, const uint8_t *seek, size_t seeklen, size_t plen,
                       const uint8_t *end, size_t elen, size_t max, size_t *deleted, zkv_buf *last,
                       char *err, size_t errlen)
{
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ropts);
    uint8_t *prefix = malloc(seeklen ? seeklen : 1);
    if (!prefix) {
        leveldb_iter_destroy(it);
        return oom(s, err, errlen);
    }
    memcpy(prefix, seek, seeklen);
    int rc = 0;
    size_t n = 0;
    for (leveldb_iter_seek(it, (const char *)prefix, seeklen);
         leveldb_iter_valid(it) && (!max || n < max); leveldb_iter_next(it)) {
        size_t klen;
        const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &klen);
        if (klen < plen || memcmp(k, prefix, plen) != 0)
            break;
        if (elen && zkv_end_cmp(end, elen, k + 1, klen - 1) <= 0)
            break;
        if (k[0] == ZKV_REC_DATA_PREFIX && !max)
            stage_data_reset(s);
        else if (k[0] == ZKV_REC_DATA_PREFIX && s->rc)
            zkv_rowcache_invalidate(s->rc, k + 1, klen - 1);
        if (last && max) {
            last->len = last->off = 0;
            if (zkv_buf_append(last, k + 1, klen - 1) != 0) {
                rc = oom(s, err, errlen);
                break;
            }
        }
        leveldb_writebatch_delete(s->batch, (const char *)k, klen);
        s->n_pending++;
        if (++n % RESET_CHUNK == 0 && (rc = zkv_store_commit(s, err, errlen)) != 0)
            break;
    }
    free(prefix);
    if (deleted)
        *deleted = n;
    return iter_finish(it, rc, "LevelDB read failed while deleting a range's keys", err, errlen);
}

static int delete_prefix(zkv_store *s, const uint8_t *seek, size_t seeklen, size_t plen,
                         const uint8_t *end, size_t elen, char *err, size_t errlen)
{
    return delete_keys(s, seek, seeklen, plen, end, elen, 0, NULL, NULL, err, errlen);
}

int zkv_store_range_reset(zkv_store *s, const char *range_id, uint64_t snap_epoch,
                          const uint8_t *start, size_t slen, const uint8_t *end, size_t elen,
                          char *err, size_t errlen)
{
    range *r = writable(s, range_id, err, errlen);
    if (!r || zkv_store_commit(s, err, errlen) != 0)
        return ZKV_STORE_ERR;
    /* First commit: the marker, the empty state and the history go, so that a crash in the
     * middle leaves a range that reads as incomplete. */
    set_snap_epoch(s, r, snap_epoch ? snap_epoch : 1);
    s->kbuf.len = s->kbuf.off = 0;
    s->vbuf.len = s->vbuf.off = 0;
    if (zkv_rec_snap_key(&s->kbuf, range_id) != 0 ||
        zkv_rec_u64_encode(&s->vbuf, r->snap_epoch) != 0)
        return oom(s, err, errlen);
    leveldb_writebatch_put(s->batch, (const char *)s->kbuf.data, s->kbuf.len,
                           (const char *)s->vbuf.data, s->vbuf.len);
    r->st.epoch = 0;
    r->st.last_seq = 0;
    r->n_hist = 0;
    r->first_seq = 0;
    r->state_dirty = true;
    forget_log_records(r);
    if (mark_dirty(s, r, err, errlen) != 0 || zkv_store_commit(s, err, errlen) != 0)
        return ZKV_STORE_ERR;
    zkv_buf p;
    zkv_buf_init(&p);
    int rc = 0;
    /* history, log, then the data keys of [start, end) */
    if (zkv_rec_epoch_key(&p, range_id, 0) != 0)
        rc = oom(s, err, errlen);
    if (rc == 0)
        rc = delete_prefix(s, p.data, p.len - 8, p.len - 8, NULL, 0, err, errlen);
    p.len = 0;
    if (rc == 0 && zkv_rec_log_key(&p, range_id, 0) != 0)
        rc = oom(s, err, errlen);
    if (rc == 0)
        rc = delete_prefix(s, p.data, p.len - 8, p.len - 8, NULL, 0, err, errlen);
    p.len = 0;
    if (rc == 0 && zkv_rec_data_key(&p, start, slen) != 0)
        rc = oom(s, err, errlen);
    if (rc == 0)
        rc = delete_prefix(s, p.data, p.len, 1, end, elen, err, errlen);
    zkv_buf_free(&p);
    if (rc == 0)
        rc = zkv_store_commit(s, err, errlen);
    return rc;
}

/* Whether r has anything on disk besides data keys: a log, history, position or snapshot
 * mark (what range_drop deletes). */
static bool has_state(const range *r)
{
    return r->st.last_seq || r->n_hist || r->snap_epoch || r->st.epoch;
}

/* Deletes range_id's log, history, position and snapshot marker (not its data keys) and
 * resets it in memory to a range that never had a write (its state stays allocated: the
 * shipper keeps pointers). Commits. */
static int range_drop(zkv_store *s, range *r, char *err, size_t errlen)
{
    zkv_buf p;
    zkv_buf_init(&p);
    int rc = 0;
    if (zkv_rec_epoch_key(&p, r->st.id, 0) != 0)
        rc = oom(s, err, errlen);
    if (rc == 0)
        rc = delete_prefix(s, p.data, p.len - 8, p.len - 8, NULL, 0, err, errlen);
    p.len = 0;
    if (rc == 0 && zkv_rec_log_key(&p, r->st.id, 0) != 0)
        rc = oom(s, err, errlen);
    if (rc == 0)
        rc = delete_prefix(s, p.data, p.len - 8, p.len - 8, NULL, 0, err, errlen);
    p.len = 0;
    if (rc == 0 && (zkv_rec_range_key(&p, r->st.id) != 0))
        rc = oom(s, err, errlen);
    if (rc == 0) {
        leveldb_writebatch_delete(s->batch, (const char *)p.data, p.len);
        s->n_pending++;
    }
    p.len = 0;
    if (rc == 0 && r->snap_epoch && zkv_rec_snap_key(&p, r->st.id) == 0) {
        leveldb_writebatch_delete(s->batch, (const char *)p.data, p.len);
        s->n_pending++;
    }
    zkv_buf_free(&p);
    if (rc != 0)
        return rc;
    set_snap_epoch(s, r, 0);
    r->st.epoch = r->st.last_seq = r->st.committed_seq = r->st.committed_epoch = 0;
    r->n_hist = 0;
    r->first_seq = 0;
    r->state_dirty = false;
    forget_log_records(r);
    return zkv_store_commit(s, err, errlen);
}

int zkv_store_range_forget(zkv_store *s, const char *range_id, char *err, size_t errlen)
{
    range *r = range_find(s, range_id);
    if (zkv_store_commit(s, err, errlen) != 0)
        return ZKV_STORE_ERR;
    if (!r || !has_state(r))
        return 0;
    return range_drop(s, r, err, errlen);
}

size_t zkv_store_range_ids(const zkv_store *s, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < s->table_cap; i++) {
        const range *r = s->ranges[i];
        if (r && has_state(r)) {
            if (n < max)
                out[n] = r->st.id;
            n++;
        }
    }
    return n;
}

int zkv_store_delete_data(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end,
                          size_t elen, size_t max, size_t *deleted, zkv_buf *last, char *err,
                          size_t errlen)
{
    *deleted = 0;
    if (zkv_store_commit(s, err, errlen) != 0)
        return ZKV_STORE_ERR;
    zkv_buf p;
    zkv_buf_init(&p);
    int rc = zkv_rec_data_key(&p, start, slen) != 0 ? oom(s, err, errlen) : 0;
    if (rc == 0)
        rc = delete_keys(s, p.data, p.len, 1, end, elen, max ? max : 1, deleted, last, err, errlen);
    zkv_buf_free(&p);
    return rc == 0 ? zkv_store_commit(s, err, errlen) : rc;
}

void zkv_store_compact_data(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end,
                            size_t elen)
{
    zkv_buf a, b;
    zkv_buf_init(&a);
    zkv_buf_init(&b);
    uint8_t past = ZKV_REC_DATA_PREFIX + 1;
    if (zkv_rec_data_key(&a, start, slen) == 0 &&
        (elen ? zkv_rec_data_key(&b, end, elen) : zkv_buf_append(&b, &past, 1)) == 0)
        leveldb_compact_range(s->db, (const char *)a.data, a.len, (const char *)b.data, b.len);
    zkv_buf_free(&a);
    zkv_buf_free(&b);
}

int zkv_store_range_fork(zkv_store *s, const zkv_range_parent *parents, size_t n_parents,
                         const char *const *children, size_t n_children, bool *matched, char *err,
                         size_t errlen)
{
    *matched = false;
    if (zkv_store_commit(s, err, errlen) != 0)
        return ZKV_STORE_ERR;
    const range *best = NULL;
    bool all = n_parents > 0;
    for (size_t i = 0; i < n_parents; i++) {
        const range *p = range_find(s, parents[i].id);
        bool here = p && !p->snap_epoch && p->st.committed_seq == parents[i].seq &&
                    p->st.committed_epoch == parents[i].epoch && p->st.last_seq == parents[i].seq;
        all = all && here;
        if (here && (!best || p->st.committed_seq > best->st.committed_seq ||
                     (p->st.committed_seq == best->st.committed_seq &&
                      p->st.committed_epoch > best->st.committed_epoch)))
            best = p;
    }
    if (all && best) {
        zkv_epoch_start hist[64];
        size_t n = best->n_hist < 64 ? best->n_hist : 64;
        if (n)
            memcpy(hist, best->hist + (best->n_hist - n), n * sizeof(*hist));
        uint64_t epoch = best->st.committed_epoch, seq = best->st.committed_seq;
        for (size_t k = 0; k < n_children; k++) {
            const range *c = range_find(s, children[k]);
            if (c && (c->st.last_seq || c->snap_epoch))
                continue; /* forked (or being rebuilt) already */
            if (!writable(s, children[k], err, errlen) ||
                zkv_store_range_set_position(s, children[k], epoch, seq, hist, n, err, errlen) != 0)
                return ZKV_STORE_ERR;
        }
        if (zkv_store_commit(s, err, errlen) != 0)
            return ZKV_STORE_ERR;
        *matched = true;
    }
    for (size_t i = 0; i < n_parents; i++) {
        range *p = range_find(s, parents[i].id);
        if (p && has_state(p) && range_drop(s, p, err, errlen) != 0)
            return ZKV_STORE_ERR;
    }
    return 0;
}

/* The first and the last data key in [start, end) into first and last (both empty when
 * there is none). 0 or ZKV_STORE_ERR. */
static int edge_keys(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end,
                     size_t elen, zkv_buf *first, zkv_buf *last, char *err, size_t errlen)
{
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ropts);
    zkv_buf seek;
    zkv_buf_init(&seek);
    int rc = 0;
    if (zkv_rec_data_key(&seek, start, slen) != 0)
        rc = oom(s, err, errlen);
    size_t klen;
    const uint8_t *k;
    if (rc == 0)
        leveldb_iter_seek(it, (const char *)seek.data, seek.len);
    if (rc == 0 && leveldb_iter_valid(it) && (k = (const uint8_t *)leveldb_iter_key(it, &klen)) &&
        klen >= 1 && k[0] == ZKV_REC_DATA_PREFIX &&
        (!elen || zkv_end_cmp(end, elen, k + 1, klen - 1) > 0) &&
        zkv_buf_append(first, k + 1, klen - 1) != 0)
        rc = oom(s, err, errlen);
    /* the last: just before end (or before the data keys' end) */
    seek.len = seek.off = 0;
    uint8_t past = ZKV_REC_DATA_PREFIX + 1;
    if (rc == 0 && first->len && elen && zkv_rec_data_key(&seek, end, elen) != 0)
        rc = oom(s, err, errlen);
    if (rc == 0 && first->len) {
        leveldb_iter_seek(it, elen ? (const char *)seek.data : (const char *)&past,
                          elen ? seek.len : 1);
        if (leveldb_iter_valid(it))
            leveldb_iter_prev(it);
        else
            leveldb_iter_seek_to_last(it);
        if (leveldb_iter_valid(it) && (k = (const uint8_t *)leveldb_iter_key(it, &klen)) &&
            klen >= 1 && k[0] == ZKV_REC_DATA_PREFIX &&
            zkv_key_cmp(k + 1, klen - 1, first->data, first->len) >= 0 &&
            zkv_buf_append(last, k + 1, klen - 1) != 0)
            rc = oom(s, err, errlen);
    }
    zkv_buf_free(&seek);
    return iter_finish(it, rc, "LevelDB read failed while choosing a split key", err, errlen);
}

/* The bytes a data record stands for: the record, or for a value-log pointer the value. */
static uint64_t record_weight(const uint8_t *v, size_t vlen)
{
    zkv_value_view view;
    zkv_vptr p;
    if (zkv_rec_value_decode(v, vlen, &view) == 0 && (view.meta.flags & ZKV_VALUE_INDIRECT) &&
        zkv_rec_vptr_decode(view.value, view.value_len, &p) == 0)
        return ZKV_REC_VALUE_HDR + (uint64_t)p.vlen;
    return vlen;
}

typedef struct size_sample {
    uint64_t keys, bytes;
    zkv_store_scan_fn fn; /* the caller's visit of the same keys (NULL: none) */
    void *ctx;
} size_sample;

static int sample_size(void *ctx, const uint8_t *key, size_t klen, const zkv_value_view *v)
{
    size_sample *ss = ctx;
    int rc = ss->fn ? ss->fn(ss->ctx, key, klen, v) : 0;
    if (rc != 0)
        return rc;
    if (ss->keys == ZKV_STORE_SIZE_SAMPLE)
        return 1;
    ss->keys++;
    ss->bytes += klen + ZKV_REC_VALUE_HDR + v->value_len;
    return 0;
}

uint64_t zkv_store_range_bytes_walk(zkv_store *s, const uint8_t *start, size_t slen,
                                    const uint8_t *end, size_t elen, zkv_store_scan_fn fn,
                                    void *ctx, int *walked)
{
    uint64_t est = zkv_store_approx_size(s, start, slen, end, elen);
    size_sample ss = {.fn = fn, .ctx = ctx};
    char err[128];
    int rc = zkv_store_scan_meta(s, start, slen, end, elen, sample_size, &ss, err, sizeof(err));
    if (walked)
        *walked = rc;
    if (rc < 0)
        return est;
    return ss.bytes > est ? ss.bytes : est;
}

uint64_t zkv_store_range_bytes(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end,
                               size_t elen)
{
    return zkv_store_range_bytes_walk(s, start, slen, end, elen, NULL, NULL, NULL);
}

int zkv_store_middle_key(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end,
                         size_t elen, zkv_buf *out, char *err, size_t errlen)
{
    if (zkv_store_commit(s, err, errlen) != 0)
        return ZKV_STORE_ERR;
    out->len = out->off = 0;
    uint64_t total = zkv_store_approx_size(s, start, slen, end, elen);
    zkv_buf target;
    zkv_buf_init(&target);
    int rc = 0;
    zkv_buf lo, hi;
    zkv_buf_init(&lo);
    zkv_buf_init(&hi);
    if (total >= ZKV_STORE_SPLIT_ESTIMATE_MIN &&
        (rc = edge_keys(s, start, slen, end, elen, &lo, &hi, err, errlen)) == 0 && lo.len) {
        /* bisect [first key, last key] by the estimate of [start, mid) against half the
         * total; each step may add a byte, so keys with a long common prefix get there too */
        size_t common = 0;
        while (common < lo.len && common < hi.len && lo.data[common] == hi.data[common])
            common++;
        int steps = 8 * (int)(common + 8) < 512 ? 8 * (int)(common + 8) : 512;
        /* LevelDB's bytes alone: the value log's share scales both sides of the comparison
         * alike (zkv_store_approx_size), so it need not be read at every step */
        uint64_t db_total = db_size(s, start, slen, end, elen);
        size_t cap = (lo.len > hi.len ? lo.len : hi.len) + (size_t)steps + 2;
        uint8_t *mid = malloc(cap);
        if (!mid || zkv_buf_reserve(&lo, cap) != 0 || zkv_buf_reserve(&hi, cap) != 0)
            rc = oom(s, err, errlen);
        for (int i = 0; rc == 0 && i < steps; i++) {
            size_t mlen = zkv_key_midpoint(lo.data, lo.len, hi.data, hi.len, mid);
            if (zkv_key_cmp(mid, mlen, lo.data, lo.len) <= 0)
                break; /* no key fits between them any more */
            zkv_buf *side = db_size(s, start, slen, mid, mlen) * 2 < db_total ? &lo : &hi;
            memcpy(side->data, mid, mlen);
            side->len = mlen;
        }
        if (rc == 0 && zkv_buf_append(&target, lo.data, lo.len) != 0)
            rc = oom(s, err, errlen);
        free(mid);
    }
    zkv_buf_free(&lo);
    zkv_buf_free(&hi);
    /* walk the range's keys: weigh them (small ranges: keys and values, a value-log value
     * by its length) and take the first with half the weight before it, or find the first
     * after target */
    leveldb_iterator_t *it = rc == 0 ? leveldb_create_iterator(s->db, s->ropts) : NULL;
    zkv_buf seek;
    zkv_buf_init(&seek);
    uint64_t weight = 0;
    if (it && zkv_rec_data_key(&seek, start, slen) != 0)
        rc = oom(s, err, errlen);
    for (int pass = 0; it && rc == 0 && pass < 2; pass++) {
        size_t n = 0;
        uint64_t before = 0;
        for (leveldb_iter_seek(it, (const char *)seek.data, seek.len); leveldb_iter_valid(it);
             leveldb_iter_next(it)) {
            size_t klen, vlen;
            const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &klen);
            if (klen < 1 || k[0] != ZKV_REC_DATA_PREFIX ||
                (elen && zkv_end_cmp(end, elen, k + 1, klen - 1) <= 0))
                break;
            const uint8_t *v = (const uint8_t *)leveldb_iter_value(it, &vlen);
            uint64_t w = klen + record_weight(v, vlen);
            /* the first key whose middle is past half the weight (the last at the latest) */
            bool take = pass == 1 && n > 0 &&
                        (target.len ? zkv_key_cmp(k + 1, klen - 1, target.data, target.len) >= 0
                                    : before * 2 + w >= weight);
            if (take) {
                if (zkv_buf_append(out, k + 1, klen - 1) != 0)
                    rc = oom(s, err, errlen);
                break;
            }
            before += w;
            n++;
            if (pass == 0)
                weight += w;
            if (pass == 0 && (target.len || n >= ZKV_STORE_SPLIT_SCAN_MAX))
                break; /* weighing is for small ranges only */
        }
    }
    if (it)
        rc = iter_finish(it, rc, "LevelDB read failed while choosing a split key", err, errlen);
    zkv_buf_free(&seek);
    zkv_buf_free(&target);
    if (rc != 0)
        return rc;
    return out->len > 0 ? 1 : 0;
}

int zkv_store_put_item(zkv_store *s, const uint8_t *key, size_t klen, const zkv_value_view *v,
                       char *err, size_t errlen)
{
    if (s->failed) {
        set_err(err, errlen, "store failed after a write error", NULL);
        return ZKV_STORE_ERR;
    }
    zkv_value_meta lm = v->meta;
    const uint8_t *lv = v->value;
    size_t llen = v->value_len;
    uint8_t ptr[ZKV_REC_VPTR_LEN];
    uint64_t tag = 0;
    bool indirect = v->value_len > s->inline_max, cached = false;
    if (indirect) {
        /* no range: no log entry points at it (a snapshot item) */
        if (put_large(s, "", v->meta.seq, key, klen, &v->meta, v->value, v->value_len, ptr, &tag,
                      &cached, err, errlen) != 0)
            return ZKV_STORE_ERR;
        lm.flags |= ZKV_VALUE_INDIRECT;
        lv = ptr;
        llen = sizeof(ptr);
    }
    s->kbuf.len = s->kbuf.off = 0;
    s->vbuf.len = s->vbuf.off = 0;
    if (zkv_rec_data_key(&s->kbuf, key, klen) != 0 ||
        zkv_rec_value_encode(&s->vbuf, &lm, lv, llen) != 0)
        return oom(s, err, errlen);
    leveldb_writebatch_put(s->batch, (const char *)s->kbuf.data, s->kbuf.len,
                           (const char *)s->vbuf.data, s->vbuf.len);
    if (!cached && stage_data_value(s, key, klen, s->vbuf.data, s->vbuf.len, indirect, tag,
                                    &v->meta, v->value, v->value_len) != 0)
        return oom(s, err, errlen);
    s->n_pending++;
    return 0;
}

int zkv_store_range_set_position(zkv_store *s, const char *range_id, uint64_t epoch, uint64_t seq,
                                 const zkv_epoch_start *hist, size_t n, char *err, size_t errlen)
{
    range *r = writable(s, range_id, err, errlen);
    if (!r)
        return ZKV_STORE_ERR;
    if (mark_dirty(s, r, err, errlen) != 0 || flush_pend(s, r, err, errlen) != 0)
        return ZKV_STORE_ERR;
    for (size_t i = 0; i < r->n_hist; i++) {
        s->kbuf.len = s->kbuf.off = 0;
        if (zkv_rec_epoch_key(&s->kbuf, range_id, r->hist[i].epoch) != 0)
            return oom(s, err, errlen);
        leveldb_writebatch_delete(s->batch, (const char *)s->kbuf.data, s->kbuf.len);
    }
    r->n_hist = 0;
    for (size_t i = 0; i < n; i++)
        if (stage_history(s, r, hist[i].epoch, hist[i].start_seq, err, errlen) != 0)
            return ZKV_STORE_ERR;
    if (r->snap_epoch) {
        s->kbuf.len = s->kbuf.off = 0;
        if (zkv_rec_snap_key(&s->kbuf, range_id) != 0)
            return oom(s, err, errlen);
        leveldb_writebatch_delete(s->batch, (const char *)s->kbuf.data, s->kbuf.len);
        set_snap_epoch(s, r, 0);
    }
    r->st.epoch = epoch;
    r->st.last_seq = seq;
    forget_log_records(r);
    r->first_seq = 0;      /* the log starts with the next entry */
    r->state_dirty = true; /* an empty log: the 'r' record holds the position */
    return 0;
}

size_t zkv_store_pending(const zkv_store *s)
{
    return s->n_pending;
}

bool zkv_store_failed(const zkv_store *s)
{
    return s->failed;
}

uint64_t zkv_store_commit_count(const zkv_store *s)
{
    return s->n_commits;
}

/* Level 0's file count: read from LevelDB when the last reading is older than L0_SAMPLE_US
 * at now_us, or always with now_us 0. */
static uint64_t level0_files(zkv_store *s, uint64_t now_us)
{
    if (now_us && now_us - s->l0_at_us < L0_SAMPLE_US)
        return s->l0_files;
    char *v = leveldb_property_value(s->db, "leveldb.num-files-at-level0");
    s->l0_files = v ? strtoull(v, NULL, 10) : 0;
    leveldb_free(v);
    s->l0_at_us = now_us;
    return s->l0_files;
}

/* zkv_early_collect's observer: a write ahead is a LevelDB write like the commit's. */
static void observe_early(void *ctx, uint64_t us)
{
    zkv_store *s = ctx;
    uint64_t l0 = us >= ZKV_DBW_WAIT_US ? level0_files(s, 0) : s->l0_files;
    zkv_dbwrite_observe(&s->wstats, us, zkv_dbwrite_cause_of(us, l0, s->sync));
}

int zkv_store_progress(zkv_store *s, char *err, size_t errlen)
{
    if (s->failed || s->sync || !s->vlog || s->n_pending == 0)
        return 0;
    uint64_t handed, wait_us;
    zkv_vlog_writer_stats(s->vlog, &handed, &wait_us);
    if (handed == s->early_handed)
        return 0; /* no value went to the writer thread since the last time */
    if (!s->early && !(s->early = zkv_early_new(s->db, s->wopts)))
        return 0; /* the commit writes it all */
    /* the log entries go with their data records */
    for (size_t i = 0; i < s->n_dirty; i++)
        if (flush_pend(s, s->dirty[i], err, errlen) != 0)
            return ZKV_STORE_ERR;
    (void)zkv_early_submit(s->early, s->vlog, &s->batch);
    zkv_vlog_writer_stats(s->vlog, &s->early_handed, &wait_us);
    return 0;
}

uint64_t zkv_store_early_writes(const zkv_store *s)
{
    return zkv_early_total(s->early);
}

int zkv_store_commit(zkv_store *s, char *err, size_t errlen)
{
    if (s->failed) {
        set_err(err, errlen, "store failed after a write error", NULL);
        return ZKV_STORE_ERR;
    }
    if (s->n_pending == 0)
        return 0;
    /* The log entries of the batch carry the positions; 'r' only where they cannot. */
    for (size_t i = 0; i < s->n_dirty; i++)
        if (flush_pend(s, s->dirty[i], err, errlen) != 0 ||
            (s->dirty[i]->state_dirty && stage_state(s, s->dirty[i], err, errlen) != 0))
            return ZKV_STORE_ERR;
    /* The values first: no record may point at bytes not yet written. Records written
     * ahead imply a batch handed to the writer thread, which the flush waits for. */
    if (zkv_vlog_buffered(s->vlog) && zkv_vlog_flush(s->vlog, s->sync, err, errlen) != 0) {
        drop_early(s);
        s->failed = true;
        return ZKV_STORE_ERR;
    }
    if (zkv_early_queued(s->early) &&
        zkv_early_collect(s->early, observe_early, s, err, errlen) != 0) {
        s->failed = true;
        return ZKV_STORE_ERR;
    }
    char *lerr = NULL;
    uint64_t t0 = zkv_now_us(), l0 = level0_files(s, t0);
    leveldb_write(s->db, s->wopts, s->batch, &lerr);
    uint64_t us = zkv_now_us() - t0;
    if (us >= ZKV_DBW_WAIT_US) {
        uint64_t after = level0_files(s, 0);
        l0 = after > l0 ? after : l0;
    }
    zkv_dbwrite_observe(&s->wstats, us, zkv_dbwrite_cause_of(us, l0, s->sync));
    if (lerr) {
        s->failed = true;
        set_err(err, errlen, "LevelDB write failed", lerr);
        leveldb_free(lerr);
        return ZKV_STORE_ERR;
    }
    zkv_logbatch *lb = &s->lb[s->lb_staged];
    for (size_t i = 0; i < s->n_dirty; i++) {
        range *r = s->dirty[i];
        r->st.committed_seq = r->st.last_seq;
        r->st.committed_epoch = r->st.epoch;
        r->st.pending = 0;
        r->state_dirty = false;
        bool whole = r->staged.first != 0 && !lb->broken && r->staged.last == r->st.last_seq;
        r->recent = r->staged;
        r->recent_commit = whole ? s->n_commits + 1 : 0;
        zkv_logchain_init(&r->staged);
    }
    s->lb_staged ^= 1; /* the staged batch is the recent one now; the older one is reused */
    zkv_logbatch_clear(&s->lb[s->lb_staged]);
    s->n_dirty = 0;
    s->n_pending = 0;
    s->n_commits++;
    s->rc_bypass = false; /* the cache was cleared when the deletions were staged */
    memset(s->pending_filter, 0, sizeof(s->pending_filter));
    leveldb_writebatch_clear(s->batch);
    return 0;
}

/* A view of a value-log value: the value itself (read into s->vres, valid until the next
 * read; key: the key it must be stored under, NULL: unchecked), or with values false only
 * its length (value NULL); where (unless NULL) receives the pointer. Views of inline values
 * are left as they are. */
static int resolve(zkv_store *s, zkv_value_view *v, const uint8_t *key, size_t klen, bool values,
                   zkv_vptr *where, char *err, size_t errlen)
{
    if (!(v->meta.flags & ZKV_VALUE_INDIRECT))
        return 0;
    zkv_vptr p;
    if (zkv_rec_vptr_decode(v->value, v->value_len, &p) != 0) {
        set_err(err, errlen, "corrupt value pointer", NULL);
        return ZKV_STORE_ERR;
    }
    if (where)
        *where = p;
    const uint8_t *val = NULL;
    if (values &&
        !(val = zkv_vlog_read(s->vlog, &p, key, klen, v->meta.seq, &s->vres, err, errlen)))
        return ZKV_STORE_ERR;
    v->value = val;
    v->value_len = p.vlen;
    v->meta.flags &= (uint8_t)~ZKV_VALUE_INDIRECT;
    return 0;
}

/* A GET of a value-log value: out gets the value as an inline record, the row cache's
 * (rc unless NULL; made from the value where it was read, one copy) or, when not cached, in
 * a buffer of its own. */
static int get_indirect(zkv_store *s, zkv_rowcache *rc, const uint8_t *key, size_t klen,
                        zkv_store_value *out, char *err, size_t errlen)
{
    zkv_value_view v = out->view;
    zkv_vptr p;
    if (resolve(s, &v, key, klen, true, &p, err, errlen) != 0)
        return ZKV_STORE_ERR;
    uint64_t tag = vptr_tag(p.file, p.off);
    if (rc && tag) {
        zkv_rowcache_entry *e = cache_value(rc, key, klen, &v.meta, v.value, v.value_len, tag);
        size_t rlen;
        const uint8_t *rec = e ? zkv_rowcache_entry_record(e, &rlen) : NULL;
        if (rec && zkv_rec_value_decode(rec, rlen, &out->view) == 0) {
            zkv_rowcache_pin(e);
            out->pin = e;
            return 1;
        }
    }
    zkv_buf b;
    zkv_buf_init(&b);
    if (zkv_rec_value_encode(&b, &v.meta, v.value, v.value_len) != 0) {
        set_err(err, errlen, "out of memory", NULL);
        return ZKV_STORE_ERR;
    }
    (void)zkv_rec_value_decode(b.data, b.len, &out->view);
    out->own = b.data;
    return 1;
}

/* LevelDB's 'd' record of key: *v (leveldb_free it) or NULL when missing. 0, or
 * ZKV_STORE_ERR. */
static int read_data_record(zkv_store *s, const uint8_t *key, size_t klen, char **v, size_t *vlen,
                            char *err, size_t errlen)
{
    /* 'd' + key (zkv_rec_data_key), written in place: this is every GET's path. */
    *v = NULL;
    *vlen = 0;
    s->kbuf.len = s->kbuf.off = 0;
    if (zkv_buf_reserve(&s->kbuf, 1 + klen) != 0) {
        set_err(err, errlen, "out of memory", NULL);
        return ZKV_STORE_ERR;
    }
    s->kbuf.data[0] = ZKV_REC_DATA_PREFIX;
    if (klen)
        memcpy(s->kbuf.data + 1, key, klen);
    s->kbuf.len = 1 + klen;
    char *lerr = NULL;
    *v = leveldb_get(s->db, s->ropts, (const char *)s->kbuf.data, s->kbuf.len, vlen, &lerr);
    if (lerr) {
        set_err(err, errlen, "LevelDB read failed", lerr);
        leveldb_free(lerr);
        return ZKV_STORE_ERR;
    }
    return 0;
}

int zkv_store_get(zkv_store *s, const uint8_t *key, size_t klen, zkv_store_value *out, char *err,
                  size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (s->n_pending && filter_has(s, key, klen) && zkv_store_commit(s, err, errlen) != 0)
        return ZKV_STORE_ERR;
    /* Now no change of key is staged: the cache, if it has key, has the committed state. */
    zkv_rowcache *rc = s->rc_bypass ? NULL : s->rc;
    if (rc) {
        zkv_rowcache_entry *e = zkv_rowcache_get(rc, key, klen);
        if (e) {
            size_t rlen;
            const uint8_t *rec = zkv_rowcache_entry_record(e, &rlen);
            if (!rec)
                return 0;
            if (zkv_rec_value_decode(rec, rlen, &out->view) != 0) {
                set_err(err, errlen, "corrupt value record", NULL);
                return ZKV_STORE_ERR;
            }
            zkv_rowcache_pin(e);
            out->pin = e;
            return 1;
        }
    }
    char *v;
    size_t vlen;
    if (read_data_record(s, key, klen, &v, &vlen, err, errlen) != 0)
        return ZKV_STORE_ERR;
    if (!v) {
        if (rc)
            zkv_rowcache_put_missing(rc, key, klen);
        return 0;
    }
    if (zkv_rec_value_decode((const uint8_t *)v, vlen, &out->view) != 0) {
        leveldb_free(v);
        set_err(err, errlen, "corrupt value record", NULL);
        return ZKV_STORE_ERR;
    }
    if (out->view.meta.flags & ZKV_VALUE_INDIRECT) {
        int rc2 = get_indirect(s, rc, key, klen, out, err, errlen);
        leveldb_free(v);
        return rc2;
    }
    if (rc)
        zkv_rowcache_put(rc, key, klen, (const uint8_t *)v, vlen);
    out->buf = v;
    return 1;
}

void zkv_store_value_release(zkv_store_value *v)
{
    if (!v)
        return;
    if (v->buf) {
        leveldb_free(v->buf);
        v->buf = NULL;
    }
    if (v->pin) {
        zkv_rowcache_unpin(v->pin);
        v->pin = NULL;
    }
    free(v->own);
    v->own = NULL;
}

int zkv_store_set_cache(zkv_store *s, size_t budget_bytes, char *err, size_t errlen)
{
    zkv_rowcache *nc = NULL;
    if (budget_bytes && !(nc = zkv_rowcache_create(budget_bytes))) {
        set_err(err, errlen, "out of memory", NULL);
        return ZKV_STORE_ERR;
    }
    zkv_rowcache_free(s->rc); /* values pinned by callers stay valid until released */
    s->rc = nc;
    return 0;
}

int zkv_store_db_stats(zkv_store *s, zkv_dbstats *out)
{
    char *text = leveldb_property_value(s->db, "leveldb.stats");
    int rc = zkv_dbstats_parse(text, out);
    leveldb_free(text);
    /* the size to the byte (the stats say MB): every key, data, logs and positions */
    static const char first[1] = {0},
                      past[8] = {'\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff'};
    const char *starts[1] = {first}, *limits[1] = {past};
    size_t slens[1] = {0}, llens[1] = {sizeof past};
    uint64_t size = 0;
    leveldb_approximate_sizes(s->db, 1, starts, slens, limits, llens, &size);
    if (rc == 0 && size)
        out->size_bytes = size;
    return rc;
}

void zkv_store_write_stats(const zkv_store *s, zkv_dbwrite_stats *out, bool *synced)
{
    *out = s->wstats;
    *synced = s->sync;
}

bool zkv_store_cache_stats(const zkv_store *s, zkv_rowcache_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!s->rc)
        return false;
    zkv_rowcache_stats_get(s->rc, out);
    return true;
}

/* Walks the data keys from where it stands, forward or backward, while they stay within
 * [start, end) on the side the walk heads to, handing each to fn. */
static int scan_walk(zkv_store *s, leveldb_iterator_t *it, bool reverse, bool values,
                     const uint8_t *start, size_t slen, const uint8_t *end, size_t elen,
                     zkv_store_scan_fn fn, void *ctx, char *err, size_t errlen)
{
    int rc = 0;
    for (; leveldb_iter_valid(it); reverse ? leveldb_iter_prev(it) : leveldb_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &klen);
        const uint8_t *ukey;
        size_t uklen;
        if (zkv_rec_data_key_decode(k, klen, &ukey, &uklen) != 0)
            break; /* past (below) the data keys */
        if (!reverse && elen && zkv_end_cmp(end, elen, ukey, uklen) <= 0)
            break;
        if (reverse && slen && zkv_key_cmp(ukey, uklen, start, slen) < 0)
            break;
        const uint8_t *v = (const uint8_t *)leveldb_iter_value(it, &vlen);
        zkv_value_view view;
        if (zkv_rec_value_decode(v, vlen, &view) != 0) {
            set_err(err, errlen, "corrupt value record", NULL);
            rc = ZKV_STORE_ERR;
            break;
        }
        if (resolve(s, &view, ukey, uklen, values, NULL, err, errlen) != 0) {
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

static int scan_forward(zkv_store *s, bool values, const uint8_t *start, size_t slen,
                        const uint8_t *end, size_t elen, zkv_store_scan_fn fn, void *ctx, char *err,
                        size_t errlen)
{
    if (s->n_pending && zkv_store_commit(s, err, errlen) != 0)
        return ZKV_STORE_ERR;
    s->kbuf.len = s->kbuf.off = 0;
    if (zkv_rec_data_key(&s->kbuf, start, slen) != 0) {
        set_err(err, errlen, "out of memory", NULL);
        return ZKV_STORE_ERR;
    }
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ropts);
    leveldb_iter_seek(it, (const char *)s->kbuf.data, s->kbuf.len);
    return scan_walk(s, it, false, values, start, slen, end, elen, fn, ctx, err, errlen);
}

int zkv_store_scan(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end, size_t elen,
                   zkv_store_scan_fn fn, void *ctx, char *err, size_t errlen)
{
    return scan_forward(s, true, start, slen, end, elen, fn, ctx, err, errlen);
}

int zkv_store_scan_meta(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end,
                        size_t elen, zkv_store_scan_fn fn, void *ctx, char *err, size_t errlen)
{
    return scan_forward(s, false, start, slen, end, elen, fn, ctx, err, errlen);
}

int zkv_store_scan_reverse(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end,
                           size_t elen, zkv_store_scan_fn fn, void *ctx, char *err, size_t errlen)
{
    if (s->n_pending && zkv_store_commit(s, err, errlen) != 0)
        return ZKV_STORE_ERR;
    s->kbuf.len = s->kbuf.off = 0;
    /* no end: from the first key after every data key ('d' + 1) */
    const uint8_t next_prefix = ZKV_REC_DATA_PREFIX + 1;
    if (elen ? zkv_rec_data_key(&s->kbuf, end, elen) != 0
             : zkv_buf_append(&s->kbuf, &next_prefix, 1) != 0) {
        set_err(err, errlen, "out of memory", NULL);
        return ZKV_STORE_ERR;
    }
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ropts);
    leveldb_iter_seek(it, (const char *)s->kbuf.data, s->kbuf.len);
    if (leveldb_iter_valid(it))
        leveldb_iter_prev(it); /* the first key >= end: the one before it is below end */
    else
        leveldb_iter_seek_to_last(it);
    return scan_walk(s, it, true, true, start, slen, end, elen, fn, ctx, err, errlen);
}

/* A log read, from the batch in memory or from LevelDB's records (a chunk, or one entry):
 * each entry with seq in [from, last] is decoded and given to fn; 1 when fn stops the
 * read, 2 past last, -1 (bad set) for an entry that does not decode. */
typedef struct log_walk_ctx {
    zkv_store *s;
    zkv_store_log_fn fn;
    void *ctx;
    uint64_t from, last;
    bool bad;
    bool lost; /* a value-log read failed: err says why */
    char *err;
    size_t errlen;
} log_walk_ctx;

static int log_walk_entry(void *vctx, uint64_t seq, const uint8_t *rec, size_t len)
{
    log_walk_ctx *wc = vctx;
    if (seq < wc->from)
        return 0;
    zkv_log_view e;
    if (zkv_rec_log_decode(rec, len, &e) != 0) {
        wc->bad = true;
        return -1;
    }
    if (e.op == ZKV_LOG_OP_PUT &&
        resolve(wc->s, &e.value, e.key, e.key_len, true, NULL, wc->err, wc->errlen) != 0) {
        wc->lost = true;
        return -1;
    }
    if (wc->fn(wc->ctx, seq, &e) != 0)
        return 1;
    return seq >= wc->last ? 2 : 0;
}

void zkv_store_log_read_counts(const zkv_store *s, uint64_t *from_memory, uint64_t *from_db)
{
    *from_memory = s->log_reads_mem;
    *from_db = s->log_reads_db;
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
    /* Stop at the range's last entry instead of stepping past it: the keys that follow
     * are the next range's log, whose truncated head is a run of deletion markers until
     * compaction drops them, and an iterator steps over every one of them to find the
     * next live key (this made each read cost O(truncated entries) once logs were
     * trimmed). */
    const range *r = range_find(s, range_id);
    uint64_t last = r ? r->st.last_seq : UINT64_MAX;
    if (from_seq > last)
        return 0;
    if (r && r->recent_commit == s->n_commits && r->recent_commit != 0 &&
        from_seq >= r->recent.first && r->recent.last == last) {
        /* Everything asked for is in the batch committed last (nothing is staged now). */
        s->log_reads_mem++;
        log_walk_ctx wc = {.s = s,
                           .fn = fn,
                           .ctx = ctx,
                           .from = from_seq,
                           .last = last,
                           .err = err,
                           .errlen = errlen};
        int rc =
            zkv_logbatch_walk(&s->lb[s->lb_staged ^ 1], &r->recent, from_seq, log_walk_entry, &wc);
        if (rc < 0 || wc.bad || wc.lost) {
            if (!wc.lost)
                set_err(err, errlen, "corrupt log entry", NULL);
            return ZKV_STORE_ERR;
        }
        return rc == 2 ? 0 : rc;
    }
    s->log_reads_db++;
    /* The record holding from_seq: its key, or (a chunk) the one before it. Never before
     * the log's first entry: the keys below it are deletion markers an iterator would step
     * over one by one. */
    if (r && r->first_seq && from_seq < r->first_seq) {
        from_seq = r->first_seq;
        s->kbuf.len = s->kbuf.off = 0;
        if (zkv_rec_log_key(&s->kbuf, range_id, from_seq) != 0) {
            set_err(err, errlen, "out of memory", NULL);
            return ZKV_STORE_ERR;
        }
    }
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ropts);
    leveldb_iter_seek(it, (const char *)s->kbuf.data, s->kbuf.len);
    size_t klen = 0, vlen;
    const uint8_t *k = leveldb_iter_valid(it) ? (const uint8_t *)leveldb_iter_key(it, &klen) : NULL;
    if (!k || klen != s->kbuf.len || memcmp(k, s->kbuf.data, klen) != 0) {
        if (k)
            leveldb_iter_prev(it);
        else
            leveldb_iter_seek_to_last(it);
        k = leveldb_iter_valid(it) ? (const uint8_t *)leveldb_iter_key(it, &klen) : NULL;
        if (!k || klen != prefix_len + 8 || memcmp(k, s->kbuf.data, prefix_len) != 0)
            leveldb_iter_seek(it, (const char *)s->kbuf.data, s->kbuf.len); /* none before */
    }
    log_walk_ctx wc = {
        .s = s, .fn = fn, .ctx = ctx, .from = from_seq, .last = last, .err = err, .errlen = errlen};
    int rc = 0;
    for (; leveldb_iter_valid(it) && rc == 0; leveldb_iter_next(it)) {
        k = (const uint8_t *)leveldb_iter_key(it, &klen);
        if (klen != prefix_len + 8 || memcmp(k, s->kbuf.data, prefix_len) != 0)
            break;
        const uint8_t *v = (const uint8_t *)leveldb_iter_value(it, &vlen);
        rc = zkv_rec_log_value_walk(v, vlen, zkv_get_u64be(k + prefix_len), log_walk_entry, &wc);
        if (rc < 0 || wc.bad || wc.lost) {
            if (!wc.lost)
                set_err(err, errlen, "corrupt log entry", NULL);
            rc = ZKV_STORE_ERR;
        }
    }
    if (rc == 2) /* past the range's last entry */
        rc = 0;
    return iter_finish(it, rc, "LevelDB log read failed", err, errlen);
}

int zkv_store_snapshot_open(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end,
                            size_t elen, const char *range_id, zkv_store_snapshot **out, char *err,
                            size_t errlen)
{
    *out = NULL;
    if (s->n_pending && zkv_store_commit(s, err, errlen) != 0)
        return ZKV_STORE_ERR;
    zkv_store_snapshot *sn = calloc(1, sizeof(*sn));
    if (!sn) {
        set_err(err, errlen, "out of memory", NULL);
        return ZKV_STORE_ERR;
    }
    sn->s = s;
    const range *r = range_find(s, range_id);
    if (r && r->snap_epoch == 0) {
        sn->info.epoch = r->st.committed_epoch;
        sn->info.seq = r->st.committed_seq;
        if (r->n_hist) {
            sn->hist = malloc(r->n_hist * sizeof(*sn->hist));
            if (!sn->hist) {
                free(sn);
                set_err(err, errlen, "out of memory", NULL);
                return ZKV_STORE_ERR;
            }
            memcpy(sn->hist, r->hist, r->n_hist * sizeof(*sn->hist));
            sn->info.history = sn->hist;
            sn->info.n_history = r->n_hist;
        }
    }
    if (elen) {
        sn->end = malloc(elen);
        if (!sn->end) {
            free(sn->hist);
            free(sn);
            set_err(err, errlen, "out of memory", NULL);
            return ZKV_STORE_ERR;
        }
        memcpy(sn->end, end, elen);
        sn->elen = elen;
    }
    sn->snap = leveldb_create_snapshot(s->db);
    s->n_snapshots++; /* until closed, the value-log files it may read stay (vlog_gc.c) */
    sn->ropts = leveldb_readoptions_create();
    leveldb_readoptions_set_snapshot(sn->ropts, sn->snap);
    leveldb_readoptions_set_fill_cache(sn->ropts, 0);
    sn->it = leveldb_create_iterator(s->db, sn->ropts);
    s->kbuf.len = s->kbuf.off = 0;
    if (zkv_rec_data_key(&s->kbuf, start, slen) != 0) {
        zkv_store_snapshot_close(sn);
        set_err(err, errlen, "out of memory", NULL);
        return ZKV_STORE_ERR;
    }
    leveldb_iter_seek(sn->it, (const char *)s->kbuf.data, s->kbuf.len);
    *out = sn;
    return 0;
}

const zkv_store_snapshot_info *zkv_store_snapshot_info_of(const zkv_store_snapshot *snap)
{
    return &snap->info;
}

/* The iterator's current user key when it is a data key inside the bounds. */
static bool snap_current(zkv_store_snapshot *sn, const uint8_t **ukey, size_t *uklen)
{
    if (!leveldb_iter_valid(sn->it))
        return false;
    size_t klen;
    const uint8_t *k = (const uint8_t *)leveldb_iter_key(sn->it, &klen);
    if (zkv_rec_data_key_decode(k, klen, ukey, uklen) != 0)
        return false;
    return !(sn->elen && zkv_end_cmp(sn->end, sn->elen, *ukey, *uklen) <= 0);
}

int zkv_store_snapshot_next(zkv_store_snapshot *sn, zkv_store_scan_fn fn, void *ctx,
                            size_t max_bytes, char *err, size_t errlen)
{
    size_t bytes = 0;
    const uint8_t *ukey;
    size_t uklen;
    while (snap_current(sn, &ukey, &uklen)) {
        if (bytes > 0 && bytes >= max_bytes)
            return 1;
        size_t vlen;
        const uint8_t *v = (const uint8_t *)leveldb_iter_value(sn->it, &vlen);
        zkv_value_view view;
        if (zkv_rec_value_decode(v, vlen, &view) != 0) {
            set_err(err, errlen, "corrupt value record", NULL);
            return ZKV_STORE_ERR;
        }
        if (resolve(sn->s, &view, ukey, uklen, true, NULL, err, errlen) != 0)
            return ZKV_STORE_ERR;
        if (fn(ctx, ukey, uklen, &view) != 0) {
            set_err(err, errlen, "snapshot item refused by the caller", NULL);
            return ZKV_STORE_ERR;
        }
        bytes += uklen + view.value_len;
        leveldb_iter_next(sn->it);
    }
    char *lerr = NULL;
    leveldb_iter_get_error(sn->it, &lerr);
    if (lerr) {
        set_err(err, errlen, "LevelDB snapshot read failed", lerr);
        leveldb_free(lerr);
        return ZKV_STORE_ERR;
    }
    return 0;
}

void zkv_store_snapshot_close(zkv_store_snapshot *sn)
{
    if (!sn)
        return;
    if (sn->it)
        leveldb_iter_destroy(sn->it);
    if (sn->ropts)
        leveldb_readoptions_destroy(sn->ropts);
    if (sn->snap) {
        leveldb_release_snapshot(sn->s->db, sn->snap);
        sn->s->n_snapshots--;
    }
    free(sn->end);
    free(sn->hist);
    free(sn);
}

/* ---- What the value log's GC needs (store_vlog.h) ---- */

zkv_vlog_gc *zkv__store_gc(zkv_store *s)
{
    return s->gc;
}

const zkv_vlog_gc *zkv__store_gc_const(const zkv_store *s)
{
    return s->gc;
}

zkv_vlog *zkv__store_vlog(const zkv_store *s)
{
    return s->vlog;
}

uint64_t zkv__store_vlog_appended(const zkv_store *s)
{
    return s->vlog_appended;
}

size_t zkv__store_snapshots(const zkv_store *s)
{
    return s->n_snapshots;
}

/* The committed data record of key when it points into the value log: 1 (*p and *m
 * set), 0 (missing or inline), or ZKV_STORE_ERR. */
static int data_pointer(zkv_store *s, const uint8_t *key, size_t klen, zkv_vptr *p,
                        zkv_value_meta *m, char *err, size_t errlen)
{
    /* A cached entry is the key's state with the staged batch: a tag says where its value
     * is, no tag an inline value, a missing mark no key (see the top). */
    zkv_rowcache_entry *e = cache_peek(s, key, klen);
    if (e) {
        uint64_t tag = zkv_rowcache_entry_tag(e);
        size_t rlen;
        const uint8_t *rec = zkv_rowcache_entry_record(e, &rlen);
        zkv_value_view view;
        if (!tag || !rec || zkv_rec_value_decode(rec, rlen, &view) != 0)
            return 0;
        tag_where(tag, p);
        *m = view.meta;
        m->flags |= ZKV_VALUE_INDIRECT;
        return 1;
    }
    if (s->n_pending && filter_has(s, key, klen) && zkv_store_commit(s, err, errlen) != 0)
        return ZKV_STORE_ERR;
    char *v;
    size_t vlen;
    if (read_data_record(s, key, klen, &v, &vlen, err, errlen) != 0)
        return ZKV_STORE_ERR;
    if (!v)
        return 0;
    zkv_value_view view;
    int rc = zkv_rec_value_decode((const uint8_t *)v, vlen, &view) != 0 ? ZKV_STORE_ERR : 0;
    if (rc == 0 && (view.meta.flags & ZKV_VALUE_INDIRECT)) {
        rc = zkv_rec_vptr_decode(view.value, view.value_len, p) != 0 ? ZKV_STORE_ERR : 1;
        *m = view.meta;
    }
    leveldb_free(v);
    if (rc == ZKV_STORE_ERR)
        set_err(err, errlen, "corrupt value record", NULL);
    return rc;
}

/* Conservative: whether any entry of r's range's log at r's seq may point at r. */
static bool log_may_hold(zkv_store *s, const zkv_vlog_rec *r)
{
    const range *rg = r->range_id[0] ? range_find(s, r->range_id) : NULL;
    return rg && rg->first_seq && r->seq >= rg->first_seq && r->seq <= rg->st.last_seq;
}

int zkv__store_vlog_refs(zkv_store *s, const zkv_vlog_rec *r, char *err, size_t errlen)
{
    zkv_vptr p;
    zkv_value_meta m;
    int rc = data_pointer(s, r->key, r->klen, &p, &m, err, errlen);
    if (rc < 0)
        return rc;
    int refs = rc == 1 && p.file == r->at.file && p.off == r->at.off ? ZKV_VLOG_REF_DATA : 0;
    return log_may_hold(s, r) ? refs | ZKV_VLOG_REF_LOG : refs;
}

int zkv__store_vlog_move(zkv_store *s, const zkv_vlog_rec *r, char *err, size_t errlen)
{
    if (log_may_hold(s, r))
        return ZKV_VLOG_MOVE_PINNED;
    zkv_vptr p;
    zkv_value_meta m;
    int rc = data_pointer(s, r->key, r->klen, &p, &m, err, errlen);
    if (rc != 1 || p.file != r->at.file || p.off != r->at.off)
        return rc < 0 ? rc : 0;
    if (!zkv_vlog_rec_intact(r)) {
        if (err && errlen)
            snprintf(err, errlen, "value log: damaged record in file %u at offset %llu, not moved",
                     r->at.file, (unsigned long long)r->at.off);
        return ZKV_STORE_ERR;
    }
    uint8_t ptr[ZKV_REC_VPTR_LEN];
    uint64_t tag;
    if (vlog_put(s, false, r->range_id, r->seq, r->key, r->klen, r->value, r->at.vlen, NULL, ptr,
                 &tag, err, errlen) != 0)
        return ZKV_STORE_ERR;
    s->kbuf.len = s->kbuf.off = 0;
    s->vbuf.len = s->vbuf.off = 0;
    if (zkv_rec_data_key(&s->kbuf, r->key, r->klen) != 0 ||
        zkv_rec_value_encode(&s->vbuf, &m, ptr, sizeof(ptr)) != 0)
        return oom(s, err, errlen);
    /* Not through stage_data_key: the value, and so the row cache's entry, is the same (it
     * learns the new place), and a GET that reads the old record before the commit reads
     * the same bytes. */
    leveldb_writebatch_put(s->batch, (const char *)s->kbuf.data, s->kbuf.len,
                           (const char *)s->vbuf.data, s->vbuf.len);
    s->n_pending++;
    zkv_rowcache_entry *e = cache_peek(s, r->key, r->klen);
    if (e) {
        if (tag)
            zkv_rowcache_entry_set_tag(e, tag);
        else
            zkv_rowcache_invalidate(s->rc, r->key, r->klen);
    }
    return 1;
}

/* On bgsync's thread (or at close): a batch written with sync fsyncs LevelDB's log, and so
 * every write before it; it records mark (unless 0), the value log's end that the barrier
 * made durable (store_recover.c reads it). LevelDB is thread-safe; nothing of the loop's is
 * touched. */
static int db_sync(void *ctx, uint64_t mark)
{
    zkv_store *s = ctx;
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
    leveldb_writebatch_t *b = leveldb_writebatch_create();
    leveldb_writeoptions_set_sync(wo, 1);
    uint8_t v[8];
    zkv_put_u64be(v, mark);
    if (mark)
        leveldb_writebatch_put(b, ZKV_STORE_VLOG_MARK_KEY, sizeof ZKV_STORE_VLOG_MARK_KEY - 1,
                               (const char *)v, sizeof v);
    char *lerr = NULL;
    leveldb_write(s->db, wo, b, &lerr);
    leveldb_writebatch_destroy(b);
    leveldb_writeoptions_destroy(wo);
    if (!lerr)
        return 0;
    leveldb_free(lerr);
    return -1;
}

/* The value log's end (zkv_vlog_end) as a tag, 0 without files. */
static uint64_t vlog_end_tag(const zkv_store *s)
{
    uint32_t file;
    uint64_t off;
    return zkv_vlog_end(s->vlog, &file, &off) ? vptr_tag(file, off) : 0;
}

/* bgsync, started on first use; NULL when it cannot start. */
static zkv_bgsync *sync_thread(zkv_store *s)
{
    if (!s->bg)
        s->bg = zkv_bgsync_create(db_sync, s);
    return s->bg;
}

/* The value log's closer (vlog.h): a deleted file's last close, which frees its blocks,
 * on bgsync's thread. */
static void close_later(void *ctx, int fd)
{
    zkv_store *s = ctx;
    if (!sync_thread(s)) {
        close(fd);
        return;
    }
    (void)zkv_bgsync_close(s->bg, fd);
}

/* Asks bgsync for a barrier over the value log's dirty files that records mark. */
static int64_t request_barrier(zkv_store *s, uint64_t mark, char *err, size_t errlen)
{
    if (!sync_thread(s)) {
        set_err(err, errlen, "cannot start the sync thread", NULL);
        return ZKV_STORE_ERR;
    }
    int *fds;
    size_t n;
    uint64_t ticket;
    if (zkv_vlog_take_dirty(s->vlog, &fds, &n) != 0 ||
        !(ticket = zkv_bgsync_request(s->bg, fds, n, mark))) {
        s->failed = true; /* files were marked synced */
        set_err(err, errlen, "out of memory or descriptors for a sync", NULL);
        return ZKV_STORE_ERR;
    }
    return (int64_t)ticket;
}

int64_t zkv__store_barrier(zkv_store *s, char *err, size_t errlen)
{
    if (zkv_store_commit(s, err, errlen) != 0)
        return ZKV_STORE_ERR;
    if (s->sync)
        return 0; /* every commit synced the value log and LevelDB's log */
    return request_barrier(s, vlog_end_tag(s), err, errlen);
}

int zkv_store_vlog_mark(zkv_store *s, char *err, size_t errlen)
{
    uint64_t end = vlog_end_tag(s);
    if (end == 0 || end == s->mark_asked)
        return 0;
    if (s->mark_ticket) {
        int rc = zkv__store_barrier_done(s, (int64_t)s->mark_ticket, err, errlen);
        if (rc != 1)
            return rc; /* the last one is still under way, or failed */
    }
    int64_t t = request_barrier(s, end, err, errlen);
    if (t < 0)
        return (int)t;
    s->mark_ticket = (uint64_t)t;
    s->mark_asked = end;
    return 0;
}

void zkv__store_abandon(zkv_store *s)
{
    s->abandon = true;
    zkv_store_close(s);
}

/* At close, a last barrier (carried out by zkv_bgsync_free): every dirty value-log file
 * fdatasynced and the mark of the end recorded, so a machine restart finds nothing to check
 * (store_recover.c). Errors only lose that. */
static void final_mark(zkv_store *s)
{
    uint64_t end = s->vlog ? vlog_end_tag(s) : 0;
    if (s->abandon || s->failed || !s->db || end == 0)
        return;
    (void)zkv_vlog_trim(s->vlog); /* else a reused spare's old tail reads as unsynced */
    char err[128];
    (void)request_barrier(s, end, err, sizeof err);
}

int zkv__store_vlog_mark_read(zkv_store *s, zkv_vptr *w, char *err, size_t errlen)
{
    char *lerr = NULL;
    size_t vlen = 0;
    char *v = leveldb_get(s->db, s->ropts, ZKV_STORE_VLOG_MARK_KEY,
                          sizeof ZKV_STORE_VLOG_MARK_KEY - 1, &vlen, &lerr);
    memset(w, 0, sizeof *w);
    if (lerr) {
        set_err(err, errlen, "LevelDB read failed", lerr);
        leveldb_free(lerr);
        return ZKV_STORE_ERR;
    }
    if (v && vlen == 8)
        tag_where(zkv_get_u64be((const uint8_t *)v), w);
    leveldb_free(v);
    return 0;
}

leveldb_t *zkv__store_db(const zkv_store *s)
{
    return s->db;
}

int zkv__store_barrier_done(zkv_store *s, int64_t ticket, char *err, size_t errlen)
{
    if (ticket == 0)
        return 1;
    bool failed;
    uint64_t done = s->bg ? zkv_bgsync_done(s->bg, &failed) : 0;
    if (s->bg && failed) {
        s->failed = true;
        set_err(err, errlen, "value log or LevelDB sync failed", NULL);
        return ZKV_STORE_ERR;
    }
    return done >= (uint64_t)ticket ? 1 : 0;
}
