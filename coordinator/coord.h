/* coord.h: the coordinator process state shared by its modules, and the wakeup rule.
 *
 * Threads: the main thread does all the work (ZooKeeper calls, placement, logging of
 * decisions). ZooKeeper watchers run on the client's completion thread and the signal
 * thread waits in sigwait; both only post event bits under `mu` and signal `cv`
 * (zkv_coord_notify). The main loop sleeps on `cv` with a timeout (periodic reconcile,
 * retry backoff) and acts on the bits it takes. Fields other than `pending` and
 * `connected` belong to the main thread alone.
 * Errors: functions returning int give 0 or a ZooKeeper error code (negative), see
 * common/zk.h. */
#ifndef ZKV_COORDINATOR_COORD_H
#define ZKV_COORDINATOR_COORD_H
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <zookeeper/zookeeper.h>
#include "cmetrics.h"
#include "common/buf.h"
#include "common/rangemap.h"
#include "common/tls.h"
#include "common/zkacl.h"
#include "common/znode.h"

typedef struct zkv_coord_config {
    const char *zk;      /* connect string */
    const char *cluster; /* cluster name: root /zkv/NAME */
    char id[ZKV_ID_MAX]; /* this coordinator's name (--id) */
    int ranges;          /* --ranges: initial range count on creation */
    int replicas;        /* --replicas: R on creation (the stored R wins afterwards) */
    bool ranges_given;   /* --ranges / --replicas were on the command line */
    bool replicas_given;
    int min_nodes; /* --min-nodes */
    int session_timeout_ms;
    int reconcile_interval_ms;  /* safety-net reconcile period while leading */
    int rebalance_delay_ms;     /* --rebalance-delay-ms: a dead node's slots wait this long */
    int handoff_wait_ms;        /* --handoff-wait-ms: an unanswered handoff request is withdrawn */
    bool balance_owners;        /* not --no-owner-balance */
    uint64_t split_bytes;       /* --split-size-mb (0: no automatic split by size) */
    double split_writes_per_s;  /* --split-writes-per-s (0: none by write rate) */
    uint64_t merge_bytes;       /* --merge-size-mb (0: no automatic merge) */
    int min_ranges;             /* --min-ranges: automatic merges stop at this many */
    int autoshape_interval_ms;  /* --autoshape-interval-ms: how often autorun.c looks */
    double balance_min_bytes;   /* --balance-min-mb: owned-bytes gap worth a trade (rule 14) */
    const char *auth_file;      /* --auth-file: its cluster secret is presented (NULL: none) */
    zkv_tls_files tls;          /* --tls-ca, --tls-cert, --tls-key (none: plain TCP) */
    const zkv_zk_cred *zk_cred; /* --zk-auth (NULL: open ACLs, no ZooKeeper credentials) */
    const char *metrics_host;   /* --metrics HOST:PORT (NULL: none) */
    int metrics_port;
} zkv_coord_config;

/* A range's size on disk as its owner last reported it. */
typedef struct zkv_range_size {
    char id[ZKV_ID_MAX];
    double bytes;
} zkv_range_size;

/* Events posted by other threads, as bits of zkv_coord.pending (guarded by mu). */
enum {
    ZKV_EV_STOP = 1u << 0,      /* SIGTERM/SIGINT (never cleared) */
    ZKV_EV_EXPIRED = 1u << 1,   /* the session expired or failed auth: start a new one */
    ZKV_EV_ELECTION = 1u << 2,  /* coordinator/ changed (predecessor or own znode) */
    ZKV_EV_RECONCILE = 1u << 3, /* nodes/ or map changed */
    ZKV_EV_CONNECTED = 1u << 4, /* (re)connected: re-check everything */
    ZKV_EV_RELOAD = 1u << 5,    /* SIGHUP: read the credential files again */
};

/* Election state (main thread). */
typedef enum {
    ZKV_ELECT_NONE,    /* no znode of ours in coordinator/ (new session) */
    ZKV_ELECT_STANDBY, /* watching the predecessor */
    ZKV_ELECT_LEADING, /* lowest sequence number: we lead */
} zkv_elect_state;

typedef struct zkv_coord {
    zkv_coord_config cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    unsigned pending;  /* ZKV_EV_* bits posted and not yet taken */
    bool connected;    /* last session state was CONNECTED (guarded by mu) */

    zhandle_t *zh; /* NULL between sessions */
    zkv_cluster_info cluster;
    bool have_cluster;

    zkv_elect_state elect;
    char my_znode[64];    /* "c-0000000007" when joined */
    char predecessor[64]; /* znode we wait behind (standby) */

    /* leader bookkeeping (leader.c) */
    uint64_t next_reconcile_ms;      /* monotonic time of the next periodic reconcile */
    uint64_t retry_at_ms;            /* do not retry before (backoff after a conflict) */
    int conflicts;                   /* consecutive conflicts, for the backoff */
    size_t waiting_logged;           /* live count last logged while below --min-nodes */
    char *read_only_logged;          /* read-only ranges last logged ("r0003 (node-1), ..."), or
                                        NULL for none; malloc'd */
    struct zkv_since *down_since;    /* nodes named in ranges but not live: since when */
    struct zkv_since *handoff_since; /* handoff requests not carried out: since when */
    uint64_t next_autorun_ms;        /* monotonic time of the next automatic split/merge look */
    zkv_range_size *sizes;           /* the owners' last reports (autorun.c), for rule 14 */
    size_t n_sizes;

    /* --metrics (cmetrics.h): the cluster as the last reconcile saw it (valid while leading),
     * the HTTP endpoint (NULL: none) and when to publish next */
    zkv_cluster_summary summary;
    struct zkv_metrics_http *metrics_http;
    uint64_t next_metrics_ms;
    zkv_buf metrics_text;

    /* credentials.h: presented to nodes (main thread) */
    char auth_secret[257]; /* --auth-file's cluster secret ("": none), for the HELLOs */
    zkv_tls_ctx *tls;      /* TLS client context (NULL: plain TCP) */
} zkv_coord;

int zkv_coord_init(zkv_coord *c, const zkv_coord_config *cfg); /* 0 or -1 */
void zkv_coord_destroy(zkv_coord *c);
/* Frees what only the main thread uses (the leader's tables), when it is done; the rest
 * stays valid for the signal thread until the process exits. */
void zkv_coord_free_leader_state(zkv_coord *c);

/* Posts ZKV_EV_* bits and wakes the main loop. Safe from any thread except a signal
 * handler. */
void zkv_coord_notify(zkv_coord *c, unsigned events);
/* Waits until an event is pending or the monotonic clock reaches deadline_ms, then
 * takes and returns the pending bits (ZKV_EV_STOP stays set once posted). */
unsigned zkv_coord_wait(zkv_coord *c, uint64_t deadline_ms);
bool zkv_coord_stopping(zkv_coord *c);
bool zkv_coord_connected(zkv_coord *c);

/* Watchers (ctx: the zkv_coord). Each one sets flags and returns. */
void zkv_coord_session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx);
void zkv_coord_election_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx);
void zkv_coord_reconcile_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx);

/* true for error codes meaning the session is gone (start a new one). */
bool zkv_coord_session_lost(int rc);

/* Runs until stop: connect, bootstrap, elect, lead. Returns the exit code (0). */
int zkv_coord_run(zkv_coord *c);

#endif
