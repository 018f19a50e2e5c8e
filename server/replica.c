/* replica.c: APPEND, SNAPSHOT and RANGE_STATUS on the receiving node (see replica.h).
 * Frames are checked whole before anything is staged, so a refused frame changes nothing. */
#include "replica.h"

#include "dedupe.h"
#include "ownerclock.h"

#include <stdio.h>
#include <string.h>
#include "common/keyrange.h"
#include "common/util.h"
#include "reshape.h"

typedef unsigned long long ull;

void zkv_replica_position(const zkv_store *s, const char *range_id, uint64_t *epoch, uint64_t *seq)
{
    *epoch = *seq = 0;
    const zkv_range_state *st = zkv_store_range(s, range_id);
    if (!st || zkv_store_range_snapshot_epoch(s, range_id))
        return;
    *epoch = st->epoch;
    *seq = st->last_seq;
}

static void answer_position(const zkv_dispatch_env *env, const Zkv__Request *req, zkv_reply *r)
{
    r->resp.range_id = req->range_id;
    zkv_replica_position(env->store, req->range_id, &r->resp.range_epoch, &r->resp.range_seq);
}

static const char *op_name(const Zkv__Request *req)
{
    return req->op == ZKV__OP__APPEND ? "APPEND" : "SNAPSHOT";
}

/* The acceptance rules; on refusal r holds the answer. */
static bool sender_ok(const zkv_dispatch_env *env, const zkv_session *sess, const Zkv__Request *req,
                      const zkv_range **rg, zkv_reply *r)
{
    if (sess->peer_node[0] == '\0') {
        zkv_reply_status(r, ZKV__STATUS__BAD_REQUEST,
                         "%s is for nodes: the connection's HELLO carried no node_id",
                         op_name(req));
        return false;
    }
    if (!env->map) {
        zkv_reply_status(r, ZKV__STATUS__UNAVAILABLE, "node not ready: range map not loaded");
        return false;
    }
    *rg = zkv_dispatch_find_range(env->map, req->range_id);
    if (!*rg) {
        zkv_reply_status(r, ZKV__STATUS__UNAVAILABLE, "range %s is not in map version %lld",
                         req->range_id, (long long)env->map->version);
        return false;
    }
    if (env->node_id && !zkv_reshape_holds(*rg, env->node_id)) {
        /* a node takes a range's data only while its map lists it there: what it no longer
         * holds may be being deleted (reclaim.h); a sender ahead of this map retries */
        zkv_reply_status(r, ZKV__STATUS__UNAVAILABLE,
                         "%s for range %s from %s: this node holds no copy of it in map "
                         "version %lld",
                         op_name(req), req->range_id, sess->peer_node,
                         (long long)env->map->version);
        return false;
    }
    /* a handoff this node made: the map it wrote names the sender owner at req->epoch */
    bool handed = req->epoch > (*rg)->epoch && env->handed_to &&
                  env->handed_to(env->move_ctx, req->range_id, req->epoch, sess->peer_node);
    if (req->epoch > (*rg)->epoch && !handed) {
        /* only the map says who owns a range at which epoch: traffic of a later epoch waits
         * until this node has that map (the sender retries), so a frame claiming an epoch
         * nobody holds changes nothing here */
        zkv_reply_status(r, ZKV__STATUS__UNAVAILABLE,
                         "%s for range %s at epoch %llu from %s: this node's map (version "
                         "%lld) is at epoch %llu; retry once it has the newer map",
                         op_name(req), req->range_id, (ull)req->epoch, sess->peer_node,
                         (long long)env->map->version, (ull)(*rg)->epoch);
        return false;
    }
    if (!handed && env->node_id && strcmp((*rg)->owner, env->node_id) == 0) {
        zkv_reply_status(r, ZKV__STATUS__BAD_REQUEST,
                         "%s for range %s from %s: this node owns the range at epoch %llu and "
                         "takes no replication for it",
                         op_name(req), req->range_id, sess->peer_node, (ull)(*rg)->epoch);
        return false;
    }
    if (req->epoch < (*rg)->epoch) {
        zkv_reply_status(r, ZKV__STATUS__STALE_EPOCH,
                         "%s for range %s at epoch %llu from %s: map version %lld has epoch "
                         "%llu (owner %s)",
                         op_name(req), req->range_id, (ull)req->epoch, sess->peer_node,
                         (long long)env->map->version, (ull)(*rg)->epoch,
                         (*rg)->owner[0] ? (*rg)->owner : "none");
        return false;
    }
    uint64_t stored = zkv_store_range_min_epoch(env->store, req->range_id);
    if (req->epoch < stored) {
        zkv_reply_status(r, ZKV__STATUS__STALE_EPOCH,
                         "%s for range %s at epoch %llu from %s: this node has epoch %llu",
                         op_name(req), req->range_id, (ull)req->epoch, sess->peer_node,
                         (ull)stored);
        return false;
    }
    if (req->epoch == (*rg)->epoch && strcmp((*rg)->owner, sess->peer_node) != 0) {
        zkv_reply_status(r, ZKV__STATUS__STALE_EPOCH,
                         "%s for range %s from %s, which is not its owner at epoch %llu (map "
                         "version %lld names %s)",
                         op_name(req), req->range_id, sess->peer_node, (ull)req->epoch,
                         (long long)env->map->version, (*rg)->owner[0] ? (*rg)->owner : "none");
        return false;
    }
    /* From now on older senders are refused, even before this epoch reaches the store. */
    if (zkv_store_range_note_epoch(env->store, req->range_id, req->epoch) != 0) {
        zkv_reply_status(r, ZKV__STATUS__INTERNAL, "out of memory");
        return false;
    }
    return true;
}

