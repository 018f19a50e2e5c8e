/* leader.c: the leader's reconcile pass (see leader.h). Reads the routing snapshot,
 * asks placement.c for the new assignment and writes the difference as one conditional
 * zoo_multi. Every set checks the znode version it was read at, and map's version is
 * checked and bumped in the same multi: a deposed or slower coordinator working from an
 * older snapshot fails with ZBADVERSION instead of overwriting a newer decision, and
 * clients watching map see every change. An answer lost to a connection drop is safe:
 * the next pass re-reads, and placement is idempotent. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leader.h"
#include "placement.h"
#include "common/log.h"
#include "common/zk.h"

bool zkv_leader_conflict(int rc)
{
    return rc == ZBADVERSION || rc == ZNONODE || rc == ZNODEEXISTS;
}

/* Logs once per change of the live count while never-owned ranges wait for
 * --min-nodes live nodes. */
static void log_waiting(zkv_coord *c, const zkv_rangemap *map, const zkv_assignment *next)
{
    size_t waiting = 0;
    for (size_t i = 0; i < map->n_ranges; i++)
        if (next[i].owner[0] == '\0' && next[i].epoch == 0)
            waiting++;
    if (waiting == 0 || map->n_nodes >= (size_t)c->cfg.min_nodes) {
        c->waiting_logged = (size_t)-1;
        return;
    }
    if (c->waiting_logged == map->n_nodes)
        return;
    c->waiting_logged = map->n_nodes;
    ZKV_INFO("waiting for nodes: %zu of %d live (--min-nodes), %zu ranges unassigned", map->n_nodes,
             c->cfg.min_nodes, waiting);
}

static void log_decision(const zkv_rangemap *map, size_t i, const zkv_assignment *a,
                         int64_t new_version)
{
    char reps[ZKV_MAX_REPLICAS * ZKV_ID_MAX + 4], sync[ZKV_MAX_REPLICAS * ZKV_ID_MAX + 4];
    zkv_assignment_format_list((const char(*)[ZKV_ID_MAX])a->replicas, a->n_replicas, reps,
                               sizeof(reps));
    zkv_assignment_format_list((const char(*)[ZKV_ID_MAX])a->in_sync, a->n_in_sync, sync,
                               sizeof(sync));
    bool owner_live = a->owner[0] != '\0' && zkv_rangemap_node(map, a->owner) != NULL;
    ZKV_INFO("assigned %s owner=%s replicas=%s%s%s epoch=%" PRIu64 " (map %" PRId64 ")%s",
             map->ranges[i].id, a->owner[0] ? a->owner : "-", reps, a->n_in_sync ? " in_sync=" : "",
             a->n_in_sync ? sync : "", a->epoch, new_version,
             owner_live || a->owner[0] == '\0' ? "" : " [owner down]");
}

