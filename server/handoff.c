/* handoff.c: live ownership moves, owner side (see handoff.h). The pure step and range
 * functions first, then the shell: a small table of handoffs in progress, driven by map
 * changes, the loop's pump after each commit and the results of the range writes it
 * submits through the membership thread. It reads replication progress through the
 * shipper's narrow zkv_shipper_progress and never touches the shipper's state. */
#include "handoff.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zookeeper/zookeeper.h>
#include "common/keyrange.h"
#include "common/log.h"
#include "common/util.h"
#include "common/zk.h"
#include "membership.h"
#include "server_int.h"
#include "shipper.h"

/* ---- pure ---- */

zkv_ho_action zkv_ho_next(zkv_ho_state st, const zkv_ho_view *v)
{
    switch (st) {
    case ZKV_HO_DRAIN:
        if (!v->owned)
            return ZKV_HO_END;
        if (!v->asked || !v->target_in_sync || v->now_ms - v->started_ms > v->timeout_ms)
            return ZKV_HO_ABORT;
        if (v->isr_inflight || v->committed < v->last_seq || v->target_acked < v->committed)
            return ZKV_HO_WAIT;
        return ZKV_HO_SUBMIT;
    case ZKV_HO_FLIP:
        if (!v->owned)
            return ZKV_HO_END;
        return v->range_changed ? ZKV_HO_ABORT : ZKV_HO_WAIT;
    case ZKV_HO_OVER:
    default:
        return ZKV_HO_WAIT;
    }
}

zkv_ho_result zkv_ho_write_result(bool move, uint64_t epoch, uint64_t write_epoch, int rc)
{
    zkv_ho_result res = {.ours = write_epoch == epoch + (move ? 1 : 0)};
    if (!res.ours)
        return res;
    res.written = move && rc == ZOK;
    res.again = rc != ZOK && rc != ZBADVERSION && rc != ZNONODE;
    return res;
}