static bool range_id_ok(const Zkv__Request *req, zkv_reply *r)
{
    if (req->range_id && req->range_id[0] && strlen(req->range_id) < ZKV_ID_MAX)
        return true;
    zkv_reply_status(r, ZKV__STATUS__BAD_REQUEST, "missing or bad range_id");
    return false;
}

static void store_failure(zkv_reply *r, const char *what, const char *err)
{
    zkv_reply_status(r, ZKV__STATUS__INTERNAL, "storage error (%s): %s", what, err);
}

void zkv_replica_range_status(const zkv_dispatch_env *env, const zkv_session *sess,
                              const Zkv__Request *req, zkv_reply *r)
{
    if (!range_id_ok(req, r))
        return;
    const zkv_range *rg = zkv_dispatch_find_range(env->map, req->range_id);
    int64_t have = env->map ? env->map->version : 0;
    if (!rg && req->map_version > (uint64_t)(have > 0 ? have : 0)) {
        /* a range this node has not seen yet (just split or merged): its position here is
         * only known once the map that made it is installed (and the store forked) */
        zkv_reply_status(r, ZKV__STATUS__UNAVAILABLE,
                         "range %s is not in this node's map yet (version %lld, sender's %llu)",
                         req->range_id, (long long)have, (ull)req->map_version);
        return;
    }
    if (rg && req->epoch > rg->epoch &&
        !(env->handed_to &&
          env->handed_to(env->move_ctx, req->range_id, req->epoch, sess->peer_node))) {
        /* the owner's probe from a newer map: it streams once this node has that map */
        zkv_reply_status(r, ZKV__STATUS__UNAVAILABLE,
                         "range %s: this node's map (version %lld) is at epoch %llu, the "
                         "sender's at %llu",
                         req->range_id, (long long)have, (ull)rg->epoch, (ull)req->epoch);
        return;
    }
    r->resp.status = ZKV__STATUS__OK;
    answer_position(env, req, r);
    r->resp.owner = rg && !env->fenced && strcmp(rg->owner, env->node_id) == 0;
    if (r->resp.owner && env->owner_status)
        env->owner_status(env->hook_ctx, req->range_id, r);
}

/* Checks the entries of an APPEND frame against prev and the sender's epoch. */
static bool entries_ok(const Zkv__Request *req, zkv_reply *r)
{
    uint64_t seq = req->prev_seq, epoch = req->prev_epoch;
    for (size_t i = 0; i < req->n_entries; i++) {
        const Zkv__LogEntry *e = req->entries[i];
        const char *why = NULL;
        if (e->seq != seq + 1)
            why = "sequence numbers are not consecutive";
        else if (e->epoch < epoch || e->epoch > req->epoch)
            why = "epochs go backwards or beyond the sender's epoch";
        else if (e->op != ZKV__OP__PUT && e->op != ZKV__OP__DELETE)
            why = "op is neither PUT nor DELETE";
        if (why) {
            zkv_reply_status(r, ZKV__STATUS__BAD_REQUEST,
                             "APPEND for range %s: entry %zu (seq %llu): %s", req->range_id, i,
                             (ull)e->seq, why);
            return false;
        }
        seq = e->seq;
        epoch = e->epoch;
    }
    return true;
}

/* Empties a range left incomplete by an abandoned snapshot, so that it can take a log from
 * seq 1. */
