/* placement.h: the coordinator's placement decision as a pure function: given every
 * range's current assignment (owner, recovery replicas, in_sync, epoch), the live node
 * ids, the positions that candidate replicas reported for ranges whose owner is down,
 * the replication factor R and --min-nodes, it returns the new assignment of every
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
    char handoff[ZKV_ID_MAX]; /* "" or the in_sync replica the owner is asked to pass the
                                 range to (a live move, server/handoff.h) */
    char leaving[ZKV_ID_MAX]; /* "" or the replica that leaves when the move of a replica
                                 slot in progress finishes (rules 8, 9 and 15) */
    /* A split the owner is asked to make (split_asked, an operation's, opstep.c);
     * placement keeps it and starts no handoff of the range meanwhile. split_key is
     * borrowed (the map's range or the operation's key), valid for the pass. */
    char split_ids[2][ZKV_ID_MAX];
    uint8_t *split_key; /* borrowed, never freed here */
    size_t split_key_len;
    /* A merge with the right neighbour merge_with into merge_id the owner is asked to
     * make ("" when not asked); placement starts no handoff of either meanwhile. */
    char merge_with[ZKV_ID_MAX];
    char merge_id[ZKV_ID_MAX];
    bool split_asked;
    bool changed; /* output only: differs from the input assignment */
} zkv_assignment;

/* A replica's position in a range's log, as it answered RANGE_STATUS: (epoch, seq) of
 * the last entry it holds. */
typedef struct zkv_position {
    char node[ZKV_ID_MAX];
    uint64_t epoch;
    uint64_t seq;
} zkv_position;

/* The positions collected for one range: one entry per candidate that answered (a
 * candidate that did not answer is simply absent). */
typedef struct zkv_range_positions {
    zkv_position at[ZKV_MAX_REPLICAS];
    int n;
} zkv_range_positions;

typedef struct zkv_placement_input {
    const zkv_assignment *ranges; /* in routing order (sorted by start key) */
    size_t n_ranges;
    const char *const *live; /* ids of the live nodes, any order; duplicates ignored */
    size_t n_live;
    int replicas;  /* R: owner + R-1 recovery replicas; 1..ZKV_MAX_REPLICAS+1 */
    int min_nodes; /* live nodes needed before a never-owned range is assigned */
    /* NULL (nobody answered), or n_ranges entries: positions[i] holds what the failover
     * candidates of ranges[i] (zkv_failover_candidates) reported. */
    const zkv_range_positions *positions;
    /* Live nodes that must give up what they hold (drained by an operator, or leaving:
     * shutting down); any order. */
    const char *const *excluded;
    size_t n_excluded;
    /* Dead nodes still within the rebalance delay: they may come back and catch up from
     * the log tail, so their replica slots are not given to other nodes yet. */
    const char *const *grace;
    size_t n_grace;
    /* NULL, or n_ranges flags: the handoff request of ranges[i] has waited too long (the
     * owner gave it up): it is withdrawn. */
    const bool *stale_handoff;
    /* Balance owners by live handoffs (rule 12); off: owners move only off excluded nodes. */
    bool balance_owners;
} zkv_placement_input;