static bool ids_have(const char (*ids)[ZKV_ID_MAX], int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

int zkv_ho_flip_range(const zkv_range *cur, const char *me, const char *target, bool keep_in_sync,
                      zkv_range *out)
{
    if (!ids_have((const char(*)[ZKV_ID_MAX])cur->replicas, cur->n_replicas, target) ||
        zkv_range_copy(out, cur) != 0)
        return -1;
    out->zversion = cur->zversion;
    snprintf(out->owner, sizeof(out->owner), "%s", target);
    out->epoch = cur->epoch + 1;
    out->handoff[0] = '\0';
    for (int i = 0; i < out->n_replicas; i++)
        if (strcmp(out->replicas[i], target) == 0)
            snprintf(out->replicas[i], ZKV_ID_MAX, "%s", me);
    int n = 0;
    for (int i = 0; i < cur->n_in_sync; i++) {
        const char *id = cur->in_sync[i];
        if (strcmp(id, target) == 0) {
            if (!keep_in_sync)
                continue;
            id = me;
        }
        snprintf(out->in_sync[n++], ZKV_ID_MAX, "%s", id);
    }
    for (int i = n; i < ZKV_MAX_REPLICAS; i++)
        out->in_sync[i][0] = '\0';
    out->n_in_sync = n;
    return 0;
}

int zkv_ho_split_ranges(const zkv_range *cur, const uint8_t *key, size_t klen,
                        const char (*ids)[ZKV_ID_MAX], uint64_t pepoch, uint64_t pseq,
                        zkv_range out[2])
{
    memset(out, 0, 2 * sizeof(*out));
    if (!klen ||
        !zkv_range_contains(cur->start, cur->start_len, cur->end, cur->end_len, key, klen) ||
        zkv_key_cmp(key, klen, cur->start, cur->start_len) <= 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        zkv_range *c = &out[i];
        if (zkv_range_copy(c, cur) != 0 ||
            zkv_range_set_bounds(c, i == 0 ? cur->start : key, i == 0 ? cur->start_len : klen,
                                 i == 0 ? key : cur->end, i == 0 ? klen : cur->end_len) != 0 ||
            zkv_range_set_split_key(c, NULL, 0) != 0) {
            zkv_range_clear(&out[0]);
            zkv_range_clear(&out[1]);
            return -1;
        }
        snprintf(c->id, sizeof(c->id), "%s", ids[i]);
        c->epoch = cur->epoch + 1;
        c->handoff[0] = '\0';
        c->split_asked = false;
        memset(c->split_ids, 0, sizeof(c->split_ids));
        c->merge_with[0] = c->merge_id[0] = '\0';
        c->n_parents = 1;
        memset(c->parents, 0, sizeof(c->parents));
        snprintf(c->parents[0].id, ZKV_ID_MAX, "%s", cur->id);
        c->parents[0].epoch = pepoch;
        c->parents[0].seq = pseq;
        c->zversion = -1;
    }
    return 0;
}

int zkv_ho_merge_range(const zkv_range *left, const zkv_range *right, const char *id,
                       const zkv_range_parent pos[2], zkv_range *out)
{
    memset(out, 0, sizeof(*out));
    if (!left->end_len || left->end_len != right->start_len ||
        memcmp(left->end, right->start, left->end_len) != 0 || zkv_range_copy(out, left) != 0)
        return -1; /* not neighbours */
    if (zkv_range_set_bounds(out, left->start, left->start_len, right->end, right->end_len) != 0 ||
        zkv_range_set_split_key(out, NULL, 0) != 0) {
        zkv_range_clear(out);
        return -1;
    }
    snprintf(out->id, sizeof(out->id), "%s", id);
    out->epoch = (left->epoch > right->epoch ? left->epoch : right->epoch) + 1;
    out->handoff[0] = '\0';
    out->split_asked = false;
    memset(out->split_ids, 0, sizeof(out->split_ids));
    out->merge_with[0] = out->merge_id[0] = '\0';
    /* in_sync: the replicas in sync for both (the others are rebuilt from the owner) */
    int n = 0;
    for (int i = 0; i < left->n_in_sync; i++)
        if (ids_have((const char(*)[ZKV_ID_MAX])right->in_sync, right->n_in_sync, left->in_sync[i]))
            snprintf(out->in_sync[n++], ZKV_ID_MAX, "%s", left->in_sync[i]);
    for (int i = n; i < ZKV_MAX_REPLICAS; i++)
        out->in_sync[i][0] = '\0';
    out->n_in_sync = n;
    out->n_parents = 2;
    out->parents[0] = pos[0];
    out->parents[1] = pos[1];
    out->zversion = -1;
    return 0;
}

static size_t owned_by(const zkv_rangemap *m, const char *id)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_ranges; i++)
        n += strcmp(m->ranges[i].owner, id) == 0;
    return n;
}

bool zkv_ho_pick_target(const zkv_rangemap *m, const zkv_range *r, const char *me,
                        char out[ZKV_ID_MAX])
{
    const char *best = NULL;
    size_t best_load = 0;
    for (int i = 0; i < r->n_in_sync; i++) {
        const char *id = r->in_sync[i];
        if (strcmp(id, me) == 0 || !zkv_range_is_replica(r, id) || !zkv_rangemap_node(m, id))
            continue;
        size_t load = owned_by(m, id);
        if (!best || load < best_load || (load == best_load && strcmp(id, best) < 0)) {
            best = id;
            best_load = load;
        }
    }
    if (!best)
        return false;
    snprintf(out, ZKV_ID_MAX, "%s", best);
    return true;
}

/* ---- the shell ---- */

typedef enum { HO_MOVE = 0, HO_SPLIT, HO_MERGE } ho_kind;

