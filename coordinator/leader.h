/* leader.h: the leader's reconcile pass, the I/O shell around placement.c. */
#ifndef ZKV_COORDINATOR_LEADER_H
#define ZKV_COORDINATOR_LEADER_H
#include <stdbool.h>
#include "coord.h"

/* One pass: re-arms the watches on nodes/ (children) and map (data), reads a consistent
 * snapshot, computes the placement and writes every changed range in ONE zoo_multi
 * that checks each range's znode version and map's, and sets map to version+1.
 * Logs one line per changed range. Returns 0 (written, or nothing to change), a
 * conflict code (see zkv_leader_conflict: re-read and retry), or another ZooKeeper
 * error. */
int zkv_leader_reconcile(zkv_coord *c);

/* true for results of zkv_leader_reconcile meaning "someone else changed the metadata
 * first": re-read and retry after a short backoff. */
bool zkv_leader_conflict(int rc);

#endif
