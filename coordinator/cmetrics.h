/* cmetrics.h: zkv-coordinator's --metrics: what it tells about the cluster and itself, as
 * Prometheus text for /metrics and a page for people at /status (docs/metrics.md,
 * "Coordinator"). The leader summarizes the map and the operations it read in each
 * reconcile (zkv_cmetrics_summarize); a standby shows only itself. Pure: values in, text
 * out; coordinator.c renders and publishes once a second. */
#ifndef ZKV_COORDINATOR_CMETRICS_H
#define ZKV_COORDINATOR_CMETRICS_H
#include <stdbool.h>
#include <stdint.h>
#include "common/buf.h"
#include "common/procstat.h"
#include "common/rangemap.h"
#include "common/znode.h"

#define ZKV_CMETRICS_OP_KINDS (ZKV_OP_MERGE + 1) /* indexed by zkv_op_kind */

/* The cluster as the leader saw it in its last reconcile. */
typedef struct zkv_cluster_summary {
    bool valid; /* filled by a leader's reconcile */
    int64_t map_version;
    int replication_factor; /* R: owner + R-1 replicas */
    uint64_t ranges;
    uint64_t nodes_live;                 /* registered in nodes/ */
    uint64_t ranges_no_owner;            /* no owner, or an owner not registered (nobody serves) */
    uint64_t ranges_under_replicated;    /* fewer than R copies in sync (owner counted) */
    uint64_t replicas_out_of_sync;       /* assigned replica slots not in sync */
    uint64_t ops[ZKV_CMETRICS_OP_KINDS]; /* operations under way, by kind */
    uint64_t ops_failed;                 /* operations stopped at step "failed" */
} zkv_cluster_summary;

/* Counts what *out shows of map m, the replication factor and the n operations in ops. */
void zkv_cmetrics_summarize(const zkv_rangemap *m, int replication_factor, const zkv_op *const *ops,
                            size_t n, zkv_cluster_summary *out);

/* Everything a rendering shows. */
typedef struct zkv_cmetrics {
    const char *id;      /* this coordinator's --id */
    const char *version; /* zkv's */
    const char *cluster; /* the cluster's name */
    bool zk_connected;   /* its ZooKeeper session is connected */
    bool leader;
    zkv_cluster_summary cluster_now; /* valid only while leading */
    zkv_procstat process;
} zkv_cmetrics;

/* /metrics: appends m in the text exposition format 0.0.4. 0, or -1 out of memory. */
int zkv_cmetrics_render(const zkv_cmetrics *m, zkv_buf *out);
/* /status: appends m as HTML. 0, or -1 out of memory. */
int zkv_cmetrics_status(const zkv_cmetrics *m, zkv_buf *out);

#endif
