/* bootstrap.h: cluster creation on first start, or adoption of the existing cluster.
 * Errors: 0, or a ZooKeeper / common/zk.h error code with the reason logged. */
#ifndef ZKV_COORDINATOR_BOOTSTRAP_H
#define ZKV_COORDINATOR_BOOTSTRAP_H
#include "coord.h"

/* Makes sure /zkv/NAME holds a cluster and fills c->cluster (have_cluster = true).
 * Creates it in one zoo_multi when absent: cluster, nodes, ranges, ranges/rNNNN (the
 * key space split evenly into cfg.ranges), map {"version":1}, coordinator. Losing the
 * creation race to another coordinator is fine: its cluster is read and used. */
int zkv_bootstrap(zkv_coord *c);

#endif
