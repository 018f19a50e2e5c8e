/* zkclient.h: the harness's own reader (and, for map-change tests, writer) of a cluster's
 * ZooKeeper layout, written directly against the ZooKeeper C client and cJSON so the
 * tests do not trust the code they test. Layout (docs/internals.md):
 *   /zkv/NAME/cluster, nodes/<id>, ranges/rNNNN, map {"version":N}, coordinator/c-...
 * Errors: functions return 0 (ZOK) or a ZooKeeper error code / -1, and log the reason. */
#ifndef ZKT_ZKCLIENT_H
#define ZKT_ZKCLIENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zookeeper/zookeeper.h>

#define ZKT_ID_MAX 64
#define ZKT_KEY_MAX 512
#define ZKT_MAX_REPL 16
#define ZKT_MAX_RANGES 256
#define ZKT_MAX_NODES 64

typedef struct zkt_zkc zkt_zkc;

/* Connects and waits (bounded) for the session. NULL on failure. */
zkt_zkc *zkt_zkc_connect(const char *connect, int timeout_ms);
void zkt_zkc_close(zkt_zkc *c); /* NULL is a no-op */
zhandle_t *zkt_zkc_handle(zkt_zkc *c);
/* Data of path as a malloc'd NUL-terminated string (caller frees), with its znode version
 * in *version (may be NULL). NULL when missing or on error; *rc (may be NULL) gets the
 * ZooKeeper code. */
char *zkt_zkc_get(zkt_zkc *c, const char *path, int *version, int *rc);
/* As zkt_zkc_get, with the whole Stat (mtime: ZooKeeper's wall clock, ms) in *st. */
char *zkt_zkc_get_stat(zkt_zkc *c, const char *path, struct Stat *st, int *rc);
/* Sorted children of path: *names is a malloc'd array of malloc'd strings (free with
 * zkt_strv_free). Returns ZOK or the error. */
int zkt_zkc_children(zkt_zkc *c, const char *path, char ***names, int *n);
void zkt_strv_free(char **v, int n);

typedef struct zkt_map_range {
    char id[ZKT_ID_MAX];
    uint8_t start[ZKT_KEY_MAX];
    size_t start_len; /* 0: unbounded */
    uint8_t end[ZKT_KEY_MAX];
    size_t end_len; /* 0: unbounded */
    char owner[ZKT_ID_MAX];
    char replicas[ZKT_MAX_REPL][ZKT_ID_MAX];
    int n_replicas;
    char in_sync[ZKT_MAX_REPL][ZKT_ID_MAX];
    int n_in_sync;
    uint64_t epoch;
    char handoff[ZKT_ID_MAX]; /* "" or the target of a move the owner is asked to make */
    int zversion;
    char *json; /* the znode data as read */
} zkt_map_range;

typedef struct zkt_map_node {
    char id[ZKT_ID_MAX];
    char addr[128];
    uint64_t incarnation;
} zkt_map_node;

typedef struct zkt_map {
    int64_t version; /* map {"version"} */
    int map_zversion;
    char cluster_id[ZKT_ID_MAX];
    zkt_map_range ranges[ZKT_MAX_RANGES]; /* sorted by start key */
    int n_ranges;
    zkt_map_node nodes[ZKT_MAX_NODES]; /* live nodes, sorted by id */
    int n_nodes;
} zkt_map;

/* Reads a consistent snapshot of cluster (map read before and after, retried if it moved).
 * *out is the caller's (zkt_map_free). Returns 0, or -1 (cluster missing, bad JSON...). */
int zkt_map_read(zkt_zkc *c, const char *cluster, zkt_map **out);
void zkt_map_free(zkt_map *m);
/* The range holding key (memcmp order, prefix first), or NULL. */
const zkt_map_range *zkt_map_find(const zkt_map *m, const void *key, size_t klen);
const zkt_map_range *zkt_map_range_by_id(const zkt_map *m, const char *id);
const zkt_map_node *zkt_map_node_by_id(const zkt_map *m, const char *id);
/* true when id is the owner or listed in replicas. */
bool zkt_range_has_replica(const zkt_map_range *r, const char *id);
/* true when id is listed in the range's in_sync. */
bool zkt_range_in_sync(const zkt_map_range *r, const char *id);
/* Checks the replication fields of a range against the layout's rules: an owner that is
 * not in replicas nor in in_sync, in_sync a subset of replicas, no id twice, at most
 * max_replicas replicas (0: no limit). Returns true, or false with the reason in why. */
bool zkt_range_sane(const zkt_map_range *r, int max_replicas, char *why, size_t whylen);
/* Number of ranges whose owner is id. */
int zkt_map_owned_by(const zkt_map *m, const char *id);
/* true when the map has n_ranges ranges and every one has an owner that is a live node. */
bool zkt_map_all_owned(const zkt_map *m, int n_ranges);
/* Compares a key with a bound as the cluster does (unsigned bytes, prefix first). */
int zkt_key_cmp(const void *a, size_t alen, const void *b, size_t blen);
/* Decodes a key written with \xHH escapes (and "\\\\"). Returns its length or -1. */
long zkt_key_unescape(const char *s, uint8_t *out, size_t cap);

/* Asks the owner of range_id to pass ownership to target (a live move: the "handoff"
 * field of the range znode, docs/operations.md), or withdraws the request (target NULL or
 * ""), with a map bump, conditional on the versions in m. Returns ZOK or the error. */
int zkt_map_ask_handoff(zkt_zkc *c, const char *cluster, const zkt_map *m, const char *range_id,
                        const char *target, int64_t *new_version);
/* Moves a range's ownership to new_owner exactly as a coordinator does: one conditional
 * zoo_multi that sets the range znode (epoch+1, owner new_owner, new_owner removed from
 * replicas and in_sync, the old owner added to replicas in its place) checked against the
 * range's znode version, and map {"version":N+1} checked against map's znode version.
 * m is the snapshot the change is based on. Returns ZOK or the ZooKeeper error (e.g.
 * ZBADVERSION when the map moved since m was read); *new_version gets N+1. */
int zkt_map_move_owner(zkt_zkc *c, const char *cluster, const zkt_map *m, const char *range_id,
                       const char *new_owner, int64_t *new_version);

#endif
