/* tail.h: the recent committed log entries of one owned range, in memory, so the shipper
 * serves a caught-up replica without reading LevelDB (docs/replication.md, "Log shipping").
 *
 * A tail is a contiguous run of log entries [first, last] of one range, oldest first, each
 * exactly as the range log holds it (seq, epoch, op, key, value bytes, expiry). It is bounded
 * in bytes: appending past the budget evicts the oldest entries. It knows nothing of LevelDB:
 * the shipper fills it from zkv_store_read_log (once per range, whatever the number of
 * replicas) and decides, with the pure zkv_tail_source, whether a stream's next entry comes
 * from the tail or from the log. Why the tail always equals the log is argued in shipper.c.
 *
 * No I/O, no clock; loop thread only. Tested by tests/unit/test_server_tail.c. */
#ifndef ZKV_SERVER_TAIL_H
#define ZKV_SERVER_TAIL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "record.h"

/* Budget of one range's tail: keys + values + ZKV_TAIL_ENTRY_COST per entry. The byte
 * buffer behind it grows to at most twice that (compaction is amortised). */
#define ZKV_TAIL_BUDGET ((size_t)4 * 1024 * 1024)
#define ZKV_TAIL_ENTRY_COST ((size_t)64)

typedef struct zkv_tail_entry {
    uint64_t seq, epoch, expiry_ms;
    zkv_write_tag tag; /* a conditional write's client id and sequence (0, 0: none) */
    uint64_t off;      /* logical offset of the key; the value follows it */
    size_t klen, vlen;
    zkv_log_op op;
} zkv_tail_entry;

typedef struct zkv_tail {
    size_t budget;
    zkv_tail_entry *ring; /* entries[head .. head + n) modulo cap */
    size_t head, n, cap;
    uint8_t *bytes;    /* logical offsets [base, base + len) */
    uint64_t base;     /* logical offset of bytes[0] */
    size_t len, bcap;  /* bytes used (from bytes[0]) and allocated */
    size_t used;       /* cost of the live entries, <= budget */
    uint64_t next_seq; /* the seq the next append must carry (0: any) */
} zkv_tail;

void zkv_tail_init(zkv_tail *t, size_t budget);
void zkv_tail_free(zkv_tail *t);
/* Drops every entry; the next append must carry next_seq (0: any seq). Keeps the memory. */
void zkv_tail_reset(zkv_tail *t, uint64_t next_seq);
/* Appends one entry. It must follow the last one (seq == next_seq when set; epoch not
 * older than the last entry's): otherwise nothing changes and it returns 1 (the caller
 * resets). An entry larger than the whole budget empties the tail, which then expects
 * seq + 1. Returns 0, 1, or -1 out of memory (the tail is then empty, expecting seq). */
int zkv_tail_append(zkv_tail *t, uint64_t seq, uint64_t epoch, zkv_log_op op, const uint8_t *key,
                    size_t klen, const uint8_t *value, size_t vlen, uint64_t expiry_ms,
                    const zkv_write_tag *tag);
/* Drops the entries with seq < seq (log truncation). */
void zkv_tail_drop_before(zkv_tail *t, uint64_t seq);

/* First and last seq held; both 0 when empty. */
uint64_t zkv_tail_first(const zkv_tail *t);
uint64_t zkv_tail_last(const zkv_tail *t);
/* The entry at seq, or NULL when the tail does not hold it. */
const zkv_tail_entry *zkv_tail_at(const zkv_tail *t, uint64_t seq);
const uint8_t *zkv_tail_key(const zkv_tail *t, const zkv_tail_entry *e);
const uint8_t *zkv_tail_value(const zkv_tail *t, const zkv_tail_entry *e);

/* Where a stream's next frame comes from. */
typedef enum {
    ZKV_TAIL_SRC_NONE = 0, /* nothing committed to send (next_seq > committed) */
    ZKV_TAIL_SRC_TAIL,     /* next_seq is in the tail */
    ZKV_TAIL_SRC_FILL,     /* next_seq is just past the tail (or starts it): read the log
                              once into the tail from next_seq, then serve from it */
    ZKV_TAIL_SRC_LOG,      /* older than the tail (catch-up, new replica): zkv_store_read_log */
} zkv_tail_src;

/* Pure: first/last are the tail's bounds (zkv_tail_first, zkv_tail_last; 0 when empty),
 * usable false when the tail may not be used at all (see shipper.c), stream_next the
 * stream's next seq, committed the range's committed last seq.
 *   stream_next > committed           -> NONE
 *   !usable                           -> LOG
 *   empty tail                        -> FILL (the tail starts at stream_next)
 *   stream_next < first               -> LOG
 *   first <= stream_next <= last      -> TAIL
 *   stream_next > last                -> FILL (the tail grows from last + 1; the caller
 *                                        serves from it if it now holds stream_next, else
 *                                        from the log)
 * So the tail only grows at its end or starts empty: a lagging stream never moves it. */
zkv_tail_src zkv_tail_source(bool usable, uint64_t first, uint64_t last, uint64_t stream_next,
                             uint64_t committed);

#endif