typedef struct ho {
    ho_kind kind;
    char range_id[ZKV_ID_MAX];
    char target[ZKV_ID_MAX];       /* HO_MOVE */
    char split_ids[2][ZKV_ID_MAX]; /* HO_SPLIT: the ranges it makes */
    zkv_buf split_key;             /* HO_SPLIT: asked or chosen (empty until chosen) */
    char merge_with[ZKV_ID_MAX];   /* HO_MERGE: the right neighbour, held with this range */
    char merge_id[ZKV_ID_MAX];     /* HO_MERGE: the range it makes */
    uint64_t with_epoch;           /* HO_MERGE: the neighbour's epoch when it began */
    int32_t with_zv;               /* HO_MERGE: the neighbour's znode version then */
    uint64_t epoch;                /* the ownership being passed */
    int32_t asked_zv;              /* the range znode version that asked for it (-1: leaving) */
    int32_t base_zv;               /* ZKV_HO_FLIP: the version the range write is conditional on */
    zkv_ho_state st;
    bool keep_in_sync; /* false when the node leaves */
    bool awaiting;     /* a submitted write's result is due */
    bool resubmit;     /* its outcome was unknown: write it again */
    bool declining;    /* HO_SPLIT, HO_MERGE: the write that removes the request is due */
    bool written;      /* HO_MOVE: the range write took effect (the target owns at epoch + 1) */
    uint64_t started_ms;
    uint64_t drain_seq; /* the range's last seq when writes stopped (for the log) */
} ho;

struct zkv_handoffs {
    zkv_server *srv;
    uint64_t timeout_ms;
    bool leaving;
    size_t n_active; /* entries not ZKV_HO_OVER: with none, every range is served at once */
    ho *v;           /* active handoffs, then (st == ZKV_HO_OVER) the last one of each range that
                        ended, kept so a range znode that still asks does not restart it at once */
    size_t n, cap;
};

zkv_handoffs *zkv_handoffs_new(zkv_server *s, uint64_t timeout_ms)
{
    zkv_handoffs *h = calloc(1, sizeof(*h));
    if (h) {
        h->srv = s;
        h->timeout_ms = timeout_ms;
    }
    return h;
}

void zkv_handoffs_free(zkv_handoffs *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++)
        zkv_buf_free(&h->v[i].split_key);
    free(h->v);
    free(h);
}

static ho *find(const zkv_handoffs *h, const char *range_id)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->v[i].range_id, range_id) == 0)
            return &h->v[i];
    return NULL;
}

/* The active entry that holds range_id's requests: its own, or a merge's that takes
 * range_id along as the right neighbour. */
static const ho *find_holding(const zkv_handoffs *h, const char *range_id)
{
    for (size_t i = 0; i < h->n; i++) {
        const ho *e = &h->v[i];
        if (e->st != ZKV_HO_OVER && (strcmp(e->range_id, range_id) == 0 ||
                                     (e->kind == HO_MERGE && strcmp(e->merge_with, range_id) == 0)))
            return e;
    }
    return NULL;
}

static const zkv_range *map_range(const zkv_server *s, const char *range_id)
{
    return s->map ? zkv_dispatch_find_range(s->map, range_id) : NULL;
}

static ho *start(zkv_handoffs *h, const zkv_range *r, const char *target, bool keep_in_sync,
                 int32_t asked_zv)
{
    ho *e = find(h, r->id);
    if (find_holding(h, r->id))
        return NULL; /* its own, or a merge holds it */
    if (!e) {
        if (h->n == h->cap) {
            size_t ncap = h->cap ? h->cap * 2 : 16;
            ho *nv = realloc(h->v, ncap * sizeof(*nv));
            if (!nv)
                return NULL;
            h->v = nv;
            h->cap = ncap;
        }
        e = &h->v[h->n++];
        zkv_buf_init(&e->split_key);
    }
    zkv_buf key = e->split_key; /* keeps its memory */
    memset(e, 0, sizeof(*e));
    e->split_key = key;
    e->split_key.len = e->split_key.off = 0;
    if (h->n_active++ == 0) /* dispatch asks the gate only while something moves */
        h->srv->env.move_gate = zkv_handoffs_gate_hook;
    snprintf(e->range_id, sizeof(e->range_id), "%s", r->id);
    snprintf(e->target, sizeof(e->target), "%s", target);
    e->epoch = r->epoch;
    e->asked_zv = asked_zv;
    e->base_zv = -1;
    e->keep_in_sync = keep_in_sync;
    e->st = ZKV_HO_DRAIN;
    e->started_ms = zkv_now_ms();
    const zkv_range_state *rs = zkv_store_range(h->srv->store, r->id);
    e->drain_seq = rs ? rs->last_seq : 0;
    if (target[0])
        ZKV_INFO("range %s: handing ownership to %s (epoch %" PRIu64 "); writes held", r->id,
                 target, r->epoch);
    return e;
}

