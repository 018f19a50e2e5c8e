/* describe.c: zkv_describe, the cluster as one compact JSON document: the range map read
 * fresh from ZooKeeper (ranges, live nodes, with per-node counts of owned and replicated
 * ranges), and each range's log position and replica lag as its owner reports them
 * (RANGE_STATUS: one connection per owner, all its ranges pipelined, owners asked in
 * parallel, everything bounded by the client's request timeout). The REPL's "ranges"
 * and "nodes" tables are built from it, and scripts can use it as they would zkCli
 * output. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/keyrange.h"
#include "common/util.h"
#include "common/znode.h"
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

void zkv__range_status_from(zkv__range_status *st, const Zkv__Response *r)
{
    memset(st, 0, sizeof *st);
    if (!r || r->status != ZKV__STATUS__OK)
        return;
    st->answered = true;
    st->owner = r->owner;
    st->epoch = r->range_epoch;
    st->seq = r->range_seq;
    for (size_t i = 0; st->owner && i < r->n_replicas && st->n_replicas < ZKV_MAX_REPLICAS; i++) {
        const Zkv__ReplicaStatus *rs = r->replicas[i];
        if (!rs || !rs->node_id || !rs->node_id[0])
            continue;
        zkv__replica_status *d = &st->replicas[st->n_replicas++];
        snprintf(d->id, sizeof d->id, "%s", rs->node_id);
        d->acked_seq = rs->acked_seq;
        d->in_sync = rs->in_sync;
        d->connected = rs->connected;
        d->lag_ms = rs->lag_ms;
    }
}

/* "lag": {"node-2": {"seq_behind": N, "lag_ms": T, "connected": true}, ...} */
static bool add_lag(cJSON *o, const zkv__range_status *st)
{
    cJSON *lag = cJSON_AddObjectToObject(o, "lag");
    if (!lag)
        return false;
    for (size_t i = 0; i < st->n_replicas; i++) {
        const zkv__replica_status *rs = &st->replicas[i];
        uint64_t behind = st->seq > rs->acked_seq ? st->seq - rs->acked_seq : 0;
        cJSON *e = cJSON_AddObjectToObject(lag, rs->id);
        if (!e || !cJSON_AddNumberToObject(e, "seq_behind", (double)behind) ||
            !cJSON_AddNumberToObject(e, "lag_ms", (double)rs->lag_ms) ||
            !cJSON_AddBoolToObject(e, "connected", rs->connected))
            return false;
    }
    return true;
}

static cJSON *range_json(const zkv_range *r, const zkv__range_status *st)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "id", r->id) ||
        !add_key(o, "start", r->start, r->start_len) || !add_key(o, "end", r->end, r->end_len) ||
        !cJSON_AddStringToObject(o, "owner", r->owner) ||
        !add_ids(o, "replicas", r->replicas, r->n_replicas) ||
        !add_ids(o, "in_sync", r->in_sync, r->n_in_sync) ||
        !cJSON_AddNumberToObject(o, "epoch", (double)r->epoch) ||
        (st && st->answered && !cJSON_AddNumberToObject(o, "seq", (double)st->seq)) ||
        (st && st->answered && st->owner && !add_lag(o, st)) ||
        (st && st->has_stats && !cJSON_AddNumberToObject(o, "bytes", st->bytes)) ||
        (st && st->has_stats && !cJSON_AddNumberToObject(o, "writes_per_s", st->writes_per_s))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

typedef struct stats_ctx {
    zkv__range_status *status;
    const zkv_rangemap *m;
    const char *node;
} stats_ctx;

static void take_stats(void *vctx, const char *range_id, double bytes, double writes_per_s)
{
    stats_ctx *c = vctx;
    for (size_t i = 0; i < c->m->n_ranges; i++) {
        if (strcmp(c->m->ranges[i].id, range_id) != 0 ||
            strcmp(c->m->ranges[i].owner, c->node) != 0)
            continue;
        c->status[i].has_stats = true;
        c->status[i].bytes = bytes;
        c->status[i].writes_per_s = writes_per_s;
    }
}

void zkv__range_stats_from(zkv__range_status *status, const zkv_rangemap *m, const char *node,
                           const char *json, size_t len)
{
    stats_ctx c = {status, m, node};
    zkv_stats_parse(json, len, take_stats, &c);
}

