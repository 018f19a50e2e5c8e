/* autorun.c: automatic splits and merges in the leader's pass (see autorun.h). */
#include "autorun.h"

#include <stdlib.h>
#include <string.h>
#include "autoshape.h"
#include "common/log.h"
#include "common/util.h"
#include "common/zk.h"
#include "common/znode.h"

#define STATS_MAX (1 << 20) /* the largest report read */

typedef struct fill_ctx {
    const zkv_rangemap *map;
    const char *node;
    zkv_shape_range *out;
} fill_ctx;

static void take(void *vctx, const char *range_id, double bytes, double writes_per_s)
{
    fill_ctx *f = vctx;
    for (size_t i = 0; i < f->map->n_ranges; i++) {
        if (strcmp(f->map->ranges[i].id, range_id) != 0 ||
            strcmp(f->map->ranges[i].owner, f->node) != 0)
            continue; /* only the owner's report counts */
        f->out[i].has_stats = true;
        f->out[i].bytes = bytes;
        f->out[i].writes_per_s = writes_per_s;
    }
}

/* The owners' reports into out (one entry per range of map). */
static void read_reports(zkv_coord *c, const zkv_rangemap *map, zkv_shape_range *out)
{
    char *buf = malloc(STATS_MAX);
    if (!buf)
        return;
    for (size_t n = 0; n < map->n_nodes; n++) {
        char path[ZKV_PATH_MAX];
        int len = STATS_MAX - 1;
        if (zkv_path(path, sizeof(path), c->cfg.cluster, ZKV_PATH_STATS, map->nodes[n].id) != 0 ||
            zoo_get(c->zh, path, 0, buf, &len, NULL) != ZOK || len < 0)
            continue; /* no report yet */
        fill_ctx f = {map, map->nodes[n].id, out};
        zkv_stats_parse(buf, (size_t)len, take, &f);
    }
    free(buf);
}

static void record(zkv_coord *c, const zkv_shape_decision *d)
{
    zkv_op op;
    zkv_op_init(&op, d->kind, zkv_wall_ms());
    snprintf(op.range, sizeof(op.range), "%s", d->range);
    char *json = zkv_op_to_json(&op);
    char path[ZKV_PATH_MAX], created[ZKV_PATH_MAX] = "";
    if (!json || zkv_path(path, sizeof(path), c->cfg.cluster, ZKV_PATH_OPS, "op-") != 0) {
        free(json);
        return;
    }
    int rc = zoo_create(c->zh, path, json, (int)strlen(json), zkv_zk_acl(c->zh), ZOO_SEQUENCE,
                        created, (int)sizeof(created));
    free(json);
    const char *name = strrchr(created, '/');
    if (rc == ZOK)
        ZKV_INFO("automatic %s of %s (%s): operation %s", zkv_op_kind_name(d->kind), d->range,
                 d->why, name ? name + 1 : created);
    else
        ZKV_WARN("cannot record the automatic %s of %s: %s", zkv_op_kind_name(d->kind), d->range,
                 zkv_zk_strerror(rc));
}

/* Keeps the sizes reported in r for the byte balance (rule 14, bytebalance.h). */
static void keep_sizes(zkv_coord *c, const zkv_shape_range *r, size_t n)
{
    zkv_range_size *v = calloc(n ? n : 1, sizeof(*v));
    if (!v)
        return;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (r[i].has_stats) {
            snprintf(v[k].id, sizeof(v[k].id), "%s", r[i].id);
            v[k++].bytes = r[i].bytes;
        }
    free(c->sizes);
    c->sizes = v;
    c->n_sizes = k;
}

double zkv_autorun_size_of(const zkv_coord *c, const char *range_id)
{
    for (size_t i = 0; i < c->n_sizes; i++)
        if (strcmp(c->sizes[i].id, range_id) == 0)
            return c->sizes[i].bytes;
    return -1;
}

void zkv_autorun_pass(zkv_coord *c, const zkv_rangemap *map, size_t ops_loaded)
{
    const zkv_coord_config *cfg = &c->cfg;
    uint64_t now = zkv_now_ms();
    bool reshape = cfg->split_bytes || cfg->split_writes_per_s > 0 || cfg->merge_bytes;
    if ((!reshape && !cfg->balance_owners) || now < c->next_autorun_ms || map->n_ranges == 0)
        return;
    c->next_autorun_ms = now + (uint64_t)cfg->autoshape_interval_ms;
    zkv_shape_range *r = calloc(map->n_ranges, sizeof(*r));
    if (!r)
        return;
    for (size_t i = 0; i < map->n_ranges; i++)
        r[i].id = map->ranges[i].id;
    read_reports(c, map, r);
    keep_sizes(c, r, map->n_ranges);
    if (!reshape || ops_loaded > 0) {
        free(r);
        return;
    }
    zkv_shape_limits lim = {.split_bytes = cfg->split_bytes,
                            .split_writes_per_s = cfg->split_writes_per_s,
                            .merge_bytes = cfg->merge_bytes,
                            .min_ranges = (size_t)cfg->min_ranges};
    zkv_shape_decision d;
    if (zkv_autoshape_decide(r, map->n_ranges, &lim, ops_loaded, &d))
        record(c, &d);
    free(r);
}
