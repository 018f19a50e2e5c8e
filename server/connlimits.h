/* connlimits.h: what a connection may cost the node (docs/operations.md, "Limits"): how many
 * connections it accepts, how long a connection may sit idle or take to send one frame,
 * how many answer bytes may wait for clients that do not read, and how many files the
 * process may open. The decisions are pure functions of plain numbers, tested alone
 * (tests/unit/test_server_connlimits.c); conn.c and server.c act on them. The one call with
 * I/O is zkv_limits_raise_nofile (getrlimit/setrlimit and a log line, at start-up).
 *
 * Connections fall in classes (zkv_conn_class). Clients are counted against --max-conns.
 * Connections from other nodes of the cluster (the owner's replication links) and from the
 * coordinator (its failover position queries) are peers, recognised by their HELLO (a
 * node id that the map lists as a live node, or the coordinator's), and are kept apart in
 * a reserve of ZKV_LIMITS_PEER_RESERVE more connections, so clients filling --max-conns
 * cannot cut a node off from its owners. A connection that arrives when the clients are
 * at the limit is on probation: it takes a reserve slot until its first frame, which
 * admits it as a peer, or as a client if one left meanwhile, or refuses it with an
 * UNAVAILABLE answer ("too many connections (max N)") to that frame; when the reserve is
 * full too the connection is refused at once (an answer with id 0, then closed). Until
 * peers authenticate, a client that names a live node in its HELLO can take a reserve
 * slot: the reserve bounds what that costs.
 *
 * Queued answers: a connection stops being read when its own queued bytes reach
 * --max-conn-output-mb, or when the node's total reaches --max-output-mb and the
 * connection has more than ZKV_LIMITS_SMALL_OUTPUT queued (connections that read their
 * answers keep a small queue and go on being served); it is read again once its own queue
 * is below a quarter of its cap and either its queue is small or the node's total is
 * below three quarters of the node's cap. Loop thread only; nothing here allocates. */
#ifndef ZKV_SERVER_CONNLIMITS_H
#define ZKV_SERVER_CONNLIMITS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/rangemap.h"

#define ZKV_LIMITS_DEFAULT_MAX_CONNS 10000   /* --max-conns: Redis's maxclients */
#define ZKV_LIMITS_DEFAULT_IDLE_MS 0         /* --idle-timeout-ms: off, as Redis's timeout 0 */
#define ZKV_LIMITS_DEFAULT_REQUEST_MS 10000  /* --request-timeout-ms */
#define ZKV_LIMITS_DEFAULT_CONN_OUTPUT_MB 16 /* --max-conn-output-mb */
#define ZKV_LIMITS_DEFAULT_OUTPUT_MB 1024    /* --max-output-mb */
/* Connections beyond --max-conns for peers and connections on probation. */
#define ZKV_LIMITS_PEER_RESERVE 256
/* Connections being refused at once (answered, then closed) on top of those: beyond them
 * the node stops accepting until one closes (the rest wait in the listen backlog), so
 * descriptors never run out under a flood of connections. */
#define ZKV_LIMITS_REFUSING 64
/* Descriptors the process needs besides its connections: LevelDB's table cache (its
 * default max_open_files, 1000) and 128 for ZooKeeper, the replication links this node
 * opens, --metrics, LevelDB's log, manifest and lock, and the loop's own. */
#define ZKV_LIMITS_FD_OVERHEAD 1128
/* A connection with at most this queued keeps being read when the node is over
 * --max-output-mb. */
#define ZKV_LIMITS_SMALL_OUTPUT ((size_t)64 * 1024)
/* The timeout sweep runs every quarter of the shortest timeout, within these bounds. */
#define ZKV_LIMITS_SWEEP_MIN_MS 10
#define ZKV_LIMITS_SWEEP_MAX_MS 1000

typedef struct zkv_limits {
    size_t max_conns;    /* client connections (after zkv_limits_plan_nofile) */
    size_t peer_reserve; /* peers + connections on probation */
    uint64_t idle_ms;    /* 0: no idle timeout */
    uint64_t request_ms; /* 0: no request timeout (probation still uses the default) */
    size_t conn_output;  /* bytes queued for one connection before it is paused */
    size_t node_output;  /* bytes queued for all connections before big queues pause */
} zkv_limits;

typedef enum {
    ZKV_CONN_CLIENT = 0, /* counted against max_conns */
    ZKV_CONN_PEER,       /* a node of the cluster or the coordinator: in the reserve */
    ZKV_CONN_PROBATION,  /* arrived with the clients at the limit: in the reserve until its
                            first frame says what it is */
    ZKV_CONN_REFUSED,    /* answered "too many connections", closing: counted nowhere */
} zkv_conn_class;

