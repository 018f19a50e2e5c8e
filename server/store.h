/* store.h: a node's storage on LevelDB: user data, per-range sequence logs and range
 * states in one database (formats in record.h), with group commit.
 *
 * Writes are staged: zkv_store_put/zkv_store_delete give the write its range's next
 * sequence number and add the data change, the log entry and (at commit) the range state
 * to one pending WriteBatch; zkv_store_commit writes the batch. The caller acknowledges
 * staged writes only after the commit succeeds (the server commits once per loop turn).
 * Reads go to LevelDB; a read that may touch a staged key commits the batch first, so a
 * client always reads its own pipelined writes. GETs go through a row cache (rowcache.h,
 * default ZKV_STORE_DEFAULT_CACHE_BYTES, zkv_store_set_cache) that holds committed records
 * and "not found" answers; every staged change of a key drops it from the cache, so a GET
 * answers exactly what LevelDB would (the argument is at the top of store.c).
 *
 * A failed commit leaves the store failed (the in-memory sequence numbers ran ahead of the
 * disk): every later write and commit fails; the server stops (fail-stop) rather than
 * acknowledge anything. Not thread-safe: the loop thread owns the store.
 * Errors: 0 on success, ZKV_STORE_ERR with a reason in err, or the codes below. */
#ifndef ZKV_SERVER_STORE_H
#define ZKV_SERVER_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/rangemap.h"
#include "record.h"
#include "rowcache.h"

#define ZKV_STORE_ERR (-1)
#define ZKV_STORE_STALE_EPOCH (-2)     /* write epoch older than the range's stored epoch */
#define ZKV_STORE_INCOMPLETE (-3)      /* write to a range whose snapshot is being received */
#define ZKV_STORE_TRUNCATE_CHUNK 4096u /* log entries deleted per zkv_store_truncate_log */
#define ZKV_STORE_DEFAULT_CACHE_BYTES ((size_t)64 << 20) /* row cache budget at open */

typedef struct zkv_store zkv_store;

/* In-memory state of one range's log. */
typedef struct zkv_range_state {
    char id[ZKV_ID_MAX];
    uint64_t epoch;         /* epoch of the range's last write (staged included) */
    uint64_t last_seq;      /* last sequence number given out (staged included) */
    uint64_t committed_seq; /* last sequence number durable in LevelDB */
    uint64_t committed_epoch;
    size_t pending;         /* staged writes of this range in the open batch */
    uint64_t bytes_written; /* key and value bytes of the writes staged since open (stats) */
} zkv_range_state;

/* Opens (creating if missing) the database in dir and loads every range state, with a
 * LevelDB memtable of ZKV_STORE_DEFAULT_WRITE_BUFFER bytes. */
#define ZKV_STORE_DEFAULT_WRITE_BUFFER ((size_t)16 << 20)
int zkv_store_open(const char *dir, zkv_store **out, char *err, size_t errlen);
/* How zkv-server tunes LevelDB (--write-buffer-mb, --compaction-nice). */
typedef struct zkv_store_tuning {
    size_t write_buffer;      /* memtable bytes */
    int compaction_nice;      /* nice increment of LevelDB's background thread (0..19), taken
                                 only if this is the first database the process opens */
    bool sync;                /* every commit fsyncs LevelDB's log before it returns (--sync) */
    size_t inline_max;        /* values of more bytes go to the value log (--inline-max-bytes) */
    uint64_t vlog_file_bytes; /* value-log file size (0: ZKV_VLOG_DEFAULT_FILE_BYTES) */
} zkv_store_tuning;
/* Values above this many bytes are stored once, in the value log (vlog.h), by default. */
#define ZKV_STORE_DEFAULT_INLINE_MAX ((size_t)1024)
#define ZKV_STORE_DEFAULT_COMPACTION_NICE 19
/* The same with t (NULL: the defaults). */
int zkv_store_open_with(const char *dir, const zkv_store_tuning *t, zkv_store **out, char *err,
                        size_t errlen);
