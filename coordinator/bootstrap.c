/* bootstrap.c: creates the cluster's znodes on first start (one zoo_multi, so a cluster
 * is either complete or absent), or reads and adopts the existing cluster record. The
 * stored replication factor always wins over --replicas; --ranges only matters on
 * creation. /zkv and /zkv/NAME are created first, empty (docs/internals.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap.h"
#include "common/keyrange.h"
#include "common/log.h"
#include "common/util.h"
#include "common/zk.h"

/* Owned buffers of the creation multi: ops point into them until zoo_multi returns. */
typedef struct create_batch {
    zoo_op_t *ops;
    zoo_op_result_t *results;
    char (*paths)[ZKV_PATH_MAX];
    char **data;
    char (*created)[ZKV_PATH_MAX]; /* path buffers the client fills in */
    struct ACL_vector *acl;        /* what the znodes are created with (zkacl.h) */
    int n, cap;
} create_batch;

static int batch_init(create_batch *b, int cap)
{
    memset(b, 0, sizeof(*b));
    b->ops = calloc((size_t)cap, sizeof(*b->ops));
    b->results = calloc((size_t)cap, sizeof(*b->results));
    b->paths = calloc((size_t)cap, sizeof(*b->paths));
    b->data = calloc((size_t)cap, sizeof(*b->data));
    b->created = calloc((size_t)cap, sizeof(*b->created));
    b->cap = cap;
    return (b->ops && b->results && b->paths && b->data && b->created) ? 0 : -1;
}

static void batch_free(create_batch *b)
{
    for (int i = 0; i < b->n; i++)
        free(b->data[i]);
    free(b->ops);
    free(b->results);
    free(b->paths);
    free(b->data);
    free(b->created);
}

/* Adds a persistent create of path with data (taken over; NULL: empty znode). */
static void batch_create(create_batch *b, const char *path, char *data)
{
    int i = b->n++;
    snprintf(b->paths[i], sizeof(b->paths[i]), "%s", path);
    b->data[i] = data;
    zoo_create_op_init(&b->ops[i], b->paths[i], data, data ? (int)strlen(data) : -1, b->acl,
                       ZOO_PERSISTENT, b->created[i], (int)sizeof(b->created[i]));
}

/* JSON of the initial range i of n: owner "", no replicas, epoch 0. */
static char *initial_range_json(unsigned i, unsigned n)
{
    zkv_range r;
    memset(&r, 0, sizeof(r));
    uint8_t start[2], end[2];
    size_t slen = zkv_split_boundary(i, n, start);
    size_t elen = zkv_split_boundary(i + 1, n, end);
    snprintf(r.id, sizeof(r.id), "r%04u", i);
    r.zversion = -1;
    if (zkv_range_set_bounds(&r, start, slen, end, elen) != 0)
        return NULL;
    char *json = zkv_range_to_json(&r);
    zkv_range_clear(&r);
    return json;
}

static int path_of(const zkv_coord *c, zkv_path_kind kind, const char *child, char *out)
{
    return zkv_path(out, ZKV_PATH_MAX, c->cfg.cluster, kind, child) == 0 ? 0 : ZBADARGUMENTS;
}

/* true when path exists (errors count as "no": the multi then reports them). */
static bool exists(zhandle_t *zh, const char *path)
{
    struct Stat st;
    return zoo_exists(zh, path, 0, &st) == ZOK;
}

