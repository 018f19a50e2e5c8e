/* shipper.h: the owner side of replication (docs/replication.md, "Log shipping"):
 * persistent connections to replica nodes, and per (range, replica) the PROBE -> STREAM /
 * SNAPSHOT state machine, acks, the in_sync set, --min-in-sync, RANGE_STATUS of the owner
 * and log truncation. Runs on the loop thread; ZooKeeper writes of in_sync go through the
 * membership thread (membership.h, zkv_membership_isr_submit).
 *
 * The pure parts are here too so they can be unit tested: the transitions of a stream
 * (zkv_ship_next) and how an answer maps to an event (zkv_ship_classify). */
#ifndef ZKV_SERVER_SHIPPER_H
#define ZKV_SERVER_SHIPPER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/rangemap.h"
#include "common/tls.h"
#include "metrics.h"
#include "zkv.pb-c.h"

/* State of one (range, replica) stream. */
typedef enum {
    ZKV_SHIP_IDLE = 0, /* no usable connection to the replica node: nothing is sent */
    ZKV_SHIP_PROBE,    /* RANGE_STATUS sent (or due): waiting for the replica's position */
    ZKV_SHIP_STREAM,   /* APPEND frames of committed entries, heartbeat when idle */
    ZKV_SHIP_SNAPSHOT, /* SNAPSHOT BEGIN, CHUNKs, END in progress; STREAM after END */
    ZKV_SHIP_STOPPED,  /* the replica answered STALE_EPOCH: this node is deposed for the
                          range; nothing more is sent until a new map says otherwise */
} zkv_ship_state;

typedef enum {
    ZKV_SHIP_EV_CONNECTED,     /* the connection finished its HELLO */
    ZKV_SHIP_EV_DISCONNECTED,  /* the connection broke */
    ZKV_SHIP_EV_PLAN_STREAM,   /* probe answered, the plan says STREAM */
    ZKV_SHIP_EV_PLAN_SNAPSHOT, /* probe answered, the plan says SNAPSHOT */
    ZKV_SHIP_EV_ACK,           /* an APPEND or SNAPSHOT chunk was applied */
    ZKV_SHIP_EV_SNAPSHOT_DONE, /* SNAPSHOT END was applied */
    ZKV_SHIP_EV_MISMATCH,      /* LOG_MISMATCH: positions disagree, probe again */
    ZKV_SHIP_EV_STALE,         /* STALE_EPOCH */
    ZKV_SHIP_EV_ERROR,         /* any other refusal (not ready, unavailable): probe again
                                  after a pause */
} zkv_ship_event;

/* The next state of a stream; pure. */
zkv_ship_state zkv_ship_next(zkv_ship_state s, zkv_ship_event ev);
const char *zkv_ship_state_name(zkv_ship_state s);

/* How an answer to a replication request maps to an event; snapshot_end says the request
 * was the SNAPSHOT END. */
zkv_ship_event zkv_ship_classify(Zkv__Status status, bool snapshot_end);

/* Reconnect backoff: 50 ms doubling to 1 s. */
uint32_t zkv_ship_backoff_next(uint32_t prev_ms);

#define ZKV_SHIP_MAX_INFLIGHT 8
#define ZKV_SHIP_FRAME_BYTES ((size_t)256 * 1024)
#define ZKV_SHIP_FRAME_ENTRIES 4096u
#define ZKV_SHIP_HEARTBEAT_MS 200u
#define ZKV_SHIP_SNAPSHOT_CHUNKS_PER_TURN 4

/* The owner-side replication of one server, on the loop thread. */
typedef struct zkv_shipper zkv_shipper;
struct zkv_membership;
struct zkv_handoffs;
struct zkv_readvis;
struct zkv_store;

/* What the shipper may use of its node, and nothing more (pointers into the node's own
 * state, read when needed). */
typedef struct zkv_ship_node {
    struct uv_loop_s *loop;
    struct zkv_store *store;
    const char *node_id;
    const char *cluster_id;         /* the node's storage: "" until the cluster is joined */
    const char *secret;             /* --auth-file's cluster secret at start (NULL: none) */
    zkv_tls_ctx *const *tls;        /* the TLS client context links use (*NULL: plain) */
    const zkv_rangemap *const *map; /* the installed map (*map NULL until the first) */
    const bool *fenced;             /* no valid serving lease */
    struct zkv_membership *const *membership; /* in_sync writes (*membership NULL: none) */
    struct zkv_handoffs *const *handoffs;     /* moves in progress (*handoffs may be NULL) */
    /* where the read-visibility fast path is published for dispatch (dispatch.h) */
    struct zkv_readvis *const **vis_by_map;
    size_t *n_vis_by_map;
    /* a fatal storage error: the node stops (why is a sentence) */
    void (*fatal)(void *ctx, const char *why);
    void *ctx;
} zkv_ship_node;