/* Closes the database; staged, uncommitted writes are dropped. NULL is a no-op. */
void zkv_store_close(zkv_store *s);

/* The range's state, or NULL if the range never had a write here. */
const zkv_range_state *zkv_store_range(const zkv_store *s, const char *range_id);
size_t zkv_store_range_count(const zkv_store *s);

/* Stages key = value in range_id at epoch; *meta receives the (epoch, seq) it got. */
int zkv_store_put(zkv_store *s, const char *range_id, uint64_t epoch, const uint8_t *key,
                  size_t klen, const uint8_t *value, size_t vlen, zkv_value_meta *meta, char *err,
                  size_t errlen);
/* Stages a put or delete as zkv_store_put and zkv_store_delete do, with tag (NULL: none) in
 * its log entry (a conditional write's client id and sequence, an atomic batch's end) and
 * for a put its expiry (the owner's wall-clock ms; 0: none). */
int zkv_store_write(zkv_store *s, const char *range_id, uint64_t epoch, zkv_log_op op,
                    const zkv_write_tag *tag, const uint8_t *key, size_t klen, const uint8_t *value,
                    size_t vlen, uint64_t expiry_ms, zkv_value_meta *meta, char *err,
                    size_t errlen);
/* Stages the deletion of key (a missing key is fine: the delete is logged all the same). */
int zkv_store_delete(zkv_store *s, const char *range_id, uint64_t epoch, const uint8_t *key,
                     size_t klen, zkv_value_meta *meta, char *err, size_t errlen);
/* Number of staged operations (writes, applied entries, snapshot items, truncations,
 * resets): non-zero means zkv_store_commit has work. */
size_t zkv_store_pending(const zkv_store *s);
/* Writes the staged batch (no-op when empty). */
int zkv_store_commit(zkv_store *s, char *err, size_t errlen);
/* Between requests (never inside one): once the value log has handed values to its writer
 * thread since the last call, the records staged so far are written to LevelDB on that
 * thread behind them (early_write.h), while the batch stays pending until the commit. Not
 * with --sync. 0, or ZKV_STORE_ERR (out of memory: the store failed). */
int zkv_store_progress(zkv_store *s, char *err, size_t errlen);
/* LevelDB writes made ahead of commits (zkv_store_progress) since open. */
uint64_t zkv_store_early_writes(const zkv_store *s);
bool zkv_store_failed(const zkv_store *s);
/* Number of commits that wrote something since open: a change means committed positions
 * may have moved. */
uint64_t zkv_store_commit_count(const zkv_store *s);

/* A value read from the store: view points into buf (a LevelDB result), own (a value read
 * from the value log) or a pinned row-cache entry (pin); each stays valid, whatever the
 * store does meanwhile, until the caller releases it with zkv_store_value_release. */
typedef struct zkv_store_value {
    char *buf;
    uint8_t *own;
    zkv_rowcache_entry *pin;
    zkv_value_view view;
} zkv_store_value;

/* LevelDB's estimate of the bytes the user keys in [start, end) (empty end: to the last
 * key) take on disk, compressed; writes still in the memtable count once flushed. Values
 * in the value log count by the interval's share of LevelDB's data bytes (docs/internals.md,
 * "Value log"). */
uint64_t zkv_store_approx_size(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end,
                               size_t elen);

/* The bytes of [start, end) for the range reports (stats, INFO): zkv_store_approx_size, or
 * when more, the keys and values of its first ZKV_STORE_SIZE_SAMPLE keys (LevelDB's
 * estimate misses the memtable, which holds all of a young range's value pointers). */
#define ZKV_STORE_SIZE_SAMPLE 2000u
uint64_t zkv_store_range_bytes(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end,
                               size_t elen);

