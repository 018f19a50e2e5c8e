/* test_server_handoff.c: the pure parts of a live ownership move (server/handoff.c): every
 * step of a handoff (drain until the target has every committed entry, then write the
 * range; never serve again before a map says how the write ended), the range the owner
 * writes (owner, epoch, replica slots, in_sync with and without the old owner), the
 * choice of a target on shutdown, which range write results are the handoff's and what
 * each means (a move's at the epoch it writes; written, wait for the map, or write again), the two
 * ranges a split writes (bounds, ids, epoch, holders, parent position; keys that are not strictly
 * inside refused), and the range a merge writes (bounds, id, the left one's holders, in_sync of
 * both, epoch above both, the two parent positions; ranges that are not neighbours refused). */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include "common/zk.h"
#include "handoff.h"

static zkv_ho_view ready_view(void)
{
    zkv_ho_view v;
    memset(&v, 0, sizeof(v));
    v.owned = true;
    v.asked = true;
    v.target_in_sync = true;
    v.last_seq = v.committed = v.target_acked = 100;
    v.now_ms = 1000;
    v.started_ms = 900;
    v.timeout_ms = 5000;
    return v;
}

static void test_drain_steps(void)
{
    zkv_ho_view v = ready_view();
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_DRAIN, &v), ZKV_HO_SUBMIT);
    /* a staged write not committed yet */
    v.last_seq = 101;
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_DRAIN, &v), ZKV_HO_WAIT);
    v.committed = 101;
    /* the target has not acknowledged it */
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_DRAIN, &v), ZKV_HO_WAIT);
    v.target_acked = 101;
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_DRAIN, &v), ZKV_HO_SUBMIT);
    /* an in_sync write pending: its outcome changes the range first */
    v.isr_inflight = true;
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_DRAIN, &v), ZKV_HO_WAIT);
    v.isr_inflight = false;
    /* the target fell out of in_sync, the request was withdrawn, or time ran out */
    v.target_in_sync = false;
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_DRAIN, &v), ZKV_HO_ABORT);
    v.target_in_sync = true;
    v.asked = false;
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_DRAIN, &v), ZKV_HO_ABORT);
    v.asked = true;
    v.target_acked = 50;
    v.now_ms = v.started_ms + v.timeout_ms; /* exactly the timeout: still waiting */
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_DRAIN, &v), ZKV_HO_WAIT);
    v.now_ms++;
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_DRAIN, &v), ZKV_HO_ABORT);
    /* the range left this node (a failover, the coordinator) */
    v.owned = false;
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_DRAIN, &v), ZKV_HO_END);
}

static void test_flip_steps(void)
{
    zkv_ho_view v = ready_view();
    /* written, no map yet: wait, whatever the clock says */
    v.now_ms = v.started_ms + 10 * v.timeout_ms;
    v.target_in_sync = false;
    v.asked = false;
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_FLIP, &v), ZKV_HO_WAIT);
    /* a newer range that still names this node owner at the epoch: the write lost */
    v.range_changed = true;
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_FLIP, &v), ZKV_HO_ABORT);
    /* the map shows the new owner */
    v.owned = false;
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_FLIP, &v), ZKV_HO_END);
    CU_ASSERT_EQUAL(zkv_ho_next(ZKV_HO_OVER, &v), ZKV_HO_WAIT);
}

static void range3(zkv_range *r)
{
    memset(r, 0, sizeof(*r));
    strcpy(r->id, "r0001");
    strcpy(r->owner, "a");
    strcpy(r->replicas[0], "b");
    strcpy(r->replicas[1], "c");
    r->n_replicas = 2;
    strcpy(r->in_sync[0], "b");
    strcpy(r->in_sync[1], "c");
    r->n_in_sync = 2;
    r->epoch = 4;
    strcpy(r->handoff, "c");
    r->zversion = 9;
}

