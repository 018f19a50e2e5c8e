/* bytebalance.h: owners even by the bytes they own, not only by count (rule 14,
 * docs/operations.md, "Balance"). After the placement has evened out the number of ranges
 * each node owns, the node owning the most bytes (by the owners' reports, stats/<node>)
 * and the one owning the fewest trade ownership: one range each way (counts unchanged),
 * or one range one way when the heavy node also owns more ranges, always by live handoffs
 * to in_sync replicas and only so that the gap between the two shrinks. Nothing is done
 * while any handoff, split or merge is pending (one trade at a time), while some range
 * has no report, or while the gap is under min_gap bytes or under a quarter of the
 * lighter node's bytes. Pure; tested by tests/unit/test_coordinator_bytebalance.c. */
#ifndef ZKV_COORDINATOR_BYTEBALANCE_H
#define ZKV_COORDINATOR_BYTEBALANCE_H
#include <stdbool.h>
#include <stddef.h>
#include "placement.h"

/* Looks at out (n ranges after placement, in routing order), bytes[i] the size of range i
 * (< 0: unknown), the live nodes that may own more (not drained, not leaving); sets the
 * handoff requests of one trade in out (changed set) and returns true, or returns false. */
bool zkv_byte_balance(zkv_assignment *out, size_t n, const double *bytes, const char *const *nodes,
                      size_t n_nodes, double min_gap);

#endif
