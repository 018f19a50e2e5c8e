/* server.h: the node's network loop (libuv): listener, connections, group commit, and
 * the hand-over of range maps from the membership thread. One loop thread does network
 * and storage; zkv_server_run returns when the node has shut down. */
#ifndef ZKV_SERVER_SERVER_H
#define ZKV_SERVER_SERVER_H
#include <stddef.h>
#include "connlimits.h"
#include "common/tls.h"
#include "membership.h"
#include "store.h"

typedef struct zkv_server_options {
    const char *listen_host;
    int listen_port;
    const char *node_id;
    const char *cluster_name;
    size_t max_key;
    size_t max_value;
    int min_in_sync;           /* --min-in-sync: owner + in_sync replicas a write needs */
    uint64_t replica_lag_ms;   /* --replica-lag-ms: in_sync replicas behind longer are removed */
    uint64_t log_retain;       /* --log-retain: log entries kept beyond what replicas need */
    uint64_t log_retain_bytes; /* --log-retain-mb in bytes (0: no limit in bytes) */
    const char *metrics_host;  /* --metrics: serve GET /metrics there (NULL: off) */
    int metrics_port;
    uint64_t handoff_ms;         /* --handoff-timeout-ms */
    uint64_t leave_ms;           /* --leave-timeout-ms (0: no controlled shutdown) */
    uint64_t copy_rate;          /* --copy-rate-mb in bytes/s (0: unlimited) */
    int max_copies;              /* --max-copies */
    uint64_t stats_ms;           /* --stats-interval-ms (0: no reports) */
    const struct zkv_auth *auth; /* --auth-file (NULL: no credentials asked or presented) */
    const char *auth_file;       /* its path, read again on SIGHUP (NULL: none) */
    zkv_tls_files tls;           /* --tls-*: TLS when tls.cert is given; read again on SIGHUP */
    int64_t reclaim_ms;          /* --reclaim-delay-ms (0: never reclaims, reclaim.h) */
    zkv_limits limits; /* --max-conns (as the open-file limit allows), timeouts, output caps */
    zkv_membership_config membership;
} zkv_server_options;

/* Serves until SIGTERM/SIGINT (or a fatal error). The first SIGTERM first hands every owned
 * range to an in-sync replica (controlled shutdown, handoff.h; at most leave_ms), then
 * stops accepting, commits and flushes,
 * closes the connections and the store, then stops the membership (closing the ZooKeeper
 * session).
 * Takes the store and closes it before the session. Returns the exit code: 0 after a clean
 * shutdown, 1 after a fatal error (listen or --metrics bind failure, storage failure, refused
 * registration). */
int zkv_server_run(const zkv_server_options *opt, zkv_store *store);

#endif
