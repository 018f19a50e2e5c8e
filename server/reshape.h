/* reshape.h: a node's side of splits and merges: forking the store's range logs when the
 * map shows ranges made from ranges this node holds (reshape.c). */
#ifndef ZKV_SERVER_RESHAPE_H
#define ZKV_SERVER_RESHAPE_H
#include <stdbool.h>
#include <stddef.h>
#include "common/rangemap.h"
#include "dispatch.h"
#include "store.h"

#define ZKV_RESHAPE_MAX_KIDS 2 /* a split makes 2, a merge 1 */

/* Whether a and b were made together: the same parents at the same positions. */
bool zkv_reshape_same_parents(const zkv_range *a, const zkv_range *b);
/* Whether me owns r or is one of its replicas. */
bool zkv_reshape_holds(const zkv_range *r, const char *me);
/* Forks every group of ranges in m whose parents are gone from m but still have a log in
 * st (zkv_store_range_fork). Returns 0, or -1 with a reason in err (LevelDB failed). */
int zkv_reshape_apply(zkv_store *st, const zkv_rangemap *m, const char *me, char *err,
                      size_t errlen);

#endif
