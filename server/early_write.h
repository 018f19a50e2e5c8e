/* early_write.h: LevelDB records of a group commit written ahead, on the value log's writer
 * thread, while the loop thread stages the rest of the batch.
 *
 * Under large values the loop thread is the node's limit, and a commit's LevelDB write
 * (the memtable's skip list, the log file) was a tenth of its time (docs/performance.md,
 * "Writes ahead of the commit"). Once the value log has handed values to its writer thread
 * (vlog_writer.h), the records staged so far, which point at no byte beyond those, are
 * queued behind them on the same thread: they reach LevelDB only after the values they
 * point to are written, as a commit's records always do (behind a write that failed they
 * are not written at all: the commit then fails). Nothing else changes: the batch
 * stays pending for the store (its positions, reads, answers and replication move at the
 * commit, which waits for these writes and reports their failure). A crash between leaves
 * records of unanswered writes, as one between a commit's LevelDB write and its answers
 * does. The store calls it only between requests, so a request's records (an atomic
 * batch's entries, a conditional write's table row) are never split. */
#ifndef ZKV_SERVER_EARLY_WRITE_H
#define ZKV_SERVER_EARLY_WRITE_H
#include <leveldb/c.h>
#include <stddef.h>
#include <stdint.h>

#include "vlog.h"

typedef struct zkv_early zkv_early;

/* For writes to db with wopts (both outlive it). NULL out of memory. */
zkv_early *zkv_early_new(leveldb_t *db, leveldb_writeoptions_t *wopts);
/* Frees what it holds; call it only when no write is queued (after zkv_early_collect). */
void zkv_early_free(zkv_early *e);
/* Queues *batch to be written once every value-log byte staged so far is written
 * (zkv_vlog_after_written), and puts an empty batch in its place. 0, or -1 (nothing
 * queued: *batch is as it was, for the commit to write). */
int zkv_early_submit(zkv_early *e, zkv_vlog *v, leveldb_writebatch_t **batch);
/* Writes queued and not yet collected. */
size_t zkv_early_queued(const zkv_early *e);
/* After the value log's flush has waited for its writer thread: hands each queued write's
 * time to observe (ctx, microseconds), frees them, and returns 0, or -1 with LevelDB's
 * message of the first that failed in err. */
int zkv_early_collect(zkv_early *e, void (*observe)(void *ctx, uint64_t us), void *ctx, char *err,
                      size_t errlen);
/* Writes queued since zkv_early_new. */
uint64_t zkv_early_total(const zkv_early *e);

#endif