/* A split of r the range znode asks for. */
static void start_split(zkv_handoffs *h, const zkv_range *r)
{
    ho *e = start(h, r, "", true, r->zversion);
    if (!e)
        return;
    e->kind = HO_SPLIT;
    memcpy(e->split_ids, r->split_ids, sizeof(e->split_ids));
    if (r->split_key_len && zkv_buf_append(&e->split_key, r->split_key, r->split_key_len) != 0)
        e->split_key.len = 0; /* chosen again */
    ZKV_INFO("range %s: splitting into %s and %s (epoch %" PRIu64 "); writes held", r->id,
             r->split_ids[0], r->split_ids[1], r->epoch);
}

static void decline(zkv_handoffs *h, ho *e, const char *why);

/* A merge of r with its right neighbour the range znode asks for: both must be this
 * node's, and neighbours. */
static void start_merge(zkv_handoffs *h, const zkv_range *r)
{
    const zkv_range *w = map_range(h->srv, r->merge_with);
    if (find_holding(h, r->merge_with))
        return; /* the neighbour is busy: asked again when it is done */
    ho *e = start(h, r, "", true, r->zversion);
    if (!e)
        return;
    e->kind = HO_MERGE;
    snprintf(e->merge_with, sizeof(e->merge_with), "%s", r->merge_with);
    snprintf(e->merge_id, sizeof(e->merge_id), "%s", r->merge_id);
    const char *me = h->srv->opt->node_id;
    if (!w || strcmp(w->owner, me) != 0 || !r->end_len || r->end_len != w->start_len ||
        memcmp(r->end, w->start, r->end_len) != 0) {
        decline(h, e,
                !w || strcmp(w->owner, me) != 0 ? "the neighbour is not this node's"
                                                : "the ranges are not neighbours");
        return;
    }
    e->with_epoch = w->epoch;
    e->with_zv = w->zversion;
    ZKV_INFO("range %s: merging with %s into %s (epochs %" PRIu64 ", %" PRIu64
             "); writes to both held",
             r->id, w->id, r->merge_id, r->epoch, w->epoch);
}

void zkv_handoffs_sync_map(zkv_handoffs *h)
{
    const zkv_rangemap *m = h->srv->map;
    const char *me = h->srv->opt->node_id;
    if (!m)
        return;
    for (size_t i = 0; i < m->n_ranges; i++) {
        const zkv_range *r = &m->ranges[i];
        bool move = r->handoff[0] && strcmp(r->handoff, me) != 0;
        bool merge = r->merge_with[0] && r->merge_id[0];
        if (strcmp(r->owner, me) != 0 || (!move && !r->split_asked && !merge))
            continue;
        const ho *e = find(h, r->id);
        if (e && e->st == ZKV_HO_OVER && e->asked_zv == r->zversion && e->epoch == r->epoch)
            continue; /* this request ended already; the coordinator decides what next */
        if (move)
            start(h, r, r->handoff, true, r->zversion);
        else if (r->split_asked)
            start_split(h, r);
        else
            start_merge(h, r);
    }
    zkv_handoffs_pump(h);
}

size_t zkv_handoffs_leave(zkv_handoffs *h)
{
    const zkv_rangemap *m = h->srv->map;
    const char *me = h->srv->opt->node_id;
    h->leaving = true;
    size_t started = 0;
    for (size_t i = 0; m && i < m->n_ranges; i++) {
        const zkv_range *r = &m->ranges[i];
        if (strcmp(r->owner, me) != 0)
            continue;
        char target[ZKV_ID_MAX];
        if (!zkv_ho_pick_target(m, r, me, target)) {
            ZKV_WARN("range %s: no live in_sync replica to hand it to; it stays unavailable "
                     "until this node is back",
                     r->id);
            continue;
        }
        ho *e = find(h, r->id);
        if (e && e->st != ZKV_HO_OVER) {
            e->keep_in_sync = false; /* a move in progress: the node leaves all the same */
            started++;
            continue;
        }
        start(h, r, target, false, -1);
        started++;
    }
    zkv_handoffs_pump(h);
    return started;
}