static int create_cluster(zkv_coord *c)
{
    unsigned n = (unsigned)c->cfg.ranges;
    zkv_cluster_info info;
    memset(&info, 0, sizeof(info));
    if (zkv_random_hex(info.cluster_id, 8) != 0) {
        ZKV_ERROR("cannot generate a cluster id");
        return ZSYSTEMERROR;
    }
    zkv_iso8601(zkv_wall_ms(), info.created, sizeof(info.created));
    info.replicas = c->cfg.replicas;
    info.format = 1;

    create_batch b;
    int rc = ZSYSTEMERROR; /* until the multi runs: out of memory */
    char path[ZKV_PATH_MAX];
    if (batch_init(&b, (int)n + 7) != 0)
        goto oom;
    b.acl = zkv_zk_acl(c->zh);

    path_of(c, ZKV_PATH_CLUSTER, NULL, path);
    char *json = zkv_cluster_to_json(&info);
    if (!json)
        goto oom;
    batch_create(&b, path, json);
    /* A server may have made nodes/ while waiting for the cluster; reuse it. The
     * coordinator/ directory is ours, but reuse it too for the same reason. */
    path_of(c, ZKV_PATH_NODES, NULL, path);
    if (!exists(c->zh, path))
        batch_create(&b, path, NULL);
    path_of(c, ZKV_PATH_RANGES, NULL, path);
    batch_create(&b, path, NULL);
    for (unsigned i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof(id), "r%04u", i);
        path_of(c, ZKV_PATH_RANGES, id, path);
        if (!(json = initial_range_json(i, n)))
            goto oom;
        batch_create(&b, path, json);
    }
    path_of(c, ZKV_PATH_MAP, NULL, path);
    if (!(json = zkv_mapver_to_json(1)))
        goto oom;
    batch_create(&b, path, json);
    path_of(c, ZKV_PATH_COORDINATOR, NULL, path);
    if (!exists(c->zh, path))
        batch_create(&b, path, NULL);
    path_of(c, ZKV_PATH_OPS, NULL, path);
    batch_create(&b, path, NULL);
    path_of(c, ZKV_PATH_DRAINED, NULL, path);
    batch_create(&b, path, NULL);

    rc = zoo_multi(c->zh, b.n, b.ops, b.results);
    if (rc == ZOK) {
        c->cluster = info;
        c->have_cluster = true;
        ZKV_INFO("created cluster %s: id=%s replicas=%d ranges=%u", c->cfg.cluster, info.cluster_id,
                 info.replicas, n);
    } else if (rc == ZNODEEXISTS) {
        for (int i = 0; i < b.n; i++)
            if (b.results[i].err == ZNODEEXISTS)
                ZKV_DEBUG("cluster creation: %s already exists", b.paths[i]);
    } else {
        ZKV_WARN("cluster creation failed: %s", zkv_zk_strerror(rc));
    }
    batch_free(&b);
    return rc;
oom:
    ZKV_ERROR("cluster creation: out of memory");
    batch_free(&b);
    return rc;
}

/* Adopts the cluster record read from ZooKeeper, logging flags it overrides. */
static int adopt(zkv_coord *c, const zkv_cluster_info *info)
{
    if (info->replicas < 1 || info->replicas > ZKV_MAX_REPLICAS + 1) {
        ZKV_ERROR("cluster %s: stored replicas=%d is out of range 1..%d", c->cfg.cluster,
                  info->replicas, ZKV_MAX_REPLICAS + 1);
        return ZBADARGUMENTS;
    }
    c->cluster = *info;
    c->have_cluster = true;
    ZKV_INFO("using cluster %s: id=%s replicas=%d created=%s", c->cfg.cluster, info->cluster_id,
             info->replicas, info->created);
    return ZOK;
}

/* Logs --ranges/--replicas given on the command line that the stored cluster ignores. */
static void log_ignored(zkv_coord *c, bool created_here)
{
    if (created_here)
        return;
    if (c->cfg.replicas_given && c->cfg.replicas != c->cluster.replicas)
        ZKV_WARN("--replicas %d ignored: cluster %s was created with replicas=%d", c->cfg.replicas,
                 c->cfg.cluster, c->cluster.replicas);
    if (!c->cfg.ranges_given)
        return;
    char path[ZKV_PATH_MAX];
    struct Stat st;
    path_of(c, ZKV_PATH_RANGES, NULL, path);
    if (zoo_exists(c->zh, path, 0, &st) == ZOK && st.numChildren != c->cfg.ranges)
        ZKV_WARN("--ranges %d ignored: cluster %s exists with %d ranges", c->cfg.ranges,
                 c->cfg.cluster, st.numChildren);
}

int zkv_bootstrap(zkv_coord *c)
{
    char err[256] = "", path[ZKV_PATH_MAX];
    if (path_of(c, ZKV_PATH_ROOT, NULL, path) != 0) {
        ZKV_ERROR("invalid cluster name '%s'", c->cfg.cluster);
        return ZBADARGUMENTS;
    }
    int rc = zkv_zk_mkdirs(c->zh, path, err, sizeof(err));
    if (rc != ZOK) {
        ZKV_WARN("cannot create %s: %s", path, err);
        return rc;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        zkv_cluster_info info;
        rc = zkv_zk_read_cluster(c->zh, c->cfg.cluster, &info, err, sizeof(err));
        if (rc == ZOK) {
            rc = adopt(c, &info);
            if (rc == ZOK)
                log_ignored(c, false);
            return rc;
        }
        if (rc != ZKV_ZK_NOCLUSTER && rc != ZNONODE) {
            ZKV_WARN("cannot read cluster %s: %s", c->cfg.cluster, err);
            return rc;
        }
        rc = create_cluster(c);
        if (rc != ZNODEEXISTS)
            return rc;
        /* Another coordinator won the race (or left a partial layout): read again. */
    }
    ZKV_ERROR("cluster %s: znodes exist under /zkv/%s but no cluster record; remove them "
              "or use another --cluster",
              c->cfg.cluster, c->cfg.cluster);
    return ZNODEEXISTS;
}