static void test_write_results(void)
{
    zkv_range cur, out;
    range3(&cur);
    CU_ASSERT_EQUAL_FATAL(zkv_ho_flip_range(&cur, "a", "c", true, &out), 0);
    /* a move's result comes at the epoch the flip wrote, not the one it passes */
    zkv_ho_result r = zkv_ho_write_result(true, cur.epoch, out.epoch, ZOK);
    CU_ASSERT(r.ours && r.written && !r.again);
    zkv_range_clear(&out);
    /* the shipper's in_sync write of the same range, at the owned epoch, is not the move's */
    r = zkv_ho_write_result(true, 4, 4, ZOK);
    CU_ASSERT(!r.ours && !r.written);
    /* a split or merge deletes the range at its own epoch */
    r = zkv_ho_write_result(false, 4, 4, ZOK);
    CU_ASSERT(r.ours && !r.written && !r.again);
    CU_ASSERT(!zkv_ho_write_result(false, 4, 5, ZOK).ours);
    /* the range changed: wait for the map */
    r = zkv_ho_write_result(true, 4, 5, ZBADVERSION);
    CU_ASSERT(r.ours && !r.written && !r.again);
    r = zkv_ho_write_result(false, 4, 4, ZNONODE);
    CU_ASSERT(r.ours && !r.again);
    /* nothing written (map alone moved every try) or unknown: write it again */
    r = zkv_ho_write_result(true, 4, 5, ZKV_ZK_MAPRACE);
    CU_ASSERT(r.ours && !r.written && r.again);
    r = zkv_ho_write_result(true, 4, 5, ZCONNECTIONLOSS);
    CU_ASSERT(r.ours && !r.written && r.again);
}

static void test_flip_range(void)
{
    zkv_range cur, out;
    range3(&cur);
    CU_ASSERT_EQUAL_FATAL(zkv_ho_flip_range(&cur, "a", "c", true, &out), 0);
    CU_ASSERT_STRING_EQUAL(out.owner, "c");
    CU_ASSERT_EQUAL(out.epoch, 5);
    CU_ASSERT_EQUAL(out.zversion, 9);
    CU_ASSERT_STRING_EQUAL(out.handoff, "");
    CU_ASSERT_EQUAL(out.n_replicas, 2);
    CU_ASSERT_STRING_EQUAL(out.replicas[0], "b");
    CU_ASSERT_STRING_EQUAL(out.replicas[1], "a"); /* the old owner in the target's slot */
    CU_ASSERT_EQUAL(out.n_in_sync, 2);
    CU_ASSERT_STRING_EQUAL(out.in_sync[0], "b");
    CU_ASSERT_STRING_EQUAL(out.in_sync[1], "a");
    zkv_range_clear(&out);
    /* leaving: the old owner keeps a replica slot but not in_sync */
    CU_ASSERT_EQUAL_FATAL(zkv_ho_flip_range(&cur, "a", "b", false, &out), 0);
    CU_ASSERT_STRING_EQUAL(out.owner, "b");
    CU_ASSERT_STRING_EQUAL(out.replicas[0], "a");
    CU_ASSERT_EQUAL(out.n_in_sync, 1);
    CU_ASSERT_STRING_EQUAL(out.in_sync[0], "c");
    zkv_range_clear(&out);
    /* a target that is not a replica */
    CU_ASSERT_EQUAL(zkv_ho_flip_range(&cur, "a", "d", true, &out), -1);
}

