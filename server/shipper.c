/* shipper.c: owner-side replication (see shipper.h and docs/replication.md).
 *
 * Objects, all on the loop thread:
 *   owned  - a range this node owns by its map: a copy of the range (bounds, replicas,
 *            confirmed in_sync, znode version), one stream per replica, the commit point
 *            that releases write answers, the in_sync write in flight, truncation progress.
 *   stream - one (range, replica): the state machine of zkv_ship_state, what was shipped
 *            (next_seq, prev), frames in flight, an open snapshot, and the replica's
 *            zkv_repl_replica record (acked seq, caught-up time, in_sync flags).
 *   peer   - one TCP connection to a replica node, shared by all its streams: HELLO, then
 *            pipelined requests whose answers come back in order (a FIFO of what each one
 *            was); reconnects with backoff (50 ms doubling to 1 s).
 *
 * Sending happens in zkv_shipper_after_commit (called by before_sleep right after the
 * group commit, and by the 50 ms tick) so only committed entries are shipped; answers
 * from replicas only update state. Decisions are pure: zkv_ship_next (transitions),
 * zkv_repl_plan (STREAM or SNAPSHOT), repl_state.h (commit point, in_sync, truncation),
 * zkv_tail_source (where a stream's entries come from).
 *
 * The per-write cost of shipping (docs/performance.md):
 *   - Each owned range keeps a tail (tail.h): its recent committed log entries in memory,
 *     at most ZKV_TAIL_BUDGET bytes. A streaming replica whose next seq is in the tail is
 *     served from it; one log read per range and pass (tail_fill) extends the tail for
 *     all the range's streams, instead of one read per stream, and the store answers that
 *     read from the batch it just committed, in memory (store.c); a stream behind the
 *     tail (catch-up, a new replica) reads the log itself, as it always did.
 *   - When a range has several streams, an APPEND frame is encoded once per pass and
 *     position (frame_memo) and the same bytes go to each peer: request ids come from one
 *     counter for all connections, so the id inside the frame is valid on each of them
 *     (answers are matched in order, the id is only checked against the FIFO's head).
 *   - APPEND frames are encoded and answers decoded by hand (ship_wire.h), the same bytes
 *     and values as protobuf-c, which keeps the odd shapes.
 *
 * Why the tail equals the log. A tail is filled only by tail_fill, which copies entries
 * zkv_store_read_log returns with seq <= the range's committed seq, appended only when they
 * continue the tail (consecutive seq, epochs not falling; otherwise it is emptied). So each
 * tail entry was, when copied, the committed log entry of its seq, byte for byte (seq,
 * epoch, op, key, value, expiry). It stays so while no committed log entry changes. What
 * changes a range's log on a node:
 *   1. appends at last + 1: the owner's own writes (zkv_store_put/delete) and applied
 *      replication entries (zkv_store_apply). They add entries, they change none.
 *   2. front truncation (zkv_store_truncate_log): by this shipper for an owned range
 *      (truncate_step drops the same entries from the tail), or by replica.c after an
 *      APPEND (case 3 below).
 *   3. a reset (zkv_store_range_reset: SNAPSHOT BEGIN, an abandoned snapshot dropped by an
 *      APPEND from seq 0) followed by a new position (zkv_store_range_set_position) and new
 *      entries that may reuse seqs with other contents. Only replica.c does this, and only
 *      for traffic sender_ok accepted; sender_ok first notes the request's epoch in the store
 *      (zkv_store_range_note_epoch), and the store's minimum epoch of a range never falls
 *      while the process runs (the highest noted epoch, the snapshot's, the stored one).
 *      While this node owns the range at epoch E by its map, sender_ok accepts only epochs
 *      above E, and only from the node it handed the range to (at E nothing: a range this
 *      node owns takes no replication), so
 *      after any such traffic zkv_store_range_min_epoch > E. tail_check runs before the tail
 *      is used in a pass and empties it for good once min_epoch > E or a snapshot is being
 *      received, so entries from before a reset are never shipped; the log is read as before.
 *   4. the range's epoch: a new epoch (promotion, deposition) comes with a new map; the
 *      owned range of the old epoch is dropped with its tail (zkv_shipper_sync_map), and
 *      the new one starts with an empty tail. Losing ownership drops it likewise.
 *   5. range map changes of the same epoch (replicas, in_sync): owned_update empties the
 *      tail on any newer range znode, though the log did not change: cheap, rare, safe.
 *   6. a restart: the tail is memory only.
 * Nothing else writes a range's log ('l' keys): store.c has no other writer. */
#include "shipper.h"

#include <inttypes.h>
#include <stdarg.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/frame.h"
#include "common/log.h"
#include "common/util.h"
#include "common/zk.h"
#include "copythrottle.h"
#include "dispatch.h"
#include "handoff.h"
#include "membership.h"
#include "repl_plan.h"
#include "readvis.h"
#include "repl_state.h"
#include "common/auth.h"
#include "peerlink.h"
#include "store.h"
#include "ship_wire.h"
#include "tail.h"

#define TICK_MS 50u
#define RETRY_MS 200u     /* pause before probing again after a refusal */
#define MAP_RETRY_MS 10u  /* the same when the replica has not installed the range's map yet */
                          /* (UNAVAILABLE to a probe, an APPEND or a SNAPSHOT) */
#define ISR_RETRY_MS 500u /* pause before another in_sync write after a failure */
#define HISTORY_MAX 1024u

/* ---- pure parts ---- */

zkv_ship_state zkv_ship_next(zkv_ship_state s, zkv_ship_event ev)
{
    if (s == ZKV_SHIP_STOPPED)
        return s; /* only a new map (a new stream) ships again */
    switch (ev) {
    case ZKV_SHIP_EV_DISCONNECTED:
        return ZKV_SHIP_IDLE;
    case ZKV_SHIP_EV_CONNECTED:
        return s == ZKV_SHIP_IDLE ? ZKV_SHIP_PROBE : s;
    case ZKV_SHIP_EV_PLAN_STREAM:
        return s == ZKV_SHIP_PROBE ? ZKV_SHIP_STREAM : s;
    case ZKV_SHIP_EV_PLAN_SNAPSHOT:
        return s == ZKV_SHIP_PROBE ? ZKV_SHIP_SNAPSHOT : s;
    case ZKV_SHIP_EV_ACK:
        return s;
    case ZKV_SHIP_EV_SNAPSHOT_DONE:
        return s == ZKV_SHIP_SNAPSHOT ? ZKV_SHIP_STREAM : s;
    case ZKV_SHIP_EV_MISMATCH:
    case ZKV_SHIP_EV_ERROR:
        return s == ZKV_SHIP_IDLE ? s : ZKV_SHIP_PROBE;
    case ZKV_SHIP_EV_STALE:
        return ZKV_SHIP_STOPPED;
    }
    return s;
}

const char *zkv_ship_state_name(zkv_ship_state s)
{
    switch (s) {
    case ZKV_SHIP_IDLE:
        return "idle";
    case ZKV_SHIP_PROBE:
        return "probe";
    case ZKV_SHIP_STREAM:
        return "stream";
    case ZKV_SHIP_SNAPSHOT:
        return "snapshot";
    case ZKV_SHIP_STOPPED:
        return "stopped";
    }
    return "?";
}

zkv_ship_event zkv_ship_classify(Zkv__Status status, bool snapshot_end)
{
    switch (status) {
    case ZKV__STATUS__OK:
        return snapshot_end ? ZKV_SHIP_EV_SNAPSHOT_DONE : ZKV_SHIP_EV_ACK;
    case ZKV__STATUS__LOG_MISMATCH:
        return ZKV_SHIP_EV_MISMATCH;
    case ZKV__STATUS__STALE_EPOCH:
        return ZKV_SHIP_EV_STALE;
    default:
        return ZKV_SHIP_EV_ERROR;
    }
}

uint32_t zkv_ship_backoff_next(uint32_t prev_ms)
{
    if (prev_ms < 50)
        return 50;
    return prev_ms >= 500 ? 1000 : prev_ms * 2;
}

/* ---- state ---- */

typedef struct peer peer;
typedef struct stream stream;
typedef struct owned owned;

typedef enum { REQ_PROBE, REQ_APPEND, REQ_SNAP_BEGIN, REQ_SNAP_CHUNK, REQ_SNAP_END } req_kind;

/* One request in flight on a peer connection (the record of peerlink.h). */
typedef struct sent_req {
    zkv_peerlink_rec head; /* id, sent_ms */
    uint64_t stream_serial;
    uint32_t gen; /* the stream's generation when sent */
    req_kind kind;
    uint64_t last_seq;           /* APPEND: seq of its last entry (prev_seq when empty) */
    uint64_t owner_last_at_send; /* committed seq of the range when sent */
} sent_req;

/* An APPEND frame built for one stream of a range in the current pass, kept so that
 * another stream of the range at the same position sends the same bytes instead of
 * encoding them again. The key (prev, from, committed, commit point, heartbeat) fixes the
 * frame's content within a pass: the entries are the log's, the batching rule is the same
 * for every stream, and the map and epoch do not change during a pass. */
typedef struct frame_memo {
    uint64_t prev_seq, prev_epoch, from_seq, committed, commit_seq;
    bool heartbeat;
    uint64_t id;
    size_t off, len;               /* the frame in memo_buf */
    size_t n;                      /* entries */
    uint64_t next_seq, last_epoch; /* the stream's position after it */
} frame_memo;
#define FRAME_MEMO_MAX 16

