/* metrics.h: the figures zkv-server exports at --metrics (docs/metrics.md) and the pure
 * renderer of the Prometheus text exposition format (version 0.0.4). The counters live on
 * the loop thread as plain integers (no atomics, no locks); once a second the loop copies
 * them with the store's and the shipper's figures into a snapshot, renders it and hands
 * the text to the HTTP thread (metrics_http.h). Nothing here does I/O. */
#ifndef ZKV_SERVER_METRICS_H
#define ZKV_SERVER_METRICS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"
#include "common/procstat.h"
#include "common/rangemap.h"
#include "dbstats.h"
#include "dbwrite.h"
#include "latbuckets.h"
#include "rowcache.h"
#include "store.h" /* zkv_vlog_stats */
#include "zkv.pb-c.h"

/* The request kinds and answer statuses requests are counted by. */
typedef enum {
    ZKV_MOP_GET,
    ZKV_MOP_PUT,
    ZKV_MOP_DELETE,
    ZKV_MOP_SCAN,
    ZKV_MOP_OTHER,
    ZKV_MOP_COUNT
} zkv_metrics_op;

typedef enum {
    ZKV_MST_OK,
    ZKV_MST_NOT_FOUND,
    ZKV_MST_NOT_OWNER,
    ZKV_MST_UNAVAILABLE,
    ZKV_MST_TOO_LARGE,
    ZKV_MST_BAD_REQUEST,
    ZKV_MST_TIMEOUT,
    ZKV_MST_INTERNAL,
    ZKV_MST_OTHER,
    ZKV_MST_COUNT
} zkv_metrics_status;

/* Maps the protocol's values to the counters' indexes (anything unknown: OTHER). */
zkv_metrics_op zkv_metrics_op_of(Zkv__Op op);
zkv_metrics_status zkv_metrics_status_of(Zkv__Status st);

/* Request latency, from the request decoded to its answer queued for the socket (held
 * answers: released), as Prometheus's histogram zkv_request_duration_seconds: buckets by
 * upper bound in microseconds, then one past the last bound (+Inf). */
typedef struct zkv_latency {
    uint64_t n[ZKV_MOP_COUNT][ZKV_LAT_NB + 1]; /* per bucket, not cumulative */
    uint64_t sum_us[ZKV_MOP_COUNT];
} zkv_latency;
/* Counts one request of op that took us microseconds. */
void zkv_metrics_observe(zkv_latency *l, zkv_metrics_op op, uint64_t us);
/* The q-quantile (0 < q <= 1) of op's latency as the upper bound (us) of the bucket it
 * falls in; UINT64_MAX past the last bound; 0 with no requests. For the /status page. */
uint64_t zkv_metrics_quantile_us(const zkv_latency *l, zkv_metrics_op op, double q);
/* The names of the ops ("get", ...) and statuses as the metrics label them. */
const char *zkv_metrics_op_name(zkv_metrics_op op);

/* Counters of the loop thread (server_int.h holds one), incremented where it happens. */
typedef struct zkv_metrics_counters {
    zkv_latency latency;
    uint64_t requests[ZKV_MOP_COUNT][ZKV_MST_COUNT]; /* answers produced, by op and status */
    uint64_t conns_accepted;
    uint64_t bytes_read;    /* from client and peer connections of the listener */
    uint64_t bytes_written; /* handed to those connections' sockets */
    uint64_t reads_held;    /* owner reads whose answer waited for the commit point */
    /* connlimits.h */
    uint64_t conns_refused;          /* "too many connections", and failed accepts */
    uint64_t conns_idle_closed;      /* closed by --idle-timeout-ms */
    uint64_t conns_request_timeouts; /* closed by --request-timeout-ms */
    uint64_t conn_pauses;            /* times a connection stopped being read (output caps) */
} zkv_metrics_counters;

typedef struct zkv_metrics_replica {
    char node_id[ZKV_ID_MAX];
    bool in_sync;
    uint64_t lag_entries; /* owner's committed seq minus the replica's acked seq */
} zkv_metrics_replica;

typedef struct zkv_metrics_range {
    char id[ZKV_ID_MAX];
    uint64_t epoch;
    uint64_t committed_seq; /* last seq durable on this node */
    uint64_t commit_point;  /* highest seq whose write answers may be released */
    uint64_t n_in_sync;     /* replicas confirmed in_sync (owner not counted) */
    uint64_t log_first_seq; /* first seq of the range's log kept here (0: empty) */
    int n_replicas;
    zkv_metrics_replica replicas[ZKV_MAX_REPLICAS];
} zkv_metrics_range;

/* Everything one rendering shows, as plain values. */
typedef struct zkv_metrics_snapshot {
    const char *node_id;
    const char *version;         /* zkv_build_info */
    zkv_procstat process;        /* process_* */
    bool zk_session_ok;          /* the ZooKeeper session is confirmed: the node is not fenced */
    bool db_stats_ok;            /* db holds LevelDB's figures */
    zkv_dbstats db;              /* zkv_leveldb_* */
    zkv_dbwrite_stats db_writes; /* zkv_leveldb_write_* */
    bool db_sync;                /* --sync */
    zkv_vlog_stats vlog;         /* zkv_value_log_* */
    uint64_t moves_out;          /* owned ranges being passed to another owner now */
    zkv_metrics_counters c;
    uint64_t conns_open;
    uint64_t conns_max;     /* client connections allowed (--max-conns, as the open-file
                               limit allows) */
    uint64_t conns_paused;  /* connections not read now: their answers queue up */
    uint64_t output_queued; /* answer bytes queued for every connection */
    uint64_t store_commits;
    uint64_t store_early_writes; /* LevelDB writes made ahead of commits (early_write.h) */
    bool rowcache_enabled;
    zkv_rowcache_stats rowcache;
    uint64_t log_reads_memory, log_reads_db;
    uint64_t appends_sent, appends_acked; /* replication APPEND frames */
    /* reclaim.h: what the node deleted of what it no longer holds, and what is left */
    uint64_t reclaim_keys, reclaim_ranges, reclaim_compactions;
    uint64_t reclaim_pending_parts, reclaim_pending_ranges;
    zkv_metrics_range *ranges; /* owned ranges */
    size_t n_ranges, cap_ranges;
} zkv_metrics_snapshot;

/* Appends a zeroed range to s->ranges (growing it) and returns it; NULL out of memory. */
zkv_metrics_range *zkv_metrics_add_range(zkv_metrics_snapshot *s);
/* Frees s->ranges. */
void zkv_metrics_snapshot_free(zkv_metrics_snapshot *s);

/* Appends s in the text exposition format 0.0.4 to out: `# HELP` and `# TYPE` lines, then
 * the samples, metric names prefixed zkv_, label values escaped (\\, \", \n). Returns 0, or
 * -1 when out cannot grow. */
int zkv_metrics_render(const zkv_metrics_snapshot *s, zkv_buf *out);

#endif
