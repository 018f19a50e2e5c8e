/* bytebalance.h: owners and replica slots even by bytes, not only by count (rules 14 and
 * 15, docs/operations.md, "Balance"). After the placement has evened out counts, two nodes
 * trade: one range each way (counts unchanged), or one range one way when the heavier
 * node also carries more ranges, and only so that the gap between the two shrinks. Pairs
 * are tried from the widest gap down (the node carrying the most bytes by the owners'
 * reports, stats/<node>, with the one carrying the fewest first), the first that can trade
 * does, so a pair that shares no movable range does not block the others.
 *  - Rule 14, owners: by live handoffs to in_sync replicas; load = bytes of owned ranges.
 *  - Rule 15, replica slots: by two-phase moves of a slot (placement rule 9's mechanism:
 *    the light node becomes the extra replica, the heavy one is named leaving and goes
 *    once the extra is in_sync); load = bytes of ranges it is a replica of, and the count
 *    is rule 9's (owned ranges + replica slots).
 * Nothing is done while any handoff, split, merge or replica move is pending (one trade at
 * a time), while some range has no report or (rule 15) is not steady (a copy on a dead,
 * drained or leaving node, or not in_sync), or while the gap is under min_gap bytes or
 * under a quarter of the lighter node's bytes. Pure; tested by
 * tests/unit/test_coordinator_bytebalance.c. */
#ifndef ZKV_COORDINATOR_BYTEBALANCE_H
#define ZKV_COORDINATOR_BYTEBALANCE_H
#include <stdbool.h>
#include <stddef.h>
#include "placement.h"

/* Rule 14. Looks at out (n ranges after placement, in routing order), bytes[i] the size of
 * range i (< 0: unknown), the live nodes that may own more (not drained, not leaving);
 * sets the handoff requests of one trade in out (changed set) and returns true, or
 * returns false. */
bool zkv_byte_balance(zkv_assignment *out, size_t n, const double *bytes, const char *const *nodes,
                      size_t n_nodes, double min_gap);

/* Rule 15. As zkv_byte_balance, for replica slots: r1 is R-1, the replica slots a range
 * has; nodes are the live nodes that are not drained or leaving. Starts the moves of one
 * trade in out (the target appended as the extra replica, the giver in leaving; changed
 * set) and returns true, or returns false. Needs room for the extra (1 <= r1 <
 * ZKV_MAX_REPLICAS). */
bool zkv_replica_byte_balance(zkv_assignment *out, size_t n, const double *bytes,
                              const char *const *nodes, size_t n_nodes, int r1, double min_gap);

#endif
