/* acks.c: answers held until replica acks (see acks.h). */
#include "acks.h"

#include <stdlib.h>
#include <string.h>
#include "common/frame.h"
#include "common/log.h"
#include "common/util.h"
#include "handoff.h"
#include "readvis.h"
#include "server_int.h"
#include "shipper.h"

size_t zkv_acks_held_bytes(const zkv_conn *c)
{
    return zkv_buf_unread(&c->held_bytes);
}

bool zkv_acks_must_hold(const zkv_conn *c, zkv_held_kind kind)
{
    return kind != ZKV_HELD_NONE || c->held_n > 0;
}

int zkv_acks_hold(zkv_conn *c, const Zkv__Response *resp, zkv_held_kind kind, const char *range_id,
                  uint64_t epoch, uint64_t seq, int op, uint64_t start_us)
{
    if (c->held_n == c->held_cap) {
        size_t ncap = c->held_cap ? c->held_cap * 2 : 32;
        zkv_held *nh = malloc(ncap * sizeof(*nh));
        if (!nh)
            return -1;
        for (size_t i = 0; i < c->held_n; i++)
            nh[i] = c->held[(c->held_head + i) % c->held_cap];
        free(c->held);
        c->held = nh;
        c->held_cap = ncap;
        c->held_head = 0;
    }
    if (c->held_bytes.off > (size_t)1024 * 1024)
        zkv_buf_compact(&c->held_bytes);
    size_t before = c->held_bytes.len;
    if (kind != ZKV_HELD_MOVED && zkv_frame_append_response(&c->held_bytes, resp) != 0)
        return -1;
    zkv_held *h = &c->held[(c->held_head + c->held_n) % c->held_cap];
    memset(h, 0, sizeof(*h));
    h->id = resp->id;
    h->len = c->held_bytes.len - before;
    h->kind = kind;
    h->op = op;
    h->start_us = start_us;
    if (kind != ZKV_HELD_NONE) {
        snprintf(h->range_id, sizeof(h->range_id), "%s", range_id);
        h->epoch = epoch;
        h->seq = seq;
    }
    c->held_n++;
    if (!c->in_held_list) {
        c->in_held_list = true;
        c->held_next = c->srv->held_conns;
        c->srv->held_conns = c;
    }
    return 0;
}

static uint64_t map_version(const zkv_server *s)
{
    return s->map && s->map->version > 0 ? (uint64_t)s->map->version : 0;
}

/* The answer to a request held while its range moved, split or merged (that is over):
 * NOT_OWNER, with the map that shows where the range went, or an invitation to retry
 * here when it did not move. */
static int append_moved(zkv_server *s, zkv_conn *c, const zkv_held *h)
{
    const zkv_range *r = s->map ? zkv_dispatch_find_range(s->map, h->range_id) : NULL;
    char msg[160];
    if (r && strcmp(r->owner, s->opt->node_id) != 0)
        snprintf(msg, sizeof(msg), "range %s moved to %s", h->range_id,
                 r->owner[0] ? r->owner : "no owner");
    else if (!r)
        snprintf(msg, sizeof(msg), "range %s was split or merged; send it again", h->range_id);
    else
        snprintf(msg, sizeof(msg), "range %s did not move after all; send it again", h->range_id);
    Zkv__Response resp = ZKV__RESPONSE__INIT;
    resp.id = h->id;
    resp.status = ZKV__STATUS__NOT_OWNER;
    resp.message = msg;
    resp.map_version = map_version(s);
    return zkv_frame_append_response(zkv_outq_bytes(&c->out), &resp);
}

/* The UNAVAILABLE answer of a write or read whose range left this node while it waited. */
static int append_unowned(zkv_server *s, zkv_conn *c, const zkv_held *h)
{
    Zkv__Response r = ZKV__RESPONSE__INIT;
    r.id = h->id;
    r.status = ZKV__STATUS__UNAVAILABLE;
    r.message = h->kind == ZKV_HELD_READ ? ZKV_ACKS_READ_OWNERSHIP_MSG : ZKV_ACKS_OWNERSHIP_MSG;
    r.map_version = map_version(s);
    return zkv_frame_append_response(zkv_outq_bytes(&c->out), &r);
}

/* Moves held answer h to c's output if it may go. Returns 1 when it must keep waiting, 0
 * when it went, -1 out of memory. */
static int release_one(zkv_server *s, zkv_conn *c, const zkv_held *h)
{
    bool owned = true;
    uint64_t cp = 0;
    switch (h->kind) {
    case ZKV_HELD_MOVED:
        if (zkv_handoffs_gate(s->handoffs, h->range_id) != ZKV_HO_SERVE)
            return 1;
        return append_moved(s, c, h) == 0 ? 0 : -1;
    case ZKV_HELD_WRITE:
        cp = zkv_shipper_commit_point(s->shipper, h->range_id, h->epoch, &owned);
        break;
    case ZKV_HELD_READ: {
        const zkv_readvis *vis = zkv_shipper_readvis(s->shipper, h->range_id, h->epoch);
        owned = vis != NULL;
        cp = vis ? zkv_readvis_point(vis) : 0;
        break;
    }
    case ZKV_HELD_NONE:
    default:
        return zkv_buf_append(zkv_outq_bytes(&c->out), zkv_buf_head(&c->held_bytes), h->len) == 0
                   ? 0
                   : -1;
    }
    if (!owned)
        return append_unowned(s, c, h) == 0 ? 0 : -1;
    if (cp < h->seq)
        return 1;
    return zkv_buf_append(zkv_outq_bytes(&c->out), zkv_buf_head(&c->held_bytes), h->len) == 0 ? 0
                                                                                              : -1;
}

/* Releases c's head entries; returns true when c still holds answers. */
static bool release(zkv_conn *c)
{
    zkv_server *s = c->srv;
    bool moved = false;
    while (c->held_n > 0 && !c->closing) {
        zkv_held *h = &c->held[c->held_head];
        int rc = release_one(s, c, h);
        if (rc > 0)
            break;
        if (rc != 0) {
            ZKV_WARN("connection from %s: cannot queue an answer (out of memory); closing",
                     c->peer);
            c->close_after_flush = true;
            zkv_acks_drop(c);
            break;
        }
        zkv_metrics_observe(&s->stats.latency, (zkv_metrics_op)h->op, zkv_now_us() - h->start_us);
        zkv_buf_consume(&c->held_bytes, h->len);
        c->held_head = (c->held_head + 1) % c->held_cap;
        c->held_n--;
        moved = true;
    }
    if (moved)
        zkv_conn_mark_dirty(c);
    return c->held_n > 0 && !c->closing;
}

void zkv_acks_release_all(zkv_server *s)
{
    zkv_conn **pp = &s->held_conns;
    while (*pp) {
        zkv_conn *c = *pp;
        if (release(c)) {
            pp = &c->held_next;
            continue;
        }
        *pp = c->held_next;
        c->held_next = NULL;
        c->in_held_list = false;
    }
}

void zkv_acks_drop(zkv_conn *c)
{
    c->held_n = 0;
    c->held_head = 0;
    c->held_bytes.len = c->held_bytes.off = 0;
}