/* The lowest ack of the confirmed in_sync replicas of owned range id (committed when it
 * has none) into *acked; an in_sync change in flight goes into v. False when the range is
 * not owned here. */
static bool lowest_ack(zkv_server *s, const char *id, uint64_t committed, uint64_t *acked,
                       zkv_ho_view *v)
{
    const zkv_range *own = s->shipper ? zkv_shipper_owned_range(s->shipper, id) : NULL;
    *acked = 0;
    if (!own)
        return false;
    *acked = committed;
    for (int k = 0; k < own->n_in_sync; k++) {
        zkv_shipper_progress p;
        if (!zkv_shipper_replica_progress(s->shipper, id, own->in_sync[k], &p)) {
            *acked = 0;
            continue;
        }
        v->isr_inflight = v->isr_inflight || p.isr_inflight;
        if (p.acked < *acked)
            *acked = p.acked;
    }
    return true;
}

/* The view of e from the map, the store and the shipper. */
static void view_of(zkv_handoffs *h, const ho *e, zkv_ho_view *v)
{
    zkv_server *s = h->srv;
    memset(v, 0, sizeof(*v));
    const zkv_range *r = map_range(s, e->range_id);
    v->owned = r && strcmp(r->owner, s->opt->node_id) == 0 && r->epoch == e->epoch;
    v->range_changed = r && e->base_zv >= 0 && r->zversion > e->base_zv;
    if (e->kind == HO_SPLIT)
        v->asked = r && r->split_asked && strcmp(r->split_ids[0], e->split_ids[0]) == 0 &&
                   strcmp(r->split_ids[1], e->split_ids[1]) == 0;
    else if (e->kind == HO_MERGE)
        v->asked =
            r && strcmp(r->merge_with, e->merge_with) == 0 && strcmp(r->merge_id, e->merge_id) == 0;
    else
        v->asked = e->asked_zv < 0 ? h->leaving : (r && strcmp(r->handoff, e->target) == 0);
    const zkv_range_state *rs = zkv_store_range(s->store, e->range_id);
    v->last_seq = rs ? rs->last_seq : 0;
    v->committed = rs ? rs->committed_seq : 0;
    zkv_shipper_progress p;
    if (e->kind == HO_MOVE) {
        if (s->shipper && zkv_shipper_replica_progress(s->shipper, e->range_id, e->target, &p)) {
            v->target_in_sync = p.in_sync;
            v->isr_inflight = p.isr_inflight;
            v->committed = p.committed;
            v->target_acked = p.acked;
        }
    } else {
        /* a split or merge waits for every confirmed in_sync replica of each range it
         * replaces: the ranges it makes keep them */
        uint64_t acked;
        v->target_in_sync = lowest_ack(s, e->range_id, v->committed, &acked, v);
        v->target_acked = acked;
        if (e->kind == HO_MERGE) {
            const zkv_range *w = map_range(s, e->merge_with);
            const zkv_range_state *ws = zkv_store_range(s->store, e->merge_with);
            v->owned = v->owned && w && strcmp(w->owner, s->opt->node_id) == 0 &&
                       w->epoch == e->with_epoch;
            v->range_changed = v->range_changed || (w && w->zversion > e->with_zv);
            uint64_t wc = ws ? ws->committed_seq : 0, wacked;
            bool w_ok = lowest_ack(s, e->merge_with, wc, &wacked, v);
            bool caught = acked >= v->committed && wacked >= wc;
            v->target_in_sync = v->target_in_sync && w_ok;
            v->last_seq += ws ? ws->last_seq : 0; /* drained when both are */
            v->committed += wc;
            v->target_acked = caught ? v->committed : 0;
        }
    }
    v->now_ms = zkv_now_ms();
    v->started_ms = e->started_ms;
    v->timeout_ms = h->timeout_ms;
}

