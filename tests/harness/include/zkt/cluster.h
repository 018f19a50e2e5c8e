/* cluster.h: a zkv cluster for one test: a ZooKeeper server, zkv-server processes
 * (`--zk --cluster --listen 127.0.0.1:PORT --data-dir DIR --id node-i --session-timeout`,
 * then the cluster's extra server flags, e.g. `--min-in-sync 2`, `--log-retain 50`)
 * and zkv-coordinator processes (`--ranges --replicas --min-nodes --session-timeout`), each
 * on free ports with its data dir and log under the run's temp dir; plus the readiness
 * checks tests wait on (every range has a live owner, a node is registered again). */
#ifndef ZKT_CLUSTER_H
#define ZKT_CLUSTER_H
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "zkt/proxy.h"
#include "zkt/zkclient.h"
#include "zkt/zkserver.h"

#define ZKT_MAX_SERVERS 8
#define ZKT_MAX_COORDS 4
#define ZKT_MAX_SERVER_FLAGS 16
#define ZKT_MAX_COORD_FLAGS 8

typedef struct zkt_server {
    char id[32]; /* node-i */
    int port;
    char addr[64]; /* 127.0.0.1:PORT */
    char dir[PATH_MAX];
    char log[PATH_MAX];
    char zk_connect[64];  /* the --zk it is given ("": the cluster's ZooKeeper) */
    char own_flag[2][64]; /* one more "flag value" pair for this server alone ("": none),
                             e.g. --advertise through a proxy, its own --metrics */
    pid_t pid;            /* 0 while stopped */
} zkt_server;

typedef struct zkt_coord {
    char name[96];
    char log[PATH_MAX];
    int min_nodes; /* its --min-nodes, kept for zkt_coord_start */
    pid_t pid;     /* 0 while stopped */
} zkt_coord;

typedef struct zkt_cluster {
    char name[64];
    int ranges;             /* --ranges (8) */
    int replicas;           /* --replicas (3) */
    int session_timeout_ms; /* --session-timeout for servers and coordinators (2000) */
    /* Extra arguments given to every zkv-server after the standard ones (set with
     * zkt_cluster_server_flag before the servers start; restarts reuse them). */
    char server_flags[ZKT_MAX_SERVER_FLAGS][64];
    int n_server_flags;
    /* The same for every zkv-coordinator (zkt_cluster_coord_flag). */
    char coord_flags[ZKT_MAX_COORD_FLAGS][64];
    int n_coord_flags;
    /* Coordinators balance range owners (zkv-coordinator's default); false (the harness's
     * default) gives them --no-owner-balance, so owners move only when a test makes them. */
    bool owner_balance;
    zkt_zkserver zk;
    zkt_zkc *zc; /* the harness's ZooKeeper session */
    zkt_server servers[ZKT_MAX_SERVERS];
    int n_servers;
    zkt_coord coords[ZKT_MAX_COORDS];
    int n_coords;
} zkt_cluster;

/* Zeroes cl, sets the defaults above and name, starts ZooKeeper and connects to it.
 * Returns 0 or -1. */
int zkt_cluster_init(zkt_cluster *cl, const char *name);
/* Kills every process of the cluster, ZooKeeper last, and closes the session. */
void zkt_cluster_destroy(zkt_cluster *cl);

/* Appends "flag value" (value may be NULL) to the arguments of every zkv-server started
 * from now on. Returns 0, or -1 when the table is full or an argument does not fit. */
int zkt_cluster_server_flag(zkt_cluster *cl, const char *flag, const char *value);
/* Appends "flag value" (value may be NULL) to the arguments of every zkv-coordinator
 * started from now on. Returns 0, or -1 when the table is full or a word does not fit. */
int zkt_cluster_coord_flag(zkt_cluster *cl, const char *flag, const char *value);
/* Adds server node-<n_servers> (free port, data dir <tmpdir>/<cluster>-node-i) and starts
 * it. Returns its index or -1. */
int zkt_cluster_add_server(zkt_cluster *cl);
/* As zkt_cluster_add_server, with --zk zk_connect (e.g. through a zkt_proxy). */
int zkt_cluster_add_server_via(zkt_cluster *cl, const char *zk_connect);
/* As zkt_cluster_add_server, advertised (--advertise) at a new zkt_proxy to its listen
 * port, which *proxy gets (the caller stops it): peers and clients reach the node only
 * through the proxy, so blackholing it cuts the node off from them while its ZooKeeper
 * session goes on. */
int zkt_cluster_add_server_behind(zkt_cluster *cl, zkt_proxy **proxy);
/* Both: its ZooKeeper through a new proxy (*zk_proxy) and advertised through another
 * (*proxy); the caller stops both. */
int zkt_cluster_add_server_proxied(zkt_cluster *cl, zkt_proxy **zk_proxy, zkt_proxy **proxy);
/* As zkt_cluster_add_server, with "flag value" given to this server alone (after the
 * standard arguments, also on restarts). */
int zkt_cluster_add_server_with(zkt_cluster *cl, const char *flag, const char *value);
/* Starts server i again with the same id, port and data dir. Returns 0 or -1. */
int zkt_server_start(zkt_cluster *cl, int i);
/* Stops server i with sig (SIGTERM: bounded wait then SIGKILL; SIGKILL: at once).
 * Returns its exit code as zkt_proc_stop. */
int zkt_server_stop(zkt_cluster *cl, int i, int sig);
/* Adds and starts a coordinator. Returns its index or -1. */
int zkt_cluster_add_coordinator(zkt_cluster *cl, int min_nodes);
int zkt_coord_stop(zkt_cluster *cl, int i, int sig);
/* Starts stopped coordinator i again with the same flags and log. Returns 0 or -1. */
int zkt_coord_start(zkt_cluster *cl, int i);

/* Reads the cluster's map now (NULL on error; caller frees with zkt_map_free). */
zkt_map *zkt_cluster_map(zkt_cluster *cl);
/* Waits until the cluster exists, has cl->ranges ranges, every range has a live owner and
 * every running server is registered. */
bool zkt_cluster_wait_ready(zkt_cluster *cl, int timeout_ms);
/* Waits until nodes/<id of server i> exists with an incarnation > min_incarnation; its
 * incarnation goes to *incarnation (may be NULL). */
bool zkt_cluster_wait_registered(zkt_cluster *cl, int i, uint64_t min_incarnation, int timeout_ms,
                                 uint64_t *incarnation);
/* Copies the cluster id from the map now into out (size n). Returns 0 or -1. */
int zkt_cluster_id(zkt_cluster *cl, char *out, size_t n);
/* Waits until node id holds a replica slot (owner or replica) in some range of a map whose
 * version is above old_version. The last map read's version and id's slots in it go to
 * *version and *slots (either may be NULL), also on a timeout. */
bool zkt_cluster_wait_placed(zkt_cluster *cl, const char *id, int64_t old_version, int timeout_ms,
                             int64_t *version, int *slots);
/* Index of the server with node id, or -1. */
int zkt_cluster_server_index(const zkt_cluster *cl, const char *id);

#endif
