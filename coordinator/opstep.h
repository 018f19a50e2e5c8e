/* opstep.h: the operators' multi-step operations (ops/, common/znode.h zkv_op) as a pure
 * state machine: given an operation at its recorded step and the cluster as the leader
 * sees it after placement, one call says what this pass does: change a range, create or
 * delete a drained/ marker, change R, move the operation to its next step, finish it or
 * fail it. The leader writes all of it with the map in one conditional zoo_multi, so a
 * leader that dies at any point leaves the operation at a step the next leader reads and
 * continues from; every step only looks at the recorded step and the cluster, never at
 * what a previous leader held in memory. No I/O, no clock. Steps (docs/operations.md):
 *
 *   move RANGE NODE    start     -> catch_up (NODE added as an extra replica, or already
 *                                   one) -> handoff (NODE in_sync: the owner is asked) ->
 *                                   done when NODE owns the range
 *   drain NODE         start     -> moving (drained/NODE created) -> done when NODE holds
 *                                   nothing (placement moves everything off)
 *   undrain NODE       start     -> done (drained/NODE deleted)
 *   set-replicas R     start     -> converging (the cluster's R written) -> done when every
 *                                   range has its replicas, all in_sync
 *   split RANGE [KEY]  start     -> splitting (the owner asked, in the range znode) -> done
 *                                   when the two ranges replace it; a request the owner
 *                                   declines or leaves unanswered for ZKV_OP_SPLIT_WAIT_MS
 *                                   is made again, up to ZKV_OP_MAX_ATTEMPTS times
 *   merge RANGE        start     -> colocate (the right neighbour's owner brought to RANGE's
 *                                   owner, as a move does) -> merging (that owner asked) ->
 *                                   done when one range replaces both; a neighbour that
 *                                   changes hands meanwhile is brought back, a request
 *                                   declined or stuck for ZKV_OP_SPLIT_WAIT_MS is tried
 *                                   again, up to ZKV_OP_MAX_ATTEMPTS times
 *
 * A step that cannot go on fails the operation (step "failed", error says why): a range
 * or node that does not exist or is not live, a drained target, a handoff given up three
 * times. An owner that dies meanwhile does not: the move waits for the failover and asks
 * the new owner. Tested by
 * tests/unit/test_coordinator_opstep.c, which walks every step and a leader crash between
 * any two passes. */
#ifndef ZKV_COORDINATOR_OPSTEP_H
#define ZKV_COORDINATOR_OPSTEP_H
#include <stdbool.h>
#include <stddef.h>
#include "common/znode.h"
#include "placement.h"

#define ZKV_OP_MAX_ATTEMPTS 3
#define ZKV_OP_SPLIT_WAIT_MS 60000 /* a split request the owner has not answered is renewed */

typedef struct zkv_op_world {
    zkv_assignment *ranges; /* routing order, after placement; a step may change one
                               (setting changed) */
    const char *const *range_ids;
    size_t n_ranges;
    const char *const *live;
    size_t n_live;
    const char *const *drained; /* drained/ children */
    size_t n_drained;
    int replicas;    /* R as the cluster record says now */
    uint64_t now_ms; /* wall clock, against the operation's updated_ms */
} zkv_op_world;

typedef struct zkv_op_effect {
    bool write_op;    /* the operation's fields changed: write its znode */
    bool delete_op;   /* it finished: delete its znode */
    int drained;      /* +1: create drained/<op node>, -1: delete it, 0: nothing */
    int set_replicas; /* > 0: write R into the cluster record */
    char note[200];   /* what happened, for the log ("" when nothing did) */
} zkv_op_effect;

/* The ids of the two ranges a split operation makes: "r<N>a" and "r<N>b" for op-<N>,
 * N without leading zeros (its sequence number makes them unique in the cluster's life;
 * the letter keeps them apart from the first ranges, r0000...). */
void zkv_op_split_ids(const char *op_id, char (*ids)[ZKV_ID_MAX]);
/* The id of the range a merge operation makes: "r<N>m". */
void zkv_op_merge_id(const char *op_id, char *id);

/* One pass of op over w: updates op (step, attempts, error), w's ranges and *eff. */
void zkv_op_step(zkv_op *op, zkv_op_world *w, zkv_op_effect *eff);

#endif
