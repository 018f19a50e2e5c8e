/* zk.h: thin helpers over the ZooKeeper C client (multi-threaded build) shared by the
 * server, coordinator and client: connect and wait, read a consistent routing snapshot,
 * read nodes, create parents. Errors: 0 on success, otherwise a ZooKeeper error code
 * (ZOK is 0, errors are negative) or one of the ZKV_ZK_* codes below, with a readable
 * reason in err. */
#ifndef ZKV_COMMON_ZK_H
#define ZKV_COMMON_ZK_H
#include <stddef.h>
#include <zookeeper/zookeeper.h>
#include "common/rangemap.h"
#include "common/zkacl.h"

#define ZKV_ZK_TIMEOUT (-1000)   /* our own code: no session within the wait */
#define ZKV_ZK_NOCLUSTER (-1001) /* /zkv/NAME/cluster does not exist */
#define ZKV_ZK_BADDATA (-1002)   /* a znode holds malformed metadata (see err) */
#define ZKV_ZK_MAPRACE (-1003)   /* other writers kept bumping the map: nothing written */

/* Connects and waits up to wait_ms for the session to be established. The watcher gets
 * every session event afterwards (as with zookeeper_init); ZooKeeper's own log lines go
 * to log_cb (NULL: dropped). With cred (NULL: none) the session authenticates and what is
 * created through the handle gets cred's ACL (zkacl.h). Returns the handle or NULL with
 * the reason in err. */
zhandle_t *zkv_zk_connect(const char *connect, int session_timeout_ms, int wait_ms,
                          watcher_fn watcher, void *ctx, log_callback_fn log_cb,
                          const zkv_zk_cred *cred, char *err, size_t errlen);

/* Reads /zkv/NAME/cluster. */
int zkv_zk_read_cluster(zhandle_t *zh, const char *cluster, zkv_cluster_info *out, char *err,
                        size_t errlen);

/* Reads a consistent snapshot: map version, every range, every live node. Consistent
 * because every ranges/ change bumps map in the same multi: the map znode is read
 * before and after and the read is retried if it moved. When map_watcher is non-NULL
 * a one-shot data watch is set on map (re-arm by calling again after it fires).
 * On success *out is a new map the caller frees with zkv_rangemap_free. */
int zkv_zk_read_map(zhandle_t *zh, const char *cluster, watcher_fn map_watcher, void *wctx,
                    zkv_rangemap **out, char *err, size_t errlen);

/* Reads the live nodes (children of nodes/) into a malloc'd array sorted by id; with
 * watcher non-NULL sets a one-shot child watch on nodes/. */
int zkv_zk_read_nodes(zhandle_t *zh, const char *cluster, watcher_fn watcher, void *wctx,
                      zkv_node_info **out, size_t *n, char *err, size_t errlen);

/* Creates path and any missing parents as empty persistent znodes (exists is fine). */
int zkv_zk_mkdirs(zhandle_t *zh, const char *path, char *err, size_t errlen);

/* Readable name of a ZooKeeper or zk.h error code. */
const char *zkv_zk_strerror(int rc);

#endif
