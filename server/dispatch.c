/* dispatch.c: request -> response (see dispatch.h). Order of checks for a keyed request:
 * hello, key/value limits, map loaded, routing (owner / other owner / no owner), then the
 * store. Messages name the limit or the range so an operator can act on them. Replication
 * requests (RANGE_STATUS, APPEND, SNAPSHOT) go to replica.c; reads with FLAG_ALLOW_STALE
 * are answered by a recovery replica of the range, flagged stale with its position. */
#include "dispatch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/hello.h"
#include "common/keyrange.h"
#include "common/util.h"
#include "readvis.h"
#include "condition.h"
#include "dedupe.h"
#include "ownerclock.h"
#include "replica.h"

typedef unsigned long long ull;

void zkv_reply_init(zkv_reply *r)
{
    memset(r, 0, sizeof(*r));
    zkv__response__init(&r->resp);
    zkv_buf_init(&r->scan_data);
}

void zkv_reply_reset(zkv_reply *r)
{
    zkv_store_value_release(&r->value);
    r->range = NULL;
    r->wait_seq = 0;
    r->moving = false;
    r->scan_data.len = r->scan_data.off = 0;
    free(r->info);
    r->info = NULL;
    zkv__response__init(&r->resp);
    r->message[0] = '\0';
}

void zkv_reply_free(zkv_reply *r)
{
    zkv_reply_reset(r);
    zkv_buf_free(&r->scan_data);
    free(r->items);
    free(r->item_ptrs);
    free(r->item_offs);
    r->items = NULL;
    r->item_ptrs = NULL;
    r->item_offs = NULL;
    r->items_cap = 0;
}

static uint64_t map_version(const zkv_dispatch_env *env)
{
    return env->map && env->map->version > 0 ? (uint64_t)env->map->version : 0;
}

static void vset_status(zkv_reply *r, Zkv__Status status, const char *fmt, va_list ap)
{
    r->resp.status = status;
    if (fmt) {
        vsnprintf(r->message, sizeof(r->message), fmt, ap);
        r->resp.message = r->message;
    }
}