static void test_pick_target(void)
{
    zkv_rangemap m;
    memset(&m, 0, sizeof(m));
    zkv_range rs[3];
    range3(&rs[0]); /* a owns, b c in sync */
    range3(&rs[1]);
    strcpy(rs[1].owner, "b");
    strcpy(rs[1].id, "r0002");
    range3(&rs[2]);
    strcpy(rs[2].id, "r0003");
    strcpy(rs[2].owner, "b");
    zkv_node_info nodes[3];
    memset(nodes, 0, sizeof(nodes));
    strcpy(nodes[0].id, "a");
    strcpy(nodes[1].id, "b");
    strcpy(nodes[2].id, "c");
    m.ranges = rs;
    m.n_ranges = 3;
    m.nodes = nodes;
    m.n_nodes = 3;
    char t[ZKV_ID_MAX];
    /* b owns two ranges, c none: c */
    CU_ASSERT_TRUE(zkv_ho_pick_target(&m, &rs[0], "a", t));
    CU_ASSERT_STRING_EQUAL(t, "c");
    /* c not live: b */
    m.n_nodes = 2;
    CU_ASSERT_TRUE(zkv_ho_pick_target(&m, &rs[0], "a", t));
    CU_ASSERT_STRING_EQUAL(t, "b");
    /* b out of in_sync too: nobody */
    rs[0].n_in_sync = 1; /* only "b" left... */
    strcpy(rs[0].in_sync[0], "c");
    CU_ASSERT_FALSE(zkv_ho_pick_target(&m, &rs[0], "a", t));
}

static const char SPLIT_IDS[2][ZKV_ID_MAX] = {"r12a", "r12b"};

/* range3 over [start, end) (NULL: unbounded), with a split asked at "m" and a parent. */
static void range_split(zkv_range *r, const char *start, const char *end)
{
    range3(r);
    CU_ASSERT_EQUAL_FATAL(zkv_range_set_bounds(r, (const uint8_t *)start, start ? strlen(start) : 0,
                                               (const uint8_t *)end, end ? strlen(end) : 0),
                          0);
    r->handoff[0] = '\0';
    r->split_asked = true;
    memcpy(r->split_ids, SPLIT_IDS, sizeof(r->split_ids));
    CU_ASSERT_EQUAL_FATAL(zkv_range_set_split_key(r, (const uint8_t *)"m", 1), 0);
    strcpy(r->merge_with, "r0002");
    strcpy(r->merge_id, "r99");
    strcpy(r->parents[0].id, "r0000");
    r->parents[0].epoch = 2;
    r->parents[0].seq = 17;
    r->n_parents = 1;
}

static void check_kid(const zkv_range *c, const char *id, const char *start, const char *end)
{
    CU_ASSERT_STRING_EQUAL(c->id, id);
    size_t sl = start ? strlen(start) : 0, el = end ? strlen(end) : 0;
    CU_ASSERT_EQUAL(c->start_len, sl);
    CU_ASSERT(c->start_len == sl && (sl == 0 || memcmp(c->start, start, sl) == 0));
    CU_ASSERT_EQUAL(c->end_len, el);
    CU_ASSERT(c->end_len == el && (el == 0 || memcmp(c->end, end, el) == 0));
    if (!sl)
        CU_ASSERT_PTR_NULL(c->start);
    if (!el)
        CU_ASSERT_PTR_NULL(c->end);
    /* the same holders, the next epoch */
    CU_ASSERT_STRING_EQUAL(c->owner, "a");
    CU_ASSERT_EQUAL(c->n_replicas, 2);
    CU_ASSERT_STRING_EQUAL(c->replicas[0], "b");
    CU_ASSERT_STRING_EQUAL(c->replicas[1], "c");
    CU_ASSERT_EQUAL(c->n_in_sync, 2);
    CU_ASSERT_STRING_EQUAL(c->in_sync[0], "b");
    CU_ASSERT_STRING_EQUAL(c->in_sync[1], "c");
    CU_ASSERT_EQUAL(c->epoch, 5);
    /* made from r0001 at (4, 123); nothing asked of it */
    CU_ASSERT_EQUAL(c->n_parents, 1);
    CU_ASSERT_STRING_EQUAL(c->parents[0].id, "r0001");
    CU_ASSERT_EQUAL(c->parents[0].epoch, 4);
    CU_ASSERT_EQUAL(c->parents[0].seq, 123);
    CU_ASSERT_STRING_EQUAL(c->parents[1].id, "");
    CU_ASSERT_EQUAL(c->parents[1].seq, 0);
    CU_ASSERT_STRING_EQUAL(c->handoff, "");
    CU_ASSERT_FALSE(c->split_asked);
    CU_ASSERT_PTR_NULL(c->split_key);
    CU_ASSERT_EQUAL(c->split_key_len, 0);
    CU_ASSERT_STRING_EQUAL(c->split_ids[0], "");
    CU_ASSERT_STRING_EQUAL(c->split_ids[1], "");
    CU_ASSERT_STRING_EQUAL(c->merge_with, "");
    CU_ASSERT_STRING_EQUAL(c->merge_id, "");
    CU_ASSERT_EQUAL(c->zversion, -1); /* new znodes */
}