static int drop_partial_snapshot(const zkv_dispatch_env *env, const zkv_range *rg, char *err,
                                 size_t errlen)
{
    if (zkv_store_range_reset(env->store, rg->id,
                              zkv_store_range_snapshot_epoch(env->store, rg->id), rg->start,
                              rg->start_len, rg->end, rg->end_len, err, errlen) != 0)
        return -1;
    zkv_dedupe_forget_range(env->dedupe, rg->id, 0);
    return zkv_store_range_set_position(env->store, rg->id, 0, 0, NULL, 0, err, errlen);
}

void zkv_replica_append(const zkv_dispatch_env *env, const zkv_session *sess,
                        const Zkv__Request *req, zkv_reply *r)
{
    const zkv_range *rg;
    if (!range_id_ok(req, r))
        return;
    answer_position(env, req, r);
    if (!sender_ok(env, sess, req, &rg, r) || !entries_ok(req, r))
        return;
    /* the owner's clock, by which this copy judges expiry (heartbeats carry it too) */
    zkv_ownerclock_note(env->clock, rg->id, req->owner_time_ms, zkv_now_ms());
    char err[256];
    if (zkv_store_range_snapshot_epoch(env->store, rg->id)) {
        /* A snapshot was begun and abandoned (its sender lost the range): its items are
         * void. Only a log from the start can follow. */
        if (req->prev_seq != 0) {
            zkv_reply_status(r, ZKV__STATUS__LOG_MISMATCH,
                             "range %s: a snapshot is incomplete here; position (0, 0)", rg->id);
            return;
        }
        if (drop_partial_snapshot(env, rg, err, sizeof(err)) != 0) {
            store_failure(r, "dropping a partial snapshot", err);
            return;
        }
    }
    uint64_t pe, ps;
    zkv_replica_position(env->store, rg->id, &pe, &ps);
    if (req->prev_seq != ps || (ps != 0 && req->prev_epoch != pe)) {
        zkv_reply_status(r, ZKV__STATUS__LOG_MISMATCH,
                         "range %s: APPEND after (%llu, %llu) but the last entry here is "
                         "(%llu, %llu)",
                         rg->id, (ull)req->prev_epoch, (ull)req->prev_seq, (ull)pe, (ull)ps);
        answer_position(env, req, r);
        return;
    }
    for (size_t i = 0; i < req->n_entries; i++) {
        const Zkv__LogEntry *le = req->entries[i];
        zkv_store_entry e = {.seq = le->seq,
                             .epoch = le->epoch,
                             .op = le->op == ZKV__OP__PUT ? ZKV_LOG_OP_PUT : ZKV_LOG_OP_DELETE,
                             .key = le->key.data,
                             .klen = le->key.len,
                             .value = le->value.data,
                             .vlen = le->value.len,
                             .expiry_ms = le->expiry_ms,
                             .tag = {le->client_id, le->client_seq, le->batch_end}};
        if (zkv_store_apply(env->store, rg->id, &e, err, sizeof(err)) != 0) {
            store_failure(r, "applying an entry", err);
            answer_position(env, req, r);
            return;
        }
        if (le->client_id) /* the range's next owner must know it applied this request */
            zkv_dedupe_note(env->dedupe, le->client_id, le->client_seq, rg->id, le->epoch, le->seq,
                            zkv_now_ms());
    }
    const zkv_range_state *st = zkv_store_range(env->store, rg->id);
    if (st) { /* how far behind the owner this copy is, for reads with a bound */
        uint64_t sent_end = req->prev_seq + req->n_entries;
        zkv_ownerclock_note_position(env->clock, rg->id,
                                     req->head_seq > sent_end ? req->head_seq : sent_end,
                                     st->last_seq, zkv_now_ms());
    }
    uint64_t retain =
        zkv_store_log_retain(env->store, rg->id, env->log_retain, env->log_retain_bytes);
    if (env->log_retain && st && st->last_seq > retain &&
        zkv_store_truncate_log(env->store, rg->id, st->last_seq - retain, err, sizeof(err)) < 0) {
        store_failure(r, "truncating the log", err);
        return;
    }
    r->resp.status = ZKV__STATUS__OK;
    answer_position(env, req, r);
}

static bool in_range(const zkv_range *rg, const uint8_t *key, size_t klen)
{
    if (rg->start_len && zkv_key_cmp(key, klen, rg->start, rg->start_len) < 0)
        return false;
    return !(rg->end_len && zkv_end_cmp(rg->end, rg->end_len, key, klen) <= 0);
}

/* CHUNK and END need the BEGIN of the same epoch. */
static bool snapshot_in_progress(const zkv_dispatch_env *env, const Zkv__Request *req, zkv_reply *r)
{
    uint64_t snap = zkv_store_range_snapshot_epoch(env->store, req->range_id);
    if (snap && snap == req->epoch)
        return true;
    zkv_reply_status(r, ZKV__STATUS__LOG_MISMATCH,
                     "range %s: no snapshot of epoch %llu in progress here (BEGIN first)",
                     req->range_id, (ull)req->epoch);
    return false;
}

