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

/* A range another was made from, and its log position then (docs/operations.md, "Split
 * and merge"): nodes that hold the parent at exactly that position continue the new
 * range's log from it; others are rebuilt from the owner. */
typedef struct zkv_range_parent {
    char id[ZKV_ID_MAX];
    uint64_t epoch;
    uint64_t seq;
} zkv_range_parent;

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
    char handoff[ZKV_ID_MAX];    /* "" or the replica the owner is asked to pass ownership to
                                    (a live move, docs/operations.md) */
    char leaving[ZKV_ID_MAX];    /* "" or the replica that leaves when the move of a replica
                                    slot in progress finishes (docs/replication.md) */
    zkv_range_parent parents[2]; /* what it was made from: 1 (split) or 2 (merge) */
    int n_parents;
    /* A split the owner is asked to make: into split_ids[0] [start, key) and split_ids[1]
     * [key, end); an empty key lets the owner choose the middle. */
    bool split_asked;
    uint8_t *split_key; /* owned; NULL when empty */
    size_t split_key_len;
    char split_ids[2][ZKV_ID_MAX];
    /* A merge with the right neighbour merge_with the owner is asked to make, into
     * merge_id ("" when not asked). */
    char merge_with[ZKV_ID_MAX];
    char merge_id[ZKV_ID_MAX];
    int32_t zversion; /* znode version it was read at (-1 if not from ZooKeeper) */
} zkv_range;

typedef struct zkv_rangemap {
    int64_t version;      /* routing version from the map znode */
    int32_t map_zversion; /* znode version of map (for conditional writes) */
    zkv_range *ranges;    /* sorted by start key, covering the key space without gaps */
    size_t n_ranges;
    zkv_node_info *nodes; /* live nodes (ephemeral znodes), sorted by id */
    size_t n_nodes;
} zkv_rangemap;

/* Copies the split key into r (replacing what it had). Returns 0 or -1 (ENOMEM). */
int zkv_range_set_split_key(zkv_range *r, const uint8_t *key, size_t len);
/* Copies start/end bytes into r (replacing what it had). Returns 0 or -1 (ENOMEM). */
int zkv_range_set_bounds(zkv_range *r, const uint8_t *start, size_t slen, const uint8_t *end,
                         size_t elen);
/* Deep copy (bounds and split key); dst must be uninitialised or freed. Returns 0 or -1. */
int zkv_range_copy(zkv_range *dst, const zkv_range *src);
void zkv_range_clear(zkv_range *r); /* frees the bounds and split key, zeroes r */

void zkv_rangemap_free(zkv_rangemap *m); /* NULL is a no-op */
/* Sorts ranges by start key and checks they tile the key space (first start empty,
 * each end equals the next start, last end empty). Returns 0, or -1 with a reason. */
int zkv_rangemap_finish(zkv_rangemap *m, char *err, size_t errlen);
/* The range holding key, or NULL (only for a map that does not tile the key space). */
const zkv_range *zkv_rangemap_find(const zkv_rangemap *m, const uint8_t *key, size_t klen);
/* The range holding the keys just below key (a reverse scan's exclusive upper bound; klen
 * 0: +infinity, the last range), or NULL when there is none (key is the lowest, or the
 * map has a hole there). */
const zkv_range *zkv_rangemap_find_before(const zkv_rangemap *m, const uint8_t *key, size_t klen);
const zkv_node_info *zkv_rangemap_node(const zkv_rangemap *m, const char *node_id);
/* true when node_id is one of the range's recovery replicas (r->replicas; the owner is
 * not in that list) / one of in_sync. */
bool zkv_range_is_replica(const zkv_range *r, const char *node_id);
bool zkv_range_is_in_sync(const zkv_range *r, const char *node_id);

#endif
