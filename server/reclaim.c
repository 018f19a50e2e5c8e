/* reclaim.c: the loop's shell around the reclaim plan (see reclaim.h). */
#include "reclaim.h"

#include <stdlib.h>
#include <string.h>
#include "common/keyrange.h"
#include "common/log.h"
#include "common/util.h"
#include "reclaim_plan.h"

#define IDLE_TICK_MS 1000u /* nothing to do: look again this often */
#define BUSY_TICK_MS 5u    /* work left: the next chunk this soon (lets requests in) */
#define WAIT_TICK_MS 50u   /* a part is being compacted: the next one after it */
#define MAX_IDS 4096u      /* store ranges looked at per tick */

struct zkv_reclaim {
    uv_loop_t *loop;
    uv_timer_t timer;
    uv_work_t work; /* the compaction of a finished part */
    bool compacting;
    bool stopped;
    bool timer_closed; /* the handle's close callback ran: free may release it */
    zkv_store *store;
    char node[ZKV_ID_MAX];
    uint64_t delay_ms;
    zkv_reclaim_view_fn view;
    void *ctx;
    zkv_reclaim_plan *plan;
    zkv_buf part_start;  /* the start of the part being deleted, then compacted (no new part
                            starts while the worker compacts it) */
    bool mid_part;       /* deleting a part over several chunks */
    uint64_t part_keys;  /* keys deleted of that part so far */
    zkv_buf compact_end; /* the end of the part the worker compacts */
    zkv_buf last;        /* the last key a chunk deleted */
    const zkv_rangemap *seen_map; /* the map observed last, its version and when */
    int64_t seen_version;
    uint64_t seen_at;
    zkv_reclaim_counts counts;
};

static void compact_work(uv_work_t *w)
{
    zkv_reclaim *r = w->data;
    zkv_store_compact_data(r->store, r->part_start.data, r->part_start.len, r->compact_end.data,
                           r->compact_end.len);
}

static void compact_done(uv_work_t *w, int status)
{
    zkv_reclaim *r = w->data;
    r->compacting = false;
    if (status == 0)
        r->counts.parts_compacted++;
}

static int set_buf(zkv_buf *b, const uint8_t *p, size_t n)
{
    b->len = b->off = 0;
    return n ? zkv_buf_append(b, p, n) : 0;
}

static void log_part(const zkv_reclaim *r)
{
    char a[4 * 32 + 1], b[4 * 32 + 1];
    size_t an = r->part_start.len < 32 ? r->part_start.len : 32;
    size_t bn = r->compact_end.len < 32 ? r->compact_end.len : 32;
    zkv_key_escape(r->part_start.data, an, a);
    zkv_key_escape(r->compact_end.data, bn, b);
    ZKV_INFO("reclaim: deleted %llu keys this node no longer holds in [\"%s\", %s%s%s)",
             (unsigned long long)r->part_keys, a, bn ? "\"" : "", bn ? b : "end", bn ? "\"" : "");
}

/* A part is done: when keys went, compact [part_start, end) on a worker thread. */
static void finish_part(zkv_reclaim *r, const zkv_reclaim_step *st)
{
    r->mid_part = false;
    if (!r->part_keys || set_buf(&r->compact_end, st->end, st->elen) != 0)
        return;
    log_part(r);
    r->work.data = r;
    if (uv_queue_work(r->loop, &r->work, compact_work, compact_done) == 0)
        r->compacting = true;
}

/* Takes in a new map at once, the same one again once per idle tick (the store's ranges
 * change with it; observing costs ranges x ids). false: nothing may be deleted now. */
static bool observe(zkv_reclaim *r, const zkv_rangemap *map, uint64_t now)
{
    if (map == r->seen_map && map->version == r->seen_version && now - r->seen_at < IDLE_TICK_MS)
        return true;
    const char *ids[MAX_IDS];
    size_t n = zkv_store_range_ids(r->store, ids, MAX_IDS);
    r->seen_map = NULL;
    if (n > MAX_IDS || /* not every range looked at: nothing is deleted */
        zkv_reclaim_plan_observe(r->plan, map, r->node, ids, n, now) != 0)
        return false;
    r->seen_map = map;
    r->seen_version = map->version;
    r->seen_at = now;
    return true;
}