static void over(zkv_handoffs *h, ho *e)
{
    e->st = ZKV_HO_OVER;
    if (--h->n_active == 0)
        h->srv->env.move_gate = NULL;
}

/* A split or merge this owner does not make (fewer than 2 keys, a key outside the range,
 * a neighbour elsewhere, given up): the request is removed from the range znode, so the
 * operation that asked learns it (asks again, or fails) instead of waiting. */
static void decline(zkv_handoffs *h, ho *e, const char *why)
{
    zkv_server *s = h->srv;
    if (e->kind == HO_MERGE)
        ZKV_WARN("range %s: merge with %s into %s declined: %s", e->range_id, e->merge_with,
                 e->merge_id, why);
    else
        ZKV_WARN("range %s: split into %s and %s declined: %s", e->range_id, e->split_ids[0],
                 e->split_ids[1], why);
    over(h, e);
    const zkv_range *cur = s->shipper ? zkv_shipper_owned_range(s->shipper, e->range_id) : NULL;
    zkv_range next;
    if (!cur || !s->membership || zkv_range_copy(&next, cur) != 0)
        return;
    next.zversion = cur->zversion;
    if (e->kind == HO_MERGE) {
        next.merge_with[0] = next.merge_id[0] = '\0';
    } else {
        next.split_asked = false;
        memset(next.split_ids, 0, sizeof(next.split_ids));
        zkv_range_set_split_key(&next, NULL, 0);
    }
    if (zkv_membership_isr_submit(s->membership, &next) == 0)
        e->declining = true;
    zkv_range_clear(&next);
}

/* The merge's write: the two ranges replaced by one, in one conditional multi through the
 * membership thread. */
static void submit_merge(zkv_handoffs *h, ho *e, const zkv_range *cur)
{
    zkv_server *s = h->srv;
    const zkv_range *w = s->shipper ? zkv_shipper_owned_range(s->shipper, e->merge_with) : NULL;
    const zkv_range_state *rs = zkv_store_range(s->store, e->range_id);
    const zkv_range_state *ws = zkv_store_range(s->store, e->merge_with);
    if (!w || !rs || !ws)
        return; /* tried again on the next pump */
    zkv_range_parent pos[2] = {{.epoch = rs->committed_epoch, .seq = rs->committed_seq},
                               {.epoch = ws->committed_epoch, .seq = ws->committed_seq}};
    snprintf(pos[0].id, ZKV_ID_MAX, "%s", cur->id);
    snprintf(pos[1].id, ZKV_ID_MAX, "%s", w->id);
    zkv_range merged;
    if (zkv_ho_merge_range(cur, w, e->merge_id, pos, &merged) != 0) {
        decline(h, e, "the ranges are not neighbours");
        return;
    }
    zkv_range both[2] = {*cur, *w}; /* shallow: only read */
    if (zkv_membership_reshape_submit(s->membership, both, 2, &merged, 1) == 0) {
        e->st = ZKV_HO_FLIP;
        e->awaiting = true;
        e->resubmit = false;
        e->base_zv = cur->zversion;
        ZKV_INFO("range %s: every in_sync replica of it and of %s is caught up (seq %" PRIu64
                 ", %" PRIu64 "); merging into %s",
                 e->range_id, e->merge_with, rs->committed_seq, ws->committed_seq, e->merge_id);
    }
    zkv_range_clear(&merged);
}

/* The split's write: the key (chosen now when none was asked), the two ranges, one
 * conditional multi through the membership thread. */
