/* leader.c: the leader's reconcile pass (see leader.h). Reads the routing snapshot,
 * asks the failover candidates of ranges whose owner is down for their positions
 * (position.c), asks placement.c for the new assignment and writes the difference as
 * one conditional zoo_multi. Every set checks the znode version it was read at, and
 * map's version is checked and bumped in the same multi: a deposed or slower
 * coordinator working from an older snapshot fails with ZBADVERSION instead of
 * overwriting a newer decision, and clients watching map see every change. An answer
 * lost to a connection drop is safe: the next pass re-reads, and placement is
 * idempotent. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leader.h"
#include "placement.h"
#include "autorun.h"
#include "bytebalance.h"
#include "opsrun.h"
#include "position.h"
#include "since.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
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

/* The position a node reported for a range, or NULL. */
static const zkv_position *reported(const zkv_range_positions *pos, const char *node)
{
    for (int k = 0; pos && k < pos->n; k++)
        if (strcmp(pos->at[k].node, node) == 0)
            return &pos->at[k];
    return NULL;
}

/* "failover r0003: node-1 down; promoting node-2 at 3:1042 (epoch 4)" for a range whose
 * dead owner gave way to an in_sync replica. */
static void log_failover(const zkv_rangemap *map, size_t i, const zkv_assignment *a,
                         const zkv_range_positions *pos)
{
    const zkv_range *old = &map->ranges[i];
    if (old->owner[0] == '\0' || strcmp(old->owner, a->owner) == 0)
        return;
    const zkv_position *p = reported(pos, a->owner);
    if (p)
        ZKV_INFO("failover %s: %s down; promoting %s at %" PRIu64 ":%" PRIu64 " (epoch %" PRIu64
                 ")",
                 old->id, old->owner, a->owner, p->epoch, p->seq, a->epoch);
    else
        ZKV_WARN("failover %s: %s down; promoting %s, the first live in_sync replica by id: no "
                 "candidate reported its position (epoch %" PRIu64 ")",
                 old->id, old->owner, a->owner, a->epoch);
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
    ZKV_INFO("assigned %s owner=%s replicas=%s%s%s epoch=%" PRIu64 "%s%s (map %" PRId64 ")%s",
             map->ranges[i].id, a->owner[0] ? a->owner : "-", reps, a->n_in_sync ? " in_sync=" : "",
             a->n_in_sync ? sync : "", a->epoch, a->handoff[0] ? " handoff=" : "", a->handoff,
             new_version, owner_live || a->owner[0] == '\0' ? "" : " [owner down]");
}

/* Writes the changed ranges and map version+1 in one conditional multi. pos: the
 * positions the placement used (NULL or n_ranges entries), for the log. */