/* A key to split [start, end) at, about halfway by bytes: LevelDB's size estimates bisect
 * the interval when it holds at least ZKV_STORE_SPLIT_ESTIMATE_MIN bytes on disk, else the
 * keys are weighed, each by its key and value (up to ZKV_STORE_SPLIT_SCAN_MAX of them), and
 * the first whose middle lies past half the weight is taken (keys of one size: the middle
 * one).
 * The key is a key of the range other than its first (so both halves hold keys) and goes
 * into out (replacing what it had). Returns 1 (found), 0 (fewer than 2 keys: no split) or
 * ZKV_STORE_ERR. Commits staged writes first. */
#define ZKV_STORE_SPLIT_ESTIMATE_MIN ((uint64_t)4 << 20)
#define ZKV_STORE_SPLIT_SCAN_MAX 1000000u
int zkv_store_middle_key(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end,
                         size_t elen, zkv_buf *out, char *err, size_t errlen);

/* Returns 1 (found, *out set), 0 (not found) or ZKV_STORE_ERR. */
int zkv_store_get(zkv_store *s, const uint8_t *key, size_t klen, zkv_store_value *out, char *err,
                  size_t errlen);
void zkv_store_value_release(zkv_store_value *v);

/* Replaces the row cache by an empty one of budget_bytes (0: no cache). Values from earlier
 * GETs stay valid until released. */
int zkv_store_set_cache(zkv_store *s, size_t budget_bytes, char *err, size_t errlen);
/* The row cache's counters; false (and zeros) when the cache is disabled. */
struct zkv_dbstats;
struct zkv_dbwrite_stats;
/* The commits' LevelDB writes so far (dbwrite.h: times, waits by cause) and whether they
 * are synced. */
void zkv_store_write_stats(const zkv_store *s, struct zkv_dbwrite_stats *out, bool *synced);
/* LevelDB's own figures (dbstats.h: files, size and compaction work per level). 0, or -1
 * when LevelDB does not give them. Costs a property read: once a second at most. */
int zkv_store_db_stats(zkv_store *s, struct zkv_dbstats *out);
bool zkv_store_cache_stats(const zkv_store *s, zkv_rowcache_stats *out);

/* Called for each key in order; return 0 to go on, 1 to stop (the key is not consumed:
 * the callback decides whether it counts). Pointers are valid during the call only. */
typedef int (*zkv_store_scan_fn)(void *ctx, const uint8_t *key, size_t klen,
                                 const zkv_value_view *v);
/* Visits the user keys in [start, end) (empty end: to the last key) in key order.
 * Returns 1 when the callback stopped the scan, 0 when the keys ran out, or ZKV_STORE_ERR. */
int zkv_store_scan(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end, size_t elen,
                   zkv_store_scan_fn fn, void *ctx, char *err, size_t errlen);
/* The same, without reading values kept in the value log: views have their value_len, and
 * value is NULL for those (for walks that count or expire keys). */
int zkv_store_scan_meta(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end,
                        size_t elen, zkv_store_scan_fn fn, void *ctx, char *err, size_t errlen);
/* The same keys, start <= key < end (elen 0: no end), in descending order. */
int zkv_store_scan_reverse(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end,
                           size_t elen, zkv_store_scan_fn fn, void *ctx, char *err, size_t errlen);
/* zkv_store_range_bytes in one walk with a visit of the caller's: fn sees each key the sample sees
 * first (up to ZKV_STORE_SIZE_SAMPLE + 1 of them) and may stop the walk sooner; *walked
 * (unless NULL) gets the walk's result as zkv_store_scan_meta's: 1 stopped, 0 the keys ran
 * out, ZKV_STORE_ERR. */
uint64_t zkv_store_range_bytes_walk(zkv_store *s, const uint8_t *start, size_t slen,
                                    const uint8_t *end, size_t elen, zkv_store_scan_fn fn,
                                    void *ctx, int *walked);

/* Visits range_id's log entries with seq >= from_seq in order (for the log shipper and
 * tests). The callback returns 0 to go on, 1 to stop. Same returns as zkv_store_scan. */
