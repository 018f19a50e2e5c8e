/* map_alloc.h: an empty range map of n zeroed ranges for unit tests that fill in their
 * own ranges (test_server_reshape.c, test_server_reclaim_plan.c); free it with
 * zkv_rangemap_free. */
#ifndef ZKV_TEST_MAP_ALLOC_H
#define ZKV_TEST_MAP_ALLOC_H
#include <stdlib.h>

#include "common/rangemap.h"

/* NULL when out of memory. */
static inline zkv_rangemap *test_map_alloc(size_t n)
{
    zkv_rangemap *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->ranges = calloc(n ? n : 1, sizeof(*m->ranges));
    if (!m->ranges) {
        free(m);
        return NULL;
    }
    m->n_ranges = n;
    return m;
}

#endif