/* Writes the changed ranges and map version+1 in one conditional multi. */
static int write_changes(zkv_coord *c, const zkv_rangemap *map, const zkv_assignment *next,
                         size_t changed)
{
    size_t n_ops = changed + 1;
    zoo_op_t *ops = calloc(n_ops, sizeof(*ops));
    zoo_op_result_t *results = calloc(n_ops, sizeof(*results));
    struct Stat *stats = calloc(n_ops, sizeof(*stats));
    char(*paths)[ZKV_PATH_MAX] = calloc(n_ops, sizeof(*paths));
    char **data = calloc(n_ops, sizeof(*data));
    int rc = ZSYSTEMERROR;
    size_t k = 0;
    if (!ops || !results || !stats || !paths || !data)
        goto done;
    for (size_t i = 0; i < map->n_ranges; i++) {
        if (!next[i].changed)
            continue;
        zkv_range r = map->ranges[i]; /* shallow: shares the bounds, only read */
        zkv_assignment_to_range(&next[i], &r);
        if (!(data[k] = zkv_range_to_json(&r)))
            goto done;
        if (zkv_path(paths[k], ZKV_PATH_MAX, c->cfg.cluster, ZKV_PATH_RANGES, r.id) != 0) {
            rc = ZBADARGUMENTS;
            goto done;
        }
        zoo_set_op_init(&ops[k], paths[k], data[k], (int)strlen(data[k]), map->ranges[i].zversion,
                        &stats[k]);
        k++;
    }
    int64_t new_version = map->version + 1;
    if (!(data[k] = zkv_mapver_to_json(new_version)))
        goto done;
    zkv_path(paths[k], ZKV_PATH_MAX, c->cfg.cluster, ZKV_PATH_MAP, NULL);
    zoo_set_op_init(&ops[k], paths[k], data[k], (int)strlen(data[k]), map->map_zversion, &stats[k]);
    k++;

    rc = zoo_multi(c->zh, (int)k, ops, results);
    if (rc == ZOK) {
        for (size_t i = 0; i < map->n_ranges; i++)
            if (next[i].changed)
                log_decision(map, i, &next[i], new_version);
    } else if (zkv_leader_conflict(rc)) {
        ZKV_INFO("map %" PRId64 " changed under us (%s); re-reading", map->version,
                 zkv_zk_strerror(rc));
    } else {
        ZKV_WARN("writing map %" PRId64 " failed: %s", new_version, zkv_zk_strerror(rc));
    }
done:
    if (rc == ZSYSTEMERROR)
        ZKV_ERROR("reconcile: out of memory");
    for (size_t i = 0; data && i < n_ops; i++)
        free(data[i]);
    free(ops);
    free(results);
    free(stats);
    free(paths);
    free(data);
    return rc;
}

int zkv_leader_reconcile(zkv_coord *c)
{
    char err[256] = "", path[ZKV_PATH_MAX];
    if (zkv_path(path, sizeof(path), c->cfg.cluster, ZKV_PATH_NODES, NULL) != 0)
        return ZBADARGUMENTS;
    /* Arm the nodes/ child watch before reading, so no change can slip between. */
    struct String_vector sv = {0};
    int rc = zoo_wget_children(c->zh, path, zkv_coord_reconcile_watcher, c, &sv);
    if (rc != ZOK) {
        ZKV_WARN("cannot watch %s: %s", path, zkv_zk_strerror(rc));
        return rc;
    }
    deallocate_String_vector(&sv);

    zkv_rangemap *map = NULL;
    rc = zkv_zk_read_map(c->zh, c->cfg.cluster, zkv_coord_reconcile_watcher, c, &map, err,
                         sizeof(err));
    if (rc != ZOK) {
        ZKV_WARN("cannot read the range map: %s", err);
        return rc;
    }

    size_t n = map->n_ranges;
    zkv_assignment *cur = calloc(n ? n : 1, sizeof(*cur));
    zkv_assignment *next = calloc(n ? n : 1, sizeof(*next));
    const char **live = calloc(map->n_nodes ? map->n_nodes : 1, sizeof(*live));
    rc = ZSYSTEMERROR;
    if (!cur || !next || !live) {
        ZKV_ERROR("reconcile: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        zkv_assignment_from_range(&cur[i], &map->ranges[i]);
    for (size_t j = 0; j < map->n_nodes; j++)
        live[j] = map->nodes[j].id;
    zkv_placement_input in = {
        .ranges = cur,
        .n_ranges = n,
        .live = live,
        .n_live = map->n_nodes,
        .replicas = c->cluster.replicas,
        .min_nodes = c->cfg.min_nodes,
    };
    if (zkv_placement_compute(&in, next) != 0) {
        ZKV_ERROR("placement failed (replicas=%d)", c->cluster.replicas);
        goto done;
    }
    log_waiting(c, map, next);
    size_t changed = 0;
    for (size_t i = 0; i < n; i++)
        changed += next[i].changed;
    ZKV_DEBUG("reconcile: map %" PRId64 ", %zu ranges, %zu live nodes, %zu to change", map->version,
              n, map->n_nodes, changed);
    rc = changed ? write_changes(c, map, next, changed) : ZOK;
done:
    free(cur);
    free(next);
    free(live);
    zkv_rangemap_free(map);
    return rc;
}
