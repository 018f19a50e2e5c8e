/* mapbump.h: the retry rule of a node's writes that bump the map (in_sync changes,
 * ownership passes, splits and merges: membership.c).
 *
 * Each such write is one zoo_multi of its own ops plus map := its version + 1, conditional
 * on the map znode version just read. Other owners and the coordinator bump map too, so a
 * multi can fail on map alone while the write's own ops would have gone through; the write
 * is then tried again with map read afresh. Only the ops' own failures say that the range
 * changed (ZBADVERSION, ZNONODE): a write that lost every try on map alone reports
 * ZKV_ZK_MAPRACE, so its caller writes it again instead of waiting for a change that never
 * happened. Pure. */
#ifndef ZKV_SERVER_MAPBUMP_H
#define ZKV_SERVER_MAPBUMP_H
#include <stdbool.h>
#include <zookeeper/zookeeper.h>

#define ZKV_MAPBUMP_TRIES 20 /* tries of one write before ZKV_ZK_MAPRACE */
#define ZKV_MAPBUMP_AGAIN 1  /* zkv_mapbump_verdict: try again */

/* What one try came to: rc is zoo_multi's code, results[0..n) its ops' results and
 * results[n] the map bump's. Returns ZOK, ZKV_MAPBUMP_AGAIN when only map failed and this
 * was not the last try, ZKV_ZK_MAPRACE when it was, or rc. */
int zkv_mapbump_verdict(int rc, const zoo_op_result_t *results, int n, bool last_try);

#endif
