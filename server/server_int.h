/* server_int.h: the loop's shared state, private to server.c and conn.c. Everything here
 * is touched by the loop thread only. */
#ifndef ZKV_SERVER_SERVER_INT_H
#define ZKV_SERVER_SERVER_INT_H
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include "acks.h"
#include "arena.h"
#include "common/buf.h"
#include "dispatch.h"
#include "handoff.h"
#include "connlimits.h"
#include "metrics.h"
#include "metrics_http.h"
#include "nodeinfo.h"
#include "outq.h"
#include "reclaim.h"
#include "uvstream.h"
#include "server.h"
#include "shipper.h"

/* An output buffer larger than this is freed once written out, not kept for reuse. */
#define ZKV_CONN_KEEP_BUFFER ((size_t)4 * 1024 * 1024)
#define ZKV_CONN_READ_CHUNK ((size_t)64 * 1024)
#define ZKV_MAX_BAD_FRAMES 3

typedef struct zkv_conn zkv_conn;

typedef struct zkv_server {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_prepare_t prepare; /* before-sleep: group commit, then flush */
    uv_check_t check;     /* the same right after the I/O callbacks of a turn */
    uv_async_t async;     /* membership -> loop: new map, cluster id, fatal */
    uv_signal_t sigterm, sigint;
    uv_signal_t sighup;           /* --auth-file and the TLS files: read again */
    zkv_tls_ctx *tls_accept;      /* --tls-cert/--tls-key/--tls-client-ca (NULL: plain) */
    zkv_tls_ctx *tls_connect;     /* to other nodes: --tls-ca, our cert (NULL: plain) */
    struct zkv_auth *auth_loaded; /* the credentials a SIGHUP loaded (freed at exit) */
    uv_timer_t shutdown_timer;
    uv_timer_t metrics_timer; /* --metrics: renders and publishes once a second */
    uv_timer_t leave_timer;   /* controlled shutdown: watches the handoffs */
    uv_timer_t stats_timer;   /* --stats-interval-ms: reports the owned ranges (stats.h) */
    uv_timer_t limits_timer;  /* the idle and request timeout sweep (connlimits.h) */
    uv_timer_t info_timer;    /* once a second: the counters into info_ring (INFO) */
    const zkv_server_options *opt;
    zkv_store *store;
    zkv_membership *membership;
    zkv_rangemap *map;
    int64_t map_session; /* ZooKeeper session the map was read under */
    char cluster_id[ZKV_ID_MAX];
    zkv_dispatch_env env;
    size_t max_frame;
    zkv_arena arena;             /* request decoding */
    zkv_reply reply;             /* the response being built */
    zkv_conn *conns;             /* every open connection */
    zkv_conn *dirty;             /* connections with output to flush */
    zkv_conn *held_conns;        /* connections holding answers until replica acks (acks.h) */
    zkv_shipper *shipper;        /* owner-side replication (shipper.h) */
    zkv_handoffs *handoffs;      /* live ownership moves, owner side (handoff.h) */
    zkv_reclaim *reclaim;        /* deletes what the node no longer holds (reclaim.h) */
    struct zkv_expirer *expirer; /* deletes expired keys nobody reads (expirer.h) */
    bool leaving;                /* controlled shutdown: handing owned ranges off before exit */
    bool leave_started;          /* ...and the handoffs were started */
    uint64_t leave_isr_deadline; /* ms: then exit even if still listed in some in_sync */
    uint64_t leave_deadline;     /* ms: shut down then even if handoffs are not over */
    size_t n_conns;
    /* connlimits.h: connections by class, queued answer bytes (the sum of every connection's
     * accounted queue), paused connections, and the rate of the limits' log lines */
    zkv_limits limits;
    zkv_conn_counts classes;
    size_t out_total;
    size_t n_paused;
    bool accept_waiting; /* a connection waits in the backlog: accepted when one closes */
    zkv_ratelog log_refused, log_timeout, log_accept;
    bool listening;
    bool shutting_down;
    int exit_code;
    bool fatal;            /* zkv_server_fatal ran: nothing more may be answered */
    int open_core_handles; /* handles besides connections still to close at exit */
    /* --metrics (metrics.h): counters bumped where things happen, on this thread only;
     * the snapshot and text buffers are reused by each rendering. */
    zkv_metrics_counters stats;
    zkv_nodeinfo_ring info_ring;         /* INFO's rates and percentiles (nodeinfo.h, info.c) */
    zkv_metrics_http *metrics_http;      /* NULL: --metrics not given */
    struct zkv_stats_sample *stats_prev; /* the last report's samples (rates), malloc'd */
    size_t n_stats_prev;
    zkv_metrics_snapshot metrics_snap;
    bool procstat_warned;  /* /proc could not be read (logged once) */
    uint64_t req_start_us; /* when the request being answered was decoded (latency) */
    unsigned mark_ticks;   /* info timer ticks since the value log's last durability mark */
    zkv_buf metrics_text;
} zkv_server;

struct zkv_conn {
    uv_tcp_t tcp;
    zkv_server *srv;
    zkv_conn *prev, *next;
    zkv_conn *dirty_next;
    bool dirty;
    zkv_buf in;    /* bytes received, not yet parsed */
    zkv_outq out;  /* responses of this turn, waiting for the commit and the flush */
    zkv_outq wout; /* handed to uv_write */
    uv_write_t wreq;
    zkv_uvstream st;   /* plain, or TLS on a node with --tls-cert (uvstream.h) */
    bool saw_bytes;    /* the first bytes arrived (they tell TLS from plain) */
    bool plain_on_tls; /* a plain client of a TLS node: refused at its first request */
    bool writing;
    bool reading;
    bool paused;            /* reading stopped: too many answers queued (connlimits.h) */
    bool close_after_flush; /* answer what is queued, then close */
    bool closing;           /* uv_close called */
    uint64_t skip;          /* bytes of an oversized frame still to drop */
    int bad_frames;         /* consecutive bad frames */
    zkv_session sess;
    zkv_conn_class cls;      /* connlimits.h: what it counts as */
    size_t accounted;        /* its queued bytes as counted in srv->out_total */
    uint64_t last_io_ms;     /* loop time of the last byte read or written */
    uint64_t frame_start_ms; /* loop time the frame being received began (0: none) */
    char peer[96];
    /* answers held until replica acks (acks.h): a ring of entries, their bytes in order */
    zkv_held *held;
    size_t held_head, held_n, held_cap;
    zkv_buf held_bytes;
    bool in_held_list;
    zkv_conn *held_next;
};

/* conn.c */
void zkv_conn_accept(zkv_server *s);
void zkv_conn_flush(zkv_conn *c);
void zkv_conn_close(zkv_conn *c);
void zkv_conn_mark_dirty(zkv_conn *c);
/* Stops reading; the connection closes once its queued answers are written. */
void zkv_conn_drain(zkv_conn *c);
/* The timeout sweep (connlimits.h): closes c when it timed out; now is the loop time. */
void zkv_conn_check_timeout(zkv_conn *c, uint64_t now);

/* server.c */
/* Sets env.fenced from the membership's lease; logs when it changes. Called before a
 * batch of requests is handled. */
void zkv_server_check_lease(zkv_server *s);
/* After each request a connection handled: the store may write the batch's records ahead
 * of the commit (zkv_store_progress). */
void zkv_server_after_request(zkv_server *s);
void zkv_server_conn_closed(zkv_server *s);
void zkv_server_fatal(zkv_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
