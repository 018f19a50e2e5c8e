/* admin.c: zkv_admin_submit and zkv_admin_status: operators' operations recorded in
 * ZooKeeper (ops/op-NNNNNNNNNN, persistent sequential; docs/operations.md) through the
 * client's own session, and read back with the drained nodes. The leading coordinator
 * carries the operations out; these calls only record them, after checking their
 * arguments against a freshly read map so a typo fails at once with a clear reason
 * rather than as a failed operation later. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/keyrange.h"
#include "common/util.h"
#include "common/znode.h"
#include "client.h"
#include "error.h"

static const zkv_range *range_of(const zkv_rangemap *m, const char *id)
{
    for (size_t i = 0; i < m->n_ranges; i++)
        if (strcmp(m->ranges[i].id, id) == 0)
            return &m->ranges[i];
    return NULL;
}

/* Whether node is live or holds a copy of some range of m. */
static bool node_known(const zkv_rangemap *m, const char *node)
{
    if (zkv_rangemap_node(m, node))
        return true;
    for (size_t i = 0; i < m->n_ranges; i++)
        if (strcmp(m->ranges[i].owner, node) == 0 || zkv_range_is_replica(&m->ranges[i], node))
            return true;
    return false;
}

/* The split key of op from its escaped form (as the REPL prints keys): at most
 * ZKV_OP_KEY_MAX bytes, strictly inside the range. ZKV_OK or ZKV_EINVAL (published). */
static int split_key(const zkv_rangemap *m, zkv_op *op, const char *escaped)
{
    size_t n = strlen(escaped);
    uint8_t *buf = malloc(n + 1);
    if (!buf)
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    long k = zkv_key_unescape(escaped, buf);
    const zkv_range *r = range_of(m, op->range);
    int rc = ZKV_OK;
    if (k <= 0)
        rc = zkv__fail(ZKV_EINVAL, "split: '%s' is not a key (empty, or a bad escape)", escaped);
    else if (k > ZKV_OP_KEY_MAX)
        rc = zkv__fail(ZKV_EINVAL, "split: the key is longer than %d bytes", ZKV_OP_KEY_MAX);
    else if (r &&
             (!zkv_range_contains(r->start, r->start_len, r->end, r->end_len, buf, (size_t)k) ||
              zkv_key_cmp(buf, (size_t)k, r->start, r->start_len) == 0))
        rc = zkv__fail(ZKV_EINVAL, "split: '%s' is not strictly inside range %s", escaped,
                       op->range);
    if (rc == ZKV_OK) {
        memcpy(op->key, buf, (size_t)k);
        op->key_len = (size_t)k;
    }
    free(buf);
    return rc;
}