typedef int (*zkv_store_log_fn)(void *ctx, uint64_t seq, const zkv_log_view *e);
int zkv_store_read_log(zkv_store *s, const char *range_id, uint64_t from_seq, zkv_store_log_fn fn,
                       void *ctx, char *err, size_t errlen);
/* How many zkv_store_read_log calls were answered from the batch committed last (in
 * memory: the shipper's reads right after a commit) and how many from LevelDB. */
void zkv_store_log_read_counts(const zkv_store *s, uint64_t *from_memory, uint64_t *from_db);

/* ---- Replication (docs/replication.md) ----
 *
 * Epoch history: every range keeps the first seq written in each epoch ('e' keys). A write
 * (put, delete or applied entry) whose epoch differs from the epoch of the range's last
 * write records (epoch, seq) in the same batch. */

/* Copies up to n history entries (oldest first, staged ones included) into out and returns
 * the range's total count (may exceed n; 0 for an unknown range). */
int zkv_store_history(const zkv_store *s, const char *range_id, zkv_epoch_start *out, size_t n);

/* One replicated log entry, as the owner wrote it. */
typedef struct zkv_store_entry {
    uint64_t seq;
    uint64_t epoch;
    zkv_log_op op;
    const uint8_t *key;
    size_t klen;
    const uint8_t *value; /* put */
    size_t vlen;
    uint64_t expiry_ms; /* put */
    zkv_write_tag tag;  /* a conditional write's client id and sequence (0, 0: none) */
} zkv_store_entry;

/* Stages e exactly as given (data key, log entry, range state, history). Needs
 * e->seq == last_seq + 1 and e->epoch >= the range's epoch; else ZKV_STORE_ERR and nothing
 * is staged. ZKV_STORE_INCOMPLETE while a snapshot of the range is being received. */
int zkv_store_apply(zkv_store *s, const char *range_id, const zkv_store_entry *e, char *err,
                    size_t errlen);

/* First seq of the range's log, 0 when the log is empty (the log is [first, last_seq]). */
/* How many of the range's newest log entries to keep beyond what replicas need: entries,
 * fewer when those take more than bytes bytes (logspan.h: to a MiB's precision, counting
 * entries written since open; bytes 0: no limit in bytes). */
uint64_t zkv_store_log_retain(const zkv_store *s, const char *range_id, uint64_t entries,
                              uint64_t bytes);
uint64_t zkv_store_log_first_seq(const zkv_store *s, const char *range_id);

/* Stages the deletion of log entries with seq <= min(upto_seq, committed last seq), at most
 * ZKV_STORE_TRUNCATE_CHUNK per call. Returns how many such entries remain (0: done; call
 * again on a later loop turn while > 0), or ZKV_STORE_ERR. */
int64_t zkv_store_truncate_log(zkv_store *s, const char *range_id, uint64_t upto_seq, char *err,
                               size_t errlen);

/* Owner side: a consistent view of one range's data for a SNAPSHOT. Open commits anything
 * staged, then takes a LevelDB snapshot; the items are the data keys in [start, end) (empty
 * end: unbounded) exactly as of the range's committed (epoch, seq), whatever is written
 * after. Close every snapshot before zkv_store_close. */
typedef struct zkv_store_snapshot zkv_store_snapshot;
typedef struct zkv_store_snapshot_info {
    uint64_t epoch; /* the range's committed position when the snapshot was taken */
    uint64_t seq;
    const zkv_epoch_start *history; /* the range's history then (owned by the snapshot) */
    size_t n_history;
} zkv_store_snapshot_info;

int zkv_store_snapshot_open(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end,
                            size_t elen, const char *range_id, zkv_store_snapshot **out, char *err,
                            size_t errlen);
const zkv_store_snapshot_info *zkv_store_snapshot_info_of(const zkv_store_snapshot *snap);
/* Visits the next items (user key and value, valid during the call; fn returns 0, anything
 * else fails the call) until about max_bytes of keys and values (at least one item).
 * Returns 1 while items remain, 0 at the end, or ZKV_STORE_ERR. */