typedef struct zkv_shipper_options {
    int min_in_sync;           /* --min-in-sync */
    uint64_t replica_lag_ms;   /* --replica-lag-ms */
    uint64_t log_retain;       /* --log-retain */
    uint64_t log_retain_bytes; /* --log-retain-mb in bytes (0: no limit) */
    uint64_t copy_rate;        /* --copy-rate-mb in bytes/s: snapshot data sent (0: unlimited) */
    int max_copies;            /* --max-copies: snapshots sent at the same time */
} zkv_shipper_options;

zkv_shipper *zkv_shipper_new(const zkv_ship_node *node, const zkv_shipper_options *opt);
/* A new map (or a change of the serving lease): start and stop streams. */
void zkv_shipper_sync_map(zkv_shipper *sh);
/* After each group commit: ship what was committed, apply timers. */
void zkv_shipper_after_commit(zkv_shipper *sh);
/* The highest seq of range_id whose write answers may be released; *owned false when
 * this node no longer owns the range at epoch (answers waiting on it must fail). */
uint64_t zkv_shipper_commit_point(zkv_shipper *sh, const char *range_id, uint64_t epoch,
                                  bool *owned);
/* What owner reads of range_id may see (readvis.h), with its commit point brought up to
 * date; NULL when this node does not own the range at epoch or is fenced (the read must
 * not be answered as the owner). Valid until the next map change. */
struct zkv_readvis;
struct zkv_readvis *zkv_shipper_readvis(zkv_shipper *sh, const char *range_id, uint64_t epoch);
/* What the owner knows of one replica of an owned range, for handoff.c. */
typedef struct zkv_shipper_progress {
    uint64_t committed; /* the range's last seq durable here */
    uint64_t acked;     /* the replica's acknowledged position (0 while unknown) */
    bool in_sync;       /* the replica is a confirmed in_sync member */
    bool isr_inflight;  /* an in_sync write of the range is pending */
} zkv_shipper_progress;
/* Fills *out for replica of range_id; false when the range is not owned here or replica
 * is not one of its replicas. */
bool zkv_shipper_replica_progress(zkv_shipper *sh, const char *range_id, const char *replica,
                                  zkv_shipper_progress *out);
/* The owned range as this owner knows it (in_sync confirmed, znode version of its last
 * write or map), or NULL when not owned here. Valid until the next map or in_sync result. */
const zkv_range *zkv_shipper_owned_range(zkv_shipper *sh, const char *range_id);
/* true when a write to range_id needs replica acks before its answer (a non-empty ack set). */
bool zkv_shipper_needs_acks(zkv_shipper *sh, const char *range_id);
/* An in_sync write result from the membership thread. */
void zkv_shipper_isr_result(zkv_shipper *sh, const char *range_id, uint64_t epoch, int rc,
                            int32_t new_zversion, const char (*in_sync)[ZKV_ID_MAX], int n_in_sync);
/* Stops every connection and timer (shutdown); the handles close asynchronously. */
void zkv_shipper_close(zkv_shipper *sh);
/* Number of libuv handles still open (the loop waits for 0 at shutdown). */
int zkv_shipper_open_handles(const zkv_shipper *sh);
void zkv_shipper_free(zkv_shipper *sh);

/* --metrics: appends each owned range (epoch, committed seq, commit point, replicas with
 * in_sync and lag) to snap->ranges and sets the APPEND frame counters. 0, or -1 out of
 * memory (the ranges added so far stay). */
int zkv_shipper_metrics(zkv_shipper *sh, zkv_metrics_snapshot *snap);

/* Hooks of dispatch.h: --min-in-sync gate, read visibility and RANGE_STATUS replicas[]. */
int zkv_shipper_write_gate(void *ctx, const zkv_range *r, char *msg, size_t msglen);
struct zkv_readvis *zkv_shipper_read_vis(void *ctx, const zkv_range *r);
struct zkv_reply;
void zkv_shipper_owner_status(void *ctx, const char *range_id, struct zkv_reply *r);

/* The cluster secret (--auth-file) the replication links present at their next HELLO
 * (NULL: none). */
void zkv_shipper_set_secret(zkv_shipper *sh, const char *secret);

#endif
