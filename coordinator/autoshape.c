/* autoshape.c: the automatic split and merge decision (see autoshape.h). */
#include "autoshape.h"

#include <stdio.h>
#include <string.h>

#define MIB (1024.0 * 1024.0)

/* How far past its split limits range r is (> 1: split it), 0 without a report. */
static double over_limits(const zkv_shape_range *r, const zkv_shape_limits *lim)
{
    if (!r->has_stats)
        return 0;
    double by_size = lim->split_bytes ? r->bytes / (double)lim->split_bytes : 0;
    double by_rate = lim->split_writes_per_s > 0 ? r->writes_per_s / lim->split_writes_per_s : 0;
    return by_size > by_rate ? by_size : by_rate;
}

static bool quiet(const zkv_shape_range *r, const zkv_shape_limits *lim)
{
    return r->has_stats &&
           (lim->split_writes_per_s <= 0 || r->writes_per_s < lim->split_writes_per_s / 4);
}

bool zkv_autoshape_decide(const zkv_shape_range *ranges, size_t n, const zkv_shape_limits *lim,
                          size_t ops_in_progress, zkv_shape_decision *out)
{
    memset(out, 0, sizeof(*out));
    if (ops_in_progress > 0 || !ranges)
        return false;
    size_t worst = n;
    double worst_by = 1.0;
    for (size_t i = 0; i < n; i++) {
        double by = over_limits(&ranges[i], lim);
        if (by >= worst_by) {
            worst = i;
            worst_by = by;
        }
    }
    if (worst < n) {
        const zkv_shape_range *r = &ranges[worst];
        out->kind = ZKV_OP_SPLIT;
        out->range = r->id;
        snprintf(out->why, sizeof(out->why), "%.1f MiB, %.0f writes/s (limits: %.0f MiB, %.0f/s)",
                 r->bytes / MIB, r->writes_per_s, (double)lim->split_bytes / MIB,
                 lim->split_writes_per_s);
        return true;
    }
    if (!lim->merge_bytes || n <= lim->min_ranges)
        return false;
    size_t best = n;
    double best_sum = (double)lim->merge_bytes;
    for (size_t i = 0; i + 1 < n; i++) {
        const zkv_shape_range *a = &ranges[i], *b = &ranges[i + 1];
        double sum = a->bytes + b->bytes;
        if (quiet(a, lim) && quiet(b, lim) && sum < best_sum) {
            best = i;
            best_sum = sum;
        }
    }
    if (best == n)
        return false;
    out->kind = ZKV_OP_MERGE;
    out->range = ranges[best].id;
    snprintf(out->why, sizeof(out->why), "with %s: %.1f MiB together (limit %.0f MiB)",
             ranges[best + 1].id, best_sum / MIB, (double)lim->merge_bytes / MIB);
    return true;
}
