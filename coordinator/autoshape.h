/* autoshape.h: when the leading coordinator splits or merges ranges by itself
 * (docs/operations.md, "Split and merge"): a pure decision over the owners' reports
 * (stats/<node>: each range's size on disk and write rate). At most one operation at a
 * time, and none while any operation (an operator's or an earlier automatic one) is in
 * progress; a range without a fresh report is never chosen, so the halves of a split wait
 * for their first report before anything else happens to them.
 *   split: the range furthest past --split-size-mb (or --split-writes-per-s, when set);
 *   merge: the two neighbours with the smallest sum of sizes under --merge-size-mb, both
 *          writing less than a quarter of --split-writes-per-s (when set), while the cluster
 *          has more than --min-ranges ranges. Tested by tests/unit/test_coordinator_autoshape.c. */
#ifndef ZKV_COORDINATOR_AUTOSHAPE_H
#define ZKV_COORDINATOR_AUTOSHAPE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/znode.h"

typedef struct zkv_shape_range {
    const char *id;
    bool has_stats; /* its owner reported it */
    double bytes;
    double writes_per_s;
} zkv_shape_range;

typedef struct zkv_shape_limits {
    uint64_t split_bytes;      /* 0: never by size */
    double split_writes_per_s; /* 0: never by write rate */
    uint64_t merge_bytes;      /* 0: never merge */
    size_t min_ranges;         /* never merge below this many ranges */
} zkv_shape_limits;

typedef struct zkv_shape_decision {
    zkv_op_kind kind; /* ZKV_OP_SPLIT, ZKV_OP_MERGE (of range and its right neighbour) */
    const char *range;
    char why[160];
} zkv_shape_decision;

/* The one change to make over ranges (routing order), or false. ops_in_progress: the
 * operations recorded in ops/ now. */
bool zkv_autoshape_decide(const zkv_shape_range *ranges, size_t n, const zkv_shape_limits *lim,
                          size_t ops_in_progress, zkv_shape_decision *out);

#endif
