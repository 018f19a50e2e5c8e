/* describe.h: zkv_describe. The JSON is built from plain data (pure, unit tested): the
 * map, and what each range's owner answered to RANGE_STATUS. */
#ifndef ZKV_CLIENT_DESCRIBE_H
#define ZKV_CLIENT_DESCRIBE_H
#include <stdbool.h>
#include <stdint.h>

#include "common/frame.h"
#include "common/rangemap.h"

/* What the owner said about one replica of a range. */
typedef struct zkv__replica_status {
    char id[ZKV_ID_MAX];
    uint64_t acked_seq;
    bool in_sync;
    bool connected;
    uint64_t lag_ms;
} zkv__replica_status;

/* A range's RANGE_STATUS answer from its owner. */
typedef struct zkv__range_status {
    bool answered;  /* an OK answer arrived: seq is known */
    bool owner;     /* the node says it owns the range (and is not fenced): lag is known */
    uint64_t epoch; /* the node's position in the range's log */
    uint64_t seq;
    size_t n_replicas;
    zkv__replica_status replicas[ZKV_MAX_REPLICAS];
    bool has_stats; /* the owner's last report (stats/<owner>) lists the range */
    double bytes;   /* its size on disk, estimated */
    double writes_per_s;
} zkv__range_status;

/* Fills st from a RANGE_STATUS answer (any status: only OK counts as answered). */
void zkv__range_status_from(zkv__range_status *st, const Zkv__Response *r);

/* Adds what the report of node (stats/<node> JSON, server/stats.h) says about the ranges
 * of m that node owns to status. A report that does not parse is ignored. */
void zkv__range_stats_from(zkv__range_status *status, const zkv_rangemap *m, const char *node,
                           const char *json, size_t len);

/* Compact JSON as documented at zkv_describe in zkv.h; keys escaped as in ZooKeeper.
 * status has m->n_ranges entries (or is NULL: nobody asked): "seq" for an answered
 * range, "lag" (per replica: seq_behind = seq - acked_seq, lag_ms, connected) when the
 * node answered as the owner, "bytes" and "writes_per_s" when its owner reported them. malloc'd
 * (caller frees) or NULL on ENOMEM. */
char *zkv__describe_json(const char *cluster, const zkv_cluster_info *info, const zkv_rangemap *m,
                         const zkv__range_status *status);

#endif