static void submit_split(zkv_handoffs *h, ho *e, const zkv_range *cur)
{
    zkv_server *s = h->srv;
    char err[256];
    if (e->split_key.len == 0) {
        int rc = zkv_store_middle_key(s->store, cur->start, cur->start_len, cur->end, cur->end_len,
                                      &e->split_key, err, sizeof(err));
        if (rc <= 0) {
            decline(h, e, rc == 0 ? "it holds fewer than 2 keys" : err);
            return;
        }
    }
    const zkv_range_state *rs = zkv_store_range(s->store, e->range_id);
    zkv_range kids[2];
    if (!rs || zkv_ho_split_ranges(cur, e->split_key.data, e->split_key.len,
                                   (const char(*)[ZKV_ID_MAX])e->split_ids, rs->committed_epoch,
                                   rs->committed_seq, kids) != 0) {
        decline(h, e, "the key is not strictly inside the range");
        return;
    }
    if (zkv_membership_reshape_submit(s->membership, cur, 1, kids, 2) == 0) {
        e->st = ZKV_HO_FLIP;
        e->awaiting = true;
        e->resubmit = false;
        e->base_zv = cur->zversion;
        char show[96];
        size_t n = e->split_key.len < 20 ? e->split_key.len : 20;
        zkv_key_escape(e->split_key.data, n, show);
        ZKV_INFO("range %s: every in_sync replica has every entry up to %" PRIu64
                 "; splitting at %s%s into %s and %s",
                 e->range_id, rs->committed_seq, show, n < e->split_key.len ? "..." : "",
                 e->split_ids[0], e->split_ids[1]);
    }
    zkv_range_clear(&kids[0]);
    zkv_range_clear(&kids[1]);
}

static void submit(zkv_handoffs *h, ho *e)
{
    zkv_server *s = h->srv;
    const zkv_range *cur = s->shipper ? zkv_shipper_owned_range(s->shipper, e->range_id) : NULL;
    if (e->kind != HO_MOVE) {
        if (cur && s->membership && (e->st == ZKV_HO_DRAIN || cur->zversion == e->base_zv)) {
            if (e->kind == HO_SPLIT)
                submit_split(h, e, cur);
            else
                submit_merge(h, e, cur);
        }
        return;
    }
    zkv_range next;
    if (!cur || !s->membership ||
        zkv_ho_flip_range(cur, s->opt->node_id, e->target, e->keep_in_sync, &next) != 0)
        return; /* tried again on the next pump */
    if (e->st == ZKV_HO_FLIP && next.zversion != e->base_zv) {
        zkv_range_clear(&next); /* the range moved on meanwhile: the map decides */
        e->resubmit = false;
        return;
    }
    if (zkv_membership_isr_submit(s->membership, &next) == 0) {
        e->st = ZKV_HO_FLIP;
        e->awaiting = true;
        e->resubmit = false;
        e->base_zv = next.zversion;
        ZKV_INFO("range %s: %s has every entry up to %" PRIu64 "; passing ownership (epoch %" PRIu64
                 ")",
                 e->range_id, e->target, e->drain_seq, next.epoch);
    }
    zkv_range_clear(&next);
}

