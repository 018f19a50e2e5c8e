/* logbatch.h: the log records of one write batch, kept in memory and chained per range,
 * so the store can answer a log read of what it just committed without LevelDB.
 *
 * Why: right after each group commit the owner's shipper reads every written range's new
 * entries (shipper.c, tail_fill). From LevelDB that is an iterator and a seek through the
 * memtable and every level per range and pass, about a tenth of a replicated write's
 * instructions, for bytes the store encoded a moment before. The store (store.c) adds each
 * staged log record here, keeps the batch it committed last, and serves a range's read
 * from it when the read starts inside that range's chain.
 *
 * A chain is a range's records in one batch, in staging order (consecutive seqs). Records
 * are copied: the batch owns its bytes. Pure memory, no I/O; one thread. Tested by
 * tests/unit/test_server_logbatch.c. */
#ifndef ZKV_SERVER_LOGBATCH_H
#define ZKV_SERVER_LOGBATCH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"

#define ZKV_LOGBATCH_NONE UINT32_MAX

typedef struct zkv_logbatch_rec {
    uint64_t seq;
    size_t off, len; /* the record's bytes in the batch's buffer */
    uint32_t next;   /* the chain's next record, or ZKV_LOGBATCH_NONE */
} zkv_logbatch_rec;

typedef struct zkv_logbatch {
    zkv_logbatch_rec *recs;
    size_t n, cap;
    zkv_buf bytes;
    bool broken; /* a record could not be kept (out of memory): no chain of it is whole */
} zkv_logbatch;

/* One range's records in one batch; first == 0 while it has none (a zeroed chain is
 * empty). */
typedef struct zkv_logchain {
    uint32_t head, tail;
    uint64_t first, last; /* seqs of its first and last record */
} zkv_logchain;

void zkv_logbatch_init(zkv_logbatch *b);
void zkv_logbatch_free(zkv_logbatch *b);
/* Empties b (keeps its memory); chains into it are void. */
void zkv_logbatch_clear(zkv_logbatch *b);
/* An empty chain. */
void zkv_logchain_init(zkv_logchain *c);

/* Appends the record rec[0..len) of seq to b and to the chain c. A seq that does not
 * follow the chain's last (the range's position was set) starts the chain over with it,
 * so a chain is always a run of consecutive seqs ending with the range's last staged
 * entry. Out of memory marks b broken and returns -1 (c is then emptied). Returns 0. */
int zkv_logbatch_add(zkv_logbatch *b, zkv_logchain *c, uint64_t seq, const uint8_t *rec,
                     size_t len);

/* Calls fn for each record of chain c (of batch b) with seq >= from, in order, until fn
 * returns non-zero. Returns what fn last returned (0 when the chain ran out). */
typedef int (*zkv_logbatch_fn)(void *ctx, uint64_t seq, const uint8_t *rec, size_t len);
int zkv_logbatch_walk(const zkv_logbatch *b, const zkv_logchain *c, uint64_t from,
                      zkv_logbatch_fn fn, void *ctx);

#endif
