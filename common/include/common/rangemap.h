/* rangemap.h: the cluster metadata as plain data: cluster record, nodes, ranges, and the
 * routing table (ranges sorted by start key) with lookup by key. Built from ZooKeeper
 * by common/zk.h or by hand in tests; consulted by server, coordinator and client.
 * Ownership: a zkv_rangemap owns its arrays and key bytes; free with zkv_rangemap_free. */
#ifndef ZKV_COMMON_RANGEMAP_H
#define ZKV_COMMON_RANGEMAP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZKV_ID_MAX 64       /* node, range and cluster ids, NUL included */
#define ZKV_ADDR_MAX 128    /* "host:port", NUL included */
#define ZKV_MAX_REPLICAS 15 /* replicas besides the owner */

typedef struct zkv_cluster_info {
    char cluster_id[ZKV_ID_MAX];
    char created[40]; /* ISO-8601 UTC */
    int replicas;     /* replication factor R: owner + R-1 recovery replicas */
    int format;       /* metadata format version (1) */
} zkv_cluster_info;

typedef struct zkv_node_info {
    char id[ZKV_ID_MAX];
    char addr[ZKV_ADDR_MAX];
    uint64_t incarnation; /* grows by one on each start of the node */
    char zone[ZKV_ID_MAX];
    char version[32];
    bool leaving; /* shutting down (controlled shutdown): it takes nothing new */
} zkv_node_info;

typedef struct zkv_range {
    char id[ZKV_ID_MAX];
    uint8_t *start; /* owned; NULL when empty */
    size_t start_len;
    uint8_t *end; /* owned; NULL when empty */
    size_t end_len;
    char owner[ZKV_ID_MAX]; /* "" when unassigned */
    char replicas[ZKV_MAX_REPLICAS][ZKV_ID_MAX];
    int n_replicas;
    char in_sync[ZKV_MAX_REPLICAS][ZKV_ID_MAX];
    int n_in_sync;
    uint64_t epoch;
    char handoff[ZKV_ID_MAX]; /* "" or the replica the owner is asked to pass ownership to
                                 (a live move, docs/operations.md) */
    int32_t zversion;         /* znode version it was read at (-1 if not from ZooKeeper) */
} zkv_range;

typedef struct zkv_rangemap {
    int64_t version;      /* routing version from the map znode */
    int32_t map_zversion; /* znode version of map (for conditional writes) */
    zkv_range *ranges;    /* sorted by start key, covering the key space without gaps */
    size_t n_ranges;
    zkv_node_info *nodes; /* live nodes (ephemeral znodes), sorted by id */
    size_t n_nodes;
} zkv_rangemap;

/* Copies start/end bytes into r (replacing what it had). Returns 0 or -1 (ENOMEM). */
int zkv_range_set_bounds(zkv_range *r, const uint8_t *start, size_t slen, const uint8_t *end,
                         size_t elen);
/* Deep copy; dst must be uninitialised or freed. Returns 0 or -1. */
int zkv_range_copy(zkv_range *dst, const zkv_range *src);
void zkv_range_clear(zkv_range *r); /* frees the bounds, zeroes r */

void zkv_rangemap_free(zkv_rangemap *m); /* NULL is a no-op */
/* Sorts ranges by start key and checks they tile the key space (first start empty,
 * each end equals the next start, last end empty). Returns 0, or -1 with a reason. */
int zkv_rangemap_finish(zkv_rangemap *m, char *err, size_t errlen);
/* The range holding key, or NULL (only for a map that does not tile the key space). */
const zkv_range *zkv_rangemap_find(const zkv_rangemap *m, const uint8_t *key, size_t klen);
const zkv_node_info *zkv_rangemap_node(const zkv_rangemap *m, const char *node_id);
/* true when node_id is one of the range's recovery replicas (r->replicas; the owner is
 * not in that list) / one of in_sync. */
bool zkv_range_is_replica(const zkv_range *r, const char *node_id);
bool zkv_range_is_in_sync(const zkv_range *r, const char *node_id);

#endif
