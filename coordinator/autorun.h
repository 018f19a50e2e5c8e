/* autorun.h: the automatic splits and merges in the leading coordinator's pass
 * (autoshape.h decides): every --autoshape-interval-ms (10 s) it reads the owners' reports
 * (stats/<node>), keeps the sizes for the byte balance (bytebalance.h) and records the
 * decision, if any, as an operation in ops/, exactly as `zkv admin split|merge` does; the
 * next passes carry it out like any other. */
#ifndef ZKV_COORDINATOR_AUTORUN_H
#define ZKV_COORDINATOR_AUTORUN_H
#include <stddef.h>
#include "common/rangemap.h"
#include "coord.h"

/* One look, when due and splits or merges are enabled (--split-size-mb,
 * --split-writes-per-s, --merge-size-mb); ops_loaded: the operations in ops/ now. */
void zkv_autorun_pass(zkv_coord *c, const zkv_rangemap *map, size_t ops_loaded);
/* The size of range_id in the owners' last reports read by zkv_autorun_pass (they are
 * kept for the byte balance, rule 14), or -1 when none reported it. */
double zkv_autorun_size_of(const zkv_coord *c, const char *range_id);

#endif
