/* mapcache.h: the client's copy of the range map and its ZooKeeper session.
 * The map is read once at start with a one-shot watch on the map znode. The watcher runs
 * on ZooKeeper's thread and only raises an atomic "stale" flag; the next call that needs
 * the map asks for a reload (which re-arms the watch). Reloads run on one refresher
 * thread: ZooKeeper's synchronous reads cannot be given a timeout (a hung server blocks
 * them for 2/3 of the session timeout), so callers wait for a reload only until their own
 * deadline, and concurrent requests share one read. Readers take a reference-counted
 * snapshot, so a reload never frees a map under a thread that is routing with it. When
 * ZooKeeper is unreachable the last good map stays in use, so the data path keeps
 * working; an expired session is replaced by a new one on a later reload. Thread-safe. */
#ifndef ZKV_CLIENT_MAPCACHE_H
#define ZKV_CLIENT_MAPCACHE_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/rangemap.h"
#include "common/zk.h"

typedef struct zkv__mapsnap {
    zkv_rangemap *map;
    atomic_int refs;
} zkv__mapsnap;

typedef struct zkv__mapcache {
    pthread_mutex_t lock;    /* guards snap and the reload requests below */
    pthread_mutex_t zk_lock; /* serialises ZooKeeper reads and replacing zh */
    pthread_cond_t wake;     /* the refresher waits here for requests */
    pthread_cond_t done;     /* callers wait here for a finished reload */
    pthread_t refresher;
    bool refresher_started;
    bool stop;
    uint64_t requested; /* reloads asked for (a counter: one read serves all earlier asks) */
    uint64_t finished;  /* reloads done (successful or not) */
    bool req_force;     /* the next reload must read even without a watch event */
    int64_t req_min_version;
    int last_rc; /* outcome of the last finished reload */
    char last_err[256];
    zhandle_t *zh;    /* NULL after a failed session re-creation */
    zkv_zk_cred cred; /* ZooKeeper digest credentials (has_cred), for every session */
    bool has_cred;
    char *connect;
    char *cluster;
    int session_timeout_ms;
    int connect_timeout_ms;
    zkv__mapsnap *snap;
    atomic_int stale;             /* the watch fired (or the session reconnected) */
    atomic_int disconnected;      /* the session lost its connection since it last had one */
    atomic_uint_fast64_t gen;     /* successful reloads so far */
    uint64_t next_session_try_ms; /* rate limit for re-creating an expired session */
} zkv__mapcache;

/* Connects to ZooKeeper (waiting up to connect_timeout_ms), reads the cluster record into
 * *info and the map (with its watch). ZKV_OK, ZKV_EZOOKEEPER or ZKV_ENOCLUSTER (reason
 * in err, naming the connect string), ZKV_ENOMEM. On failure nothing is left open. */
int zkv__mapcache_open(zkv__mapcache *mc, const char *connect, const char *cluster,
                       int session_timeout_ms, int connect_timeout_ms, const zkv_zk_cred *cred,
                       zkv_cluster_info *info, char *err, size_t errlen);
void zkv__mapcache_close(zkv__mapcache *mc);

/* The current map (reloaded first when the watch fired, waiting for that at most a short
 * while and never past the deadline). Never NULL after a successful open. Release with
 * zkv__mapsnap_release. */
zkv__mapsnap *zkv__mapcache_get(zkv__mapcache *mc, uint64_t deadline_ms);
void zkv__mapsnap_release(zkv__mapsnap *s);
/* The current map as it is, without reloading. */
zkv__mapsnap *zkv__mapcache_snapshot(zkv__mapcache *mc);
int64_t zkv__mapcache_version(zkv__mapcache *mc);

/* Reloads when force is set, when the watch fired, or when the cached version is below
 * min_version; a reload another thread finished after seen_gen counts as done. Waits for
 * the refresher until the deadline. Keeps the old map on failure. ZKV_OK or
 * ZKV_EZOOKEEPER (reason in err). */
int zkv__mapcache_refresh(zkv__mapcache *mc, bool force, int64_t min_version, uint64_t seen_gen,
                          uint64_t deadline_ms, char *err, size_t errlen);

#endif