static void test_split_ranges(void)
{
    zkv_range cur, out[2];
    range_split(&cur, "c", "t");
    CU_ASSERT_EQUAL_FATAL(
        zkv_ho_split_ranges(&cur, (const uint8_t *)"m", 1, SPLIT_IDS, 4, 123, out), 0);
    check_kid(&out[0], "r12a", "c", "m");
    check_kid(&out[1], "r12b", "m", "t");
    /* cur is untouched (its own memory) */
    CU_ASSERT_STRING_EQUAL(cur.id, "r0001");
    CU_ASSERT_EQUAL(cur.epoch, 4);
    CU_ASSERT_TRUE(cur.split_asked);
    CU_ASSERT(cur.split_key_len == 1 && cur.split_key[0] == 'm');
    CU_ASSERT_PTR_NOT_EQUAL(out[0].end, cur.split_key);
    zkv_range_clear(&out[0]);
    zkv_range_clear(&out[1]);
    /* the first byte after start, the last key before end, binary keys */
    CU_ASSERT_EQUAL_FATAL(
        zkv_ho_split_ranges(&cur, (const uint8_t *)"c\x00", 2, SPLIT_IDS, 4, 123, out), 0);
    CU_ASSERT(out[0].end_len == 2 && memcmp(out[0].end, "c\x00", 2) == 0);
    CU_ASSERT(out[1].start_len == 2 && memcmp(out[1].start, "c\x00", 2) == 0);
    zkv_range_clear(&out[0]);
    zkv_range_clear(&out[1]);
    CU_ASSERT_EQUAL_FATAL(
        zkv_ho_split_ranges(&cur, (const uint8_t *)"s\xff\xff", 3, SPLIT_IDS, 4, 123, out), 0);
    CU_ASSERT(out[1].start_len == 3 && memcmp(out[1].start, "s\xff\xff", 3) == 0);
    CU_ASSERT(out[1].end_len == 1 && out[1].end[0] == 't');
    zkv_range_clear(&out[0]);
    zkv_range_clear(&out[1]);
    zkv_range_clear(&cur);

    /* the whole key space: [, k) and [k, ) */
    range_split(&cur, NULL, NULL);
    CU_ASSERT_EQUAL_FATAL(
        zkv_ho_split_ranges(&cur, (const uint8_t *)"k", 1, SPLIT_IDS, 4, 123, out), 0);
    check_kid(&out[0], "r12a", NULL, "k");
    check_kid(&out[1], "r12b", "k", NULL);
    zkv_range_clear(&out[0]);
    zkv_range_clear(&out[1]);
    /* the smallest key there is: "\x00" */
    CU_ASSERT_EQUAL_FATAL(
        zkv_ho_split_ranges(&cur, (const uint8_t *)"\x00", 1, SPLIT_IDS, 4, 123, out), 0);
    CU_ASSERT(out[0].start_len == 0 && out[0].end_len == 1 && out[0].end[0] == 0);
    zkv_range_clear(&out[0]);
    zkv_range_clear(&out[1]);
    zkv_range_clear(&cur);
}

/* The out ranges after a refusal: cleared, nothing to free. */
static void expect_split_refused(const zkv_range *cur, const char *key, size_t klen)
{
    zkv_range out[2];
    memset(out, 0x5a, sizeof(out));
    CU_ASSERT_EQUAL(zkv_ho_split_ranges(cur, (const uint8_t *)key, klen, SPLIT_IDS, 4, 123, out),
                    -1);
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_PTR_NULL(out[i].start);
        CU_ASSERT_PTR_NULL(out[i].end);
        CU_ASSERT_PTR_NULL(out[i].split_key);
        CU_ASSERT_STRING_EQUAL(out[i].id, "");
    }
}