void zkv_handoffs_pump(zkv_handoffs *h)
{
    for (size_t i = 0; i < h->n; i++) {
        ho *e = &h->v[i];
        if (e->st == ZKV_HO_OVER)
            continue;
        zkv_ho_view v;
        view_of(h, e, &v);
        switch (zkv_ho_next(e->st, &v)) {
        case ZKV_HO_SUBMIT:
            submit(h, e);
            break;
        case ZKV_HO_ABORT:
            if (e->kind != HO_MOVE) {
                char why[160];
                snprintf(why, sizeof(why), "given up after %" PRIu64 " ms (%s)",
                         v.now_ms - e->started_ms,
                         e->st == ZKV_HO_FLIP ? "the range changed otherwise"
                         : !v.asked           ? "no longer asked"
                         : !v.target_in_sync  ? "the range is not this node's any more"
                                              : "the replicas did not catch up in time");
                if (v.asked && e->st != ZKV_HO_FLIP)
                    decline(h, e, why);
                else {
                    ZKV_WARN("range %s: %s %s; serving it again", e->range_id,
                             e->kind == HO_SPLIT ? "split" : "merge", why);
                    over(h, e);
                }
                break;
            }
            ZKV_WARN("range %s: handoff to %s given up after %" PRIu64 " ms (%s); serving it "
                     "again",
                     e->range_id, e->target, v.now_ms - e->started_ms,
                     e->st == ZKV_HO_FLIP ? "the range changed otherwise"
                     : !v.asked           ? "no longer asked"
                     : !v.target_in_sync  ? "the target is not in_sync"
                                          : "the target did not catch up in time");
            over(h, e);
            break;
        case ZKV_HO_END: {
            const zkv_range *r = map_range(h->srv, e->range_id);
            if (e->kind != HO_MOVE && r) {
                ZKV_WARN("range %s: %s abandoned: it or its neighbour changed hands; serving "
                         "it again",
                         e->range_id, e->kind == HO_SPLIT ? "split" : "merge");
                over(h, e);
                break;
            }
            if (e->kind != HO_MOVE) {
                if (e->kind == HO_SPLIT)
                    ZKV_INFO("range %s: split into %s and %s; writes were held for %" PRIu64 " ms",
                             e->range_id, e->split_ids[0], e->split_ids[1],
                             v.now_ms - e->started_ms);
                else
                    ZKV_INFO("ranges %s and %s: merged into %s; writes were held for %" PRIu64
                             " ms",
                             e->range_id, e->merge_with, e->merge_id, v.now_ms - e->started_ms);
                over(h, e);
                break;
            }
            ZKV_INFO("range %s: now owned by %s (epoch %" PRIu64 "); writes were held for %" PRIu64
                     " ms",
                     e->range_id, r && r->owner[0] ? r->owner : "nobody", r ? r->epoch : 0,
                     v.now_ms - e->started_ms);
            over(h, e);
            break;
        }
        case ZKV_HO_WAIT:
        default:
            if (e->st == ZKV_HO_FLIP && e->resubmit && !e->awaiting)
                submit(h, e);
            break;
        }
    }
}

bool zkv_handoffs_write_result(zkv_handoffs *h, const char *range_id, uint64_t epoch, int rc)
{
    ho *e = find(h, range_id);
    if (e && e->declining && e->epoch == epoch) {
        e->declining = false;
        if (rc != ZOK)
            ZKV_INFO("range %s: removing the split request failed (%s); the coordinator "
                     "gives it up in time",
                     range_id, zerror(rc));
        return true;
    }
    if (!e || e->st != ZKV_HO_FLIP || !e->awaiting)
        return false;
    zkv_ho_result res = zkv_ho_write_result(e->kind == HO_MOVE, e->epoch, epoch, rc);
    if (!res.ours)
        return false;
    e->awaiting = false;
    e->written = res.written;
    e->resubmit = res.again;
    if (rc == ZKV_ZK_MAPRACE)
        ZKV_INFO("range %s: the ownership write lost its map bump to other writers every "
                 "time; writing it again",
                 range_id);
    else if (res.again)
        ZKV_WARN("range %s: the ownership write's outcome is unknown (%s); writing it again",
                 range_id, zkv_zk_strerror(rc));
    zkv_handoffs_pump(h);
    return true;
}

zkv_ho_gate zkv_handoffs_gate(const zkv_handoffs *h, const char *range_id)
{
    const ho *e = h && h->n_active ? find_holding(h, range_id) : NULL;
    if (!e)
        return ZKV_HO_SERVE;
    return e->st == ZKV_HO_DRAIN ? ZKV_HO_HOLD_WRITES : ZKV_HO_HOLD_ALL;
}

size_t zkv_handoffs_active(const zkv_handoffs *h)
{
    return h ? h->n_active : 0;
}

int zkv_handoffs_gate_hook(void *ctx, const zkv_range *r)
{
    return (int)zkv_handoffs_gate(ctx, r->id);
}

bool zkv_handoffs_handed(const zkv_handoffs *h, const char *range_id, uint64_t epoch,
                         const char *node)
{
    const ho *e = h && h->n_active ? find(h, range_id) : NULL;
    return e && e->kind == HO_MOVE && e->st == ZKV_HO_FLIP && e->written && e->epoch + 1 == epoch &&
           strcmp(e->target, node) == 0;
}

bool zkv_handoffs_handed_hook(void *ctx, const char *range_id, uint64_t epoch, const char *node)
{
    return zkv_handoffs_handed(ctx, range_id, epoch, node);
}
