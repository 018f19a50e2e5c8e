/* store.h: a node's storage on LevelDB: user data, per-range sequence logs and range
 * states in one database (formats in record.h), with group commit.
 *
 * Writes are staged: zkv_store_put/zkv_store_delete give the write its range's next
 * sequence number and add the data change, the log entry and (at commit) the range state
 * to one pending WriteBatch; zkv_store_commit writes the batch. The caller acknowledges
 * staged writes only after the commit succeeds (the server commits once per loop turn).
 * Reads go to LevelDB; a read that may touch a staged key commits the batch first, so a
 * client always reads its own pipelined writes.
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

#define ZKV_STORE_ERR (-1)
#define ZKV_STORE_STALE_EPOCH (-2) /* write epoch older than the range's stored epoch */

typedef struct zkv_store zkv_store;

/* In-memory state of one range's log. */
typedef struct zkv_range_state {
    char id[ZKV_ID_MAX];
    uint64_t epoch;         /* epoch of the range's last write (staged included) */
    uint64_t last_seq;      /* last sequence number given out (staged included) */
    uint64_t committed_seq; /* last sequence number durable in LevelDB */
    uint64_t committed_epoch;
    size_t pending; /* staged writes of this range in the open batch */
} zkv_range_state;

/* Opens (creating if missing) the database in dir and loads every range state. */
int zkv_store_open(const char *dir, zkv_store **out, char *err, size_t errlen);
/* Closes the database; staged, uncommitted writes are dropped. NULL is a no-op. */
void zkv_store_close(zkv_store *s);

/* The range's state, or NULL if the range never had a write here. */
const zkv_range_state *zkv_store_range(const zkv_store *s, const char *range_id);
size_t zkv_store_range_count(const zkv_store *s);

/* Stages key = value in range_id at epoch; *meta receives the (epoch, seq) it got. */
int zkv_store_put(zkv_store *s, const char *range_id, uint64_t epoch, const uint8_t *key,
                  size_t klen, const uint8_t *value, size_t vlen, zkv_value_meta *meta, char *err,
                  size_t errlen);
/* Stages the deletion of key (a missing key is fine: the delete is logged all the same). */
int zkv_store_delete(zkv_store *s, const char *range_id, uint64_t epoch, const uint8_t *key,
                     size_t klen, zkv_value_meta *meta, char *err, size_t errlen);
/* Number of staged writes. */
size_t zkv_store_pending(const zkv_store *s);
/* Writes the staged batch (no-op when empty). */
int zkv_store_commit(zkv_store *s, char *err, size_t errlen);
bool zkv_store_failed(const zkv_store *s);

/* A value read from the store: view points into buf, which the caller releases with
 * zkv_store_value_release (free(3) of buf). */
typedef struct zkv_store_value {
    char *buf;
    zkv_value_view view;
} zkv_store_value;

/* Returns 1 (found, *out set), 0 (not found) or ZKV_STORE_ERR. */
int zkv_store_get(zkv_store *s, const uint8_t *key, size_t klen, zkv_store_value *out, char *err,
                  size_t errlen);
void zkv_store_value_release(zkv_store_value *v);

/* Called for each key in order; return 0 to go on, 1 to stop (the key is not consumed:
 * the callback decides whether it counts). Pointers are valid during the call only. */
typedef int (*zkv_store_scan_fn)(void *ctx, const uint8_t *key, size_t klen,
                                 const zkv_value_view *v);
/* Visits the user keys in [start, end) (empty end: to the last key) in key order.
 * Returns 1 when the callback stopped the scan, 0 when the keys ran out, or ZKV_STORE_ERR. */
int zkv_store_scan(zkv_store *s, const uint8_t *start, size_t slen, const uint8_t *end, size_t elen,
                   zkv_store_scan_fn fn, void *ctx, char *err, size_t errlen);

/* Visits range_id's log entries with seq >= from_seq in order (for the log shipper and
 * tests). The callback returns 0 to go on, 1 to stop. Same returns as zkv_store_scan. */
typedef int (*zkv_store_log_fn)(void *ctx, uint64_t seq, const zkv_log_view *e);
int zkv_store_read_log(zkv_store *s, const char *range_id, uint64_t from_seq, zkv_store_log_fn fn,
                       void *ctx, char *err, size_t errlen);

#endif