static void test_split_ranges_bad_key(void)
{
    zkv_range cur;
    range_split(&cur, "c", "t");
    expect_split_refused(&cur, "", 0);      /* no key */
    expect_split_refused(&cur, "c", 1);     /* the start: the left range would be empty */
    expect_split_refused(&cur, "b", 1);     /* before the range */
    expect_split_refused(&cur, "b\xff", 2); /* before the range */
    expect_split_refused(&cur, "t", 1);     /* the end */
    expect_split_refused(&cur, "t\x00", 2); /* past the end */
    expect_split_refused(&cur, "zzz", 3);   /* past the end */
    zkv_range_clear(&cur);
    range_split(&cur, NULL, "t");
    expect_split_refused(&cur, "", 0); /* the empty key is the unbounded start */
    expect_split_refused(&cur, "u", 1);
    zkv_range_clear(&cur);
    range_split(&cur, "c", NULL);
    expect_split_refused(&cur, "c", 1);
    expect_split_refused(&cur, "a", 1);
    zkv_range_clear(&cur);
}

/* r's bounds [start, end) of the given lengths (NULL, 0: unbounded). */
static void set_bounds(zkv_range *r, const char *start, size_t sl, const char *end, size_t el)
{
    CU_ASSERT_EQUAL_FATAL(
        zkv_range_set_bounds(r, (const uint8_t *)start, sl, (const uint8_t *)end, el), 0);
}

static const zkv_range_parent MERGE_POS[2] = {{"r0001", 4, 123}, {"r0002", 7, 55}};

/* range_split's r0001 over [start, end) (every request field set), and r0002 over
 * [end, end2): owned by a, replicas c and d, in_sync d and c, epoch 7, its own requests. */
static void range_pair(zkv_range *l, zkv_range *r, const char *start, const char *mid,
                       const char *end)
{
    range_split(l, start, mid);
    strcpy(l->handoff, "c");
    range3(r);
    strcpy(r->id, "r0002");
    CU_ASSERT_EQUAL_FATAL(zkv_range_set_bounds(r, (const uint8_t *)mid, mid ? strlen(mid) : 0,
                                               (const uint8_t *)end, end ? strlen(end) : 0),
                          0);
    strcpy(r->replicas[0], "c");
    strcpy(r->replicas[1], "d");
    strcpy(r->in_sync[0], "d");
    strcpy(r->in_sync[1], "c");
    r->epoch = 7;
    strcpy(r->handoff, "d");
    strcpy(r->merge_with, "r0003");
    strcpy(r->merge_id, "r5m");
}

static void check_merged(const zkv_range *m, const char *start, const char *end)
{
    CU_ASSERT_STRING_EQUAL(m->id, "r12m");
    size_t sl = start ? strlen(start) : 0, el = end ? strlen(end) : 0;
    CU_ASSERT_EQUAL(m->start_len, sl);
    CU_ASSERT(m->start_len == sl && (!start || memcmp(m->start, start, sl) == 0));
    CU_ASSERT_EQUAL(m->end_len, el);
    CU_ASSERT(m->end_len == el && (!end || memcmp(m->end, end, el) == 0));
    if (!sl)
        CU_ASSERT_PTR_NULL(m->start);
    if (!el)
        CU_ASSERT_PTR_NULL(m->end);
    /* the left range's holders */
    CU_ASSERT_STRING_EQUAL(m->owner, "a");
    CU_ASSERT_EQUAL(m->n_replicas, 2);
    CU_ASSERT_STRING_EQUAL(m->replicas[0], "b");
    CU_ASSERT_STRING_EQUAL(m->replicas[1], "c");
    /* made from both at their positions; nothing asked of it */
    CU_ASSERT_EQUAL(m->n_parents, 2);
    CU_ASSERT_STRING_EQUAL(m->parents[0].id, "r0001");
    CU_ASSERT_EQUAL(m->parents[0].epoch, 4);
    CU_ASSERT_EQUAL(m->parents[0].seq, 123);
    CU_ASSERT_STRING_EQUAL(m->parents[1].id, "r0002");
    CU_ASSERT_EQUAL(m->parents[1].epoch, 7);
    CU_ASSERT_EQUAL(m->parents[1].seq, 55);
    CU_ASSERT_STRING_EQUAL(m->handoff, "");
    CU_ASSERT_FALSE(m->split_asked);
    CU_ASSERT_PTR_NULL(m->split_key);
    CU_ASSERT_EQUAL(m->split_key_len, 0);
    CU_ASSERT_STRING_EQUAL(m->split_ids[0], "");
    CU_ASSERT_STRING_EQUAL(m->split_ids[1], "");
    CU_ASSERT_STRING_EQUAL(m->merge_with, "");
    CU_ASSERT_STRING_EQUAL(m->merge_id, "");
    CU_ASSERT_EQUAL(m->zversion, -1); /* a new znode */
}