/* Open connections by class (refused ones are not counted). */
typedef struct zkv_conn_counts {
    size_t clients, peers, probation;
} zkv_conn_counts;

/* The class of a connection just accepted. */
zkv_conn_class zkv_limits_admit(const zkv_limits *l, const zkv_conn_counts *n);
/* Whether to accept a waiting connection now, with n_open connections open (every class,
 * closing ones included): below max_conns + peer_reserve + ZKV_LIMITS_REFUSING. */
bool zkv_limits_accept_now(const zkv_limits *l, size_t n_open);

/* The class of a connection of class cur after a frame; known_peer: the frame is a HELLO
 * whose node id zkv_limits_known_peer accepts. A probation connection becomes a peer when
 * known_peer, else a client when there is room, else refused; a client becomes a peer
 * when known_peer and the reserve has room; other classes stay. n counts the connection
 * in its current class. */
zkv_conn_class zkv_limits_classify(const zkv_limits *l, const zkv_conn_counts *n,
                                   zkv_conn_class cur, bool known_peer);

/* Whether a HELLO's node id names a peer: a live node of map (may be NULL) or the
 * coordinator. NULL or "" never does. */
bool zkv_limits_known_peer(const zkv_rangemap *map, const char *node_id);

/* Whether a connection with own bytes queued, while the node has node_total queued in all
 * (own included), is read: with hysteresis, paused says whether it is paused now. */
bool zkv_limits_keep_reading(const zkv_limits *l, bool paused, size_t own, size_t node_total);

/* What the timeout sweep sees of one connection (times in loop milliseconds). */
typedef struct zkv_conn_clock {
    uint64_t last_io_ms;     /* last byte read from it or written to it */
    uint64_t frame_start_ms; /* first byte of the frame being received, or (probation) the
                                accept; 0: no frame being received */
    bool probation;
    bool idle_exempt; /* a peer, or answers held for it (it waits for the node) */
} zkv_conn_clock;

typedef enum {
    ZKV_TIMEOUT_NONE = 0,
    ZKV_TIMEOUT_REQUEST, /* a frame (or, on probation, the first one) took too long */
    ZKV_TIMEOUT_IDLE,    /* nothing read or written for idle_ms */
} zkv_timeout;

zkv_timeout zkv_limits_timeout(const zkv_limits *l, const zkv_conn_clock *c, uint64_t now_ms);
/* The request timeout a connection is held to: request_ms, or on probation (request_ms 0)
 * ZKV_LIMITS_DEFAULT_REQUEST_MS. 0: none. */
uint64_t zkv_limits_request_ms(const zkv_limits *l, bool probation);
/* How often the timeout sweep runs. */
uint64_t zkv_limits_sweep_ms(const zkv_limits *l);

/* Open-file planning: the soft RLIMIT_NOFILE to ask for and the client connections that
 * fit. want = max_conns + the reserve + ZKV_LIMITS_REFUSING + ZKV_LIMITS_FD_OVERHEAD. When the hard
 * limit allows want, soft becomes at least want and max_conns stays. Otherwise soft becomes the
 * hard limit and max_conns what fits beside the reserve and the overhead, but never less than half
 * the hard limit (for small limits; then the overhead may not fit) and never more than asked. hard
 * may be UINT64_MAX (unlimited). */
typedef struct zkv_nofile_plan {
    uint64_t want;    /* descriptors the flags call for */
    uint64_t soft;    /* soft limit to set (the current one when it is enough) */
    size_t max_conns; /* client connections that fit */
    bool short_;      /* the hard limit is below want: max_conns may be lowered */
} zkv_nofile_plan;

zkv_nofile_plan zkv_limits_plan_nofile(size_t max_conns, size_t peer_reserve, uint64_t soft,
                                       uint64_t hard);

/* Raises RLIMIT_NOFILE as zkv_limits_plan_nofile says and logs what it did: INFO when it
 * raised it, WARN naming the hard limit when --max-conns had to be lowered or the limit
 * could not be set. Returns the client connections to allow. */
size_t zkv_limits_raise_nofile(size_t max_conns);

/* A log line at most once per interval_ms: true when one is due (then *last_ms = now and
 * *suppressed is what to report as skipped, reset); false counts one more skipped. */
typedef struct zkv_ratelog {
    uint64_t last_ms;
    uint64_t skipped;
} zkv_ratelog;

bool zkv_ratelog_due(zkv_ratelog *r, uint64_t now_ms, uint64_t interval_ms, uint64_t *suppressed);

#endif
