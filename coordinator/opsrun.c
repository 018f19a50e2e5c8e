/* opsrun.c: operations in the leader's pass (see opsrun.h). */
#include "opsrun.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "common/util.h"
#include "common/zk.h"

typedef struct loaded_op {
    zkv_op op;
    int32_t zversion;
    zkv_op_effect eff;
    bool gc; /* a failed operation kept long enough: delete it */
    char path[ZKV_PATH_MAX];
    char drained_path[ZKV_PATH_MAX];
    char *json; /* the operation's new data */
} loaded_op;

struct zkv_opsrun {
    struct String_vector drained;
    loaded_op *v;
    size_t n;
    int new_replicas;
    char cluster_path[ZKV_PATH_MAX];
    char *cluster_json;
};

/* Children of a cluster directory, with the reconcile watch; the directory is created
 * in an older cluster that lacks it. */
static int watched_children(zkv_coord *c, zkv_path_kind kind, struct String_vector *sv)
{
    char path[ZKV_PATH_MAX], err[256];
    if (zkv_path(path, sizeof(path), c->cfg.cluster, kind, NULL) != 0)
        return ZBADARGUMENTS;
    int rc = zoo_wget_children(c->zh, path, zkv_coord_reconcile_watcher, c, sv);
    if (rc == ZNONODE && zkv_zk_mkdirs(c->zh, path, err, sizeof(err)) == ZOK)
        rc = zoo_wget_children(c->zh, path, zkv_coord_reconcile_watcher, c, sv);
    return rc;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void zkv_opsrun_free(zkv_opsrun *r)
{
    if (!r)
        return;
    deallocate_String_vector(&r->drained);
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].json);
    free(r->v);
    free(r->cluster_json);
    free(r);
}

int zkv_opsrun_load(zkv_coord *c, zkv_opsrun **out)
{
    *out = NULL;
    zkv_opsrun *r = calloc(1, sizeof(*r));
    if (!r)
        return ZSYSTEMERROR;
    struct String_vector names = {0};
    int rc = watched_children(c, ZKV_PATH_DRAINED, &r->drained);
    if (rc == ZOK)
        rc = watched_children(c, ZKV_PATH_OPS, &names);
    if (rc != ZOK) {
        zkv_opsrun_free(r);
        return rc;
    }
    if (names.count > 0) {
        qsort(names.data, (size_t)names.count, sizeof(*names.data), cmp_name);
        r->v = calloc((size_t)names.count, sizeof(*r->v));
        if (!r->v) {
            deallocate_String_vector(&names);
            zkv_opsrun_free(r);
            return ZSYSTEMERROR;
        }
    }
    for (int i = 0; i < names.count; i++) {
        loaded_op *lo = &r->v[r->n];
        if (zkv_path(lo->path, sizeof(lo->path), c->cfg.cluster, ZKV_PATH_OPS, names.data[i]) != 0)
            continue;
        char buf[ZKV_OP_JSON_MAX], err[256];
        int len = sizeof(buf) - 1;
        struct Stat st;
        int grc = zoo_get(c->zh, lo->path, 0, buf, &len, &st);
        if (grc == ZNONODE)
            continue;
        if (grc != ZOK) {
            rc = grc;
            break;
        }
        if (len < 0 || zkv_op_from_json(buf, (size_t)len, &lo->op, err, sizeof(err)) != 0) {
            /* not an operation this coordinator can carry out: say so once and remove it */
            ZKV_WARN("operation %s is malformed (%s); deleting it", names.data[i], err);
            zoo_delete(c->zh, lo->path, st.version);
            continue;
        }
        snprintf(lo->op.id, sizeof(lo->op.id), "%s", names.data[i]);
        lo->zversion = st.version;
        r->n++;
    }
    deallocate_String_vector(&names);
    if (rc != ZOK) {
        zkv_opsrun_free(r);
        return rc;
    }
    *out = r;
    return ZOK;
}

const char *const *zkv_opsrun_drained(const zkv_opsrun *r, size_t *n)
{
    *n = (size_t)(r->drained.count > 0 ? r->drained.count : 0);
    return (const char *const *)r->drained.data;
}

