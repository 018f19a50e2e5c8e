/* znode.h: the ZooKeeper layout of a cluster and the JSON codecs of its znodes.
 *   /zkv/NAME/cluster          {"cluster_id","created","replicas","format"}
 *   /zkv/NAME/nodes/<id>       {"id","addr","incarnation","zone","version"}  (ephemeral)
 *   /zkv/NAME/ranges/<id>      {"id","start","end","owner","replicas","in_sync","epoch"}
 *   /zkv/NAME/map              {"version"}  bumped by every change to ranges/
 *   /zkv/NAME/coordinator/c-   ephemeral sequential, leader election
 *   /zkv/NAME/ops/op-          persistent sequential, an operator's multi-step operation
 *   /zkv/NAME/drained/<id>     persistent, a node drained by an operator
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
char *zkv_mapver_to_json(int64_t version);
int zkv_mapver_from_json(const char *json, size_t len, int64_t *version, char *err, size_t errlen);

#endif
