/* membership.h: the node's life in ZooKeeper, on a thread of its own.
 *
 * The membership thread connects (zkv_zk_connect), waits for /zkv/NAME/cluster, reads the
 * cluster id, registers the ephemeral nodes/<id> (incarnation rules of docs/internals.md),
 * reads the routing map with a watch on map (and a child watch on nodes/: the map's live
 * nodes and their addresses), and re-reads and re-arms after every such event. While merely
 * disconnected the node keeps its map (the ZooKeeper client reconnects by itself); after
 * ZOO_EXPIRED_SESSION_STATE the thread closes the handle, opens a new session, re-registers and
 * re-reads the map. Once registered with a current map it confirms its session every quarter of the
 * timeout (an asynchronous exists of its own nodes/<id>), which keeps the serving lease of lease.h
 * alive: when ZooKeeper stops answering, the lease runs out before the session can expire and the
 * node stops serving.
 *
 * Threads: ZooKeeper watchers run on the ZooKeeper client's thread and only set flags
 * under the membership mutex; every ZooKeeper call happens on the membership thread.
 * Results reach the loop thread through zkv_membership_take after the notify callback
 * (called on the membership thread with no lock of the loop's held; the server makes it a
 * uv_async_send). In_sync changes of owned ranges (docs/replication.md, "In-sync set")
 * are queued by the loop and written by this thread: the range znode at the version the
 * owner read plus a map bump, in one zoo_multi. zkv_membership_detach stops further notifies
 * (before the loop closes its async handle). start/stop/detach/take are for the loop thread. */
#ifndef ZKV_SERVER_MEMBERSHIP_H
#define ZKV_SERVER_MEMBERSHIP_H
#include <stdbool.h>
#include <stdint.h>
#include "common/rangemap.h"
#include "common/zkacl.h"
#include "lease.h"

typedef struct zkv_membership zkv_membership;

typedef struct zkv_membership_config {
    const char *zk;
    const char *cluster;
    const char *node_id;
    const char *advertise;
    const char *zone; /* published in nodes/<id> for clients' nearest reads (NULL: none) */
    uint64_t incarnation;
    int session_timeout_ms;
    const zkv_zk_cred *zk_cred; /* --zk-auth (NULL: open ACLs, no ZooKeeper credentials) */
} zkv_membership_config;

typedef void (*zkv_membership_notify_fn)(void *ctx);

/* The outcome of an in_sync write (zkv_membership_isr_submit). */
typedef struct zkv_isr_result {
    char range_id[ZKV_ID_MAX];
    uint64_t epoch;   /* the range's epoch in the request */
    int rc;           /* ZOK (0), ZBADVERSION (the range changed: wait for the next map),
                         or another ZooKeeper error (retry) */
    int32_t zversion; /* ZOK: the range znode's new version */
    char in_sync[ZKV_MAX_REPLICAS][ZKV_ID_MAX]; /* the in_sync written */
    int n_in_sync;
} zkv_isr_result;

/* What changed since the last take. */
typedef struct zkv_membership_update {
    zkv_rangemap *map;   /* a newer map (the caller frees it), or NULL */
    int64_t map_session; /* with map: the ZooKeeper session it was read under */
    bool has_cluster_id;
    char cluster_id[ZKV_ID_MAX]; /* set when has_cluster_id */
    bool fatal;                  /* the node must stop (id registered by another process) */
    char reason[256];            /* set when fatal */
    zkv_isr_result *isr;         /* in_sync write results (malloc'd; the caller frees) */
    size_t n_isr;
    bool leaving_set; /* nodes/<id> now says "leaving" (zkv_membership_set_leaving) */
} zkv_membership_update;

/* Starts the thread. The config's strings must outlive the membership. Returns 0 or -1. */
int zkv_membership_start(const zkv_membership_config *cfg, zkv_membership_notify_fn notify,
                         void *ctx, zkv_membership **out);
void zkv_membership_take(zkv_membership *m, zkv_membership_update *u);
void zkv_membership_detach(zkv_membership *m);
/* Queues an in_sync change of an owned range for the membership thread (loop thread):
 * r is the range as it must be written (in_sync replaced), conditional on r->zversion; the
 * thread writes it with a map bump in one zoo_multi and reports a zkv_isr_result through
 * the next update. Returns 0, or -1 (out of memory, or the range already has a request
 * queued). */
int zkv_membership_isr_submit(zkv_membership *m, const zkv_range *r);
/* Publishes json as stats/<id> (an ephemeral znode; stats.h): the thread writes the latest
 * one given (loop thread; json is copied). */
void zkv_membership_publish_stats(zkv_membership *m, const char *json);
/* Marks nodes/<id> "leaving" (controlled shutdown: the coordinator gives the node nothing
 * new); the next update says when it is written (loop thread). */
void zkv_membership_set_leaving(zkv_membership *m);
/* Queues a split or merge of owned ranges (handoff.c): deletes del[0..n_del) at their
 * znode versions and creates add[0..n_add) (1 or 2 of each), with a map bump, in one
 * zoo_multi; the result comes back as a zkv_isr_result for del[0] (id and epoch). Returns
 * 0, or -1 (out of memory, or del[0] has a write queued). */
int zkv_membership_reshape_submit(zkv_membership *m, const zkv_range *del, size_t n_del,
                                  const zkv_range *add, size_t n_add);
/* The current serving lease (lease.h); any thread. */
zkv_lease zkv_membership_lease(zkv_membership *m);
/* Stops the thread, closes the session (removing nodes/<id>) and frees m. NULL: no-op. */
void zkv_membership_stop(zkv_membership *m);

#endif