static void snapshot_chunk(const zkv_dispatch_env *env, const Zkv__Request *req,
                           const zkv_range *rg, zkv_reply *r)
{
    for (size_t i = 0; i < req->n_items; i++) {
        const Zkv__KeyValue *kv = req->items[i];
        if (!in_range(rg, kv->key.data, kv->key.len)) {
            zkv_reply_status(r, ZKV__STATUS__BAD_REQUEST,
                             "SNAPSHOT for range %s: item %zu lies outside the range", rg->id, i);
            return;
        }
    }
    char err[256];
    for (size_t i = 0; i < req->n_items; i++) {
        const Zkv__KeyValue *kv = req->items[i];
        zkv_value_view v = {
            .meta = {.flags = 0, .epoch = kv->epoch, .seq = kv->seq, .expiry_ms = kv->expiry_ms},
            .value = kv->value.data,
            .value_len = kv->value.len};
        if (zkv_store_put_item(env->store, kv->key.data, kv->key.len, &v, err, sizeof(err)) != 0) {
            store_failure(r, "storing a snapshot item", err);
            return;
        }
    }
    r->resp.status = ZKV__STATUS__OK;
}

#define MAX_HISTORY 4096u

static void snapshot_end(const zkv_dispatch_env *env, const Zkv__Request *req, const zkv_range *rg,
                         zkv_reply *r)
{
    static zkv_epoch_start hist[MAX_HISTORY];
    if (req->n_history > MAX_HISTORY) {
        zkv_reply_status(r, ZKV__STATUS__BAD_REQUEST, "SNAPSHOT END with %zu history entries",
                         req->n_history);
        return;
    }
    uint64_t epoch_of_seq = 0;
    for (size_t i = 0; i < req->n_history; i++) {
        const Zkv__EpochStart *h = req->history[i];
        if (h->start_seq == 0 || h->start_seq > req->seq ||
            (i > 0 && (h->epoch <= hist[i - 1].epoch || h->start_seq <= hist[i - 1].start_seq))) {
            zkv_reply_status(r, ZKV__STATUS__BAD_REQUEST,
                             "SNAPSHOT END for range %s: history entry %zu (epoch %llu, start "
                             "%llu) is out of order or after seq %llu",
                             rg->id, i, (ull)h->epoch, (ull)h->start_seq, (ull)req->seq);
            return;
        }
        hist[i].epoch = h->epoch;
        hist[i].start_seq = h->start_seq;
        epoch_of_seq = h->epoch;
    }
    if (req->seq > 0 && req->n_history == 0)
        epoch_of_seq = req->epoch; /* an owner without history (written before histories) */
    char err[256];
    if (zkv_store_range_set_position(env->store, rg->id, epoch_of_seq, req->seq, hist,
                                     req->n_history, err, sizeof(err)) != 0) {
        store_failure(r, "setting the snapshot position", err);
        return;
    }
    r->resp.status = ZKV__STATUS__OK;
}

void zkv_replica_snapshot(const zkv_dispatch_env *env, const zkv_session *sess,
                          const Zkv__Request *req, zkv_reply *r)
{
    const zkv_range *rg;
    if (!range_id_ok(req, r))
        return;
    answer_position(env, req, r);
    if (!sender_ok(env, sess, req, &rg, r))
        return;
    char err[256];
    switch (req->phase) {
    case ZKV__SNAPSHOT_PHASE__SNAPSHOT_BEGIN:
        if (zkv_store_range_reset(env->store, rg->id, req->epoch, rg->start, rg->start_len, rg->end,
                                  rg->end_len, err, sizeof(err)) != 0) {
            store_failure(r, "resetting the range", err);
            break;
        }
        /* the range's writes are replaced by the snapshot's: what was noted may be gone */
        zkv_dedupe_forget_range(env->dedupe, rg->id, 0);
        r->resp.status = ZKV__STATUS__OK;
        break;
    case ZKV__SNAPSHOT_PHASE__SNAPSHOT_CHUNK:
        if (snapshot_in_progress(env, req, r))
            snapshot_chunk(env, req, rg, r);
        break;
    case ZKV__SNAPSHOT_PHASE__SNAPSHOT_END:
        if (snapshot_in_progress(env, req, r))
            snapshot_end(env, req, rg, r);
        break;
    default:
        zkv_reply_status(r, ZKV__STATUS__BAD_REQUEST, "SNAPSHOT without a phase");
        break;
    }
    answer_position(env, req, r);
}