struct stream {
    owned *rg;
    peer *p;
    stream *peer_next;
    uint64_t serial;
    uint32_t gen; /* bumped when the stream restarts: older answers are ignored */
    zkv_ship_state st;
    bool probe_sent;
    uint64_t retry_at;
    uint64_t next_seq, prev_seq, prev_epoch; /* next entry to ship, last entry shipped */
    int inflight;
    uint64_t last_sent_ms;
    zkv_store_snapshot *snap;
    bool snap_begin_sent, snap_items_done, snap_end_sent;
    uint64_t snap_seq, snap_epoch;
    uint64_t snap_t0, snap_bytes; /* when BEGIN went, item bytes sent (the log line) */
    zkv_repl_replica *rep;        /* &rg->reps[index] */
};

struct owned {
    zkv_range range; /* deep copy; in_sync = the confirmed set, zversion its znode version */
    stream *streams[ZKV_MAX_REPLICAS];
    zkv_repl_replica reps[ZKV_MAX_REPLICAS];
    /* Recent committed log entries, shipped without reading LevelDB (tail.h); tail_ok is
     * whether it may be used in the current pass (see the header comment), tail_pass the
     * pass it was computed in. */
    zkv_tail tail;
    uint64_t tail_pass;
    /* The store's state of this range, looked up once: the store never frees or moves a
     * range's state before it closes, and an owned range keeps its id. Saves a hash lookup
     * per owned range per loop turn (zkv_shipper_after_commit runs twice a turn). A range
     * with no state yet (never written here) is looked up again only once the store has
     * more ranges: store_miss is 1 + the store's range count at the last miss, 0 for none. */
    const zkv_range_state *store_state;
    size_t store_miss;
    /* Whether a pass must pump this range (see zkv_shipper_after_commit): dirty when
     * something of it changed (an answer, a stream's state, an in_sync result), or when
     * its committed seq moved past pumped_committed, the committed seq of its last pump. */
    uint64_t pumped_committed;
    uint64_t commit_point;
    zkv_readvis vis; /* what owner reads may see (readvis.h), for this ownership */
    uint64_t isr_retry_at;
    uint64_t trunc_floor;
    int n;
    int32_t isr_wait_zversion;
    bool isr_inflight;
    bool isr_wait_map; /* a conditional write lost: wait for a newer map */
    bool truncating;
    bool logged_gate;
    bool tail_ok;
    bool dirty;
};

/* A peer node: its replication link (peerlink.h) and the streams that use it. */
struct peer {
    zkv_shipper *sh;
    char node_id[ZKV_ID_MAX];
    peer *next;
    zkv_peerlink *link;
    stream *streams;
};

struct zkv_shipper {
    zkv_ship_node node; /* what the shipper may use of its node (shipper.h) */
    zkv_shipper_options opt;
    owned **ranges;
    size_t n_ranges, cap_ranges;
    /* by_map[i]: the owned range of the map's i-th range, or NULL (rebuilt by sync_map), so
     * a read finds its range's state without comparing ids */
    owned **by_map;
    zkv_readvis **vis_by_map; /* the same, their read visibility (dispatch's fast path) */
    size_t n_by_map, cap_by_map;
    const zkv_rangemap *by_map_of; /* the map by_map was built for, and its version */
    int64_t by_map_version;
    peer *peers;
    uv_timer_t tick;
    bool tick_open;
    /* --copy-rate-mb and --max-copies over the snapshot streams (copythrottle.h); the timer
     * wakes a snapshot when the bucket holds a chunk again */
    zkv_copythrottle copy;
    uv_timer_t copy_timer;
    bool copy_timer_open;
    int open_handles;
    bool closing;
    uint64_t next_serial;
    uint64_t next_req_id; /* request ids of every peer connection (peer_send) */
    uint64_t pass;        /* zkv_shipper_after_commit runs */
    /* APPEND frames built in this pass for the range being pumped (send_append) */
    zkv_buf memo_buf;
    frame_memo memo[FRAME_MEMO_MAX];
    size_t n_memo;
    /* scratch for building frames */
    zkv_buf data;
    Zkv__LogEntry *entries;
    Zkv__LogEntry **entry_ptrs;
    size_t *entry_offs;
    Zkv__KeyValue *items;
    Zkv__KeyValue **item_ptrs;
    size_t entries_cap, items_cap;
    zkv_epoch_start hist[HISTORY_MAX];
    /* zkv_shipper_after_commit has nothing to do while the node has no peers, no owned
     * range has replicas, no map came (kick) and the store committed nothing since its last
     * run (seen_commits): then it returns at once (it runs twice per loop turn). */
    bool kick;
    uint64_t seen_commits;
    uint64_t appends_sent, appends_acked; /* APPEND frames (zkv_shipper_metrics) */
    char secret[ZKV_AUTH_MAX_SECRET + 1]; /* the cluster secret links present ("": none) */
};

