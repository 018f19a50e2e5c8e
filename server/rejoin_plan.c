/* rejoin_plan.c: a node's return after its machine restarted, the decisions (see
 * rejoin_plan.h). */
#include "rejoin_plan.h"

#include <string.h>

static bool live_other(const zkv_rangemap *m, const char *id, const char *me)
{
    return id[0] && strcmp(id, me) != 0 && zkv_rangemap_node(m, id) != NULL;
}

static bool other_in_sync(const zkv_rangemap *m, const zkv_range *r, const char *me)
{
    for (int i = 0; i < r->n_in_sync; i++)
        if (live_other(m, r->in_sync[i], me))
            return true;
    return false;
}

bool zkv_rejoin_must_wait(const zkv_rangemap *m, const char *me)
{
    for (size_t i = 0; i < m->n_ranges; i++) {
        const zkv_range *r = &m->ranges[i];
        if (strcmp(r->owner, me) == 0 && other_in_sync(m, r, me))
            return true;
    }
    return false;
}

bool zkv_rejoin_may_forget(const zkv_rangemap *m, const char *me, const char *range_id)
{
    for (size_t i = 0; i < m->n_ranges; i++) {
        const zkv_range *r = &m->ranges[i];
        if (strcmp(r->id, range_id) == 0)
            return live_other(m, r->owner, me) || other_in_sync(m, r, me);
    }
    return true;
}