/* Fills op from kind and args and checks it against m. ZKV_OK or ZKV_EINVAL (published). */
static int build_op(const zkv_rangemap *m, const char *kind, const char *const *args, size_t n_args,
                    zkv_op *op)
{
    zkv_op_init(op, zkv_op_kind_parse(kind), zkv_wall_ms());
    size_t want = op->kind == ZKV_OP_MOVE ? 2 : 1;
    if (op->kind == ZKV_OP_SPLIT && n_args == 2)
        want = 2; /* split RANGE [KEY] */
    if (op->kind == ZKV_OP_NONE)
        return zkv__fail(
            ZKV_EINVAL, "unknown operation '%s' (move, drain, undrain, set-replicas, split, merge)",
            kind ? kind : "");
    if (n_args != want || !args)
        return zkv__fail(ZKV_EINVAL, "%s takes %zu argument%s, not %zu", kind, want,
                         want == 1 ? "" : "s", n_args);
    for (size_t i = 0; i < n_args; i++)
        if (!args[i] || (strlen(args[i]) >= ZKV_ID_MAX && !(op->kind == ZKV_OP_SPLIT && i == 1)))
            return zkv__fail(ZKV_EINVAL, "%s: argument %zu is missing or too long", kind, i + 1);
    switch (op->kind) {
    case ZKV_OP_MOVE:
        snprintf(op->range, sizeof(op->range), "%s", args[0]);
        snprintf(op->node, sizeof(op->node), "%s", args[1]);
        break;
    case ZKV_OP_DRAIN:
    case ZKV_OP_UNDRAIN:
        snprintf(op->node, sizeof(op->node), "%s", args[0]);
        break;
    case ZKV_OP_SET_REPLICAS: {
        char *end = NULL;
        long r = strtol(args[0], &end, 10);
        if (!end || *end || end == args[0] || r < 1 || r > ZKV_MAX_REPLICAS + 1)
            return zkv__fail(ZKV_EINVAL, "set-replicas: '%s' is not a number in 1..%d", args[0],
                             ZKV_MAX_REPLICAS + 1);
        op->replicas = (int)r;
        break;
    }
    case ZKV_OP_MERGE:
    case ZKV_OP_SPLIT:
        snprintf(op->range, sizeof(op->range), "%s", args[0]);
        if (n_args == 2 && split_key(m, op, args[1]) != ZKV_OK)
            return ZKV_EINVAL;
        break;
    case ZKV_OP_NONE:
    default:
        break;
    }
    char err[256];
    if (zkv_op_check(op, err, sizeof(err)) != 0)
        return zkv__fail(ZKV_EINVAL, "%s", err);
    if (op->kind == ZKV_OP_MOVE || op->kind == ZKV_OP_SPLIT || op->kind == ZKV_OP_MERGE) {
        const zkv_range *r = range_of(m, op->range);
        if (!r)
            return zkv__fail(ZKV_EINVAL, "%s: no range %s in this cluster", kind, op->range);
        if (op->kind == ZKV_OP_MERGE && r->end_len == 0)
            return zkv__fail(ZKV_EINVAL, "merge: %s is the last range: it has no right neighbour",
                             op->range);
    }
    if (op->kind == ZKV_OP_MOVE) {
        if (!zkv_rangemap_node(m, op->node))
            return zkv__fail(ZKV_EINVAL, "move: node %s is not live", op->node);
    }
    if ((op->kind == ZKV_OP_DRAIN || op->kind == ZKV_OP_UNDRAIN) && !node_known(m, op->node))
        return zkv__fail(ZKV_EINVAL, "%s: %s is not a node of this cluster", kind, op->node);
    return ZKV_OK;
}

/* A fresh map snapshot (forced reload) in *snap; ZKV_OK or the error, published. */
static int fresh_map(zkv_client *c, zkv__mapsnap **snap)
{
    uint64_t deadline = zkv_now_ms() + (uint64_t)c->opts.timeout_ms;
    char err[ZKV__ERR_MAX] = "";
    int rc =
        zkv__mapcache_refresh(&c->mc, true, 0, atomic_load(&c->mc.gen), deadline, err, sizeof err);
    if (rc != ZKV_OK)
        return zkv__fail(rc, "%s", err);
    *snap = zkv__mapcache_snapshot(&c->mc);
    return *snap ? ZKV_OK : zkv__fail(ZKV_EZOOKEEPER, "no range map");
}

int zkv_admin_submit(zkv_client *c, const char *kind, const char *const *args, size_t n_args,
                     char **op_id)
{
    zkv__clear_error();
    if (!c || !op_id)
        return zkv__fail(ZKV_EINVAL, "NULL client or op_id");
    *op_id = NULL;
    zkv__mapsnap *snap = NULL;
    int rc = fresh_map(c, &snap);
    if (rc != ZKV_OK || !snap)
        return rc != ZKV_OK ? rc : ZKV_EZOOKEEPER;
    zkv_op op;
    rc = build_op(snap->map, kind, args, n_args, &op);
    zkv__mapsnap_release(snap);
    if (rc != ZKV_OK)
        return rc;
    char *json = zkv_op_to_json(&op);
    char path[ZKV_PATH_MAX], created[ZKV_PATH_MAX];
    if (!json)
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    if (zkv_path(path, sizeof(path), c->opts.cluster, ZKV_PATH_OPS, "op-") != 0) {
        free(json);
        return zkv__fail(ZKV_EINVAL, "bad cluster name");
    }
    pthread_mutex_lock(&c->mc.zk_lock);
    int zrc = c->mc.zh ? zoo_create(c->mc.zh, path, json, (int)strlen(json), zkv_zk_acl(c->mc.zh),
                                    ZOO_SEQUENCE, created, (int)sizeof(created))
                       : ZCONNECTIONLOSS;
    pthread_mutex_unlock(&c->mc.zk_lock);
    free(json);
    if (zrc == ZNONODE)
        return zkv__fail(ZKV_EZOOKEEPER,
                         "cluster %s has no ops/ directory yet (its coordinator is older, or not "
                         "running)",
                         c->opts.cluster);
    if (zrc == ZNOAUTH)
        return zkv__fail(ZKV_EZOOKEEPER,
                         "cannot record the operation: ZooKeeper says this client is not "
                         "authenticated for cluster %s (give it the cluster's ZooKeeper "
                         "credentials: zkv --zk-auth FILE, zkv_options_set_zk_auth)",
                         c->opts.cluster);
    if (zrc != ZOK)
        return zkv__fail(ZKV_EZOOKEEPER, "cannot record the operation in ZooKeeper: %s",
                         zkv_zk_strerror(zrc));
    const char *slash = strrchr(created, '/');
    *op_id = strdup(slash ? slash + 1 : created);
    return *op_id ? ZKV_OK : zkv__fail(ZKV_ENOMEM, "out of memory");
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The children of the cluster's directory kind, sorted, into sv (none when the directory
 * is missing: an older cluster); zk_lock held. Returns a ZooKeeper code. */
