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
#include "common/log.h"
#include "common/util.h"
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

typedef struct ho {
    char range_id[ZKV_ID_MAX];
    char target[ZKV_ID_MAX];
    uint64_t epoch;   /* the ownership being passed */
    int32_t asked_zv; /* the range znode version that asked for it (-1: leaving) */
    int32_t base_zv;  /* ZKV_HO_FLIP: the version the range write is conditional on */
    zkv_ho_state st;
    bool keep_in_sync; /* false when the node leaves */
    bool awaiting;     /* a submitted write's result is due */
    bool resubmit;     /* its outcome was unknown: write it again */
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

static const zkv_range *map_range(const zkv_server *s, const char *range_id)
{
    return s->map ? zkv_dispatch_find_range(s->map, range_id) : NULL;
}

static void start(zkv_handoffs *h, const zkv_range *r, const char *target, bool keep_in_sync,
                  int32_t asked_zv)
{
    ho *e = find(h, r->id);
    if (e && e->st != ZKV_HO_OVER)
        return;
    if (!e) {
        if (h->n == h->cap) {
            size_t ncap = h->cap ? h->cap * 2 : 16;
            ho *nv = realloc(h->v, ncap * sizeof(*nv));
            if (!nv)
                return;
            h->v = nv;
            h->cap = ncap;
        }
        e = &h->v[h->n++];
    }
    memset(e, 0, sizeof(*e));
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
    ZKV_INFO("range %s: handing ownership to %s (epoch %" PRIu64 "); writes held", r->id, target,
             r->epoch);
}

void zkv_handoffs_sync_map(zkv_handoffs *h)
{
    const zkv_rangemap *m = h->srv->map;
    const char *me = h->srv->opt->node_id;
    if (!m)
        return;
    for (size_t i = 0; i < m->n_ranges; i++) {
        const zkv_range *r = &m->ranges[i];
        if (strcmp(r->owner, me) != 0 || r->handoff[0] == '\0' || strcmp(r->handoff, me) == 0)
            continue;
        const ho *e = find(h, r->id);
        if (e && e->st == ZKV_HO_OVER && e->asked_zv == r->zversion && e->epoch == r->epoch)
            continue; /* this request ended already; the coordinator decides what next */
        start(h, r, r->handoff, true, r->zversion);
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

/* The view of e from the map, the store and the shipper. */
static void view_of(zkv_handoffs *h, const ho *e, zkv_ho_view *v)
{
    zkv_server *s = h->srv;
    memset(v, 0, sizeof(*v));
    const zkv_range *r = map_range(s, e->range_id);
    v->owned = r && strcmp(r->owner, s->opt->node_id) == 0 && r->epoch == e->epoch;
    v->range_changed = r && e->base_zv >= 0 && r->zversion > e->base_zv;
    v->asked = e->asked_zv < 0 ? h->leaving : (r && strcmp(r->handoff, e->target) == 0);
    const zkv_range_state *rs = zkv_store_range(s->store, e->range_id);
    v->last_seq = rs ? rs->last_seq : 0;
    zkv_shipper_progress p;
    if (s->shipper && zkv_shipper_replica_progress(s->shipper, e->range_id, e->target, &p)) {
        v->target_in_sync = p.in_sync;
        v->isr_inflight = p.isr_inflight;
        v->committed = p.committed;
        v->target_acked = p.acked;
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

static void submit(zkv_handoffs *h, ho *e)
{
    zkv_server *s = h->srv;
    const zkv_range *cur = s->shipper ? zkv_shipper_owned_range(s->shipper, e->range_id) : NULL;
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
    if (!e || e->st != ZKV_HO_FLIP || !e->awaiting || e->epoch != epoch)
        return false;
    e->awaiting = false;
    if (rc != ZOK && rc != ZBADVERSION) {
        ZKV_WARN("range %s: the ownership write's outcome is unknown (%s); writing it again",
                 range_id, zerror(rc));
        e->resubmit = true;
    }
    zkv_handoffs_pump(h);
    return true;
}

zkv_ho_gate zkv_handoffs_gate(const zkv_handoffs *h, const char *range_id)
{
    const ho *e = h && h->n_active ? find(h, range_id) : NULL;
    if (!e || e->st == ZKV_HO_OVER)
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