/* A storage error the node cannot go on after (the node's fatal hook). */
static void ship_fatal(zkv_shipper *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void ship_fatal(zkv_shipper *sh, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (sh->node.fatal)
        sh->node.fatal(sh->node.ctx, why);
}

static void tail_check(zkv_shipper *sh, owned *o);
static void stream_event(stream *st, zkv_ship_event ev);

/* ---- owned ranges ---- */

static owned *find_owned(zkv_shipper *sh, const char *range_id)
{
    for (size_t i = 0; i < sh->n_ranges; i++)
        if (strcmp(sh->ranges[i]->range.id, range_id) == 0)
            return sh->ranges[i];
    return NULL;
}

static const zkv_range_state *range_store_state(zkv_shipper *sh, const owned *o)
{
    owned *m = (owned *)o; /* a cache only: every owned is allocated mutable */
    if (!m->store_state) {
        size_t n = zkv_store_range_count(sh->node.store);
        if (m->store_miss == n + 1)
            return NULL; /* the store gained no range since the last miss */
        m->store_state = zkv_store_range(sh->node.store, m->range.id);
        m->store_miss = m->store_state ? 0 : n + 1;
    }
    return m->store_state;
}

static uint64_t committed_seq(zkv_shipper *sh, const owned *o)
{
    const zkv_range_state *rs = range_store_state(sh, o);
    return rs ? rs->committed_seq : 0;
}

static void update_commit_point(zkv_shipper *sh, owned *o)
{
    o->commit_point = zkv_repl_commit_point(committed_seq(sh, o), o->reps, (size_t)o->n);
    bool acks = false;
    for (int i = 0; i < o->n && !acks; i++)
        acks = zkv_repl_in_ack_set(&o->reps[i]);
    const zkv_range_state *rs = acks ? NULL : range_store_state(sh, o);
    zkv_readvis_set_live(&o->vis, rs ? &rs->committed_seq : NULL);
    o->vis.stale = !acks && !rs;
    zkv_readvis_set_commit_point(&o->vis, o->commit_point);
}

/* ---- peers ---- */

static peer *find_peer(zkv_shipper *sh, const char *node_id)
{
    for (peer *p = sh->peers; p; p = p->next)
        if (strcmp(p->node_id, node_id) == 0)
            return p;
    return NULL;
}

static void handle_answer(peer *p, const sent_req *rq, const Zkv__Response *resp);

static void on_link_up(void *ctx)
{
    peer *p = ctx;
    for (stream *st = p->streams; st; st = st->peer_next)
        stream_event(st, ZKV_SHIP_EV_CONNECTED);
}

/* The connection went down: every stream of the peer goes back to IDLE. */
static void on_link_down(void *ctx)
{
    peer *p = ctx;
    for (stream *st = p->streams; st; st = st->peer_next)
        stream_event(st, ZKV_SHIP_EV_DISCONNECTED);
}

static void on_link_answer(void *ctx, void *rec, const Zkv__Response *resp)
{
    handle_answer(ctx, rec, resp);
}

/* Records a request just put on the link (r: its record, NULL when the link failed). */
static sent_req *peer_record(peer *p, sent_req *r, req_kind kind, stream *st)
{
    if (!r)
        return NULL;
    r->kind = kind;
    p->sh->appends_sent += kind == REQ_APPEND;
    if (st) {
        r->stream_serial = st->serial;
        r->gen = st->gen;
        st->last_sent_ms = r->head.sent_ms;
    }
    return r;
}

/* Frames req onto the peer's link and records it; returns the record or NULL (the link
 * failed, out of memory). Request ids come from one counter of the shipper, so one APPEND
 * frame (id included) can go to several peers unchanged (see send_append): a connection's
 * ids stay distinct, which is all the answers need (they are matched in order; replicas
 * only echo ids). */
static sent_req *peer_send(peer *p, Zkv__Request *req, req_kind kind, stream *st)
{
    return peer_record(p, zkv_peerlink_send(p->link, req), kind, st);
}

/* Appends an already framed request (id inside it) to the peer's link and records it. */
static sent_req *peer_send_framed(peer *p, const uint8_t *frame, size_t len, uint64_t id,
                                  req_kind kind, stream *st)
{
    return peer_record(p, zkv_peerlink_send_framed(p->link, frame, len, id), kind, st);
}

static stream *find_stream(peer *p, uint64_t serial)
{
    for (stream *st = p->streams; st; st = st->peer_next)
        if (st->serial == serial)
            return st;
    return NULL;
}

static peer *peer_get(zkv_shipper *sh, const char *node_id)
{
    peer *p = find_peer(sh, node_id);
    if (p)
        return p;
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->sh = sh;
    snprintf(p->node_id, sizeof(p->node_id), "%s", node_id);
    zkv_peerlink_cfg cfg = {.loop = sh->node.loop,
                            .cluster_id = sh->node.cluster_id,
                            .node_id = sh->node.node_id,
                            .auth = sh->secret,
                            .tls = sh->node.tls,
                            .next_id = &sh->next_req_id,
                            .open_handles = &sh->open_handles,
                            .rec_size = sizeof(sent_req),
                            .on_up = on_link_up,
                            .on_down = on_link_down,
                            .on_answer = on_link_answer,
                            .ctx = p};
    if (!(p->link = zkv_peerlink_new(&cfg, node_id))) {
        free(p);
        return NULL;
    }
    p->next = sh->peers;
    sh->peers = p;
    return p;
}

/* A peer no stream uses any more goes, with its link. */
static void peer_release(peer *p)
{
    if (p->streams)
        return;
    zkv_shipper *sh = p->sh;
    for (peer **pp = &sh->peers; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    zkv_peerlink_release(p->link);
    free(p);
}

/* ---- streams ---- */

static void stream_reset(stream *st)
{
    st->gen++;
    st->inflight = 0;
    st->probe_sent = false;
    if (st->snap) {
        zkv_store_snapshot_close(st->snap);
        st->snap = NULL;
    }
    st->snap_begin_sent = st->snap_items_done = st->snap_end_sent = false;
    zkv_copythrottle_release(&st->p->sh->copy, st->serial); /* an abandoned snapshot */
    st->rep->streaming = false;
}

static void stream_event(stream *st, zkv_ship_event ev)
{
    st->rg->dirty = true;
    zkv_ship_state from = st->st;
    zkv_ship_state to = zkv_ship_next(from, ev);
    if (ev == ZKV_SHIP_EV_DISCONNECTED || ev == ZKV_SHIP_EV_CONNECTED)
        st->rep->connected = ev == ZKV_SHIP_EV_CONNECTED;
    if (to == from && ev != ZKV_SHIP_EV_MISMATCH && ev != ZKV_SHIP_EV_ERROR)
        return;
    if (to != from)
        ZKV_DEBUG("range %s -> %s: %s -> %s", st->rg->range.id, st->rep->node_id,
                  zkv_ship_state_name(from), zkv_ship_state_name(to));
    if (to == ZKV_SHIP_STOPPED && from != ZKV_SHIP_STOPPED)
        ZKV_WARN("range %s: replica %s answered STALE_EPOCH to epoch %" PRIu64
                 "; stopping replication (this node is no longer the owner)",
                 st->rg->range.id, st->rep->node_id, st->rg->range.epoch);
    if (to == ZKV_SHIP_PROBE || to == ZKV_SHIP_IDLE || to == ZKV_SHIP_STOPPED) {
        stream_reset(st);
        if (ev == ZKV_SHIP_EV_ERROR || ev == ZKV_SHIP_EV_MISMATCH)
            st->retry_at = zkv_now_ms() + (ev == ZKV_SHIP_EV_ERROR ? RETRY_MS : 0);
    }
    st->st = to;
    st->rep->streaming = to == ZKV_SHIP_STREAM;
}

static stream *stream_new(zkv_shipper *sh, owned *o, int idx, const char *node_id)
{
    stream *st = calloc(1, sizeof(*st));
    peer *p = st ? peer_get(sh, node_id) : NULL;
    if (!p) {
        free(st);
        return NULL;
    }
    st->rg = o;
    st->p = p;
    st->serial = ++sh->next_serial;
    st->rep = &o->reps[idx];
    st->st = ZKV_SHIP_IDLE;
    st->peer_next = p->streams;
    p->streams = st;
    if (zkv_peerlink_ready(p->link))
        stream_event(st, ZKV_SHIP_EV_CONNECTED);
    else
        zkv_peerlink_start(p->link);
    return st;
}

static void stream_free(stream *st)
{
    peer *p = st->p;
    for (stream **pp = &p->streams; *pp; pp = &(*pp)->peer_next)
        if (*pp == st) {
            *pp = st->peer_next;
            break;
        }
    if (st->snap)
        zkv_store_snapshot_close(st->snap);
    zkv_copythrottle_release(&p->sh->copy, st->serial);
    free(st);
    peer_release(p);
}

/* ---- answers ---- */

static uint64_t epoch_of_seq(const zkv_epoch_start *h, size_t n, uint64_t seq, uint64_t dflt)
{
    uint64_t e = dflt, best = 0;
    bool found = false;
    for (size_t i = 0; i < n; i++)
        if (h[i].start_seq <= seq && (!found || h[i].start_seq >= best)) {
            e = h[i].epoch;
            best = h[i].start_seq;
            found = true;
        }
    return e;
}

static size_t load_history(zkv_shipper *sh, const char *range_id)
{
    int n = zkv_store_history(sh->node.store, range_id, sh->hist, HISTORY_MAX);
    if (n < 0)
        return 0;
    return (size_t)n > HISTORY_MAX ? HISTORY_MAX : (size_t)n;
}

static void on_probe_answer(stream *st, const Zkv__Response *resp)
{
    zkv_shipper *sh = st->p->sh;
    owned *o = st->rg;
    if (resp->status != ZKV__STATUS__OK) {
        stream_event(st, zkv_ship_classify(resp->status, false));
        if (resp->status == ZKV__STATUS__UNAVAILABLE)   /* the replica's map is behind (a range */
            st->retry_at = zkv_now_ms() + MAP_RETRY_MS; /* just split or merged): ask soon */
        return;
    }
    const zkv_range_state *rs = range_store_state(sh, o);
    uint64_t last = rs ? rs->committed_seq : 0, last_epoch = rs ? rs->committed_epoch : 0;
    size_t nh = load_history(sh, o->range.id);
    uint64_t first = zkv_store_log_first_seq(sh->node.store, o->range.id);
    uint64_t from = 0;
    zkv_repl_action a = zkv_repl_plan(sh->hist, nh, first, last, last_epoch, resp->range_epoch,
                                      resp->range_seq, &from);
    if (a == ZKV_REPL_STREAM) {
        st->next_seq = from;
        st->prev_seq = from - 1;
        if (from - 1 == resp->range_seq)
            st->prev_epoch = resp->range_epoch;
        else
            st->prev_epoch = from - 1 == 0 ? 0 : epoch_of_seq(sh->hist, nh, from - 1, last_epoch);
        zkv_repl_on_ack(st->rep, from - 1, last, zkv_now_ms(), true);
        ZKV_INFO("range %s: replica %s at (%" PRIu64 ", %" PRIu64 "); streaming from seq %" PRIu64,
                 o->range.id, st->rep->node_id, resp->range_epoch, resp->range_seq, from);
        stream_event(st, ZKV_SHIP_EV_PLAN_STREAM);
    } else {
        zkv_repl_on_ack(st->rep, 0, last, 0, true);
        ZKV_INFO("range %s: replica %s at (%" PRIu64 ", %" PRIu64
                 ") needs a snapshot (owner log %" PRIu64 "..%" PRIu64 ")",
                 o->range.id, st->rep->node_id, resp->range_epoch, resp->range_seq, first, last);
        stream_event(st, ZKV_SHIP_EV_PLAN_SNAPSHOT);
    }
    update_commit_point(sh, o);
}

static void handle_answer(peer *p, const sent_req *rq, const Zkv__Response *resp)
{
    p->sh->appends_acked += rq->kind == REQ_APPEND && resp->status == ZKV__STATUS__OK;
    stream *st = find_stream(p, rq->stream_serial);
    if (!st || st->gen != rq->gen)
        return;           /* a restarted or removed stream */
    st->rg->dirty = true; /* room in flight, an ack, or a new state: pump it */
    if (st->inflight > 0)
        st->inflight--;
    zkv_shipper *sh = p->sh;
    switch (rq->kind) {
    case REQ_PROBE:
        st->probe_sent = false;
        on_probe_answer(st, resp);
        return;
    case REQ_APPEND:
        if (resp->status == ZKV__STATUS__OK) {
            zkv_repl_on_ack(st->rep, rq->last_seq, rq->owner_last_at_send, rq->head.sent_ms, false);
            update_commit_point(sh, st->rg);
            return;
        }
        break;
    case REQ_SNAP_BEGIN:
    case REQ_SNAP_CHUNK:
        if (resp->status == ZKV__STATUS__OK)
            return;
        break;
    case REQ_SNAP_END:
        if (resp->status == ZKV__STATUS__OK) {
            uint64_t ms = zkv_now_ms() - st->snap_t0;
            ZKV_INFO("range %s: snapshot at seq %" PRIu64 " installed on %s: %" PRIu64
                     " bytes in %" PRIu64 " ms (%.1f MiB/s); streaming",
                     st->rg->range.id, st->snap_seq, st->rep->node_id, st->snap_bytes, ms,
                     (double)st->snap_bytes / 1048576.0 / ((double)(ms ? ms : 1) / 1000.0));
            zkv_copythrottle_release(&sh->copy, st->serial);
            st->next_seq = st->snap_seq + 1;
            st->prev_seq = st->snap_seq;
            st->prev_epoch = st->snap_epoch;
            zkv_repl_on_ack(st->rep, st->snap_seq, committed_seq(sh, st->rg), rq->head.sent_ms,
                            false);
            if (st->snap) {
                zkv_store_snapshot_close(st->snap);
                st->snap = NULL;
            }
            stream_event(st, ZKV_SHIP_EV_SNAPSHOT_DONE);
            update_commit_point(sh, st->rg);
            return;
        }
        break;
    }
    if (resp->status == ZKV__STATUS__UNAVAILABLE) /* its map lags this one: soon again */
        ZKV_DEBUG("range %s: replica %s is not ready for this map: %s", st->rg->range.id,
                  st->rep->node_id, resp->message ? resp->message : "");
    else if (resp->status != ZKV__STATUS__LOG_MISMATCH && resp->status != ZKV__STATUS__STALE_EPOCH)
        ZKV_WARN("range %s: replica %s refused a replication frame: %s %s", st->rg->range.id,
                 st->rep->node_id, zkv_status_name(resp->status),
                 resp->message ? resp->message : "");
    else if (resp->status == ZKV__STATUS__LOG_MISMATCH)
        ZKV_INFO("range %s: replica %s reports a log mismatch at (%" PRIu64 ", %" PRIu64
                 "); probing again",
                 st->rg->range.id, st->rep->node_id, resp->range_epoch, resp->range_seq);
    stream_event(st, zkv_ship_classify(resp->status, rq->kind == REQ_SNAP_END));
    if (resp->status == ZKV__STATUS__UNAVAILABLE)
        st->retry_at = zkv_now_ms() + MAP_RETRY_MS;
}

/* ---- sending ---- */

typedef struct log_ctx {
    zkv_shipper *sh;
    uint64_t expect;  /* next seq expected */
    uint64_t max_seq; /* committed last seq */
    size_t n, bytes;
    bool gap;
    bool oom;
    uint64_t last_epoch;
    uint64_t batch_end; /* an atomic batch being taken ends at this seq: no frame ends before */
} log_ctx;

static int grow_entries(zkv_shipper *sh, size_t need)
{
    if (need <= sh->entries_cap)
        return 0;
    size_t ncap = sh->entries_cap ? sh->entries_cap * 2 : 256;
    while (ncap < need)
        ncap *= 2;
    Zkv__LogEntry *e = realloc(sh->entries, ncap * sizeof(*e));
    if (!e)
        return -1;
    sh->entries = e;
    Zkv__LogEntry **p = realloc(sh->entry_ptrs, ncap * sizeof(Zkv__LogEntry *));
    if (!p)
        return -1;
    sh->entry_ptrs = p;
    size_t *off = realloc(sh->entry_offs, 2 * ncap * sizeof(*off));
    if (!off)
        return -1;
    sh->entry_offs = off;
    sh->entries_cap = ncap;
    return 0;
}

/* The batching rule of an APPEND frame, the same whichever source the entries come
 * from: at least one entry, then up to ZKV_SHIP_FRAME_BYTES / ZKV_SHIP_FRAME_ENTRIES. */
static size_t entry_cost(size_t klen, size_t vlen)
{
    return klen + vlen + 40;
}

static bool frame_full(size_t n, size_t bytes, size_t cost)
{
    return n > 0 && (bytes + cost > ZKV_SHIP_FRAME_BYTES || n >= ZKV_SHIP_FRAME_ENTRIES);
}

/* The next entry of c's batch, made room for and initialised (seq, epoch, op, key and value
 * lengths, expiry: a PUT's only), whichever source it comes from; the caller points the
 * key and value at their bytes, then counts it with batch_took. NULL out of memory. */
static Zkv__LogEntry *batch_entry(log_ctx *c, uint64_t seq, uint64_t epoch, zkv_log_op op,
                                  size_t klen, size_t vlen, uint64_t expiry_ms,
                                  const zkv_write_tag *tag)
{
    if (grow_entries(c->sh, c->n + 1) != 0)
        return NULL;
    Zkv__LogEntry *le = &c->sh->entries[c->n];
    zkv__log_entry__init(le);
    le->seq = seq;
    le->epoch = epoch;
    le->op = op == ZKV_LOG_OP_PUT ? ZKV__OP__PUT : ZKV__OP__DELETE;
    le->key.len = klen;
    if (op == ZKV_LOG_OP_PUT) {
        le->value.len = vlen;
        le->expiry_ms = expiry_ms;
    }
    le->client_id = tag->client_id;
    le->client_seq = tag->client_seq;
    le->batch_end = tag->batch_end;
    return le;
}

/* Whether the frame ends before entry seq: it is full, and seq does not continue an atomic
 * batch (a batch goes whole: its size is bounded by the MULTI_WRITE that made it). */
static bool frame_ends(const log_ctx *c, uint64_t seq, size_t cost)
{
    return seq > c->batch_end && frame_full(c->n, c->bytes, cost);
}

static void batch_took(log_ctx *c, uint64_t seq, uint64_t epoch, uint64_t batch_end, size_t cost)
{
    if (batch_end > seq)
        c->batch_end = batch_end;
    c->n++;
    c->bytes += cost;
    c->expect = seq + 1;
    c->last_epoch = epoch;
}

static int collect_entry(void *vctx, uint64_t seq, const zkv_log_view *e)
{
    log_ctx *c = vctx;
    zkv_shipper *sh = c->sh;
    if (seq > c->max_seq)
        return 1;
    if (seq != c->expect) {
        c->gap = true;
        return 1;
    }
    bool put = e->op == ZKV_LOG_OP_PUT;
    size_t vlen = put ? e->value.value_len : 0;
    size_t cost = entry_cost(e->key_len, vlen);
    if (frame_ends(c, seq, cost))
        return 1;
    /* The bytes are copied (the log read's buffers go away); the entries point at them
     * once the batch is complete (entry_offs). */
    if (!batch_entry(c, seq, e->epoch, e->op, e->key_len, vlen, put ? e->value.meta.expiry_ms : 0,
                     &e->tag)) {
        c->oom = true;
        return 1;
    }
    sh->entry_offs[2 * c->n] = sh->data.len;
    if (zkv_buf_append(&sh->data, e->key, e->key_len) != 0) {
        c->oom = true;
        return 1;
    }
    sh->entry_offs[2 * c->n + 1] = sh->data.len;
    if (put && zkv_buf_append(&sh->data, e->value.value, vlen) != 0) {
        c->oom = true;
        return 1;
    }
    batch_took(c, seq, e->epoch, e->tag.batch_end, cost);
    return 0;
}

/* The same batch as collect_entry, from the range's tail: the entries point into the
 * tail's bytes (valid until the tail changes, which it does not before the frame is
 * encoded). Fills c->n, c->expect, c->last_epoch; -1 out of memory. */
static int collect_tail(log_ctx *c, const zkv_tail *t)
{
    zkv_shipper *sh = c->sh;
    for (uint64_t seq = c->expect; seq <= c->max_seq; seq++) {
        const zkv_tail_entry *e = zkv_tail_at(t, seq);
        if (!e)
            break;
        size_t cost = entry_cost(e->klen, e->vlen);
        if (frame_ends(c, seq, cost))
            break;
        Zkv__LogEntry *le =
            batch_entry(c, seq, e->epoch, e->op, e->klen, e->vlen, e->expiry_ms, &e->tag);
        if (!le)
            return -1;
        le->key.data = (uint8_t *)zkv_tail_key(t, e);
        if (e->op == ZKV_LOG_OP_PUT)
            le->value.data = (uint8_t *)zkv_tail_value(t, e);
        batch_took(c, seq, e->epoch, e->tag.batch_end, cost);
    }
    for (size_t i = 0; i < c->n; i++) /* grow_entries may have moved them */
        sh->entry_ptrs[i] = &sh->entries[i];
    return 0;
}

typedef struct fill_ctx {
    zkv_tail *t;
    uint64_t max_seq;
    size_t bytes;
    bool bad;
} fill_ctx;

static int fill_entry(void *vctx, uint64_t seq, const zkv_log_view *e)
{
    fill_ctx *c = vctx;
    if (seq > c->max_seq || c->bytes >= ZKV_TAIL_BUDGET / 2)
        return 1;
    bool put = e->op == ZKV_LOG_OP_PUT;
    size_t vlen = put ? e->value.value_len : 0;
    if (zkv_tail_append(c->t, seq, e->epoch, e->op, e->key, e->key_len, put ? e->value.value : NULL,
                        vlen, put ? e->value.meta.expiry_ms : 0, &e->tag) != 0) {
        c->bad = true; /* not the continuation of the tail (a gap), or out of memory */
        return 1;
    }
    c->bytes += e->key_len + vlen + ZKV_TAIL_ENTRY_COST;
    return 0;
}

/* Reads committed entries into o's tail with one log read: from stream_next when the tail
 * is empty, else from its end (zkv_tail_source), up to committed and about half the tail's
 * budget. A log that does not continue the tail empties it (the stream then reads the log
 * itself, which notices the gap). Returns -1 on a storage error. */
static int tail_fill(zkv_shipper *sh, owned *o, uint64_t stream_next, uint64_t committed)
{
    zkv_tail *t = &o->tail;
    uint64_t from = zkv_tail_last(t) + 1;
    if (zkv_tail_first(t) == 0) {
        zkv_tail_reset(t, stream_next);
        from = stream_next;
    }
    fill_ctx c = {.t = t, .max_seq = committed};
    char err[256];
    if (zkv_store_read_log(sh->node.store, o->range.id, from, fill_entry, &c, err, sizeof(err)) <
        0) {
        ZKV_ERROR("range %s: cannot read the log: %s", o->range.id, err);
        return -1;
    }
    if (c.bad)
        zkv_tail_reset(t, 0);
    return 0;
}

static void init_repl_request(Zkv__Request *req, zkv_shipper *sh, owned *o, Zkv__Op op)
{
    zkv__request__init(req);
    req->op = op;
    req->range_id = o->range.id;
    req->epoch = o->range.epoch;
    req->map_version = (*sh->node.map) ? (uint64_t)(*sh->node.map)->version : 0;
}

static const frame_memo *memo_find(const zkv_shipper *sh, const frame_memo *k)
{
    for (size_t i = 0; i < sh->n_memo; i++) {
        const frame_memo *m = &sh->memo[i];
        if (m->prev_seq == k->prev_seq && m->prev_epoch == k->prev_epoch &&
            m->from_seq == k->from_seq && m->committed == k->committed &&
            m->commit_seq == k->commit_seq && m->heartbeat == k->heartbeat)
            return m;
    }
    return NULL;
}

/* Sends the APPEND described by m (from the memo) to st: the same bytes, the same id. */
static int send_memo(stream *st, const frame_memo *m)
{
    zkv_shipper *sh = st->p->sh;
    sent_req *r =
        peer_send_framed(st->p, sh->memo_buf.data + m->off, m->len, m->id, REQ_APPEND, st);
    if (!r)
        return -1;
    r->owner_last_at_send = m->committed;
    if (m->n) {
        st->prev_seq = m->next_seq - 1;
        st->prev_epoch = m->last_epoch;
        st->next_seq = m->next_seq;
    }
    r->last_seq = st->prev_seq;
    st->inflight++;
    return 1;
}

/* One APPEND with the committed entries from st->next_seq (or none: a heartbeat).
 * Returns 1 when a frame went out, 0 when there was nothing to send, -1 on error.
 *
 * The entries come from the range's tail when it holds st->next_seq (filled by one log
 * read per range, whatever the number of replicas), else from the log as before. When the
 * range has several streams, the encoded frame is remembered for the pass: a stream at the
 * same position gets the same bytes (request ids are shared by all peers). */
static int send_append(stream *st, bool heartbeat)
{
    zkv_shipper *sh = st->p->sh;
    owned *o = st->rg;
    uint64_t last = committed_seq(sh, o);
    if (!heartbeat && st->next_seq > last)
        return 0;
    frame_memo key = {.prev_seq = st->prev_seq,
                      .prev_epoch = st->prev_epoch,
                      .from_seq = heartbeat ? 0 : st->next_seq,
                      .committed = last,
                      .commit_seq = o->commit_point,
                      .heartbeat = heartbeat};
    bool memo = o->n > 1;
    if (memo) {
        const frame_memo *m = memo_find(sh, &key);
        if (m)
            return send_memo(st, m);
    }
    log_ctx c = {.sh = sh, .expect = st->next_seq, .max_seq = last};
    sh->data.len = sh->data.off = 0;
    bool from_log = false;
    if (!heartbeat) {
        const zkv_tail *t = &o->tail;
        if (o->tail_pass != sh->pass) {
            tail_check(sh, o);
            o->tail_pass = sh->pass;
        }
        zkv_tail_src src =
            zkv_tail_source(o->tail_ok, zkv_tail_first(t), zkv_tail_last(t), st->next_seq, last);
        if (src == ZKV_TAIL_SRC_FILL) {
            if (tail_fill(sh, o, st->next_seq, last) != 0)
                return -1;
            src = zkv_tail_at(t, st->next_seq) ? ZKV_TAIL_SRC_TAIL : ZKV_TAIL_SRC_LOG;
        }
        if (src == ZKV_TAIL_SRC_TAIL) {
            if (collect_tail(&c, t) != 0)
                c.oom = true;
        } else {
            from_log = true;
            char err[256];
            int rc = zkv_store_read_log(sh->node.store, o->range.id, st->next_seq, collect_entry,
                                        &c, err, sizeof(err));
            if (rc < 0) {
                ZKV_ERROR("range %s: cannot read the log for %s: %s", o->range.id, st->rep->node_id,
                          err);
                return -1;
            }
        }
        if (c.oom) {
            ZKV_ERROR("range %s: out of memory building a frame", o->range.id);
            return -1;
        }
        if (c.n == 0) {
            /* the log no longer holds next_seq (truncated): re-plan, likely a snapshot */
            ZKV_INFO("range %s: log entry %" PRIu64 " for %s is gone; probing again", o->range.id,
                     st->next_seq, st->rep->node_id);
            stream_event(st, ZKV_SHIP_EV_MISMATCH);
            return 0;
        }
    }
    if (from_log)
        for (size_t i = 0; i < c.n; i++) {
            sh->entries[i].key.data = sh->data.data + sh->entry_offs[2 * i];
            sh->entries[i].value.data = sh->data.data + sh->entry_offs[2 * i + 1];
            sh->entry_ptrs[i] = &sh->entries[i];
        }
    Zkv__Request req;
    init_repl_request(&req, sh, o, ZKV__OP__APPEND);
    req.prev_seq = st->prev_seq;
    req.prev_epoch = st->prev_epoch;
    req.n_entries = c.n;
    req.entries = c.n ? sh->entry_ptrs : NULL;
    req.commit_seq = o->commit_point;
    req.owner_time_ms = zkv_wall_ms(); /* replicas judge expiry by it (ownerclock.h) */
    req.head_seq = last; /* and how far behind they are (reads with a staleness bound) */
    if (memo && sh->n_memo < FRAME_MEMO_MAX) {
        /* encode once into the memo, copy to this peer (and later to the others) */
        req.id = ++sh->next_req_id;
        frame_memo *m = &sh->memo[sh->n_memo];
        *m = key;
        m->off = sh->memo_buf.len;
        if (zkv_peerlink_frame(&sh->memo_buf, &req) != 0) {
            ZKV_ERROR("range %s: out of memory building a frame", o->range.id);
            return -1;
        }
        m->len = sh->memo_buf.len - m->off;
        m->id = req.id;
        m->n = c.n;
        m->next_seq = c.n ? c.expect : st->next_seq;
        m->last_epoch = c.n ? c.last_epoch : st->prev_epoch;
        sh->n_memo++;
        return send_memo(st, m);
    }
    sent_req *r = peer_send(st->p, &req, REQ_APPEND, st);
    if (!r)
        return -1;
    r->owner_last_at_send = last;
    if (c.n) {
        st->prev_seq = c.expect - 1;
        st->prev_epoch = c.last_epoch;
        st->next_seq = c.expect;
    }
    r->last_seq = st->prev_seq;
    st->inflight++;
    return 1;
}

typedef struct item_ctx {
    zkv_shipper *sh;
    size_t n;
    bool oom;
} item_ctx;

static int collect_item(void *vctx, const uint8_t *key, size_t klen, const zkv_value_view *v)
{
    item_ctx *c = vctx;
    zkv_shipper *sh = c->sh;
    if (c->n + 1 > sh->items_cap) {
        size_t ncap = sh->items_cap ? sh->items_cap * 2 : 256;
        Zkv__KeyValue *it = realloc(sh->items, ncap * sizeof(*it));
        if (!it) {
            c->oom = true;
            return 1;
        }
        sh->items = it;
        Zkv__KeyValue **pp = realloc(sh->item_ptrs, ncap * sizeof(Zkv__KeyValue *));
        if (!pp) {
            c->oom = true;
            return 1;
        }
        sh->item_ptrs = pp;
        if (grow_entries(sh, ncap) != 0) { /* entry_offs doubles as item offsets */
            c->oom = true;
            return 1;
        }
        sh->items_cap = ncap;
    }
    if (zkv_kv_item_stage(&sh->items[c->n], &sh->entry_offs[2 * c->n], &sh->data, key, klen, v) !=
        0) {
        c->oom = true;
        return 1;
    }
    c->n++;
    return 0;
}

static void on_copy_wake(uv_timer_t *t)
{
    zkv_shipper_after_commit(t->data); /* the snapshot's range stays dirty: it is pumped */
}

/* Advances a snapshot: a copy slot (--max-copies), BEGIN, a few CHUNKs as the bucket
 * allows (--copy-rate-mb; when it is empty, copy_timer wakes the loop once it holds a
 * chunk again), END. Returns -1 on a storage error. */
static int pump_snapshot(stream *st, uint64_t now)
{
    zkv_shipper *sh = st->p->sh;
    owned *o = st->rg;
    char err[256];
    Zkv__Request req;
    if (!st->snap_begin_sent) {
        zkv_copy_admit adm = zkv_copythrottle_admit(&sh->copy, st->serial);
        if (adm == ZKV_COPY_QUEUED)
            ZKV_INFO("range %s: the snapshot for %s waits for a copy slot (%d sending, "
                     "--max-copies %d)",
                     o->range.id, st->rep->node_id, zkv_copythrottle_active(&sh->copy),
                     sh->opt.max_copies);
        if (adm != ZKV_COPY_GO)
            return 0;
        if (zkv_store_snapshot_open(sh->node.store, o->range.start, o->range.start_len,
                                    o->range.end, o->range.end_len, o->range.id, &st->snap, err,
                                    sizeof(err)) != 0) {
            ZKV_ERROR("range %s: cannot open a snapshot: %s", o->range.id, err);
            return -1;
        }
        const zkv_store_snapshot_info *info = zkv_store_snapshot_info_of(st->snap);
        st->snap_seq = info->seq;
        st->snap_epoch = info->epoch;
        ZKV_INFO("range %s: sending a snapshot at (%" PRIu64 ", %" PRIu64 ") to %s", o->range.id,
                 info->epoch, info->seq, st->rep->node_id);
        init_repl_request(&req, sh, o, ZKV__OP__SNAPSHOT);
        req.phase = ZKV__SNAPSHOT_PHASE__SNAPSHOT_BEGIN;
        if (!peer_send(st->p, &req, REQ_SNAP_BEGIN, st))
            return 0;
        st->inflight++;
        st->snap_begin_sent = true;
        st->snap_t0 = now;
        st->snap_bytes = 0;
    }
    for (int k = 0; k < ZKV_SHIP_SNAPSHOT_CHUNKS_PER_TURN && !st->snap_items_done &&
                    st->inflight < ZKV_SHIP_MAX_INFLIGHT;
         k++) {
        if (zkv_copythrottle_allowance(&sh->copy, st->serial, now) == 0) {
            uint64_t at = zkv_copythrottle_next_ms(&sh->copy, now);
            if (at && sh->copy_timer_open && !uv_is_active((uv_handle_t *)&sh->copy_timer))
                uv_timer_start(&sh->copy_timer, on_copy_wake, at - now, 0);
            break;
        }
        item_ctx c = {.sh = sh};
        sh->data.len = sh->data.off = 0;
        int rc = zkv_store_snapshot_next(st->snap, collect_item, &c, ZKV_SHIP_FRAME_BYTES, err,
                                         sizeof(err));
        if (rc < 0 || c.oom) {
            ZKV_ERROR("range %s: snapshot read failed: %s", o->range.id,
                      c.oom ? "out of memory" : err);
            return -1;
        }
        if (rc == 0)
            st->snap_items_done = true;
        zkv_copythrottle_spend(&sh->copy, st->serial, sh->data.len, now);
        st->snap_bytes += sh->data.len;
        if (c.n == 0)
            continue;
        for (size_t i = 0; i < c.n; i++) {
            sh->items[i].key.data = sh->data.data + sh->entry_offs[2 * i];
            sh->items[i].value.data = sh->data.data + sh->entry_offs[2 * i + 1];
            sh->item_ptrs[i] = &sh->items[i];
        }
        init_repl_request(&req, sh, o, ZKV__OP__SNAPSHOT);
        req.phase = ZKV__SNAPSHOT_PHASE__SNAPSHOT_CHUNK;
        req.n_items = c.n;
        req.items = sh->item_ptrs;
        if (!peer_send(st->p, &req, REQ_SNAP_CHUNK, st))
            return 0;
        st->inflight++;
    }
    if (st->snap_items_done && !st->snap_end_sent && st->inflight < ZKV_SHIP_MAX_INFLIGHT) {
        const zkv_store_snapshot_info *info = zkv_store_snapshot_info_of(st->snap);
        size_t nh = info->n_history;
        Zkv__EpochStart *hs = calloc(nh ? nh : 1, sizeof(*hs));
        Zkv__EpochStart **hp = calloc(nh ? nh : 1, sizeof(Zkv__EpochStart *));
        if (!hs || !hp) {
            free(hs);
            free(hp);
            ZKV_ERROR("range %s: out of memory ending a snapshot", o->range.id);
            return -1;
        }
        for (size_t i = 0; i < nh; i++) {
            zkv__epoch_start__init(&hs[i]);
            hs[i].epoch = info->history[i].epoch;
            hs[i].start_seq = info->history[i].start_seq;
            hp[i] = &hs[i];
        }
        init_repl_request(&req, sh, o, ZKV__OP__SNAPSHOT);
        req.phase = ZKV__SNAPSHOT_PHASE__SNAPSHOT_END;
        req.seq = info->seq;
        req.n_history = nh;
        req.history = hp;
        sent_req *r = peer_send(st->p, &req, REQ_SNAP_END, st);
        free(hs);
        free(hp);
        if (!r)
            return 0;
        r->last_seq = info->seq;
        r->owner_last_at_send = committed_seq(sh, o);
        st->inflight++;
        st->snap_end_sent = true;
    }
    return 0;
}

static void pump_stream(zkv_shipper *sh, stream *st, uint64_t now)
{
    if (!zkv_peerlink_ready(st->p->link))
        return;
    owned *o = st->rg;
    switch (st->st) {
    case ZKV_SHIP_IDLE:
        stream_event(st, ZKV_SHIP_EV_CONNECTED);
        if (st->st != ZKV_SHIP_PROBE)
            return;
        /* fall through */
    case ZKV_SHIP_PROBE:
        if (!st->probe_sent && now >= st->retry_at) {
            Zkv__Request req;
            init_repl_request(&req, sh, o, ZKV__OP__RANGE_STATUS);
            if (peer_send(st->p, &req, REQ_PROBE, st)) {
                st->probe_sent = true;
                st->inflight++;
            }
        }
        return;
    case ZKV_SHIP_STREAM: {
        int sent = 0;
        while (st->st == ZKV_SHIP_STREAM && st->inflight < ZKV_SHIP_MAX_INFLIGHT) {
            int rc = send_append(st, false);
            if (rc < 0) {
                ship_fatal(sh, "cannot read range %s's log", o->range.id);
                return;
            }
            if (rc == 0)
                break;
            sent++;
        }
        if (st->st == ZKV_SHIP_STREAM && !sent && st->inflight < ZKV_SHIP_MAX_INFLIGHT &&
            now - st->last_sent_ms >= ZKV_SHIP_HEARTBEAT_MS)
            send_append(st, true);
        return;
    }
    case ZKV_SHIP_SNAPSHOT:
        if (pump_snapshot(st, now) != 0)
            ship_fatal(sh, "cannot read a snapshot of range %s", o->range.id);
        return;
    case ZKV_SHIP_STOPPED:
        return;
    }
}

/* ---- in_sync ---- */

static void submit_isr(zkv_shipper *sh, owned *o, uint64_t now)
{
    if (o->isr_wait_map && now >= o->isr_retry_at)
        o->isr_wait_map = false; /* no newer map came: try again with what we have */
    if (o->isr_inflight || o->isr_wait_map || now < o->isr_retry_at || (*sh->node.fenced) ||
        !*sh->node.membership ||
        zkv_handoffs_gate(*sh->node.handoffs, o->range.id) == ZKV_HO_HOLD_ALL)
        return; /* (a range being passed on: its owner writes it, not in_sync changes) */
    uint64_t committed = committed_seq(sh, o);
    uint64_t lag = sh->opt.replica_lag_ms;
    bool change = false;
    bool add[ZKV_MAX_REPLICAS] = {0}, del[ZKV_MAX_REPLICAS] = {0};
    for (int i = 0; i < o->n; i++) {
        zkv_repl_replica *r = &o->reps[i];
        if (zkv_repl_should_shrink(r, now, lag)) {
            del[i] = true;
            change = true;
        } else if (zkv_repl_should_expand(r, committed, o->commit_point, now, lag)) {
            add[i] = true;
            change = true;
        }
    }
    if (!change)
        return;
    zkv_range next;
    if (zkv_range_copy(&next, &o->range) != 0)
        return;
    next.n_in_sync = 0;
    char desc[512] = "";
    size_t dl = 0;
    for (int i = 0; i < o->n; i++) {
        zkv_repl_replica *r = &o->reps[i];
        bool keep = (r->in_sync && !del[i]) || add[i];
        if (keep)
            snprintf(next.in_sync[next.n_in_sync++], ZKV_ID_MAX, "%s", r->node_id);
        if (del[i] && dl < sizeof(desc))
            dl += (size_t)snprintf(desc + dl, sizeof(desc) - dl,
                                   " -%s (not caught up for %" PRIu64 " ms)", r->node_id,
                                   now - r->caught_up_at);
        if (add[i] && dl < sizeof(desc))
            dl += (size_t)snprintf(desc + dl, sizeof(desc) - dl, " +%s (acked %" PRIu64 ")",
                                   r->node_id, r->acked_seq);
    }
    if (zkv_membership_isr_submit(*sh->node.membership, &next) != 0) {
        zkv_range_clear(&next);
        o->isr_retry_at = now + ISR_RETRY_MS;
        return;
    }
    zkv_range_clear(&next);
    for (int i = 0; i < o->n; i++) {
        if (del[i])
            o->reps[i].removing = true;
        if (add[i])
            o->reps[i].adding = true;
    }
    o->isr_inflight = true;
    ZKV_INFO("range %s: changing in_sync:%s", o->range.id, desc);
    update_commit_point(sh, o);
}

void zkv_shipper_isr_result(zkv_shipper *sh, const char *range_id, uint64_t epoch, int rc,
                            int32_t new_zversion, const char (*in_sync)[ZKV_ID_MAX], int n_in_sync)
{
    owned *o = find_owned(sh, range_id);
    if (!o || o->range.epoch != epoch)
        return;
    o->isr_inflight = false;
    for (int i = 0; i < o->n; i++)
        o->reps[i].adding = o->reps[i].removing = false;
    if (rc == 0) {
        if (new_zversion > o->range.zversion) {
            o->range.zversion = new_zversion;
            o->range.n_in_sync = 0;
            for (int k = 0; k < n_in_sync && k < ZKV_MAX_REPLICAS; k++)
                snprintf(o->range.in_sync[o->range.n_in_sync++], ZKV_ID_MAX, "%s", in_sync[k]);
            for (int i = 0; i < o->n; i++)
                o->reps[i].in_sync = zkv_range_is_in_sync(&o->range, o->reps[i].node_id);
        }
        char list[ZKV_MAX_REPLICAS * ZKV_ID_MAX + 4] = "";
        size_t l = 0;
        for (int k = 0; k < o->range.n_in_sync; k++)
            l += (size_t)snprintf(list + l, sizeof(list) - l, "%s%s", k ? "," : "",
                                  o->range.in_sync[k]);
        ZKV_INFO("range %s: in_sync is now [%s] (znode version %d)", range_id, list,
                 (int)o->range.zversion);
    } else if (rc == ZBADVERSION || rc == ZNONODE) {
        ZKV_INFO("range %s: in_sync write lost a race (%s); waiting for the next map", range_id,
                 zkv_zk_strerror(rc));
        o->isr_wait_map = true;
        o->isr_retry_at = zkv_now_ms() + (uint64_t)4 * ISR_RETRY_MS;
        o->isr_wait_zversion = o->range.zversion;
    } else {
        ZKV_WARN("range %s: in_sync write failed: %s; retrying", range_id, zkv_zk_strerror(rc));
        o->isr_retry_at = zkv_now_ms() + ISR_RETRY_MS;
    }
    o->dirty = true;
    update_commit_point(sh, o);
}

/* ---- truncation ---- */

static void truncate_step(zkv_shipper *sh, owned *o)
{
    const zkv_range_state *rs = range_store_state(sh, o);
    if (!rs)
        return;
    uint64_t floor =
        zkv_repl_truncate_floor(rs->committed_seq,
                                zkv_store_log_retain(sh->node.store, o->range.id,
                                                     sh->opt.log_retain, sh->opt.log_retain_bytes),
                                o->reps, (size_t)o->n);
    /* A snapshot being sent keeps the entries after its seq: its replica streams from there
     * once it is installed. (A throttled copy can take longer than --log-retain writes; it
     * must not end needing another one.) */
    for (int i = 0; i < o->n; i++)
        if (o->streams[i] && o->streams[i]->snap && o->streams[i]->snap_seq < floor)
            floor = o->streams[i]->snap_seq;
    if (floor == 0 || (floor <= o->trunc_floor && !o->truncating))
        return;
    char err[256];
    int64_t left = zkv_store_truncate_log(sh->node.store, o->range.id, floor, err, sizeof(err));
    if (left < 0) {
        ZKV_WARN("range %s: log truncation failed: %s", o->range.id, err);
        return;
    }
    o->truncating = left > 0;
    o->trunc_floor = floor;
    zkv_tail_drop_before(&o->tail, floor + 1); /* the tail holds only what the log holds */
}

/* ---- map ---- */

static void owned_free(owned *o)
{
    for (int i = 0; i < o->n; i++)
        if (o->streams[i])
            stream_free(o->streams[i]);
    zkv_tail_free(&o->tail);
    zkv_readvis_free(&o->vis);
    zkv_range_clear(&o->range);
    free(o);
}

/* Brings o's replicas in line with r (same epoch). */
static void owned_update(zkv_shipper *sh, owned *o, const zkv_range *r, uint64_t now)
{
    bool newer = r->zversion > o->range.zversion || r->zversion < 0;
    if (o->isr_wait_map && r->zversion > o->isr_wait_zversion) {
        o->isr_wait_map = false;
        o->isr_retry_at = 0;
    }
    /* Replicas: keep the streams of those still listed, in the order of r. */
    stream *streams[ZKV_MAX_REPLICAS] = {0};
    zkv_repl_replica reps[ZKV_MAX_REPLICAS];
    memset(reps, 0, sizeof(reps));
    int n = 0;
    bool kept[ZKV_MAX_REPLICAS] = {0};
    for (int k = 0; k < r->n_replicas && n < ZKV_MAX_REPLICAS; k++) {
        if (strcmp(r->replicas[k], sh->node.node_id) == 0)
            continue;
        int found = -1;
        for (int i = 0; i < o->n; i++)
            if (!kept[i] && strcmp(o->reps[i].node_id, r->replicas[k]) == 0)
                found = i;
        if (found >= 0) {
            kept[found] = true;
            reps[n] = o->reps[found];
            streams[n] = o->streams[found];
        } else {
            snprintf(reps[n].node_id, ZKV_ID_MAX, "%s", r->replicas[k]);
            reps[n].caught_up_at = now; /* the lag clock starts now */
        }
        n++;
    }
    for (int i = 0; i < o->n; i++)
        if (!kept[i] && o->streams[i])
            stream_free(o->streams[i]);
    memcpy(o->reps, reps, sizeof(reps));
    o->n = n;
    for (int i = 0; i < n; i++) {
        o->streams[i] = streams[i];
        if (streams[i])
            streams[i]->rep = &o->reps[i];
    }
    if (newer) {
        zkv_tail_reset(&o->tail, 0); /* a range map change: start the tail over */
        zkv_range copy;
        if (zkv_range_copy(&copy, r) == 0) {
            zkv_range_clear(&o->range);
            o->range = copy;
        }
        for (int i = 0; i < n; i++) {
            bool was = o->reps[i].in_sync;
            o->reps[i].in_sync = zkv_range_is_in_sync(r, o->reps[i].node_id);
            if (!o->isr_inflight)
                o->reps[i].adding = o->reps[i].removing = false;
            if (o->reps[i].in_sync && !was)
                o->reps[i].caught_up_at = now;
        }
    }
    for (int i = 0; i < n; i++) {
        if (!o->streams[i])
            o->streams[i] = stream_new(sh, o, i, o->reps[i].node_id);
        peer *p = o->streams[i] ? o->streams[i]->p : NULL;
        const zkv_node_info *ni = zkv_rangemap_node((*sh->node.map), o->reps[i].node_id);
        bool leaving = ni && ni->leaving;
        if (o->reps[i].leaving != leaving) {
            o->reps[i].leaving = leaving;
            o->dirty = true;
        }
        if (p && ni)
            zkv_peerlink_set_addr(p->link, ni->addr);
    }
    update_commit_point(sh, o);
}

/* by_map for map m (on failure every read takes the slow path through find_owned). */
static void index_by_map(zkv_shipper *sh, const zkv_rangemap *m)
{
    size_t n = m ? m->n_ranges : 0;
    *sh->node.vis_by_map = NULL;
    *sh->node.n_vis_by_map = 0;
    if (n > sh->cap_by_map) {
        owned **nb = realloc(sh->by_map, n * sizeof(*nb));
        if (nb)
            sh->by_map = nb;
        zkv_readvis **nv = realloc(sh->vis_by_map, n * sizeof(*nv));
        if (nv)
            sh->vis_by_map = nv;
        if (!nb || !nv) {
            sh->n_by_map = 0;
            return;
        }
        sh->cap_by_map = n;
    }
    sh->n_by_map = n;
    sh->by_map_of = m;
    sh->by_map_version = m ? m->version : 0;
    for (size_t i = 0; i < n; i++) {
        owned *o = NULL;
        if (strcmp(m->ranges[i].owner, sh->node.node_id) == 0)
            o = find_owned(sh, m->ranges[i].id);
        sh->by_map[i] = o;
        sh->vis_by_map[i] = o ? &o->vis : NULL;
    }
    *sh->node.vis_by_map = (zkv_readvis *const *)sh->vis_by_map;
    *sh->node.n_vis_by_map = n;
}

void zkv_shipper_sync_map(zkv_shipper *sh)
{
    const zkv_rangemap *m = (*sh->node.map);
    const char *me = sh->node.node_id;
    uint64_t now = zkv_now_ms();
    if (sh->closing) {
        sh->n_by_map = 0;
        *sh->node.vis_by_map = NULL;
        *sh->node.n_vis_by_map = 0;
        return;
    }
    sh->kick = true;
    /* Drop ranges no longer owned here (or owned at another epoch). */
    for (size_t i = 0; i < sh->n_ranges;) {
        owned *o = sh->ranges[i];
        const zkv_range *r = NULL;
        for (size_t k = 0; m && k < m->n_ranges; k++)
            if (strcmp(m->ranges[k].id, o->range.id) == 0)
                r = &m->ranges[k];
        if (r && strcmp(r->owner, me) == 0 && r->epoch == o->range.epoch) {
            i++;
            continue;
        }
        ZKV_INFO("range %s: no longer owned here at epoch %" PRIu64 "; replication stopped",
                 o->range.id, o->range.epoch);
        owned_free(o);
        sh->ranges[i] = sh->ranges[--sh->n_ranges];
    }
    for (size_t k = 0; m && k < m->n_ranges; k++) {
        const zkv_range *r = &m->ranges[k];
        if (strcmp(r->owner, me) != 0)
            continue;
        owned *o = find_owned(sh, r->id);
        if (!o) {
            if (sh->n_ranges == sh->cap_ranges) {
                size_t ncap = sh->cap_ranges ? sh->cap_ranges * 2 : 16;
                owned **nr = realloc(sh->ranges, ncap * sizeof(owned *));
                if (!nr)
                    continue;
                sh->ranges = nr;
                sh->cap_ranges = ncap;
            }
            o = calloc(1, sizeof(*o));
            if (!o || zkv_range_copy(&o->range, r) != 0) {
                free(o);
                continue;
            }
            o->range.n_replicas = 0; /* owned_update fills the replicas */
            o->range.zversion = INT32_MIN;
            zkv_tail_init(&o->tail, ZKV_TAIL_BUDGET);
            const zkv_range_state *rs = zkv_store_range(sh->node.store, r->id);
            zkv_readvis_init(&o->vis, rs ? rs->last_seq : 0);
            sh->ranges[sh->n_ranges++] = o;
        }
        owned_update(sh, o, r, now);
    }
    index_by_map(sh, m);
}

/* ---- turn ---- */

/* Whether o's tail may be used in this pass (see the header comment): not once anything
 * but this owner's own appends may have changed the range's log, i.e. replication traffic
 * of a newer epoch was accepted for it (a snapshot reset, an abandoned snapshot dropped,
 * entries applied: all of them note their epoch in the store first, and the store's epoch
 * of the range never falls) or a snapshot is being received into it. Then the tail is
 * emptied for good: o's epoch is over, the next map drops o. */
static void tail_check(zkv_shipper *sh, owned *o)
{
    zkv_store *store = sh->node.store;
    o->tail_ok = zkv_store_range_min_epoch(store, o->range.id) <= o->range.epoch &&
                 zkv_store_range_snapshot_epoch(store, o->range.id) == 0;
    if (!o->tail_ok && zkv_tail_first(&o->tail) != 0)
        zkv_tail_reset(&o->tail, 0);
}

/* True when after_commit would change nothing (see kick). */
static bool shipper_quiet(zkv_shipper *sh)
{
    if (sh->kick || sh->peers || zkv_store_commit_count(sh->node.store) != sh->seen_commits)
        return false;
    for (size_t i = 0; i < sh->n_ranges; i++)
        if (sh->ranges[i]->n)
            return false;
    return true;
}

/* A pass pumps every owned range when kicked (a map change, the 50 ms tick: heartbeats,
 * probe retries and everything timed), else only the ranges with news: dirty (an answer
 * from a replica, a stream's state changed, an in_sync result) or committed past their
 * last pump. A range without news has nothing to send: its streams wait for an answer,
 * or have sent everything committed. It runs twice per loop turn, and on a node that is
 * mostly a replica nearly every turn is someone else's APPEND: at pipeline 1 the full
 * pass was a sixth of a 3-node cluster's instructions per write. A snapshot being sent
 * stays dirty (it sends a few chunks per pass). */
void zkv_shipper_after_commit(zkv_shipper *sh)
{
    if (sh->closing || shipper_quiet(sh))
        return;
    bool full = sh->kick;
    sh->kick = false;
    sh->seen_commits = zkv_store_commit_count(sh->node.store);
    sh->pass++;
    uint64_t now = zkv_now_ms();
    for (size_t i = 0; i < sh->n_ranges; i++) {
        owned *o = sh->ranges[i];
        uint64_t committed = committed_seq(sh, o);
        if (!full && !o->dirty && committed == o->pumped_committed)
            continue;
        o->dirty = false;
        o->pumped_committed = committed;
        update_commit_point(sh, o);
        if (o->n == 0)
            continue;
        sh->n_memo = 0;
        sh->memo_buf.len = sh->memo_buf.off = 0;
        for (int k = 0; k < o->n; k++) {
            if (o->streams[k]) {
                pump_stream(sh, o->streams[k], now);
                if (o->streams[k]->st == ZKV_SHIP_SNAPSHOT)
                    o->dirty = true;
            }
            if (sh->closing)
                return; /* a fatal error stopped the node */
        }
    }
    for (peer *p = sh->peers; p; p = p->next)
        zkv_peerlink_flush(p->link);
}

static void on_tick(uv_timer_t *t)
{
    zkv_shipper *sh = t->data;
    if (sh->closing)
        return;
    uint64_t now = zkv_now_ms();
    for (size_t i = 0; i < sh->n_ranges; i++) {
        owned *o = sh->ranges[i];
        update_commit_point(sh, o);
        submit_isr(sh, o, now);
        if (!(*sh->node.fenced))
            truncate_step(sh, o);
    }
    /* reconnect peers whose retry is due (the timer callback only marks them) */
    for (peer *p = sh->peers; p; p = p->next)
        zkv_peerlink_tick(p->link);
    sh->kick = true; /* a full pass: heartbeats and retries are due by the clock */
    zkv_shipper_after_commit(sh);
}

uint64_t zkv_shipper_commit_point(zkv_shipper *sh, const char *range_id, uint64_t epoch,
                                  bool *owned_here)
{
    owned *o = find_owned(sh, range_id);
    *owned_here = o && o->range.epoch == epoch && !(*sh->node.fenced);
    if (!*owned_here)
        return 0;
    return o->commit_point;
}

/* o's read visibility with its commit point brought up to date (a commit moves it only
 * while no replica gates the range, and then vis.live follows the committed seq; acks move
 * it where they arrive). */
static zkv_readvis *fresh_vis(zkv_shipper *sh, owned *o)
{
    update_commit_point(sh, o);
    return &o->vis;
}

zkv_readvis *zkv_shipper_readvis(zkv_shipper *sh, const char *range_id, uint64_t epoch)
{
    owned *o = find_owned(sh, range_id);
    if (!o || o->range.epoch != epoch || (*sh->node.fenced))
        return NULL;
    return fresh_vis(sh, o);
}

zkv_readvis *zkv_shipper_read_vis(void *ctx, const zkv_range *r)
{
    zkv_shipper *sh = ctx;
    const zkv_rangemap *m = (*sh->node.map);
    if (m && m == sh->by_map_of && m->version == sh->by_map_version && r >= m->ranges &&
        r < m->ranges + m->n_ranges) {
        size_t i = (size_t)(r - m->ranges);
        owned *o = i < sh->n_by_map ? sh->by_map[i] : NULL;
        if (o && o->range.epoch == r->epoch && !(*sh->node.fenced))
            return fresh_vis(sh, o);
    }
    return zkv_shipper_readvis(sh, r->id, r->epoch);
}

bool zkv_shipper_replica_progress(zkv_shipper *sh, const char *range_id, const char *replica,
                                  zkv_shipper_progress *out)
{
    owned *o = find_owned(sh, range_id);
    if (!o)
        return false;
    for (int i = 0; i < o->n; i++) {
        const zkv_repl_replica *r = &o->reps[i];
        if (strcmp(r->node_id, replica) != 0)
            continue;
        out->committed = committed_seq(sh, o);
        out->acked = r->acked_known ? r->acked_seq : 0;
        out->in_sync = r->in_sync && !r->removing;
        out->isr_inflight = o->isr_inflight;
        return true;
    }
    return false;
}

const zkv_range *zkv_shipper_owned_range(zkv_shipper *sh, const char *range_id)
{
    owned *o = find_owned(sh, range_id);
    return o ? &o->range : NULL;
}

bool zkv_shipper_needs_acks(zkv_shipper *sh, const char *range_id)
{
    owned *o = find_owned(sh, range_id);
    if (!o)
        return false;
    for (int i = 0; i < o->n; i++)
        if (zkv_repl_in_ack_set(&o->reps[i]))
            return true;
    return false;
}

int zkv_shipper_write_gate(void *ctx, const zkv_range *r, char *msg, size_t msglen)
{
    zkv_shipper *sh = ctx;
    if (sh->opt.min_in_sync <= 1)
        return 0;
    owned *o = find_owned(sh, r->id);
    int copies = o ? zkv_repl_in_sync_copies(o->reps, (size_t)o->n) : 1 + r->n_in_sync;
    return zkv_repl_min_in_sync_ok(r->id, copies, sh->opt.min_in_sync, msg, msglen) ? 0 : 1;
}

void zkv_shipper_owner_status(void *ctx, const char *range_id, zkv_reply *r)
{
    zkv_shipper *sh = ctx;
    owned *o = find_owned(sh, range_id);
    if (!o)
        return;
    uint64_t now = zkv_now_ms(), committed = committed_seq(sh, o);
    for (int i = 0; i < o->n; i++) {
        Zkv__ReplicaStatus *rs = zkv_reply_add_replica(r, o->reps[i].node_id);
        if (!rs)
            return;
        rs->acked_seq = o->reps[i].acked_known ? o->reps[i].acked_seq : 0;
        rs->in_sync = o->reps[i].in_sync;
        rs->connected = o->reps[i].connected;
        rs->lag_ms = zkv_repl_lag_ms(&o->reps[i], committed, now);
    }
}

int zkv_shipper_metrics(zkv_shipper *sh, zkv_metrics_snapshot *snap)
{
    snap->appends_sent = sh->appends_sent;
    snap->appends_acked = sh->appends_acked;
    for (size_t i = 0; i < sh->n_ranges; i++) {
        const owned *o = sh->ranges[i];
        zkv_metrics_range *m = zkv_metrics_add_range(snap);
        if (!m)
            return -1;
        uint64_t committed = committed_seq(sh, o);
        snprintf(m->id, sizeof(m->id), "%s", o->range.id);
        m->epoch = o->range.epoch;
        m->committed_seq = committed;
        m->commit_point = o->commit_point;
        m->log_first_seq = zkv_store_log_first_seq(sh->node.store, o->range.id);
        m->n_replicas = o->n;
        for (int j = 0; j < o->n; j++) {
            const zkv_repl_replica *r = &o->reps[j];
            zkv_metrics_replica *mr = &m->replicas[j];
            snprintf(mr->node_id, sizeof(mr->node_id), "%s", r->node_id);
            mr->in_sync = r->in_sync;
            m->n_in_sync += r->in_sync;
            uint64_t acked = r->acked_known ? r->acked_seq : 0;
            mr->lag_entries = committed > acked ? committed - acked : 0;
        }
    }
    return 0;
}

/* ---- life cycle ---- */

static void on_tick_closed(uv_handle_t *h)
{
    zkv_shipper *sh = h->data;
    if (h == (uv_handle_t *)&sh->copy_timer)
        sh->copy_timer_open = false;
    else
        sh->tick_open = false;
    sh->open_handles--;
}

zkv_shipper *zkv_shipper_new(const zkv_ship_node *node, const zkv_shipper_options *opt)
{
    zkv_shipper *sh = calloc(1, sizeof(*sh));
    if (!sh)
        return NULL;
    sh->node = *node;
    sh->opt = *opt;
    zkv_shipper_set_secret(sh, node->secret);
    if (zkv_copythrottle_init(&sh->copy, opt->copy_rate, opt->max_copies, ZKV_SHIP_FRAME_BYTES) !=
        0) {
        free(sh);
        return NULL;
    }
    zkv_buf_init(&sh->data);
    zkv_buf_init(&sh->memo_buf);
    uv_timer_init(node->loop, &sh->tick);
    sh->tick.data = sh;
    sh->tick_open = true;
    uv_timer_init(node->loop, &sh->copy_timer);
    sh->copy_timer.data = sh;
    sh->copy_timer_open = true;
    sh->open_handles = 2;
    uv_timer_start(&sh->tick, on_tick, TICK_MS, TICK_MS);
    return sh;
}

void zkv_shipper_set_secret(zkv_shipper *sh, const char *secret)
{
    snprintf(sh->secret, sizeof(sh->secret), "%s", secret ? secret : "");
}

void zkv_shipper_close(zkv_shipper *sh)
{
    if (sh->closing)
        return;
    sh->closing = true;
    for (size_t i = 0; i < sh->n_ranges; i++)
        owned_free(sh->ranges[i]);
    sh->n_ranges = 0;
    if (sh->tick_open && !uv_is_closing((uv_handle_t *)&sh->tick))
        uv_close((uv_handle_t *)&sh->tick, on_tick_closed);
    if (sh->copy_timer_open && !uv_is_closing((uv_handle_t *)&sh->copy_timer))
        uv_close((uv_handle_t *)&sh->copy_timer, on_tick_closed);
}

int zkv_shipper_open_handles(const zkv_shipper *sh)
{
    return sh->open_handles;
}

void zkv_shipper_free(zkv_shipper *sh)
{
    if (!sh)
        return;
    for (size_t i = 0; i < sh->n_ranges; i++)
        owned_free(sh->ranges[i]);
    while (sh->peers) { /* only after the loop closed every handle */
        peer *p = sh->peers;
        sh->peers = p->next;
        zkv_peerlink_free(p->link);
        free(p);
    }
    free(sh->ranges);
    free(sh->by_map);
    free(sh->vis_by_map);
    zkv_buf_free(&sh->data);
    zkv_buf_free(&sh->memo_buf);
    free(sh->entries);
    free(sh->entry_ptrs);
    free(sh->entry_offs);
    free(sh->items);
    free(sh->item_ptrs);
    zkv_copythrottle_free(&sh->copy);
    free(sh);
}