static int sorted_children(zkv_client *c, zkv_path_kind kind, struct String_vector *sv)
{
    char dir[ZKV_PATH_MAX];
    if (zkv_path(dir, sizeof(dir), c->opts.cluster, kind, NULL) != 0)
        return ZBADARGUMENTS;
    int rc = zoo_get_children(c->mc.zh, dir, 0, sv);
    if (rc == ZNONODE) {
        sv->count = 0;
        sv->data = NULL;
        return ZOK;
    }
    if (rc == ZOK && sv->count > 0)
        qsort(sv->data, (size_t)sv->count, sizeof(*sv->data), cmp_name);
    return rc;
}

/* Adds the operations under ops/ to arr (zk_lock held). */
static int add_ops(zkv_client *c, cJSON *arr)
{
    struct String_vector sv = {0};
    int rc = sorted_children(c, ZKV_PATH_OPS, &sv);
    if (rc != ZOK)
        return rc;
    for (int i = 0; i < sv.count && rc == ZOK; i++) {
        char path[ZKV_PATH_MAX], buf[ZKV_OP_JSON_MAX];
        int len = sizeof(buf) - 1;
        if (zkv_path(path, sizeof(path), c->opts.cluster, ZKV_PATH_OPS, sv.data[i]) != 0)
            continue;
        int grc = zoo_get(c->mc.zh, path, 0, buf, &len, NULL);
        if (grc == ZNONODE)
            continue; /* finished meanwhile */
        if (grc != ZOK) {
            rc = grc;
            break;
        }
        cJSON *o = len >= 0 ? cJSON_ParseWithLength(buf, (size_t)len) : NULL;
        if (!o)
            continue;
        cJSON_AddStringToObject(o, "id", sv.data[i]);
        cJSON_AddItemToArray(arr, o);
    }
    deallocate_String_vector(&sv);
    return rc;
}

/* Adds the drained/ children to arr (zk_lock held). */
static int add_drained(zkv_client *c, cJSON *arr)
{
    struct String_vector sv = {0};
    int rc = sorted_children(c, ZKV_PATH_DRAINED, &sv);
    if (rc != ZOK)
        return rc;
    for (int i = 0; i < sv.count; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(sv.data[i]));
    deallocate_String_vector(&sv);
    return ZOK;
}

int zkv_admin_status(zkv_client *c, char **json)
{
    zkv__clear_error();
    if (!c || !json)
        return zkv__fail(ZKV_EINVAL, "NULL client or json");
    *json = NULL;
    cJSON *doc = cJSON_CreateObject();
    cJSON *ops = doc ? cJSON_AddArrayToObject(doc, "operations") : NULL;
    cJSON *drained = doc ? cJSON_AddArrayToObject(doc, "drained") : NULL;
    if (!ops || !drained) {
        cJSON_Delete(doc);
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&c->mc.zk_lock);
    int zrc = c->mc.zh ? add_ops(c, ops) : ZCONNECTIONLOSS;
    if (zrc == ZOK)
        zrc = add_drained(c, drained);
    pthread_mutex_unlock(&c->mc.zk_lock);
    if (zrc != ZOK) {
        cJSON_Delete(doc);
        return zkv__fail(ZKV_EZOOKEEPER, "cannot read the operations from ZooKeeper: %s",
                         zkv_zk_strerror(zrc));
    }
    *json = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return *json ? ZKV_OK : zkv__fail(ZKV_ENOMEM, "out of memory");
}