void zkv_opsrun_step(zkv_opsrun *r, zkv_op_world *w, uint64_t now_wall_ms)
{
    for (size_t i = 0; i < r->n; i++) {
        loaded_op *lo = &r->v[i];
        if (strcmp(lo->op.step, "failed") == 0) {
            lo->gc = now_wall_ms > lo->op.updated_ms + ZKV_OPS_FAILED_KEEP_MS;
            continue;
        }
        zkv_op_step(&lo->op, w, &lo->eff);
        if (lo->eff.set_replicas > 0 && r->new_replicas == 0)
            r->new_replicas = lo->eff.set_replicas;
        else
            lo->eff.set_replicas = 0;
        if (lo->eff.write_op) {
            zkv_iso8601(now_wall_ms, lo->op.updated, sizeof(lo->op.updated));
            lo->op.updated_ms = now_wall_ms;
        }
    }
}

/* Whether an earlier operation of this pass already creates or deletes node's marker. */
static bool drained_seen(const zkv_opsrun *r, size_t upto, const char *node)
{
    for (size_t i = 0; i < upto; i++)
        if (r->v[i].eff.drained && strcmp(r->v[i].op.node, node) == 0)
            return true;
    return false;
}

size_t zkv_opsrun_loaded(const zkv_opsrun *r)
{
    return r->n;
}

const zkv_op *zkv_opsrun_op(const zkv_opsrun *r, size_t i)
{
    return i < r->n ? &r->v[i].op : NULL;
}

size_t zkv_opsrun_count(const zkv_opsrun *r)
{
    size_t k = r->new_replicas > 0;
    for (size_t i = 0; i < r->n; i++) {
        const loaded_op *lo = &r->v[i];
        k += lo->gc || lo->eff.delete_op || lo->eff.write_op;
        k += lo->eff.drained && !drained_seen(r, i, lo->op.node);
    }
    return k;
}

int zkv_opsrun_ops(zkv_opsrun *r, zkv_coord *c, zoo_op_t *ops, struct Stat *stats)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        loaded_op *lo = &r->v[i];
        if (lo->gc || lo->eff.delete_op) {
            zoo_delete_op_init(&ops[k++], lo->path, lo->zversion);
        } else if (lo->eff.write_op) {
            free(lo->json);
            if (!(lo->json = zkv_op_to_json(&lo->op)))
                return -1;
            zoo_set_op_init(&ops[k], lo->path, lo->json, (int)strlen(lo->json), lo->zversion,
                            &stats[k]);
            k++;
        }
        if (lo->eff.drained && !drained_seen(r, i, lo->op.node)) {
            if (zkv_path(lo->drained_path, sizeof(lo->drained_path), c->cfg.cluster,
                         ZKV_PATH_DRAINED, lo->op.node) != 0)
                return -1;
            if (lo->eff.drained > 0)
                zoo_create_op_init(&ops[k++], lo->drained_path, "{}", 2, zkv_zk_acl(c->zh), 0, NULL,
                                   0);
            else
                zoo_delete_op_init(&ops[k++], lo->drained_path, -1);
        }
    }
    if (r->new_replicas > 0) {
        zkv_cluster_info ci = c->cluster;
        ci.replicas = r->new_replicas;
        free(r->cluster_json);
        if (!(r->cluster_json = zkv_cluster_to_json(&ci)) ||
            zkv_path(r->cluster_path, sizeof(r->cluster_path), c->cfg.cluster, ZKV_PATH_CLUSTER,
                     NULL) != 0)
            return -1;
        zoo_set_op_init(&ops[k], r->cluster_path, r->cluster_json, (int)strlen(r->cluster_json), -1,
                        &stats[k]);
        k++;
    }
    return 0;
}

void zkv_opsrun_done(zkv_opsrun *r, bool ok)
{
    for (size_t i = 0; i < r->n; i++) {
        const loaded_op *lo = &r->v[i];
        if (lo->gc && ok)
            ZKV_INFO("operation %s (%s) removed: failed %s ago: %s", lo->op.id,
                     zkv_op_kind_name(lo->op.kind), "over 10 minutes", lo->op.error);
        if (!lo->eff.note[0])
            continue;
        if (ok)
            ZKV_INFO("operation %s (%s%s%s%s%s): %s", lo->op.id, zkv_op_kind_name(lo->op.kind),
                     lo->op.range[0] ? " " : "", lo->op.range, lo->op.node[0] ? " " : "",
                     lo->op.node, lo->eff.note);
    }
}

int zkv_opsrun_new_replicas(const zkv_opsrun *r)
{
    return r->new_replicas;
}