static int write_changes(zkv_coord *c, const zkv_rangemap *map, const zkv_assignment *next,
                         size_t changed, const zkv_range_positions *pos, zkv_opsrun *oprun)
{
    size_t n_extra = zkv_opsrun_count(oprun);
    size_t n_ops = changed + (changed ? 1 : 0) + n_extra;
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
    if (changed) {
        if (!(data[k] = zkv_mapver_to_json(new_version)))
            goto done;
        zkv_path(paths[k], ZKV_PATH_MAX, c->cfg.cluster, ZKV_PATH_MAP, NULL);
        zoo_set_op_init(&ops[k], paths[k], data[k], (int)strlen(data[k]), map->map_zversion,
                        &stats[k]);
        k++;
    }
    if (zkv_opsrun_ops(oprun, c, &ops[k], &stats[k]) != 0)
        goto done;
    k += n_extra;

    rc = zoo_multi(c->zh, (int)k, ops, results);
    zkv_opsrun_done(oprun, rc == ZOK);
    if (rc == ZOK && zkv_opsrun_new_replicas(oprun) > 0) {
        ZKV_INFO("replication factor is now %d", zkv_opsrun_new_replicas(oprun));
        c->cluster.replicas = zkv_opsrun_new_replicas(oprun);
    }
    if (rc == ZOK) {
        for (size_t i = 0; i < map->n_ranges; i++) {
            if (!next[i].changed)
                continue;
            log_failover(map, i, &next[i], pos ? &pos[i] : NULL);
            log_decision(map, i, &next[i], new_version);
        }
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

/* Asks the failover candidates of every range whose owner is down for their positions:
 * one RANGE_STATUS connection per candidate node (all its ranges on it), all nodes in
 * parallel, ZKV_POSITION_BUDGET_MS. *out gets n_ranges entries (what answered), or
 * NULL when no range needs a failover. Returns 0 or ZSYSTEMERROR (out of memory: better
 * no decision than a promotion made blind). */
static int ask_positions(zkv_coord *c, const zkv_rangemap *map, const zkv_assignment *cur,
                         const char *const *live, zkv_range_positions **out)
{
    size_t n = map->n_ranges, nn = map->n_nodes, total = 0, n_targets = 0;
    char cand[ZKV_MAX_REPLICAS][ZKV_ID_MAX];
    *out = NULL;
    size_t *count = calloc(nn ? nn : 1, sizeof(*count));
    if (!count)
        return ZSYSTEMERROR;
    for (size_t i = 0; i < n; i++) {
        int k = zkv_failover_candidates(&cur[i], live, nn, cand);
        for (int m = 0; m < k; m++) {
            const zkv_node_info *node = zkv_rangemap_node(map, cand[m]);
            if (node) {
                count[node - map->nodes]++;
                total++;
            }
        }
    }
    if (total == 0) {
        free(count);
        return ZOK;
    }
    for (size_t j = 0; j < nn; j++)
        n_targets += count[j] > 0;

    int rc = ZSYSTEMERROR;
    zkv_position_target *targets = calloc(n_targets, sizeof(*targets));
    const char **ids = calloc(total, sizeof(*ids));
    size_t *range_of = calloc(total, sizeof(*range_of));
    zkv_position_answer *answers = calloc(total, sizeof(*answers));
    size_t *first = calloc(nn, sizeof(*first)), *fill = calloc(nn, sizeof(*fill));
    zkv_range_positions *pos = calloc(n, sizeof(*pos));
    if (!targets || !ids || !range_of || !answers || !first || !fill || !pos)
        goto done;
    /* Slots: node j's requests are ids[first[j] .. first[j] + count[j]). */
    for (size_t j = 0, off = 0; j < nn; j++) {
        first[j] = off;
        off += count[j];
    }
    for (size_t i = 0; i < n; i++) {
        int k = zkv_failover_candidates(&cur[i], live, nn, cand);
        for (int m = 0; m < k; m++) {
            const zkv_node_info *node = zkv_rangemap_node(map, cand[m]);
            if (!node)
                continue;
            size_t j = (size_t)(node - map->nodes), at = first[j] + fill[j]++;
            ids[at] = map->ranges[i].id;
            range_of[at] = i;
        }
        if (k > 0)
            ZKV_DEBUG("failover %s: owner %s down; asking %d in_sync replica(s) for positions",
                      map->ranges[i].id, cur[i].owner, k);
    }
    size_t t = 0;
    for (size_t j = 0; j < nn; j++) {
        if (count[j] == 0)
            continue;
        targets[t] = (zkv_position_target){.node_id = map->nodes[j].id,
                                           .addr = map->nodes[j].addr,
                                           .range_ids = &ids[first[j]],
                                           .n_ranges = count[j],
                                           .answers = &answers[first[j]]};
        t++;
    }
    zkv_position_ask(targets, n_targets, c->cluster.cluster_id, c->auth_secret, c->tls,
                     ZKV_POSITION_BUDGET_MS);
    for (t = 0; t < n_targets; t++) {
        const zkv_position_target *tg = &targets[t];
        if (tg->error[0] != '\0')
            ZKV_WARN("failover: no position from %s at %s: %s", tg->node_id, tg->addr, tg->error);
        size_t base = (size_t)(tg->range_ids - ids);
        for (size_t k = 0; k < tg->n_ranges; k++) {
            if (!tg->answers[k].answered)
                continue;
            zkv_range_positions *rp = &pos[range_of[base + k]];
            if (rp->n >= ZKV_MAX_REPLICAS)
                continue;
            zkv_position *p = &rp->at[rp->n++];
            snprintf(p->node, sizeof(p->node), "%s", tg->node_id);
            p->epoch = tg->answers[k].epoch;
            p->seq = tg->answers[k].seq;
            ZKV_DEBUG("failover %s: %s is at %" PRIu64 ":%" PRIu64, tg->range_ids[k], tg->node_id,
                      p->epoch, p->seq);
        }
    }
    *out = pos;
    pos = NULL;
    rc = ZOK;
done:
    if (rc != ZOK)
        ZKV_ERROR("failover: out of memory");
    free(count);
    free(targets);
    free(ids);
    free(range_of);
    free(answers);
    free(first);
    free(fill);
    free(pos);
    return rc;
}

/* Logs the ranges left read-only (owner down, no live in_sync replica) whenever that
 * list changes, so an operator sees each change once and not every pass. */
static void log_read_only(zkv_coord *c, const zkv_rangemap *map, const zkv_assignment *next)
{
    zkv_buf b;
    zkv_buf_init(&b);
    size_t count = 0;
    for (size_t i = 0; i < map->n_ranges; i++) {
        const zkv_assignment *a = &next[i];
        if (a->owner[0] == '\0' || zkv_rangemap_node(map, a->owner))
            continue;
        const char *sep = count++ ? ", " : "";
        if (zkv_buf_append(&b, sep, strlen(sep)) != 0 ||
            zkv_buf_append(&b, map->ranges[i].id, strlen(map->ranges[i].id)) != 0 ||
            zkv_buf_append(&b, " (", 2) != 0 ||
            zkv_buf_append(&b, a->owner, strlen(a->owner)) != 0 ||
            zkv_buf_append(&b, ")", 1) != 0) {
            zkv_buf_free(&b);
            return;
        }
    }
    if (zkv_buf_append(&b, "", 1) != 0) {
        zkv_buf_free(&b);
        return;
    }
    const char *now = (const char *)b.data;
    const char *before = c->read_only_logged ? c->read_only_logged : "";
    if (strcmp(now, before) != 0) {
        if (count)
            ZKV_WARN("read-only: %zu range(s) with the owner down and no live in_sync replica to "
                     "promote: %s",
                     count, now);
        else
            ZKV_INFO("read-only: none left (every range has a live owner or none yet)");
        free(c->read_only_logged);
        c->read_only_logged = count ? strdup(now) : NULL;
    }
    zkv_buf_free(&b);
}

/* What the placement needs besides the map (rules 10-13 of placement.h): the excluded
 * nodes (drained/ children, live nodes marked leaving), the dead nodes still within the
 * rebalance delay, and the handoff requests that waited too long. The arrays point into
 * map and drained. */
typedef struct extras {
    const char **excluded;
    size_t n_excluded;
    const char **grace;
    size_t n_grace;
    bool *stale;
} extras;

static int gather_extras(zkv_coord *c, const zkv_rangemap *map, const zkv_assignment *cur,
                         const zkv_opsrun *ops, extras *x)
{
    size_t n_drained;
    const char *const *drained = zkv_opsrun_drained(ops, &n_drained);
    size_t n = map->n_ranges, cap_ids = n_drained + map->n_nodes + n * (ZKV_MAX_REPLICAS + 1) + 1;
    x->excluded = calloc(cap_ids, sizeof(*x->excluded));
    x->grace = calloc(cap_ids, sizeof(*x->grace));
    x->stale = calloc(n ? n : 1, sizeof(*x->stale));
    if (!x->excluded || !x->grace || !x->stale)
        return -1;
    for (size_t i = 0; i < n_drained; i++)
        x->excluded[x->n_excluded++] = drained[i];
    for (size_t j = 0; j < map->n_nodes; j++)
        if (map->nodes[j].leaving)
            x->excluded[x->n_excluded++] = map->nodes[j].id;
    uint64_t now = zkv_now_ms();
    zkv_since_begin_pass(c->down_since);
    zkv_since_begin_pass(c->handoff_since);
    for (size_t i = 0; i < n; i++) {
        const zkv_assignment *a = &cur[i];
        for (int j = -1; j < a->n_replicas; j++) {
            const char *id = j < 0 ? a->owner : a->replicas[j];
            if (!id[0] || zkv_rangemap_node(map, id))
                continue;
            uint64_t since = zkv_since_seen(c->down_since, id, now);
            bool listed = false;
            for (size_t k = 0; k < x->n_grace && !listed; k++)
                listed = strcmp(x->grace[k], id) == 0;
            if (!listed && now - since < (uint64_t)c->cfg.rebalance_delay_ms)
                x->grace[x->n_grace++] = id;
        }
        if (a->handoff[0]) {
            char key[3 * ZKV_ID_MAX + 24];
            snprintf(key, sizeof(key), "%s/%s/%s/%" PRIu64, map->ranges[i].id, a->owner, a->handoff,
                     a->epoch);
            uint64_t since = zkv_since_seen(c->handoff_since, key, now);
            x->stale[i] = now - since > (uint64_t)c->cfg.handoff_wait_ms;
            if (x->stale[i])
                ZKV_WARN("%s: %s did not hand the range to %s within %d ms; withdrawing the "
                         "request",
                         map->ranges[i].id, a->owner, a->handoff, c->cfg.handoff_wait_ms);
        }
    }
    zkv_since_end_pass(c->down_since);
    zkv_since_end_pass(c->handoff_since);
    return 0;
}

static void log_trades(const zkv_rangemap *map, const zkv_assignment *next, const double *bytes)
{
    for (size_t i = 0; i < map->n_ranges; i++) {
        const zkv_range *r = &map->ranges[i];
        double mib = bytes[i] / (1024.0 * 1024.0);
        if (next[i].handoff[0] && !r->handoff[0])
            ZKV_INFO("byte balance: asking %s to hand %s (%.1f MiB) to %s", next[i].owner, r->id,
                     mib, next[i].handoff);
        if (next[i].leaving[0] && !r->leaving[0])
            ZKV_INFO("byte balance: moving the copy of %s (%.1f MiB) on %s to %s", r->id, mib,
                     next[i].leaving, next[i].replicas[next[i].n_replicas - 1]);
    }
}

/* Rules 14 and 15 (bytebalance.h) over the placement's output: one trade of ownership
 * (when owners are balanced), else one of replica slots, between the nodes carrying the
 * most and the fewest bytes, among live nodes that may take more. */
static void byte_balance(zkv_coord *c, const zkv_rangemap *map, zkv_assignment *next,
                         const extras *x)
{
    size_t n = map->n_ranges, k = 0;
    double *bytes = calloc(n ? n : 1, sizeof(*bytes));
    const char **nodes = calloc(map->n_nodes ? map->n_nodes : 1, sizeof(*nodes));
    if (!bytes || !nodes) {
        free(bytes);
        free(nodes);
        return;
    }
    for (size_t i = 0; i < n; i++)
        bytes[i] = zkv_autorun_size_of(c, map->ranges[i].id);
    for (size_t j = 0; j < map->n_nodes; j++) {
        bool out = false;
        for (size_t e = 0; e < x->n_excluded && !out; e++)
            out = strcmp(x->excluded[e], map->nodes[j].id) == 0;
        if (!out)
            nodes[k++] = map->nodes[j].id;
    }
    double gap = c->cfg.balance_min_bytes;
    if ((c->cfg.balance_owners && zkv_byte_balance(next, n, bytes, nodes, k, gap)) ||
        zkv_replica_byte_balance(next, n, bytes, nodes, k, c->cluster.replicas - 1, gap))
        log_trades(map, next, bytes);
    free(bytes);
    free(nodes);
}

/* c->summary from the map and the operations this pass read. */
static void summarize(zkv_coord *c, const zkv_rangemap *map, const zkv_opsrun *ops)
{
    enum { MAX_OPS = 256 };
    const zkv_op *v[MAX_OPS];
    size_t n = 0;
    for (size_t i = 0; i < zkv_opsrun_loaded(ops) && n < MAX_OPS; i++)
        v[n++] = zkv_opsrun_op(ops, i);
    zkv_cmetrics_summarize(map, c->cluster.replicas, v, n, &c->summary);
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

    zkv_opsrun *ops = NULL;
    if ((rc = zkv_opsrun_load(c, &ops)) != ZOK) {
        ZKV_WARN("cannot read the operations and drained nodes: %s", zkv_zk_strerror(rc));
        return rc;
    }
    zkv_rangemap *map = NULL;
    rc = zkv_zk_read_map(c->zh, c->cfg.cluster, zkv_coord_reconcile_watcher, c, &map, err,
                         sizeof(err));
    if (rc != ZOK) {
        ZKV_WARN("cannot read the range map: %s", err);
        zkv_opsrun_free(ops);
        return rc;
    }
    extras x = {0};
    summarize(c, map, ops); /* --metrics: the cluster as this pass sees it */

    size_t n = map->n_ranges;
    zkv_assignment *cur = calloc(n ? n : 1, sizeof(*cur));
    zkv_assignment *next = calloc(n ? n : 1, sizeof(*next));
    const char **live = calloc(map->n_nodes ? map->n_nodes : 1, sizeof(*live));
    zkv_range_positions *positions = NULL;
    rc = ZSYSTEMERROR;
    if (!cur || !next || !live) {
        ZKV_ERROR("reconcile: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        zkv_assignment_from_range(&cur[i], &map->ranges[i]);
    for (size_t j = 0; j < map->n_nodes; j++)
        live[j] = map->nodes[j].id;
    if ((rc = ask_positions(c, map, cur, live, &positions)) != ZOK)
        goto done;
    rc = ZSYSTEMERROR;
    if (gather_extras(c, map, cur, ops, &x) != 0) {
        ZKV_ERROR("reconcile: out of memory");
        goto done;
    }
    zkv_placement_input in = {
        .ranges = cur,
        .n_ranges = n,
        .live = live,
        .n_live = map->n_nodes,
        .replicas = c->cluster.replicas,
        .min_nodes = c->cfg.min_nodes,
        .positions = positions,
        .excluded = x.excluded,
        .n_excluded = x.n_excluded,
        .grace = x.grace,
        .n_grace = x.n_grace,
        .stale_handoff = x.stale,
        .balance_owners = c->cfg.balance_owners,
    };
    if (zkv_placement_compute(&in, next) != 0) {
        ZKV_ERROR("placement failed (replicas=%d)", c->cluster.replicas);
        goto done;
    }
    log_waiting(c, map, next);
    log_read_only(c, map, next);
    /* The operators' operations take their step over the placement's output. */
    const char **ids = calloc(n ? n : 1, sizeof(*ids));
    if (!ids)
        goto done;
    for (size_t i = 0; i < n; i++)
        ids[i] = map->ranges[i].id;
    size_t n_drained;
    const char *const *drained = zkv_opsrun_drained(ops, &n_drained);
    zkv_op_world world = {.ranges = next,
                          .range_ids = ids,
                          .n_ranges = n,
                          .live = live,
                          .n_live = map->n_nodes,
                          .drained = drained,
                          .n_drained = n_drained,
                          .replicas = c->cluster.replicas,
                          .now_ms = zkv_wall_ms()};
    zkv_opsrun_step(ops, &world, world.now_ms);
    zkv_autorun_pass(c, map, zkv_opsrun_loaded(ops));
    byte_balance(c, map, next, &x);
    free(ids);
    size_t changed = 0;
    for (size_t i = 0; i < n; i++) {
        next[i].changed = next[i].changed || !zkv_assignment_equal(&next[i], &cur[i]);
        changed += next[i].changed;
    }
    ZKV_DEBUG("reconcile: map %" PRId64 ", %zu ranges, %zu live nodes, %zu to change", map->version,
              n, map->n_nodes, changed);
    rc = changed || zkv_opsrun_count(ops) ? write_changes(c, map, next, changed, positions, ops)
                                          : ZOK;
done:
    free(positions);
    free(cur);
    free(next);
    free(live);
    free(x.excluded);
    free(x.grace);
    free(x.stale);
    zkv_rangemap_free(map);
    zkv_opsrun_free(ops);
    return rc;
}