static void test_merge_range(void)
{
    zkv_range l, r, m;
    range_pair(&l, &r, "c", "m", "t");
    CU_ASSERT_EQUAL_FATAL(zkv_ho_merge_range(&l, &r, "r12m", MERGE_POS, &m), 0);
    check_merged(&m, "c", "t");
    /* epoch one above both (4 and 7); in_sync: c alone is in sync for both */
    CU_ASSERT_EQUAL(m.epoch, 8);
    CU_ASSERT_EQUAL(m.n_in_sync, 1);
    CU_ASSERT_STRING_EQUAL(m.in_sync[0], "c");
    CU_ASSERT_STRING_EQUAL(m.in_sync[1], "");
    /* l and r are untouched (m has its own memory) */
    CU_ASSERT_STRING_EQUAL(l.id, "r0001");
    CU_ASSERT_EQUAL(l.epoch, 4);
    CU_ASSERT(l.end_len == 1 && l.end[0] == 'm');
    CU_ASSERT(l.split_key_len == 1 && l.split_key[0] == 'm');
    CU_ASSERT_STRING_EQUAL(l.handoff, "c");
    CU_ASSERT_EQUAL(l.n_in_sync, 2);
    CU_ASSERT_PTR_NOT_EQUAL(m.start, l.start);
    CU_ASSERT_PTR_NOT_EQUAL(m.end, r.end);
    CU_ASSERT_STRING_EQUAL(r.merge_id, "r5m");
    zkv_range_clear(&m);
    /* the left one newer: its epoch + 1; in_sync in the left one's order */
    l.epoch = 9;
    strcpy(l.in_sync[0], "c");
    strcpy(l.in_sync[1], "b");
    strcpy(r.in_sync[0], "b");
    strcpy(r.in_sync[1], "c");
    CU_ASSERT_EQUAL_FATAL(zkv_ho_merge_range(&l, &r, "r12m", MERGE_POS, &m), 0);
    CU_ASSERT_EQUAL(m.epoch, 10);
    CU_ASSERT_EQUAL(m.n_in_sync, 2);
    CU_ASSERT_STRING_EQUAL(m.in_sync[0], "c");
    CU_ASSERT_STRING_EQUAL(m.in_sync[1], "b");
    zkv_range_clear(&m);
    /* the same epoch: + 1; nothing in sync for both: in_sync empty */
    l.epoch = r.epoch = 5;
    r.n_in_sync = 1;
    strcpy(r.in_sync[0], "d");
    CU_ASSERT_EQUAL_FATAL(zkv_ho_merge_range(&l, &r, "r12m", MERGE_POS, &m), 0);
    CU_ASSERT_EQUAL(m.epoch, 6);
    CU_ASSERT_EQUAL(m.n_in_sync, 0);
    CU_ASSERT_STRING_EQUAL(m.in_sync[0], "");
    zkv_range_clear(&m);
    r.n_in_sync = 0;
    CU_ASSERT_EQUAL_FATAL(zkv_ho_merge_range(&l, &r, "r12m", MERGE_POS, &m), 0);
    CU_ASSERT_EQUAL(m.n_in_sync, 0);
    zkv_range_clear(&m);
    zkv_range_clear(&l);
    zkv_range_clear(&r);

    /* the whole key space from [, m) and [m, ) */
    range_pair(&l, &r, NULL, "m", NULL);
    CU_ASSERT_EQUAL_FATAL(zkv_ho_merge_range(&l, &r, "r12m", MERGE_POS, &m), 0);
    check_merged(&m, NULL, NULL);
    zkv_range_clear(&m);
    zkv_range_clear(&l);
    zkv_range_clear(&r);
    /* binary bounds */
    range_pair(&l, &r, "c", "m", "t");
    set_bounds(&l, "\x00\x01", 2, "k\x00", 2);
    set_bounds(&r, "k\x00", 2, "\xff", 1);
    CU_ASSERT_EQUAL_FATAL(zkv_ho_merge_range(&l, &r, "r12m", MERGE_POS, &m), 0);
    CU_ASSERT(m.start_len == 2 && memcmp(m.start, "\x00\x01", 2) == 0);
    CU_ASSERT(m.end_len == 1 && m.end[0] == 0xff);
    zkv_range_clear(&m);
    zkv_range_clear(&l);
    zkv_range_clear(&r);
}