/* One step of the plan; returns when to look again (ms). */
static uint64_t step(zkv_reclaim *r, const zkv_rangemap *map)
{
    uint64_t now = zkv_now_ms();
    if (!observe(r, map, now))
        return IDLE_TICK_MS;
    zkv_reclaim_step st = zkv_reclaim_plan_next(r->plan, now, r->delay_ms);
    char err[256];
    if (st.kind == ZKV_RECLAIM_FORGET) {
        char id[ZKV_ID_MAX];
        snprintf(id, sizeof(id), "%s", st.range_id);
        if (zkv_store_range_forget(r->store, id, err, sizeof(err)) != 0) {
            ZKV_ERROR("reclaim: cannot delete the log of range %s: %s", id, err);
            return IDLE_TICK_MS;
        }
        zkv_reclaim_plan_forgot(r->plan, id);
        r->counts.ranges_forgotten++;
        ZKV_INFO("reclaim: deleted the log and position of range %s, which this node has not "
                 "held for %llu ms",
                 id, (unsigned long long)r->delay_ms);
        return BUSY_TICK_MS;
    }
    if (st.kind != ZKV_RECLAIM_DELETE)
        return IDLE_TICK_MS;
    if (r->compacting)
        return WAIT_TICK_MS;
    bool resumes = r->mid_part && st.slen == r->last.len &&
                   (!st.slen || memcmp(st.start, r->last.data, st.slen) == 0);
    if (!resumes) { /* a new part (or the map changed the one under way) */
        if (set_buf(&r->part_start, st.start, st.slen) != 0)
            return IDLE_TICK_MS;
        r->part_keys = 0;
    }
    r->mid_part = true;
    size_t deleted = 0;
    if (zkv_store_delete_data(r->store, st.start, st.slen, st.end, st.elen, ZKV_RECLAIM_CHUNK,
                              &deleted, &r->last, err, sizeof(err)) != 0) {
        ZKV_ERROR("reclaim: cannot delete data this node no longer holds: %s", err);
        return IDLE_TICK_MS;
    }
    r->counts.keys_deleted += deleted;
    r->part_keys += deleted;
    if (deleted == ZKV_RECLAIM_CHUNK) { /* resume just past the last key */
        uint8_t zero = 0;
        if (zkv_buf_append(&r->last, &zero, 1) != 0 ||
            zkv_reclaim_plan_cleaned(r->plan, st.piece, r->last.data, r->last.len) != 0)
            return IDLE_TICK_MS;
        return BUSY_TICK_MS;
    }
    size_t piece = st.piece;
    finish_part(r, &st);
    zkv_reclaim_plan_cleaned(r->plan, piece, NULL, 0);
    return BUSY_TICK_MS;
}

static void on_tick(uv_timer_t *t)
{
    zkv_reclaim *r = t->data;
    zkv_reclaim_view v = r->view(r->ctx);
    uint64_t next = v.may_act && v.map ? step(r, v.map) : IDLE_TICK_MS;
    zkv_reclaim_plan_pending(r->plan, &r->counts.pending_parts, &r->counts.pending_ranges);
    if (!r->stopped)
        uv_timer_start(&r->timer, on_tick, next, 0);
}

zkv_reclaim *zkv_reclaim_start(uv_loop_t *loop, zkv_store *store, const char *node_id,
                               int64_t delay_ms, zkv_reclaim_view_fn view, void *ctx)
{
    if (delay_ms <= 0)
        return NULL;
    zkv_reclaim *r = calloc(1, sizeof(*r));
    if (!r || !(r->plan = zkv_reclaim_plan_new())) {
        free(r);
        return NULL;
    }
    r->loop = loop;
    r->store = store;
    snprintf(r->node, sizeof(r->node), "%s", node_id);
    r->delay_ms = (uint64_t)delay_ms;
    r->view = view;
    r->ctx = ctx;
    zkv_buf_init(&r->part_start);
    zkv_buf_init(&r->compact_end);
    zkv_buf_init(&r->last);
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    uv_timer_start(&r->timer, on_tick, IDLE_TICK_MS, 0);
    return r;
}

static void on_closed(uv_handle_t *h)
{
    zkv_reclaim *r = h->data;
    r->timer_closed = true;
}

void zkv_reclaim_stop(zkv_reclaim *r)
{
    if (!r || r->stopped)
        return;
    r->stopped = true;
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, on_closed);
}

void zkv_reclaim_free(zkv_reclaim *r)
{
    if (!r)
        return;
    zkv_reclaim_plan_free(r->plan);
    zkv_buf_free(&r->part_start);
    zkv_buf_free(&r->compact_end);
    zkv_buf_free(&r->last);
    free(r);
}

void zkv_reclaim_counts_get(const zkv_reclaim *r, zkv_reclaim_counts *out)
{
    if (r)
        *out = r->counts;
    else
        memset(out, 0, sizeof(*out));
}
