/* describe.c: zkv_describe, the cluster as one compact JSON document read fresh from
 * ZooKeeper (cluster record, ranges, live nodes, with per-node counts of owned and
 * replicated ranges). The REPL's "ranges" and "nodes" tables are built from it, and
 * scripts can use it as they would zkCli output. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/keyrange.h"
#include "client.h"
#include "describe.h"
#include "error.h"

static cJSON *add_key(cJSON *obj, const char *name, const uint8_t *key, size_t len)
{
    char *esc = malloc(4 * len + 1);
    if (!esc)
        return NULL;
    zkv_key_escape(key, len, esc);
    cJSON *item = cJSON_AddStringToObject(obj, name, esc);
    free(esc);
    return item;
}

static cJSON *add_ids(cJSON *obj, const char *name, const char ids[][ZKV_ID_MAX], int n)
{
    cJSON *arr = cJSON_AddArrayToObject(obj, name);
    for (int i = 0; arr && i < n; i++) {
        cJSON *s = cJSON_CreateString(ids[i]);
        if (!s || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            return NULL;
        }
    }
    return arr;
}

static cJSON *range_json(const zkv_range *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "id", r->id) ||
        !add_key(o, "start", r->start, r->start_len) || !add_key(o, "end", r->end, r->end_len) ||
        !cJSON_AddStringToObject(o, "owner", r->owner) ||
        !add_ids(o, "replicas", r->replicas, r->n_replicas) ||
        !add_ids(o, "in_sync", r->in_sync, r->n_in_sync) ||
        !cJSON_AddNumberToObject(o, "epoch", (double)r->epoch)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *node_json(const zkv_node_info *n, const zkv_rangemap *m)
{
    int owned = 0, replica_of = 0;
    for (size_t i = 0; i < m->n_ranges; i++) {
        const zkv_range *r = &m->ranges[i];
        if (strcmp(r->owner, n->id) == 0)
            owned++;
        else if (zkv_range_is_replica(r, n->id))
            replica_of++;
    }
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "id", n->id) ||
        !cJSON_AddStringToObject(o, "addr", n->addr) ||
        !cJSON_AddNumberToObject(o, "incarnation", (double)n->incarnation) ||
        !cJSON_AddStringToObject(o, "zone", n->zone) ||
        !cJSON_AddStringToObject(o, "version", n->version) ||
        !cJSON_AddNumberToObject(o, "owned", owned) ||
        !cJSON_AddNumberToObject(o, "replica_of", replica_of)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

char *zkv__describe_json(const char *cluster, const zkv_cluster_info *info, const zkv_rangemap *m)
{
    char *out = NULL;
    cJSON *root = cJSON_CreateObject();
    if (!root || !cJSON_AddStringToObject(root, "cluster", cluster) ||
        !cJSON_AddStringToObject(root, "cluster_id", info->cluster_id) ||
        !cJSON_AddNumberToObject(root, "map_version", (double)m->version) ||
        !cJSON_AddNumberToObject(root, "replicas", info->replicas))
        goto done;
    cJSON *ranges = cJSON_AddArrayToObject(root, "ranges");
    if (!ranges)
        goto done;
    for (size_t i = 0; i < m->n_ranges; i++) {
        cJSON *r = range_json(&m->ranges[i]);
        if (!r || !cJSON_AddItemToArray(ranges, r)) {
            cJSON_Delete(r);
            goto done;
        }
    }
    cJSON *nodes = cJSON_AddArrayToObject(root, "nodes");
    if (!nodes)
        goto done;
    for (size_t i = 0; i < m->n_nodes; i++) {
        cJSON *n = node_json(&m->nodes[i], m);
        if (!n || !cJSON_AddItemToArray(nodes, n)) {
            cJSON_Delete(n);
            goto done;
        }
    }
    char *printed = cJSON_PrintUnformatted(root);
    if (printed) { /* cJSON allocates with its own hooks; hand out plain malloc memory */
        out = strdup(printed);
        cJSON_free(printed);
    }
done:
    cJSON_Delete(root);
    return out;
}

int zkv_describe(zkv_client *c, char **json)
{
    zkv__clear_error();
    if (!c || !json)
        return zkv__fail(ZKV_EINVAL, "NULL client or json");
    *json = NULL;
    zkv_cluster_info info;
    zkv_rangemap *m = NULL;
    char err[ZKV__ERR_MAX] = "";
    int rc = zkv__mapcache_read_fresh(&c->mc, &info, &m, err, sizeof err);
    if (rc != ZKV_OK)
        return zkv__fail(rc, "%s", err);
    *json = zkv__describe_json(c->opts.cluster, &info, m);
    zkv_rangemap_free(m);
    if (!*json)
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    return ZKV_OK;
}