/* Computes the new assignment of in->ranges[i] into out[i] (out holds n_ranges entries
 * and may not alias in->ranges). Rules, in order (docs/replication.md, "Failover" and
 * "Rebalancing"):
 *  1. A never-owned range (owner "", epoch 0) is left alone while fewer than min_nodes
 *     nodes are live.
 *  2. Replicas that are empty, equal the owner or repeat are dropped; dead replicas stay
 *     (see 5). in_sync keeps, in order and once each, the entries that are replicas.
 *     Beyond that the coordinator never changes in_sync of a range whose owner is live
 *     (the owner shrinks and expands it) but for the replica a finishing move drops (8).
 *  3. A range without owner gets the live node owning the fewest ranges (ties: fewest
 *     replica slots, then id order); its epoch grows by one. A live owner never moves.
 *  4. Failover: a range whose owner is not live is given the live in_sync replica with
 *     the highest reported (epoch, seq) (ties: lowest id; candidates without a position
 *     are skipped; when none reported one, the first live in_sync replica by id). Its
 *     epoch grows by one; in_sync becomes the old in_sync minus the new owner and minus
 *     the nodes that are not live; the old owner takes the new owner's replica slot.
 *     Without a live in_sync replica the dead owner is kept: the range is read-only.
 *  5. A dead replica that is not in_sync (the old owner after a failover, too) is
 *     replaced in its slot by the least-loaded spare live node (neither the owner nor a
 *     replica of the range; load = owned ranges + replica slots, ties by id) when one
 *     exists, and kept otherwise. A dead in_sync replica is always kept (but see 8).
 *  6. Each range gets up to R-1 replicas, plus one extra while a move is in progress
 *     (only when R-1 >= 1 and R <= ZKV_MAX_REPLICAS): missing slots go to the
 *     least-loaded spare live nodes; over the limit, dead then live replicas that are
 *     not in_sync go first, then the last.
 *  7. A move in progress (more than R-1 replicas; the extra is replicas[R-1]) whose
 *     extra is dead and not in_sync drops the extra. With a live owner, a dead replica
 *     that is not in_sync is dropped instead of replaced: the extra takes its slot.
 *  8. A move finishes when the owner and the extra are live and the extra is in_sync:
 *     one other replica leaves replicas and in_sync, the first of: dead, excluded, not
 *     in_sync, the one the move names (leaving), most loaded, highest id. leaving is
 *     cleared when no move is in progress or it names no replica of the first R-1 slots.
 *  9. Rebalancing is two-phase: to move a slot from the most loaded node h to the least
 *     loaded node l (projected loads: a move in progress counts for its extra, not for
 *     the replica that will leave), l is appended as the extra replica of the first
 *     range (routing order) with a live owner other than l, exactly R-1 replicas, no
 *     copy on l, and h as the replica that would leave (8), now named in leaving.
 *     Moves start while the projected max-min load is 2 or more, such a range exists,
 *     and fewer than max(1, live nodes / 2) ranges have a move in progress. A range
 *     whose owner is down never starts or finishes a move. Placing the output again
 *     changes nothing until in_sync (or the live set) changes: a half-done move stays
 *     half-done.
 * 10. A handoff request (handoff) names the replica the owner is asked to pass the range
 *     to; the owner clears it when it does so. It is withdrawn when the owner is not live
 *     or changed, when the target is not a live in_sync replica or is excluded, or when
 *     stale_handoff says it waited too long (a request withdrawn this way may be made
 *     again by 11 or 12 on a later run, after the owner saw it withdrawn).
 * 11. Excluded nodes (drained or leaving) are treated as live for what they hold but take
 *     nothing new: never the owner of an ownerless range, never a spare (5, 6), never the
 *     target of a move (9); their replica slots are moved off first (9: an excluded node
 *     counts as the most loaded while it holds a slot; 8: it leaves first), and a range
 *     they own gets a handoff request to its live, not excluded in_sync replica owning
 *     the fewest ranges (ties by id).
 * 12. Owner balance (balance_owners): among live, not excluded nodes, while a node h owns
 *     at least 2 ranges more than a node l and fewer than max(1, such nodes / 2) handoff
 *     requests are outstanding, the shortest chain h -> x1 -> ... -> l is asked for, each
 *     link a range of the one node (no request on it) handed to the next, a live in_sync
 *     replica of it: only h and l change counts, so owners even out even when h holds no
 *     copy on l. Heads are tried from the most owning down, chains breadth-first in id
 *     and routing order; owned counts are as projected by the outstanding requests.
 * 13. Replica slots of dead nodes in grace are kept as if no spare existed (5, 7).
 * Rules 14 and 15, owners and replica slots even by bytes, run after this function in
 * the leader (bytebalance.h): they need the owners' size reports. */
int zkv_placement_compute(const zkv_placement_input *in, zkv_assignment *out);

/* The failover candidates of a: when its owner is set and not live, its live in_sync
 * replicas other than the owner, sorted by id, into out (ZKV_MAX_REPLICAS entries).
 * Returns their number; 0 when the owner is live, unset, or nobody qualifies. live as in
 * zkv_placement_input (any order). */
int zkv_failover_candidates(const zkv_assignment *a, const char *const *live, size_t n_live,
                            char (*out)[ZKV_ID_MAX]);

/* Copies the assignment fields of r into a (changed = false). */
void zkv_assignment_from_range(zkv_assignment *a, const zkv_range *r);
/* Writes the assignment fields of a into r (id, bounds and zversion untouched; r's
 * split_key then borrows a's: r must be a shallow copy nobody clears). */
void zkv_assignment_to_range(const zkv_assignment *a, zkv_range *r);
/* Whether range v[i] (v in routing order) is being split or merged: asked to split, asked
 * to merge, or the right neighbour of one asked to merge. No handoff and no other split or
 * merge starts for it meanwhile. */
bool zkv_assignment_reshaping(const zkv_assignment *v, size_t i);
/* true when owner, replicas (in order), in_sync (in order) and epoch are equal. */
bool zkv_assignment_equal(const zkv_assignment *a, const zkv_assignment *b);
/* Writes "[a,b,c]" of the replica list into out (truncated to fit). */
void zkv_assignment_format_list(const char (*ids)[ZKV_ID_MAX], int n, char *out, size_t outlen);

#endif
