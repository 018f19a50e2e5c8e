/* describe.h: the JSON of zkv_describe, built from plain data (pure, unit tested). */
#ifndef ZKV_CLIENT_DESCRIBE_H
#define ZKV_CLIENT_DESCRIBE_H
#include "common/rangemap.h"

/* Compact JSON as documented at zkv_describe in zkv.h; keys escaped as in ZooKeeper.
 * malloc'd (caller frees) or NULL on ENOMEM. */
char *zkv__describe_json(const char *cluster, const zkv_cluster_info *info, const zkv_rangemap *m);

#endif