int zkv_store_snapshot_next(zkv_store_snapshot *snap, zkv_store_scan_fn fn, void *ctx,
                            size_t max_bytes, char *err, size_t errlen);
void zkv_store_snapshot_close(zkv_store_snapshot *snap); /* NULL is a no-op */

/* Split and merge (docs/operations.md): the ranges made continue the log of the ranges
 * they were made from. zkv_store_range_fork: when every parent is here at exactly its
 * (epoch, seq) (*matched set), each child starts at the highest of those positions, with
 * the history of the parent that had it; otherwise the children are left empty (position
 * (0, 0): their owner rebuilds them from a snapshot). Either way every parent's log,
 * history and position are deleted (its data keys stay: they belong to the children, or
 * to the ranges the interval maps to now). A child that has a position already is left
 * alone (forked before: idempotent). Commits. */
int zkv_store_range_fork(zkv_store *s, const zkv_range_parent *parents, size_t n_parents,
                         const char *const *children, size_t n_children, bool *matched, char *err,
                         size_t errlen);

/* Replica side: receiving a SNAPSHOT.
 * zkv_store_range_reset deletes the range's data keys in [start, end), its log, history and
 * position, and marks the range incomplete ('p' key: a snapshot of snap_epoch is being
 * received); it commits (everything staged before it too) in pieces of bounded size and
 * returns once the range is empty on disk. An incomplete range reads as position (0, 0),
 * refuses put/delete/apply (ZKV_STORE_INCOMPLETE) and stays incomplete across a restart
 * until zkv_store_range_set_position. */
int zkv_store_range_reset(zkv_store *s, const char *range_id, uint64_t snap_epoch,
                          const uint8_t *start, size_t slen, const uint8_t *end, size_t elen,
                          char *err, size_t errlen);
/* The epoch of the snapshot being received into the range, 0 when none. */
uint64_t zkv_store_range_snapshot_epoch(const zkv_store *s, const char *range_id);
/* The oldest epoch replication traffic and writes of the range may carry: the greatest of
 * the range's epoch, the epoch of a snapshot being received, and the highest epoch noted
 * with zkv_store_range_note_epoch (in memory only: after a restart the map is fresh). */
uint64_t zkv_store_range_min_epoch(const zkv_store *s, const char *range_id);
int zkv_store_range_note_epoch(zkv_store *s, const char *range_id, uint64_t epoch);
/* Stages a data key as given, without a log entry (snapshot items). */
int zkv_store_put_item(zkv_store *s, const uint8_t *key, size_t klen, const zkv_value_view *v,
                       char *err, size_t errlen);
/* Stages the range's position (epoch, seq) with an empty log and the given history
 * (replacing the old one), and clears the incomplete mark. */
int zkv_store_range_set_position(zkv_store *s, const char *range_id, uint64_t epoch, uint64_t seq,
                                 const zkv_epoch_start *hist, size_t n, char *err, size_t errlen);

/* Reclaiming what a node no longer holds (reclaim.h).
 * zkv_store_range_ids puts the ids of the ranges that have a log, history, position or
 * snapshot mark into out (at most max; the ids live as long as the store) and returns how
 * many there are. zkv_store_range_forget deletes a range's log, history, position and
 * snapshot mark (not its data keys) and commits: the range reads as never written, so a
 * node given it again is rebuilt from a snapshot, never caught up from a tail over data
 * that may be gone. zkv_store_delete_data deletes at most max data keys in [start, end)
 * (each dropped from the row cache), commits, sets *deleted (fewer than max: none left)
 * and, unless last is NULL, puts the last key it deleted into last (to resume after).
 * zkv_store_compact_data asks LevelDB to compact the data keys of [start, end) so that
 * their space is freed; it may take long and touches only the LevelDB handle, so it may
 * run on another thread while the store is used (never after zkv_store_close). */
