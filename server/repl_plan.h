/* repl_plan.h: where a replica's log joins the owner's (docs/replication.md, "Log shipping"),
 * as a pure function of the owner's epoch history, its log bounds and the replica's
 * position. No I/O. Tested by tests/unit/test_server_repl_plan.c. */
#ifndef ZKV_SERVER_REPL_PLAN_H
#define ZKV_SERVER_REPL_PLAN_H
#include <stddef.h>
#include <stdint.h>
#include "record.h"

typedef enum {
    ZKV_REPL_STREAM = 1,   /* send APPEND frames from *from_seq */
    ZKV_REPL_SNAPSHOT = 2, /* the replica's tail diverges or the log no longer has its next entry */
} zkv_repl_action;

/* hist: the owner's epoch history (oldest first); owner_first_seq: first seq of its log (0:
 * the log is empty); owner_last_seq/owner_last_epoch: its committed last entry;
 * (rep_epoch, rep_seq): the replica's position (RANGE_STATUS).
 *
 * The divergence point d is min(rep_seq, last seq of epoch rep_epoch in the owner's history);
 * a replica whose last entry's epoch the owner never had, or that the owner's epoch began
 * after, has no common entry there: d < rep_seq. d < rep_seq -> SNAPSHOT. Else STREAM from
 * d + 1 when d == owner_last_seq or the log still holds d + 1, SNAPSHOT otherwise.
 * An empty history with owner_last_seq > 0 (a range written before histories existed) reads
 * as the single epoch owner_last_epoch starting at seq 1. *from_seq is set for STREAM. */
zkv_repl_action zkv_repl_plan(const zkv_epoch_start *hist, size_t n, uint64_t owner_first_seq,
                              uint64_t owner_last_seq, uint64_t owner_last_epoch,
                              uint64_t rep_epoch, uint64_t rep_seq, uint64_t *from_seq);

#endif
