/* reshape.c: a node's side of splits and merges (docs/operations.md, "Split and merge").
 * When the map shows ranges made from ranges this node still holds a log for, the
 * store forks them: the new ranges continue the parents' log at the position the owner
 * wrote into the map, or start empty (rebuilt from their owner) when this node's copy is
 * not exactly there; the parents' logs go. Runs on every map install before the shipper
 * sees the map, and again after a restart: a fork is idempotent. */
#include "reshape.h"
#include <inttypes.h>
#include <string.h>
#include "common/log.h"

bool zkv_reshape_same_parents(const zkv_range *a, const zkv_range *b)
{
    if (a->n_parents != b->n_parents || a->n_parents <= 0)
        return false;
    for (int i = 0; i < a->n_parents; i++) {
        const zkv_range_parent *p = &a->parents[i], *q = &b->parents[i];
        if (strcmp(p->id, q->id) != 0 || p->epoch != q->epoch || p->seq != q->seq)
            return false;
    }
    return true;
}

bool zkv_reshape_holds(const zkv_range *r, const char *me)
{
    if (strcmp(r->owner, me) == 0)
        return true;
    for (int i = 0; i < r->n_replicas; i++)
        if (strcmp(r->replicas[i], me) == 0)
            return true;
    return false;
}

static bool held(const zkv_store *st, const char *id)
{
    const zkv_range_state *rs = zkv_store_range(st, id);
    return rs && (rs->last_seq || rs->epoch || zkv_store_range_snapshot_epoch(st, id));
}

int zkv_reshape_apply(zkv_store *st, const zkv_rangemap *m, const char *me, char *err,
                      size_t errlen)
{
    for (size_t i = 0; i < m->n_ranges; i++) {
        const zkv_range *r = &m->ranges[i];
        bool any = false;
        for (int k = 0; k < r->n_parents && !any; k++)
            any = held(st, r->parents[k].id) && !zkv_dispatch_find_range(m, r->parents[k].id);
        if (!any)
            continue;
        /* the ranges made together share the parents; only those this node holds fork */
        const char *kids[ZKV_RESHAPE_MAX_KIDS];
        size_t n = 0;
        for (size_t j = i; j < m->n_ranges && n < ZKV_RESHAPE_MAX_KIDS; j++)
            if (zkv_reshape_same_parents(r, &m->ranges[j]) && zkv_reshape_holds(&m->ranges[j], me))
                kids[n++] = m->ranges[j].id;
        bool matched = false;
        if (zkv_store_range_fork(st, r->parents, (size_t)r->n_parents, kids, n, &matched, err,
                                 errlen) != 0)
            return -1;
        for (size_t k = 0; k < n; k++)
            ZKV_INFO("range %s (made from %s%s%s at seq %" PRIu64 "): %s", kids[k],
                     r->parents[0].id, r->n_parents > 1 ? " and " : "",
                     r->n_parents > 1 ? r->parents[1].id : "", r->parents[0].seq,
                     matched ? "continues its parent's log here"
                             : "this copy was not at that position; rebuilt from the owner");
    }
    return 0;
}
