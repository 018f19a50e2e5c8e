/* znode.h: the ZooKeeper layout of a cluster and the JSON codecs of its znodes.
 *   /zkv/NAME/cluster          {"cluster_id","created","replicas","format"}
 *   /zkv/NAME/nodes/<id>       {"id","addr","incarnation","zone","version"}  (ephemeral)
 *   /zkv/NAME/ranges/<id>      {"id","start","end","owner","replicas","in_sync","epoch"}
 *   /zkv/NAME/map              {"version"}  bumped by every change to ranges/
 *   /zkv/NAME/coordinator/c-   ephemeral sequential, leader election
 *   /zkv/NAME/ops/op-          persistent sequential, an operator's multi-step operation
 *   /zkv/NAME/drained/<id>     persistent, a node drained by an operator
 *   /zkv/NAME/stats/<id>       ephemeral, a node's report on the ranges it owns
 * JSON is compact (cJSON_PrintUnformatted); binary keys use zkv_key_escape.
 * Encoders return a malloc'd NUL-terminated string (caller frees) or NULL (ENOMEM).
 * Decoders return 0, or -1 with a reason in err. Pure functions. */
#ifndef ZKV_COMMON_ZNODE_H
#define ZKV_COMMON_ZNODE_H
#include <stddef.h>
#include <stdint.h>
#include "common/rangemap.h"

#define ZKV_PATH_MAX 512
#define ZKV_ROOT "/zkv"

typedef enum {
    ZKV_PATH_ROOT,        /* /zkv/NAME */
    ZKV_PATH_CLUSTER,     /* /zkv/NAME/cluster */
    ZKV_PATH_NODES,       /* /zkv/NAME/nodes */
    ZKV_PATH_RANGES,      /* /zkv/NAME/ranges */
    ZKV_PATH_MAP,         /* /zkv/NAME/map */
    ZKV_PATH_COORDINATOR, /* /zkv/NAME/coordinator */
    ZKV_PATH_OPS,         /* /zkv/NAME/ops */
    ZKV_PATH_DRAINED,     /* /zkv/NAME/drained */
    ZKV_PATH_STATS,       /* /zkv/NAME/stats */
} zkv_path_kind;

/* Writes the path of kind for cluster into out; with child != NULL appends "/child".
 * Returns 0, or -1 when the cluster name is invalid (empty, '/', over 100 bytes) or the
 * path does not fit. */
int zkv_path(char *out, size_t outlen, const char *cluster, zkv_path_kind kind, const char *child);
/* true for a valid cluster, node or range id: 1..63 bytes of [A-Za-z0-9._-]. */
int zkv_id_valid(const char *id);

char *zkv_cluster_to_json(const zkv_cluster_info *c);
int zkv_cluster_from_json(const char *json, size_t len, zkv_cluster_info *out, char *err,
                          size_t errlen);
char *zkv_node_to_json(const zkv_node_info *n);
int zkv_node_from_json(const char *json, size_t len, zkv_node_info *out, char *err, size_t errlen);
/* Range JSON carries no zversion. out is cleared first; free its bounds with
 * zkv_range_clear. */
char *zkv_range_to_json(const zkv_range *r);
int zkv_range_from_json(const char *json, size_t len, zkv_range *out, char *err, size_t errlen);
/* An operator's multi-step operation, ops/op-NNNNNNNNNN (docs/operations.md):
 * {"id","kind","args":{...},"step","created","updated","updated_ms","attempts","error"}.
 * The leading coordinator carries it out step by step (coordinator/opstep.h). */
typedef enum {
    ZKV_OP_NONE = 0,
    ZKV_OP_MOVE,         /* args range, node: make node the range's owner */
    ZKV_OP_DRAIN,        /* args node: move everything off node, give it nothing new */
    ZKV_OP_UNDRAIN,      /* args node: let a drained node take load again */
    ZKV_OP_SET_REPLICAS, /* args replicas: change the replication factor R */
    ZKV_OP_SPLIT,        /* args range, key (optional): split the range in two there */
    ZKV_OP_MERGE,        /* args range: merge the range with its right neighbour */
} zkv_op_kind;

#define ZKV_OP_KEY_MAX 256   /* the longest split key an operation carries */
#define ZKV_OP_JSON_MAX 4096 /* room for any operation's JSON */

typedef struct zkv_op {
    char id[ZKV_ID_MAX]; /* its znode name (not in the JSON: the znode names it) */
    zkv_op_kind kind;
    char range[ZKV_ID_MAX];
    char node[ZKV_ID_MAX];
    int replicas;
    uint8_t key[ZKV_OP_KEY_MAX]; /* ZKV_OP_SPLIT: where ("" : the owner picks the middle) */
    size_t key_len;
    char step[32];                 /* "start" when created; "failed" when it cannot finish */
    int attempts;                  /* tries of the current step that were given up */
    char error[256];               /* why it failed ("" otherwise) */
    char created[40], updated[40]; /* ISO-8601 UTC */
    uint64_t updated_ms;           /* the same as updated, wall clock ms */
} zkv_op;

/* A new operation of kind at step "start", created and updated at now_wall_ms (op cleared
 * first; its arguments are the caller's to set). */
void zkv_op_init(zkv_op *op, zkv_op_kind kind, uint64_t now_wall_ms);
/* "move", "drain", "undrain", "set-replicas", "split", "merge" (NULL for others) and back
 * (ZKV_OP_NONE for an unknown name). */
const char *zkv_op_kind_name(zkv_op_kind k);
zkv_op_kind zkv_op_kind_parse(const char *name);
/* Checks an operation's arguments for its kind (ids valid, replicas in range); 0, or -1 with
 * the reason in err. */
int zkv_op_check(const zkv_op *op, char *err, size_t errlen);
char *zkv_op_to_json(const zkv_op *op);
/* id is not in the JSON: out->id is left "" */
int zkv_op_from_json(const char *json, size_t len, zkv_op *out, char *err, size_t errlen);

/* A node's report on the ranges it owns, stats/<node> (server/stats.h):
 * {"node","at","interval_ms","ranges":[{"id","epoch","seq","bytes","writes_per_s",...}]}.
 * Calls fn for each well-formed range entry; entries missing a field are skipped. Returns
 * the number of entries given to fn, or -1 when json is not such a report. */
typedef void (*zkv_stats_fn)(void *ctx, const char *range_id, double bytes, double writes_per_s);
int zkv_stats_parse(const char *json, size_t len, zkv_stats_fn fn, void *ctx);

char *zkv_mapver_to_json(int64_t version);
int zkv_mapver_from_json(const char *json, size_t len, int64_t *version, char *err, size_t errlen);

#endif