/* Reads the owners' reports (stats/<node>) into status; a missing one is skipped. */
static void read_stats(zkv_client *c, const zkv_rangemap *m, zkv__range_status *status)
{
    char *buf = malloc(1u << 20);
    if (!buf)
        return;
    pthread_mutex_lock(&c->mc.zk_lock);
    for (size_t n = 0; c->mc.zh && n < m->n_nodes; n++) {
        char path[ZKV_PATH_MAX];
        int len = (1 << 20) - 1;
        if (zkv_path(path, sizeof path, c->opts.cluster, ZKV_PATH_STATS, m->nodes[n].id) != 0 ||
            zoo_get(c->mc.zh, path, 0, buf, &len, NULL) != ZOK || len < 0)
            continue;
        zkv__range_stats_from(status, m, m->nodes[n].id, buf, (size_t)len);
    }
    pthread_mutex_unlock(&c->mc.zk_lock);
    free(buf);
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

char *zkv__describe_json(const char *cluster, const zkv_cluster_info *info, const zkv_rangemap *m,
                         const zkv__range_status *status)
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
        cJSON *r = range_json(&m->ranges[i], status ? &status[i] : NULL);
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

/* --- RANGE_STATUS ------------------------------------------------------------------------ */

/* One owner's share: its ranges (indexes into the map), asked over one connection. */
typedef struct owner_job {
    zkv_client *c;
    const zkv_node_info *node;
    const zkv_rangemap *m;
    size_t *ranges;
    size_t n;
    zkv__range_status *status; /* the map's n_ranges entries; this job fills its own */
    uint64_t deadline_ms;
    pthread_t thread;
    bool started;
} owner_job;

static void *ask_owner(void *arg)
{
    owner_job *j = arg;
    Zkv__Request *reqs = calloc(j->n, sizeof *reqs);
    Zkv__Request **reqp = calloc(j->n, sizeof *reqp);
    Zkv__Response **resps = calloc(j->n, sizeof *resps);
    /* A connection of its own: the pooled one may be busy, and this one is short-lived. */
    zkv__conn *conn = zkv__conn_new(j->node->id, j->node->addr, j->c->tls);
    if (!reqs || !reqp || !resps || !conn)
        goto out;
    for (size_t k = 0; k < j->n; k++) {
        zkv__request__init(&reqs[k]);
        reqs[k].op = ZKV__OP__RANGE_STATUS;
        reqs[k].range_id = j->m->ranges[j->ranges[k]].id;
        reqs[k].map_version = j->m->version > 0 ? (uint64_t)j->m->version : 0;
        reqp[k] = &reqs[k];
    }
    zkv__hello h = {.cluster_id = j->c->info.cluster_id,
                    .client_name = j->c->opts.client_name,
                    .auth = j->c->opts.auth,
                    .map_version = reqs[0].map_version};
    char err[ZKV__ERR_MAX];
    uint64_t first = 0;
    int rc = zkv__conn_open(conn, &h, j->deadline_ms, err, sizeof err);
    if (rc == ZKV_OK)
        rc = zkv__conn_send(conn, reqp, j->n, &first, err, sizeof err);
    if (rc == ZKV_OK) /* on a timeout the answers that came stay in resps */
        zkv__conn_recv(conn, first, j->n, resps, j->deadline_ms, err, sizeof err);
    for (size_t k = 0; k < j->n; k++)
        zkv__range_status_from(&j->status[j->ranges[k]], resps[k]);
out:
    for (size_t k = 0; resps && k < j->n; k++)
        if (resps[k])
            zkv__response_free(resps[k]);
    zkv__conn_unref(conn);
    free(reqs);
    free(reqp);
    free(resps);
    return NULL;
}

/* Asks every live owner for the position and replica lag of its ranges, in parallel,
 * until the deadline. Ranges whose owner is absent or silent stay unanswered. */
static void ask_owners(zkv_client *c, const zkv_rangemap *m, zkv__range_status *status,
                       uint64_t deadline_ms)
{
    owner_job *jobs = calloc(m->n_nodes ? m->n_nodes : 1, sizeof *jobs);
    size_t *idx = calloc(m->n_ranges ? m->n_ranges : 1, sizeof *idx);
    if (!jobs || !idx)
        goto out;
    size_t used = 0, njobs = 0;
    for (size_t n = 0; n < m->n_nodes; n++) {
        const zkv_node_info *node = &m->nodes[n];
        if (!node->addr[0])
            continue;
        owner_job *j = &jobs[njobs];
        j->ranges = idx + used;
        for (size_t i = 0; i < m->n_ranges; i++)
            if (strcmp(m->ranges[i].owner, node->id) == 0)
                j->ranges[j->n++] = i;
        if (!j->n)
            continue;
        used += j->n;
        j->c = c;
        j->node = node;
        j->m = m;
        j->status = status;
        j->deadline_ms = deadline_ms;
        njobs++;
    }
    for (size_t k = 0; k < njobs; k++)
        jobs[k].started = pthread_create(&jobs[k].thread, NULL, ask_owner, &jobs[k]) == 0;
    for (size_t k = 0; k < njobs; k++) {
        if (jobs[k].started)
            pthread_join(jobs[k].thread, NULL);
        else
            ask_owner(&jobs[k]); /* no thread to spare: ask it from here */
    }
out:
    free(jobs);
    free(idx);
}

int zkv_describe(zkv_client *c, char **json)
{
    zkv__clear_error();
    if (!c || !json)
        return zkv__fail(ZKV_EINVAL, "NULL client or json");
    *json = NULL;
    uint64_t deadline = zkv_now_ms() + (uint64_t)c->opts.timeout_ms;
    char err[ZKV__ERR_MAX] = "";
    /* A forced reload by the map cache's refresher: fresh, and waited for only until the
     * deadline even when ZooKeeper hangs (its sync reads take no timeout). */
    int rc =
        zkv__mapcache_refresh(&c->mc, true, 0, atomic_load(&c->mc.gen), deadline, err, sizeof err);
    if (rc != ZKV_OK)
        return zkv__fail(rc, "%s", err);
    zkv__mapsnap *snap = zkv__mapcache_snapshot(&c->mc);
    const zkv_rangemap *m = snap->map;
    zkv__range_status *status = calloc(m->n_ranges ? m->n_ranges : 1, sizeof *status);
    if (status) {
        ask_owners(c, m, status, deadline);
        read_stats(c, m, status);
    }
    *json = status ? zkv__describe_json(c->opts.cluster, &c->info, m, status) : NULL;
    free(status);
    zkv__mapsnap_release(snap);
    if (!*json)
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    return ZKV_OK;
}
