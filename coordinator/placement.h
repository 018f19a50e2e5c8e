/* placement.h: the coordinator's placement decision as a pure function: given every
 * range's current assignment (owner, recovery replicas, in_sync, epoch), the live node
 * ids, the replication factor R and --min-nodes, it returns the new assignment of every
 * range and whether it changed. No I/O, no clocks, no randomness: the same input gives
 * the same output, and feeding the output back in changes nothing (idempotent), so the
 * leader can re-run it after any conflict or lost reply.
 * Errors: zkv_placement_compute returns 0, or -1 on bad arguments or ENOMEM. */
#ifndef ZKV_COORDINATOR_PLACEMENT_H
#define ZKV_COORDINATOR_PLACEMENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/rangemap.h"

/* The placement-relevant part of a range (a zkv_range without id, bounds, zversion). */
typedef struct zkv_assignment {
    char owner[ZKV_ID_MAX]; /* "" when unassigned */
    char replicas[ZKV_MAX_REPLICAS][ZKV_ID_MAX];
    int n_replicas;
    char in_sync[ZKV_MAX_REPLICAS][ZKV_ID_MAX];
    int n_in_sync;
    uint64_t epoch;
    bool changed; /* output only: differs from the input assignment */
} zkv_assignment;

typedef struct zkv_placement_input {
    const zkv_assignment *ranges; /* in routing order (sorted by start key) */
    size_t n_ranges;
    const char *const *live; /* ids of the live nodes, any order; duplicates ignored */
    size_t n_live;
    int replicas;  /* R: owner + R-1 recovery replicas; 1..ZKV_MAX_REPLICAS+1 */
    int min_nodes; /* live nodes needed before a never-owned range is assigned */
} zkv_placement_input;

/* Computes the new assignment of in->ranges[i] into out[i] (out holds n_ranges entries
 * and may not alias in->ranges). Rules, in order:
 *  1. A never-owned range (owner "", epoch 0) is left alone while fewer than min_nodes
 *     nodes are live.
 *  2. Replicas that are not live, equal the owner or repeat are dropped; in_sync keeps
 *     only entries that are still replicas.
 *  3. A range without owner gets the live node owning the fewest ranges (ties: fewest
 *     replica slots, then id order); its epoch grows by one. A live owner never moves.
 *     A dead owner is kept (see placement.c).
 *  4. Each range gets min(R-1, live nodes other than its owner) replicas: missing slots
 *     go to the least-loaded live nodes (load = owned ranges + replica slots, ties by id).
 *  5. Replica slots that are not in_sync move from the most to the least loaded nodes
 *     until max-min load is at most 1, or no such move is possible. */
int zkv_placement_compute(const zkv_placement_input *in, zkv_assignment *out);

/* Copies the assignment fields of r into a (changed = false). */
void zkv_assignment_from_range(zkv_assignment *a, const zkv_range *r);
/* Writes the assignment fields of a into r (id, bounds and zversion untouched). */
void zkv_assignment_to_range(const zkv_assignment *a, zkv_range *r);
/* true when owner, replicas (in order), in_sync (in order) and epoch are equal. */
bool zkv_assignment_equal(const zkv_assignment *a, const zkv_assignment *b);
/* Writes "[a,b,c]" of the replica list into out (truncated to fit). */
void zkv_assignment_format_list(const char (*ids)[ZKV_ID_MAX], int n, char *out, size_t outlen);

#endif