static void set_status(zkv_reply *r, Zkv__Status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_status(zkv_reply *r, Zkv__Status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset_status(r, status, fmt, ap);
    va_end(ap);
}

void zkv_reply_status(zkv_reply *r, Zkv__Status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset_status(r, status, fmt, ap);
    va_end(ap);
}

Zkv__ReplicaStatus *zkv_reply_add_replica(zkv_reply *r, const char *node_id)
{
    size_t i = r->resp.n_replicas;
    if (i >= ZKV_MAX_REPLICAS)
        return NULL;
    Zkv__ReplicaStatus *st = &r->rstat[i];
    zkv__replica_status__init(st);
    snprintf(r->rstat_ids[i], sizeof(r->rstat_ids[i]), "%s", node_id ? node_id : "");
    st->node_id = r->rstat_ids[i];
    r->rstat_ptrs[i] = st;
    r->resp.replicas = r->rstat_ptrs;
    r->resp.n_replicas = i + 1;
    return st;
}

const zkv_range *zkv_dispatch_find_range(const zkv_rangemap *map, const char *range_id)
{
    if (!map || !range_id)
        return NULL;
    for (size_t i = 0; i < map->n_ranges; i++)
        if (strcmp(map->ranges[i].id, range_id) == 0)
            return &map->ranges[i];
    return NULL;
}

void zkv_dispatch_error(const zkv_dispatch_env *env, zkv_reply *r, uint64_t id, Zkv__Status status,
                        const char *fmt, ...)
{
    zkv_reply_reset(r);
    r->resp.id = id;
    r->resp.map_version = map_version(env);
    va_list ap;
    va_start(ap, fmt);
    vset_status(r, status, fmt, ap);
    va_end(ap);
}

zkv_route zkv_dispatch_route(const zkv_rangemap *map, const char *node_id, const uint8_t *key,
                             size_t klen, const zkv_range **range)
{
    *range = NULL;
    if (!map)
        return ZKV_ROUTE_NOT_READY;
    const zkv_range *rg = zkv_rangemap_find(map, key, klen);
    if (!rg)
        return ZKV_ROUTE_NOT_READY;
    *range = rg;
    if (rg->owner[0] == '\0')
        return ZKV_ROUTE_NO_OWNER;
    if (strcmp(rg->owner, node_id) != 0)
        return ZKV_ROUTE_NOT_OWNER;
    return ZKV_ROUTE_SERVE;
}

/* Answers a routing refusal for route rt (of *range); returns true when the request may
 * be served. Split from route_ok so a read routes its key once (read_route_ok). */
static bool route_answer(const zkv_dispatch_env *env, zkv_route rt, const zkv_range **range,
                         zkv_reply *r)
{
    switch (rt) {
    case ZKV_ROUTE_SERVE:
        if (!env->fenced) {
            if (!zkv_store_range_snapshot_epoch(env->store, (*range)->id))
                return true;
            set_status(r, ZKV__STATUS__UNAVAILABLE,
                       "range %s is being rebuilt from a snapshot on node %s", (*range)->id,
                       env->node_id);
            return false;
        }
        set_status(r, ZKV__STATUS__UNAVAILABLE,
                   "node %s is fenced: its ZooKeeper session is not confirmed, so it does not "
                   "serve range %s until it is",
                   env->node_id, (*range)->id);
        return false;
    case ZKV_ROUTE_NOT_OWNER:
        set_status(r, ZKV__STATUS__NOT_OWNER, "range %s is owned by %s", (*range)->id,
                   (*range)->owner);
        return false;
    case ZKV_ROUTE_NO_OWNER:
        set_status(r, ZKV__STATUS__UNAVAILABLE, "range %s has no owner", (*range)->id);
        return false;
    case ZKV_ROUTE_NOT_READY:
    default:
        set_status(r, ZKV__STATUS__UNAVAILABLE, "node not ready: range map not loaded");
        return false;
    }
}

/* Answers a routing refusal; returns true when the request may be served. */
static bool route_ok(const zkv_dispatch_env *env, const uint8_t *key, size_t klen,
                     const zkv_range **range, zkv_reply *r)
{
    return route_answer(env, zkv_dispatch_route(env->map, env->node_id, key, klen, range), range,
                        r);
}

/* How far behind its owner this node's copy of rg may be (ownerclock.h), into r's answer. */
static void note_lag(const zkv_dispatch_env *env, const zkv_range *rg, zkv_reply *r)
{
    const zkv_range_state *st = zkv_store_range(env->store, rg->id);
    zkv_ownerclock_lag(env->clock, rg->id, st ? st->last_seq : 0, zkv_now_ms(), &r->resp.lag_ms,
                       &r->resp.lag_entries);
}

/* A replica read with a staleness bound (max_lag_ms, max_lag_entries) is refused with
 * TOO_STALE when this copy is further behind its owner; the client then asks the owner. */
static bool lag_ok(const zkv_dispatch_env *env, const Zkv__Request *req, const zkv_range *rg,
                   zkv_reply *r)
{
    if (!req->max_lag_ms && !req->max_lag_entries)
        return true;
    note_lag(env, rg, r);
    uint64_t ms = r->resp.lag_ms, entries = r->resp.lag_entries;
    if (zkv_lag_within(ms, entries, req->max_lag_ms, req->max_lag_entries))
        return true;
    if (ms == UINT64_MAX)
        set_status(r, ZKV__STATUS__TOO_STALE,
                   "replica %s of range %s has not held all its owner had since it started "
                   "(bound %llu ms, %llu entries)",
                   env->node_id, rg->id, (ull)req->max_lag_ms, (ull)req->max_lag_entries);
    else
        set_status(r, ZKV__STATUS__TOO_STALE,
                   "replica %s of range %s is %llu ms and %llu entries behind its owner (bound "
                   "%llu ms, %llu entries)",
                   env->node_id, rg->id, (ull)ms, (ull)entries, (ull)req->max_lag_ms,
                   (ull)req->max_lag_entries);
    return false;
}

/* Routing of a read: the owner's rules, and with FLAG_ALLOW_STALE a recovery replica of the
 * range answers from its own data (*stale set). A fenced owner never answers. */
static bool read_route_ok(const zkv_dispatch_env *env, const Zkv__Request *req, const uint8_t *key,
                          size_t klen, const zkv_range **range, zkv_reply *r, bool *stale)
{
    *stale = false;
    zkv_route rt = zkv_dispatch_route(env->map, env->node_id, key, klen, range);
    if (rt == ZKV_ROUTE_SERVE || rt == ZKV_ROUTE_NOT_READY ||
        !(req->flags & ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE) ||
        !zkv_range_is_replica(*range, env->node_id))
        return route_answer(env, rt, range, r);
    if (zkv_store_range_snapshot_epoch(env->store, (*range)->id)) {
        set_status(r, ZKV__STATUS__UNAVAILABLE,
                   "range %s is being rebuilt from a snapshot on replica %s", (*range)->id,
                   env->node_id);
        return false;
    }
    *stale = true;
    return lag_ok(env, req, *range, r);
}

/* rg's read visibility (readvis.h) through the shipper's table, else its hook; NULL when
 * the node has none for it. */
static zkv_readvis *lookup_vis(const zkv_dispatch_env *env, const zkv_range *rg)
{
    size_t i = (size_t)(rg - env->map->ranges); /* rg is one of env->map's ranges */
    if (env->vis_by_map && i < env->n_vis_by_map && env->vis_by_map[i] &&
        !env->vis_by_map[i]->stale)
        return env->vis_by_map[i];
    return env->read_vis(env->hook_ctx, rg);
}

/* The read-visibility state of an owner read of rg (readvis.h), in *vis (NULL without the
 * hook: every committed write is visible). Returns false, with the reply set, when the
 * owner cannot tell what its reads may see yet. */
static bool read_vis(const zkv_dispatch_env *env, const zkv_range *rg, zkv_readvis **vis,
                     zkv_reply *r)
{
    *vis = NULL;
    if (!env->read_vis)
        return true;
    *vis = lookup_vis(env, rg);
    if (*vis)
        return true;
    set_status(r, ZKV__STATUS__UNAVAILABLE,
               "range %s: node %s has no replication state for it yet; read again", rg->id,
               env->node_id);
    return false;
}

/* An owner read whose answer reflects writes up to a seq past the commit point: the answer
 * waits for it (conn.c holds it, acks.h). */
static void read_waits(const zkv_range *rg, uint64_t wait_seq, zkv_reply *r)
{
    if (!wait_seq)
        return;
    r->range = rg;
    r->wait_seq = wait_seq;
}

/* Whether rg is being passed to another owner and this request must wait for that (reads
 * only while ownership itself is being written): then r says so (conn.c holds it). */
static bool moving(const zkv_dispatch_env *env, const zkv_range *rg, bool write, zkv_reply *r)
{
    if (!env->move_gate)
        return false;
    int g = env->move_gate(env->move_ctx, rg);
    if (g == 0 || (g == 1 && !write))
        return false;
    r->moving = true;
    r->range = rg;
    set_status(r, ZKV__STATUS__NOT_OWNER, "range %s is moving to another owner", rg->id);
    return true;
}

/* A replica read answers with the position its data reflects. */
static void mark_stale(const zkv_dispatch_env *env, const zkv_range *rg, zkv_reply *r)
{
    r->resp.stale = true;
    note_lag(env, rg, r);
    const zkv_range_state *st = zkv_store_range(env->store, rg->id);
    if (st) {
        r->resp.range_epoch = st->committed_epoch;
        r->resp.range_seq = st->committed_seq;
    }
}

static bool key_ok(const zkv_dispatch_env *env, const char *what, size_t klen, zkv_reply *r)
{
    if (klen <= env->max_key)
        return true;
    set_status(r, ZKV__STATUS__TOO_LARGE, "%s of %zu bytes exceeds the limit of %zu bytes", what,
               klen, env->max_key);
    return false;
}

static void store_error(zkv_reply *r, int rc, const char *err)
{
    if (rc == ZKV_STORE_STALE_EPOCH || rc == ZKV_STORE_INCOMPLETE)
        set_status(r, ZKV__STATUS__UNAVAILABLE, "%s", err);
    else
        set_status(r, ZKV__STATUS__INTERNAL, "storage error: %s", err);
}

static zkv_dispatch_result do_hello(const zkv_dispatch_env *env, zkv_session *sess,
                                    const Zkv__Request *req, zkv_reply *r)
{
    if (!env->cluster_id || env->cluster_id[0] == '\0') {
        set_status(r, ZKV__STATUS__UNAVAILABLE, "node not ready: cluster %s not joined yet",
                   env->cluster_name ? env->cluster_name : "?");
        return ZKV_DISPATCH_REPLY;
    }
    char why[160];
    bool as_node = false;
    Zkv__Status st =
        zkv_hello_admit(req, env->cluster_id, env->auth, sess->cert_cn[0] ? sess->cert_cn : NULL,
                        &as_node, why, sizeof(why));
    if (st != ZKV__STATUS__OK) {
        set_status(r, st, "node %s: %s", env->node_id, why);
        sess->hello_done = false;
        return ZKV_DISPATCH_CLOSE;
    }
    const char *peer = as_node && req->node_id ? req->node_id : "";
    if (strlen(peer) >= sizeof(sess->peer_node)) {
        set_status(r, ZKV__STATUS__BAD_REQUEST, "node id of %zu bytes is too long", strlen(peer));
        sess->hello_done = false;
        return ZKV_DISPATCH_CLOSE;
    }
    memcpy(sess->peer_node, peer, strlen(peer) + 1);
    sess->hello_done = true;
    r->resp.status = ZKV__STATUS__OK;
    r->resp.node_id = (char *)env->node_id;
    r->resp.cluster_id = (char *)env->cluster_id;
    return ZKV_DISPATCH_REPLY;
}

/* --- expiry (docs/api.md, "Expiry") ----------------------------------------------------- */

static bool takes_writes(const zkv_dispatch_env *env, const zkv_range *rg, zkv_reply *r);

/* What time it is for judging the expiry of rg's keys: the owner's wall clock; on a
 * replica (stale) the owner's clock as its APPENDs said it (ownerclock.h). */
static uint64_t expiry_now(const zkv_dispatch_env *env, const zkv_range *rg, bool stale)
{
    uint64_t now = zkv_wall_ms();
    if (stale && env->clock)
        zkv_ownerclock_now(env->clock, rg->id, zkv_now_ms(), &now);
    return now;
}

static bool expired(const zkv_value_meta *m, uint64_t now)
{
    return m->expiry_ms && m->expiry_ms <= now;
}

/* The owner found key expired: stages its delete, so that no copy shows it again after a
 * failover (the answer that hides it waits until that delete is committed). Returns the
 * delete's seq, or 0 with r set when the range cannot take a write now. */
static uint64_t purge(const zkv_dispatch_env *env, const zkv_range *rg, const uint8_t *key,
                      size_t klen, zkv_reply *r)
{
    if (moving(env, rg, true, r) || !takes_writes(env, rg, r))
        return 0;
    zkv_value_meta m;
    char err[256];
    int rc = zkv_store_write(env->store, rg->id, rg->epoch, ZKV_LOG_OP_DELETE, NULL, key, klen,
                             NULL, 0, 0, &m, err, sizeof(err));
    if (rc != 0) {
        store_error(r, rc, err);
        return 0;
    }
    if (env->read_vis) {
        zkv_readvis *vis = lookup_vis(env, rg);
        if (vis)
            zkv_readvis_note_delete(vis, key, klen, m.seq);
    }
    return m.seq;
}

bool zkv_dispatch_purge_expired(const zkv_dispatch_env *env, const uint8_t *key, size_t klen,
                                zkv_reply *r)
{
    const zkv_range *rg = NULL;
    if (zkv_dispatch_route(env->map, env->node_id, key, klen, &rg) != ZKV_ROUTE_SERVE ||
        env->fenced)
        return false;
    zkv_store_value v;
    char err[256];
    int rc = zkv_store_get(env->store, key, klen, &v, err, sizeof(err));
    if (rc != 1)
        return false;
    bool gone = expired(&v.view.meta, expiry_now(env, rg, false));
    zkv_store_value_release(&v);
    zkv_reply_reset(r);
    return gone && purge(env, rg, key, klen, r) != 0;
}

/* The key as the owner has it for a condition or a rewrite: *v found (1), or 0 (missing,
 * or expired: then purged, *purge_seq its delete), or <0 with r set. The caller releases v
 * when 1 is returned. */
static int owner_key(const zkv_dispatch_env *env, const zkv_range *rg, const uint8_t *key,
                     size_t klen, zkv_store_value *v, uint64_t *purge_seq, zkv_reply *r)
{
    char err[256];
    *purge_seq = 0;
    int rc = zkv_store_get(env->store, key, klen, v, err, sizeof(err));
    if (rc < 0) {
        store_error(r, rc, err);
        return rc;
    }
    if (rc == 1 && expired(&v->view.meta, expiry_now(env, rg, false))) {
        zkv_store_value_release(v);
        *purge_seq = purge(env, rg, key, klen, r);
        return *purge_seq ? 0 : -1;
    }
    return rc;
}

static void do_get(const zkv_dispatch_env *env, const Zkv__Request *req, zkv_reply *r)
{
    const zkv_range *rg;
    bool stale;
    if (!key_ok(env, "key", req->key.len, r) ||
        !read_route_ok(env, req, req->key.data, req->key.len, &rg, r, &stale) ||
        (!stale && moving(env, rg, false, r)))
        return;
    char err[256];
    int rc = zkv_store_get(env->store, req->key.data, req->key.len, &r->value, err, sizeof(err));
    if (rc < 0) {
        store_error(r, rc, err);
        return;
    }
    uint64_t now = expiry_now(env, rg, stale), purged = 0;
    if (rc == 1 && expired(&r->value.view.meta, now)) {
        zkv_store_value_release(&r->value);
        rc = 0; /* expired: invisible at once; the owner deletes it first (purge) */
        if (!stale && !(purged = purge(env, rg, req->key.data, req->key.len, r)))
            return;
    }
    if (stale) {
        mark_stale(env, rg, r);
    } else if (purged) {
        read_waits(rg, purged, r); /* not found once the delete is committed */
    } else {
        zkv_readvis *vis;
        if (!read_vis(env, rg, &vis, r))
            return;
        if (vis)
            read_waits(rg,
                       zkv_readvis_get_wait(vis, rc == 1, rc == 1 ? r->value.view.meta.seq : 0,
                                            req->key.data, req->key.len),
                       r);
    }
    if (rc == 0) {
        r->resp.status = ZKV__STATUS__NOT_FOUND;
        return;
    }
    r->resp.status = ZKV__STATUS__OK;
    r->resp.value.data = (uint8_t *)r->value.view.value;
    r->resp.value.len = r->value.view.value_len;
    r->resp.epoch = r->value.view.meta.epoch;
    r->resp.seq = r->value.view.meta.seq;
    if (r->value.view.meta.expiry_ms)
        r->resp.ttl_ms = r->value.view.meta.expiry_ms - now;
}

/* Key as a condition sees it (owner_key: an expired key purged and absent), into *key.
 * false with r set on a failure. */
static bool cond_key(const zkv_dispatch_env *env, const zkv_range *rg, const uint8_t *k,
                     size_t klen, zkv_cond_key *key, uint64_t *purged, zkv_reply *r)
{
    zkv_store_value v;
    int rc = owner_key(env, rg, k, klen, &v, purged, r);
    if (rc < 0)
        return false;
    *key = (zkv_cond_key){.found = rc == 1,
                          .epoch = rc == 1 ? v.view.meta.epoch : 0,
                          .seq = rc == 1 ? v.view.meta.seq : 0};
    if (rc == 1)
        zkv_store_value_release(&v);
    return true;
}

/* A conditional write (req->condition): false when r is answered already: the request was
 * applied before (a retry: its version, OK), the condition does not hold (CONDITION_FAILED
 * with the key's version, once that version is committed), or the store failed. True: go
 * on and write. */
static bool conditional(const zkv_dispatch_env *env, const Zkv__Request *req, const zkv_range *rg,
                        zkv_reply *r)
{
    zkv_dedupe_hit hit;
    if (req->client_id && zkv_dedupe_find(env->dedupe, req->client_id, req->client_seq, &hit)) {
        r->resp.status = ZKV__STATUS__OK;
        r->resp.epoch = hit.epoch;
        r->resp.seq = hit.seq;
        /* Answered once that write is committed, as a read of it would be: it may come
         * from an earlier owner's epoch (a failover since), so not by this epoch's acks. */
        r->range = rg;
        r->wait_seq = hit.seq;
        return false;
    }
    zkv_cond_key key;
    uint64_t purged;
    if (!cond_key(env, rg, req->key.data, req->key.len, &key, &purged, r))
        return false;
    if (zkv_cond_holds(req->condition, req->if_epoch, req->if_seq, &key))
        return true;
    if (key.found)
        set_status(r, ZKV__STATUS__CONDITION_FAILED,
                   "condition failed: the key's version is %llu:%llu",
                   (unsigned long long)key.epoch, (unsigned long long)key.seq);
    else
        set_status(r, ZKV__STATUS__CONDITION_FAILED, "condition failed: the key does not exist");
    r->resp.epoch = key.epoch;
    r->resp.seq = key.seq;
    zkv_readvis *vis = env->read_vis ? lookup_vis(env, rg) : NULL;
    uint64_t wait =
        vis ? zkv_readvis_get_wait(vis, key.found, key.seq, req->key.data, req->key.len) : 0;
    /* what it says of the key must be committed, as a read's answer (an expired key: its
     * delete) */
    read_waits(rg, purged > wait ? purged : wait, r);
    return false;
}

/* Whether rg, routed here, takes a write now: its map epoch is not older than one seen
 * here, and the replication gate (--min-in-sync) lets it. Otherwise r says why. */
static bool takes_writes(const zkv_dispatch_env *env, const zkv_range *rg, zkv_reply *r)
{
    uint64_t min_epoch = zkv_store_range_min_epoch(env->store, rg->id);
    if (rg->epoch < min_epoch) {
        set_status(r, ZKV__STATUS__UNAVAILABLE,
                   "range %s: epoch %llu in map version %lld is older than epoch %llu seen here",
                   rg->id, (unsigned long long)rg->epoch, (long long)map_version(env),
                   (unsigned long long)min_epoch);
        return false;
    }
    if (env->write_gate) {
        char msg[256] = "";
        if (env->write_gate(env->hook_ctx, rg, msg, sizeof(msg)) != 0) {
            set_status(r, ZKV__STATUS__UNAVAILABLE, "%s",
                       msg[0] ? msg : "range is not accepting writes");
            return false;
        }
    }
    return true;
}

static void do_write(const zkv_dispatch_env *env, const Zkv__Request *req, zkv_reply *r)
{
    const zkv_range *rg;
    if (!key_ok(env, "key", req->key.len, r))
        return;
    if (req->op == ZKV__OP__PUT && req->value.len > env->max_value) {
        set_status(r, ZKV__STATUS__TOO_LARGE,
                   "value of %zu bytes exceeds the limit of %zu bytes (--max-value)",
                   req->value.len, env->max_value);
        return;
    }
    if (!route_ok(env, req->key.data, req->key.len, &rg, r) || moving(env, rg, true, r) ||
        !takes_writes(env, rg, r))
        return;
    if (req->condition != ZKV__CONDITION__COND_NONE && !conditional(env, req, rg, r))
        return;
    char err[256];
    zkv_value_meta m;
    bool cond = req->condition != ZKV__CONDITION__COND_NONE;
    zkv_write_tag tag = {cond ? req->client_id : 0, cond ? req->client_seq : 0, 0};
    bool put = req->op == ZKV__OP__PUT;
    uint64_t expiry = put && req->ttl_ms ? zkv_wall_ms() + req->ttl_ms : 0;
    int rc =
        zkv_store_write(env->store, rg->id, rg->epoch, put ? ZKV_LOG_OP_PUT : ZKV_LOG_OP_DELETE,
                        &tag, req->key.data, req->key.len, put ? req->value.data : NULL,
                        put ? req->value.len : 0, expiry, &m, err, sizeof(err));
    if (rc != 0) {
        store_error(r, rc, err);
        return;
    }
    if (tag.client_id)
        zkv_dedupe_note(env->dedupe, tag.client_id, tag.client_seq, rg->id, m.epoch, m.seq,
                        zkv_now_ms());
    if (req->op == ZKV__OP__DELETE && env->read_vis) {
        zkv_readvis *vis = lookup_vis(env, rg);
        if (vis)
            zkv_readvis_note_delete(vis, req->key.data, req->key.len, m.seq);
    }
    r->resp.status = ZKV__STATUS__OK;
    r->resp.epoch = m.epoch;
    r->resp.seq = m.seq;
    r->range = rg;
}

/* EXPIRE: the key's expiry set anew from now (ttl_ms 0: none), by rewriting its value; a
 * missing (or expired) key is NOT_FOUND. */
static void do_expire(const zkv_dispatch_env *env, const Zkv__Request *req, zkv_reply *r)
{
    const zkv_range *rg;
    if (!key_ok(env, "key", req->key.len, r) ||
        !route_ok(env, req->key.data, req->key.len, &rg, r) || moving(env, rg, true, r) ||
        !takes_writes(env, rg, r))
        return;
    zkv_store_value v;
    uint64_t purged;
    int rc = owner_key(env, rg, req->key.data, req->key.len, &v, &purged, r);
    if (rc < 0)
        return;
    if (rc == 0) {
        r->resp.status = ZKV__STATUS__NOT_FOUND;
        read_waits(rg, purged, r);
        return;
    }
    zkv_value_meta m;
    char err[256];
    uint64_t expiry = req->ttl_ms ? zkv_wall_ms() + req->ttl_ms : 0;
    rc =
        zkv_store_write(env->store, rg->id, rg->epoch, ZKV_LOG_OP_PUT, NULL, req->key.data,
                        req->key.len, v.view.value, v.view.value_len, expiry, &m, err, sizeof(err));
    zkv_store_value_release(&v);
    if (rc != 0) {
        store_error(r, rc, err);
        return;
    }
    r->resp.status = ZKV__STATUS__OK; /* held for its acks, as a PUT's */
    r->resp.epoch = m.epoch;
    r->resp.seq = m.seq;
    r->range = rg;
}

typedef struct scan_ctx {
    zkv_reply *r;
    size_t limit;
    size_t n;
    size_t bytes;
    bool oom;
    bool have_next;
    size_t next_off, next_len;
    uint64_t max_seq; /* of the items taken */
    bool keys_only;   /* items without their values */
    uint64_t now;     /* expiry: items expired by then are left out */
    bool purge;       /* ...and, on the owner, noted in expired to be purged */
    zkv_buf *expired; /* expired keys: u32 length, bytes */
    size_t n_expired;
} scan_ctx;

#define SCAN_PURGE_MAX 256u /* expired keys a scan page purges (the expirer does the rest) */

static int grow_items(zkv_reply *r, size_t need)
{
    if (need <= r->items_cap)
        return 0;
    size_t ncap = r->items_cap ? r->items_cap : 64;
    while (ncap < need)
        ncap *= 2;
    Zkv__KeyValue *items = realloc(r->items, ncap * sizeof(*items));
    if (!items)
        return -1;
    r->items = items;
    Zkv__KeyValue **ptrs = realloc(r->item_ptrs, ncap * sizeof(*ptrs));
    if (!ptrs)
        return -1;
    r->item_ptrs = ptrs;
    size_t *offs = realloc(r->item_offs, 2 * ncap * sizeof(*offs));
    if (!offs)
        return -1;
    r->item_offs = offs;
    r->items_cap = ncap;
    return 0;
}

/* --- MULTI_WRITE: an atomic batch of one range ------------------------------------------ */

/* Sets r's items to n entries (versions filled by the caller). false out of memory. */
static bool multi_items(zkv_reply *r, size_t n)
{
    if (grow_items(r, n) != 0) {
        set_status(r, ZKV__STATUS__INTERNAL, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        zkv__key_value__init(&r->items[i]);
        r->item_ptrs[i] = &r->items[i];
    }
    r->resp.n_items = n;
    r->resp.items = r->item_ptrs;
    return true;
}

/* The writes' shape: 1..ZKV_MULTI_MAX_WRITES puts and deletes of valid keys and values, at
 * most max_key + max_value bytes with their overhead (so the batch's APPEND fits a frame). */
static bool multi_shape_ok(const zkv_dispatch_env *env, const Zkv__Request *req, zkv_reply *r)
{
    if (req->n_writes == 0 || req->n_writes > ZKV_MULTI_MAX_WRITES) {
        set_status(r, ZKV__STATUS__BAD_REQUEST, "an atomic batch has 1 to %u writes, not %zu",
                   ZKV_MULTI_MAX_WRITES, req->n_writes);
        return false;
    }
    size_t bytes = 0;
    for (size_t i = 0; i < req->n_writes; i++) {
        const Zkv__WriteOp *w = req->writes[i];
        if (w->op != ZKV__OP__PUT && w->op != ZKV__OP__DELETE) {
            set_status(r, ZKV__STATUS__BAD_REQUEST,
                       "write %zu of the batch is neither PUT nor DELETE", i);
            return false;
        }
        if (!key_ok(env, "key", w->key.len, r))
            return false;
        if (w->op == ZKV__OP__PUT && w->value.len > env->max_value) {
            set_status(r, ZKV__STATUS__TOO_LARGE,
                       "value of %zu bytes exceeds the limit of %zu bytes (--max-value)",
                       w->value.len, env->max_value);
            return false;
        }
        bytes += w->key.len + w->value.len + ZKV_MULTI_WRITE_COST;
    }
    if (bytes > env->max_key + env->max_value) {
        set_status(r, ZKV__STATUS__TOO_LARGE,
                   "an atomic batch carries at most %zu bytes (keys, values and %u per write), "
                   "not %zu",
                   env->max_key + env->max_value, ZKV_MULTI_WRITE_COST, bytes);
        return false;
    }
    return true;
}

/* Every key in rg (routed from the first), else BAD_REQUEST naming the ranges. */
static bool multi_one_range(const zkv_dispatch_env *env, const Zkv__Request *req,
                            const zkv_range *rg, zkv_reply *r)
{
    for (size_t i = 1; i < req->n_writes; i++) {
        const Zkv__WriteOp *w = req->writes[i];
        if (zkv_range_contains(rg->start, rg->start_len, rg->end, rg->end_len, w->key.data,
                               w->key.len))
            continue;
        const zkv_range *other = zkv_rangemap_find(env->map, w->key.data, w->key.len);
        set_status(r, ZKV__STATUS__BAD_REQUEST,
                   "the keys of an atomic batch must be in one range: ranges %s and %s", rg->id,
                   other ? other->id : "?");
        return false;
    }
    return true;
}

/* The conditions, against the keys as the owner has them: true when all hold; else r is
 * CONDITION_FAILED with each write's key version and the failed ones marked (answered once
 * what it reports is committed), or a store error. */
static bool multi_conditions(const zkv_dispatch_env *env, const Zkv__Request *req,
                             const zkv_range *rg, zkv_reply *r)
{
    bool failed = false;
    uint64_t wait = 0;
    zkv_readvis *vis = env->read_vis ? lookup_vis(env, rg) : NULL;
    if (!multi_items(r, req->n_writes))
        return false;
    for (size_t i = 0; i < req->n_writes; i++) {
        const Zkv__WriteOp *w = req->writes[i];
        if (w->condition == ZKV__CONDITION__COND_NONE)
            continue;
        zkv_cond_key key;
        uint64_t purged;
        if (!cond_key(env, rg, w->key.data, w->key.len, &key, &purged, r))
            return false;
        if (purged > wait)
            wait = purged;
        r->items[i].epoch = key.epoch;
        r->items[i].seq = key.seq;
        if (zkv_cond_holds(w->condition, w->if_epoch, w->if_seq, &key))
            continue;
        r->items[i].failed = true;
        failed = true;
        uint64_t need =
            vis ? zkv_readvis_get_wait(vis, key.found, key.seq, w->key.data, w->key.len) : 0;
        if (need > wait)
            wait = need;
    }
    if (!failed)
        return true;
    set_status(r, ZKV__STATUS__CONDITION_FAILED,
               "condition failed: nothing of the batch was written (the failed writes are "
               "marked, with their keys' versions)");
    read_waits(rg, wait, r);
    return false;
}

/* The answer to a batch applied at (epoch, first..first + n - 1): every write's version. */
static void multi_applied(zkv_reply *r, const zkv_range *rg, size_t n, uint64_t epoch,
                          uint64_t first)
{
    if (!multi_items(r, n))
        return;
    for (size_t i = 0; i < n; i++) {
        r->items[i].epoch = epoch;
        r->items[i].seq = first + i;
    }
    r->resp.status = ZKV__STATUS__OK;
    r->resp.epoch = epoch;
    r->resp.seq = first + n - 1;
    r->range = rg;
}

static void do_multi(const zkv_dispatch_env *env, const Zkv__Request *req, zkv_reply *r)
{
    const zkv_range *rg;
    if (!multi_shape_ok(env, req, r) ||
        !route_ok(env, req->writes[0]->key.data, req->writes[0]->key.len, &rg, r) ||
        !multi_one_range(env, req, rg, r) || moving(env, rg, true, r) || !takes_writes(env, rg, r))
        return;
    size_t n = req->n_writes;
    zkv_dedupe_hit hit;
    if (req->client_id && zkv_dedupe_find(env->dedupe, req->client_id, req->client_seq, &hit)) {
        /* applied before (a retry): its versions, once committed (as conditional()) */
        multi_applied(r, rg, n, hit.epoch, hit.seq + 1 - n);
        r->wait_seq = hit.seq;
        return;
    }
    if (!multi_conditions(env, req, rg, r))
        return;
    const zkv_range_state *st = zkv_store_range(env->store, rg->id);
    uint64_t first = (st ? st->last_seq : 0) + 1;
    zkv_value_meta m = {0};
    char err[256];
    for (size_t i = 0; i < n; i++) {
        const Zkv__WriteOp *w = req->writes[i];
        bool last = i + 1 == n, put = w->op == ZKV__OP__PUT;
        /* every entry knows where the batch ends; the last one carries the request */
        zkv_write_tag tag = {last ? req->client_id : 0, last ? req->client_seq : 0, first + n - 1};
        int rc =
            zkv_store_write(env->store, rg->id, rg->epoch, put ? ZKV_LOG_OP_PUT : ZKV_LOG_OP_DELETE,
                            &tag, w->key.data, w->key.len, put ? w->value.data : NULL,
                            put ? w->value.len : 0, 0, &m, err, sizeof(err));
        if (rc != 0) { /* part of the batch may be staged: the store fails the node */
            store_error(r, rc, err);
            return;
        }
        if (!put && env->read_vis) {
            zkv_readvis *vis = lookup_vis(env, rg);
            if (vis)
                zkv_readvis_note_delete(vis, w->key.data, w->key.len, m.seq);
        }
    }
    if (req->client_id)
        zkv_dedupe_note(env->dedupe, req->client_id, req->client_seq, rg->id, m.epoch, m.seq,
                        zkv_now_ms());
    multi_applied(r, rg, n, m.epoch, m.seq + 1 - n);
}

static int scan_item(void *vctx, const uint8_t *key, size_t klen, const zkv_value_view *full)
{
    scan_ctx *c = vctx;
    zkv_reply *r = c->r;
    if (expired(&full->meta, c->now)) {
        if (c->purge && c->n_expired < SCAN_PURGE_MAX) {
            uint32_t len = (uint32_t)klen;
            if (zkv_buf_append(c->expired, &len, sizeof len) != 0 ||
                zkv_buf_append(c->expired, key, klen) != 0)
                c->oom = true;
            c->n_expired++;
        }
        return c->oom ? 1 : 0; /* left out */
    }
    zkv_value_view keys_only = {.meta = full->meta, .value = NULL, .value_len = 0};
    const zkv_value_view *v = c->keys_only ? &keys_only : full;
    size_t cost = klen + v->value_len + 32;
    if (c->n >= c->limit || (c->n > 0 && c->bytes + cost > ZKV_SCAN_BYTE_BUDGET)) {
        c->next_off = r->scan_data.len;
        c->next_len = klen;
        if (zkv_buf_append(&r->scan_data, key, klen) != 0)
            c->oom = true;
        c->have_next = true;
        return 1;
    }
    if (grow_items(r, c->n + 1) != 0) {
        c->oom = true;
        return 1;
    }
    if (zkv_kv_item_stage(&r->items[c->n], &r->item_offs[2 * c->n], &r->scan_data, key, klen, v) !=
        0) {
        c->oom = true;
        return 1;
    }
    c->n++;
    c->bytes += cost;
    if (v->meta.seq > c->max_seq)
        c->max_seq = v->meta.seq;
    return 0;
}

/* A scan page's route: the range of its start key, or for a reverse scan the range of the
 * keys just below its upper bound (the end key). */
static bool scan_route(const zkv_dispatch_env *env, const Zkv__Request *req, const zkv_range **rg,
                       zkv_reply *r, bool *stale)
{
    const uint8_t *key = req->key.data;
    size_t klen = req->key.len;
    if (req->reverse && env->map) {
        const zkv_range *t =
            zkv_rangemap_find_before(env->map, req->end_key.data, req->end_key.len);
        if (t) {
            key = t->start;
            klen = t->start_len;
        }
    }
    return read_route_ok(env, req, key, klen, rg, r, stale);
}

static void do_scan(const zkv_dispatch_env *env, const Zkv__Request *req, zkv_reply *r)
{
    const zkv_range *rg;
    bool stale;
    if (!key_ok(env, "start key", req->key.len, r) ||
        !key_ok(env, "end key", req->end_key.len, r) || !scan_route(env, req, &rg, r, &stale) ||
        (!stale && moving(env, rg, false, r)))
        return;
    /* The page's interval: [start, end) within the range; an empty bound is infinite. A
     * forward page stops at the range end, a reverse one at the range start (clipped). */
    const uint8_t *start = req->key.data, *end = req->end_key.data;
    size_t slen = req->key.len, elen = req->end_key.len;
    bool clipped = false;
    if (!req->reverse && rg->end_len &&
        (elen == 0 || zkv_key_cmp(rg->end, rg->end_len, end, elen) < 0)) {
        end = rg->end;
        elen = rg->end_len;
        clipped = true;
    }
    if (req->reverse && rg->start_len && zkv_key_cmp(rg->start, rg->start_len, start, slen) > 0) {
        start = rg->start;
        slen = rg->start_len;
        clipped = true;
    }
    r->resp.status = ZKV__STATUS__OK;
    if (stale)
        mark_stale(env, rg, r);
    if (elen && zkv_end_cmp(end, elen, start, slen) <= 0)
        return; /* empty interval */
    zkv_buf expired_keys;
    zkv_buf_init(&expired_keys);
    scan_ctx c = {.r = r,
                  .limit = req->limit ? req->limit : ZKV_SCAN_DEFAULT_LIMIT,
                  .keys_only = req->keys_only,
                  .now = expiry_now(env, rg, stale),
                  .purge = !stale,
                  .expired = &expired_keys};
    if (c.limit > ZKV_SCAN_MAX_LIMIT)
        c.limit = ZKV_SCAN_MAX_LIMIT;
    char err[256];
    int rc = req->reverse ? zkv_store_scan_reverse(env->store, start, slen, end, elen, scan_item,
                                                   &c, err, sizeof(err))
                          : zkv_store_scan(env->store, start, slen, end, elen, scan_item, &c, err,
                                           sizeof(err));
    uint64_t purged = 0; /* the expired keys left out: deleted first (as a get does) */
    for (size_t at = 0; rc >= 0 && !c.oom && at < expired_keys.len;) {
        uint32_t len;
        memcpy(&len, expired_keys.data + at, sizeof len);
        uint64_t seq = purge(env, rg, expired_keys.data + at + sizeof len, len, r);
        if (!seq) {
            zkv_buf_free(&expired_keys);
            return; /* r says why */
        }
        purged = seq;
        at += sizeof len + len;
    }
    zkv_buf_free(&expired_keys);
    if (rc < 0) {
        store_error(r, rc, err);
        return;
    }
    if (c.oom) {
        set_status(r, ZKV__STATUS__INTERNAL, "out of memory building the scan page");
        return;
    }
    if (stale) {
        mark_stale(env, rg, r); /* the position after the scan's commit */
    } else {
        zkv_readvis *vis;
        if (!read_vis(env, rg, &vis, r))
            return;
        uint64_t wait = vis ? zkv_readvis_scan_wait(vis, c.max_seq) : 0;
        read_waits(rg, purged > wait ? purged : wait, r);
    }
    for (size_t i = 0; i < c.n; i++) {
        r->items[i].key.data = r->scan_data.data + r->item_offs[2 * i];
        r->items[i].value.data = r->scan_data.data + r->item_offs[2 * i + 1];
        r->item_ptrs[i] = &r->items[i];
    }
    r->resp.n_items = c.n;
    r->resp.items = c.n ? r->item_ptrs : NULL;
    if (c.have_next) {
        r->resp.more = true;
        if (req->reverse) { /* the next page: below the last key taken */
            r->resp.next_key = r->items[c.n - 1].key;
        } else {
            r->resp.next_key.data = r->scan_data.data + c.next_off;
            r->resp.next_key.len = c.next_len;
        }
    } else if (clipped) {
        r->resp.more = true;
        r->resp.next_key.data = (uint8_t *)(req->reverse ? rg->start : rg->end);
        r->resp.next_key.len = req->reverse ? rg->start_len : rg->end_len;
    }
}

zkv_dispatch_result zkv_dispatch(const zkv_dispatch_env *env, zkv_session *sess,
                                 const Zkv__Request *req, zkv_reply *r)
{
    zkv_reply_reset(r);
    r->resp.id = req->id;
    r->resp.map_version = map_version(env);
    zkv_dispatch_result res = ZKV_DISPATCH_REPLY;
    if (req->op == ZKV__OP__HELLO)
        return do_hello(env, sess, req, r);
    if (!sess->hello_done) {
        set_status(r, ZKV__STATUS__BAD_REQUEST, "hello required");
        return res;
    }
    switch ((int)req->op) {
    case ZKV__OP__PING:
        r->resp.status = ZKV__STATUS__OK;
        break;
    case ZKV__OP__INFO:
        r->info = env->info ? env->info(env->info_ctx) : NULL;
        if (r->info) {
            r->resp.status = ZKV__STATUS__OK;
            r->resp.info = r->info;
        } else {
            set_status(r, ZKV__STATUS__INTERNAL, "%s",
                       env->info ? "out of memory" : "this node does not answer INFO");
        }
        break;
    case ZKV__OP__GET:
        do_get(env, req, r);
        break;
    case ZKV__OP__PUT:
    case ZKV__OP__DELETE:
        do_write(env, req, r);
        break;
    case ZKV__OP__MULTI_WRITE:
        do_multi(env, req, r);
        break;
    case ZKV__OP__EXPIRE:
        do_expire(env, req, r);
        break;
    case ZKV__OP__SCAN:
        do_scan(env, req, r);
        break;
    case ZKV__OP__RANGE_STATUS:
        zkv_replica_range_status(env, sess, req, r);
        break;
    case ZKV__OP__APPEND:
        zkv_replica_append(env, sess, req, r);
        break;
    case ZKV__OP__SNAPSHOT:
        zkv_replica_snapshot(env, sess, req, r);
        break;
    default:
        set_status(r, ZKV__STATUS__BAD_REQUEST, "unknown op %d", (int)req->op);
        break;
    }
    return res;
}

int zkv_kv_item_stage(Zkv__KeyValue *kv, size_t offs[2], zkv_buf *data, const uint8_t *key,
                      size_t klen, const zkv_value_view *v)
{
    zkv__key_value__init(kv);
    kv->key.len = klen;
    kv->value.len = v->value_len;
    kv->epoch = v->meta.epoch;
    kv->seq = v->meta.seq;
    kv->expiry_ms = v->meta.expiry_ms;
    offs[0] = data->len;
    if (zkv_buf_append(data, key, klen) != 0)
        return -1;
    offs[1] = data->len;
    return zkv_buf_append(data, v->value, v->value_len) != 0 ? -1 : 0;
}