/* After a refusal: -1 and out cleared, nothing to free. */
static void expect_merge_refused(const zkv_range *l, const zkv_range *r)
{
    zkv_range out;
    memset(&out, 0x5a, sizeof(out));
    CU_ASSERT_EQUAL(zkv_ho_merge_range(l, r, "r12m", MERGE_POS, &out), -1);
    CU_ASSERT_PTR_NULL(out.start);
    CU_ASSERT_PTR_NULL(out.end);
    CU_ASSERT_PTR_NULL(out.split_key);
    CU_ASSERT_STRING_EQUAL(out.id, "");
    CU_ASSERT_EQUAL(out.n_parents, 0);
}

static void test_merge_range_not_neighbours(void)
{
    zkv_range l, r;
    range_pair(&l, &r, "c", "m", "t");
    /* a gap, an overlap, a longer or shorter start, the wrong order */
    set_bounds(&r, "n", 1, "t", 1);
    expect_merge_refused(&l, &r);
    set_bounds(&r, "l", 1, "t", 1);
    expect_merge_refused(&l, &r);
    set_bounds(&r, "m\x00", 2, "t", 1);
    expect_merge_refused(&l, &r);
    set_bounds(&l, "c", 1, "m\x00\x00", 3);
    expect_merge_refused(&l, &r);
    set_bounds(&l, "c", 1, "m", 1);
    set_bounds(&r, "m", 1, "t", 1);
    expect_merge_refused(&r, &l);
    expect_merge_refused(&l, &l);
    /* the left one reaches the end of the key space: nothing right of it */
    set_bounds(&l, "c", 1, NULL, 0);
    set_bounds(&r, NULL, 0, "c", 1);
    expect_merge_refused(&l, &r);
    set_bounds(&r, NULL, 0, NULL, 0);
    expect_merge_refused(&l, &r);
    zkv_range_clear(&l);
    zkv_range_clear(&r);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("server_handoff", NULL, NULL);
    CU_add_test(s, "drain: wait for the target, give up, end", test_drain_steps);
    CU_add_test(s, "flip: never serve again before the map says", test_flip_steps);
    CU_add_test(s, "the range the owner writes", test_flip_range);
    CU_add_test(s, "which range write results are the handoff's, and what they mean",
                test_write_results);
    CU_add_test(s, "the target on shutdown", test_pick_target);
    CU_add_test(s, "the two ranges of a split", test_split_ranges);
    CU_add_test(s, "a split key not strictly inside the range", test_split_ranges_bad_key);
    CU_add_test(s, "the range of a merge", test_merge_range);
    CU_add_test(s, "a merge of ranges that are not neighbours", test_merge_range_not_neighbours);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
