/* rejoin_plan.h: the decisions of a node coming back after its machine restarted (rejoin.h),
 * pure for unit tests. Without --sync such a node's copies may have lost their last writes
 * (the page cache), so it must not keep owning a range another copy can own, and it forgets
 * the copies its value-log check found damaged only where another copy can rebuild them. */
#ifndef ZKV_SERVER_REJOIN_PLAN_H
#define ZKV_SERVER_REJOIN_PLAN_H
#include <stdbool.h>
#include "common/rangemap.h"

/* Whether the node must wait before it registers: the map names it owner of a range that a
 * live in-sync replica could own instead (the coordinator fails it over once it sees the
 * node gone). */
bool zkv_rejoin_must_wait(const zkv_rangemap *m, const char *me);

/* Whether the node's copy of range_id may be forgotten: another copy lives (a live owner
 * other than me, or a live in-sync replica other than me), or the map no longer has the
 * range (it is reclaimed anyway). A sole copy is kept: its lost values read as errors, the
 * rest of it is still there. */
bool zkv_rejoin_may_forget(const zkv_rangemap *m, const char *me, const char *range_id);

#endif