size_t zkv_store_range_ids(const zkv_store *s, const char **out, size_t max);
int zkv_store_range_forget(zkv_store *s, const char *range_id, char *err, size_t errlen);
int zkv_store_delete_data(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end,
                          size_t elen, size_t max, size_t *deleted, zkv_buf *last, char *err,
                          size_t errlen);
void zkv_store_compact_data(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end,
                            size_t elen);

/* ---- Value log (vlog.h, docs/internals.md "Value log") ----
 * zkv_store_vlog_gc runs the value log's garbage collection (vlog_gc.c) for at most about
 * max_bytes of reading, paid for by what writes appended (vlog_plan.h) plus bonus bytes:
 * the server calls it after each commit and, with a bonus, once a second so that an idle
 * node finishes. It commits what it moves. force ignores credit and measures every closed
 * file once (within max_bytes), moving and deleting what the plan says (tests). */
int zkv_store_vlog_gc(zkv_store *s, size_t max_bytes, uint64_t bonus, bool force, char *err,
                      size_t errlen);
/* Bounds an unforced zkv_store_vlog_gc call to about step_us of work (0, the default: no
 * bound): it reads in 2 MiB scans and returns once the time is up, keeping the rest of its
 * credit, unless the GC is behind (vlog_plan.h, zkv_vlog_plan_yield). The loop then serves
 * requests between the steps of a long move. */
void zkv_store_vlog_gc_pace(zkv_store *s, uint64_t step_us);
/* Asks, on the sync thread, for the value log written so far to be fdatasynced and its end
 * recorded as the durability mark (a machine restart checks only what lies beyond it:
 * zkv_store_vlog_recover), unless the log has not grown since the last mark or that one is
 * still under way. The server calls it every 10 s; zkv_store_close records a last one.
 * 0, or ZKV_STORE_ERR (a failed sync fails the store). */
int zkv_store_vlog_mark(zkv_store *s, char *err, size_t errlen);

/* After the machine restarted (the page cache may have been lost): checks every value
 * pointer of the data records and range logs that lies beyond the durability mark by
 * reading its record (CRC, key, seq), and names the ranges whose copy here lost a value:
 * those whose log points at a lost record, or every range (all) when a data record no log
 * entry explains (a GC move, a snapshot item) did. The caller forgets them where another
 * copy can rebuild them (rejoin.h). store_recover.c; docs/guarantees.md. */
typedef struct zkv_vlog_recovery {
    bool clean;                 /* nothing lay beyond the mark: nothing was read */
    uint64_t walked;            /* data records and log records the check went through */
    uint64_t checked;           /* pointers beyond the mark that were read */
    uint64_t lost_data;         /* data records whose value did not read back */
    uint64_t lost_log;          /* log entries whose value did not read back */
    bool all;                   /* a lost value's range is not known: every range is damaged */
    char (*ranges)[ZKV_ID_MAX]; /* the damaged ranges (malloc'd; every range when all) */
    size_t n_ranges;
} zkv_vlog_recovery;
int zkv_store_vlog_recover(zkv_store *s, zkv_vlog_recovery *out, char *err, size_t errlen);
void zkv_vlog_recovery_free(zkv_vlog_recovery *r); /* frees ranges; r stays usable */

typedef struct zkv_vlog_stats {
    uint64_t files, bytes;      /* on disk */
    uint64_t live_estimate;     /* bytes live as last measured (unmeasured files count whole) */
    uint64_t appended;          /* bytes appended by writes since open */
    uint64_t gc_read, gc_moved; /* bytes GC read and moved since open */
    uint64_t gc_files_removed;  /* files GC deleted since open */
    uint64_t gc_pinned_skips;   /* measures that found a file still in a range's log */
    uint64_t gc_files_waiting;  /* moved files not yet deleted: their barrier or a snapshot */
    uint64_t writer_bytes;      /* bytes the writer thread wrote (zkv_vlog_writer_stats) */
    uint64_t writer_wait_us;    /* time commits waited for it */
} zkv_vlog_stats;
void zkv_store_vlog_stats(const zkv_store *s, zkv_vlog_stats *out);

#endif
