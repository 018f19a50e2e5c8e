/* test_placement.c: CUnit tests of the coordinator's pure placement function
 * (coordinator/placement.c): waiting for --min-nodes, balanced first assignment, nodes
 * joining and dying, under-replication, two-phase rebalancing (an extra replica first,
 * a bounded number of moves at a time, a replica leaves once the extra is in_sync; a
 * dead extra dropped; no move without a live owner), failover (the promoted replica,
 * ties, missing answers, read-only ranges, the old owner's slot), dead replicas kept or
 * replaced, determinism and idempotence over many generated clusters with failures,
 * reported positions and moves in every phase. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement.h"

#define MAX_RANGES 64
#define MAX_NODES 16

static zkv_assignment in[MAX_RANGES], out[MAX_RANGES], again[MAX_RANGES];

static void reset(size_t n)
{
    memset(in, 0, sizeof(in));
    memset(out, 0, sizeof(out));
    memset(again, 0, sizeof(again));
    (void)n;
}

static int place_pos(const zkv_assignment *cur, size_t n, const char *const *live, size_t n_live,
                     int r, int min_nodes, const zkv_range_positions *pos, zkv_assignment *res)
{
    zkv_placement_input pi = {.ranges = cur,
                              .n_ranges = n,
                              .live = live,
                              .n_live = n_live,
                              .replicas = r,
                              .min_nodes = min_nodes,
                              .positions = pos};
    return zkv_placement_compute(&pi, res);
}

static int place(const zkv_assignment *cur, size_t n, const char *const *live, size_t n_live, int r,
                 int min_nodes, zkv_assignment *res)
{
    return place_pos(cur, n, live, n_live, r, min_nodes, NULL, res);
}

static void set_in_sync(zkv_assignment *a, const char *const *ids, int n)
{
    memset(a->in_sync, 0, sizeof(a->in_sync));
    for (int i = 0; i < n; i++)
        snprintf(a->in_sync[i], ZKV_ID_MAX, "%s", ids[i]);
    a->n_in_sync = n;
}

static void add_position(zkv_range_positions *rp, const char *node, uint64_t epoch, uint64_t seq)
{
    zkv_position *p = &rp->at[rp->n++];
    snprintf(p->node, sizeof(p->node), "%s", node);
    p->epoch = epoch;
    p->seq = seq;
}

/* Replicas in exactly this order. */
static void expect_replicas(const zkv_assignment *a, const char *const *ids, int n)
{
    CU_ASSERT_EQUAL(a->n_replicas, n);
    for (int i = 0; i < n && i < a->n_replicas; i++)
        CU_ASSERT_STRING_EQUAL(a->replicas[i], ids[i]);
}

/* in_sync in exactly this order. */
static void expect_in_sync(const zkv_assignment *a, const char *const *ids, int n)
{
    CU_ASSERT_EQUAL(a->n_in_sync, n);
    for (int i = 0; i < n && i < a->n_in_sync; i++)
        CU_ASSERT_STRING_EQUAL(a->in_sync[i], ids[i]);
}

static void set_assignment(zkv_assignment *a, const char *owner, const char *const *reps,
                           int n_reps, uint64_t epoch)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->owner, sizeof(a->owner), "%s", owner);
    for (int i = 0; i < n_reps; i++)
        snprintf(a->replicas[i], ZKV_ID_MAX, "%s", reps[i]);
    a->n_replicas = n_reps;
    a->epoch = epoch;
}

static bool has_replica(const zkv_assignment *a, const char *id)
{
    for (int i = 0; i < a->n_replicas; i++)
        if (strcmp(a->replicas[i], id) == 0)
            return true;
    return false;
}

static int owned_by(const zkv_assignment *a, size_t n, const char *id)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += strcmp(a[i].owner, id) == 0;
    return k;
}

static int copies_on(const zkv_assignment *a, size_t n, const char *id)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += (strcmp(a[i].owner, id) == 0) + has_replica(&a[i], id);
    return k;
}

static bool is_live(const char *id, const char *const *live, size_t n_live)
{
    for (size_t i = 0; i < n_live; i++)
        if (strcmp(live[i], id) == 0)
            return true;
    return false;
}

static bool in_sync_has(const zkv_assignment *a, const char *id)
{
    for (int i = 0; i < a->n_in_sync; i++)
        if (strcmp(a->in_sync[i], id) == 0)
            return true;
    return false;
}

/* A live node holding no copy of the range exists. */
static bool spare_exists(const zkv_assignment *a, const char *const *live, size_t n_live)
{
    for (size_t k = 0; k < n_live; k++)
        if (strcmp(live[k], a->owner) != 0 && !has_replica(a, live[k]))
            return true;
    return false;
}

/* Replicas distinct, not the owner, dead only when in_sync or when no live spare is
 * left; in_sync a subset of replicas. */
static void check_wellformed(const zkv_assignment *a, size_t n, const char *const *live,
                             size_t n_live)
{
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < a[i].n_replicas; j++) {
            CU_ASSERT_STRING_NOT_EQUAL(a[i].replicas[j], a[i].owner);
            if (!is_live(a[i].replicas[j], live, n_live) && !in_sync_has(&a[i], a[i].replicas[j]))
                CU_ASSERT_FALSE(spare_exists(&a[i], live, n_live));
            for (int k = j + 1; k < a[i].n_replicas; k++)
                CU_ASSERT_STRING_NOT_EQUAL(a[i].replicas[j], a[i].replicas[k]);
        }
        for (int j = 0; j < a[i].n_in_sync; j++)
            CU_ASSERT_TRUE(has_replica(&a[i], a[i].in_sync[j]));
    }
}

static void check_idempotent(const zkv_assignment *res, size_t n, const char *const *live,
                             size_t n_live, int r, int min_nodes)
{
    CU_ASSERT_EQUAL_FATAL(place(res, n, live, n_live, r, min_nodes, again), 0);
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_FALSE(again[i].changed);
        CU_ASSERT_TRUE(zkv_assignment_equal(&again[i], &res[i]));
    }
}

/* Ranges with a move in progress: more than r-1 replicas. */
static int moving(const zkv_assignment *a, size_t n, int r)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += a[i].n_replicas > r - 1;
    return k;
}

/* How many ranges may have a move in progress: max(1, live/2). */
static int move_budget(size_t n_live)
{
    return n_live / 2 > 1 ? (int)(n_live / 2) : 1;
}

/* Every owner has caught up all its replicas. */
static void mark_all_in_sync(zkv_assignment *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        memcpy(a[i].in_sync, a[i].replicas, sizeof(a[i].in_sync));
        a[i].n_in_sync = a[i].n_replicas;
    }
}

/* Copies per live node within 1 of each other. */
static bool balanced(const zkv_assignment *a, size_t n, const char *const *live, size_t n_live)
{
    int lo = 1 << 30, hi = 0;
    for (size_t k = 0; k < n_live; k++) {
        int c = copies_on(a, n, live[k]);
        lo = c < lo ? c : lo;
        hi = c > hi ? c : hi;
    }
    return hi - lo <= 1;
}

/* Places cur (all owners live) again and again, each time marking every replica in_sync
 * afterwards (the owners catch them up), until a pass changes nothing. Checks every
 * pass: owners and epochs stay, no range holds more than one extra replica, at most
 * move_budget ranges move at once, every output is well formed and idempotent, and
 * every removed replica was in a range whose move finished. Returns the number of
 * passes (-1 when 100 did not settle) and adds the moves started to *started. */
static int converge(zkv_assignment *cur, size_t n, const char *const *live, size_t n_live, int r,
                    int *started)
{
    static zkv_assignment next[MAX_RANGES];
    for (int pass = 1; pass <= 100; pass++) {
        CU_ASSERT_EQUAL_FATAL(place(cur, n, live, n_live, r, 1, next), 0);
        bool changed = false;
        for (size_t i = 0; i < n; i++) {
            changed |= next[i].changed;
            CU_ASSERT_STRING_EQUAL(next[i].owner, cur[i].owner);
            CU_ASSERT_EQUAL(next[i].epoch, cur[i].epoch);
            CU_ASSERT_TRUE(next[i].n_replicas <= r);
            bool was_moving = cur[i].n_replicas > r - 1;
            if (next[i].n_replicas > r - 1 && !has_replica(&cur[i], next[i].replicas[r - 1])) {
                /* A move starts (maybe right after one finished): the target is
                 * appended, not in_sync. */
                (*started)++;
                CU_ASSERT_EQUAL(next[i].n_replicas, r);
                CU_ASSERT_FALSE(in_sync_has(&next[i], next[i].replicas[r - 1]));
            }
            int removed = 0;
            for (int j = 0; j < cur[i].n_replicas; j++)
                removed += !has_replica(&next[i], cur[i].replicas[j]);
            CU_ASSERT_TRUE(removed <= (was_moving ? 1 : 0));
        }
        CU_ASSERT_TRUE(moving(next, n, r) <= move_budget(n_live));
        check_wellformed(next, n, live, n_live);
        check_idempotent(next, n, live, n_live, r, 1);
        memcpy(cur, next, n * sizeof(*cur));
        if (!changed && moving(cur, n, r) == 0)
            return pass;
        mark_all_in_sync(cur, n);
    }
    return -1;
}

static const char *const three[] = {"node-1", "node-2", "node-3"};
static const char *const four[] = {"node-1", "node-2", "node-3", "node-4"};

static void test_nothing_before_min_nodes(void)
{
    reset(8);
    CU_ASSERT_EQUAL(place(in, 8, three, 2, 3, 3, out), 0);
    for (int i = 0; i < 8; i++) {
        CU_ASSERT_FALSE(out[i].changed);
        CU_ASSERT_STRING_EQUAL(out[i].owner, "");
        CU_ASSERT_EQUAL(out[i].n_replicas, 0);
        CU_ASSERT_EQUAL(out[i].epoch, 0);
    }
    /* No live node at all. */
    CU_ASSERT_EQUAL(place(in, 8, three, 0, 3, 1, out), 0);
    for (int i = 0; i < 8; i++)
        CU_ASSERT_FALSE(out[i].changed);
    /* The third node arrives: everything gets assigned. */
    CU_ASSERT_EQUAL(place(in, 8, three, 3, 3, 3, out), 0);
    for (int i = 0; i < 8; i++) {
        CU_ASSERT_TRUE(out[i].changed);
        CU_ASSERT_STRING_NOT_EQUAL(out[i].owner, "");
    }
}

static void test_initial_assignment_balanced(void)
{
    reset(8);
    CU_ASSERT_EQUAL_FATAL(place(in, 8, three, 3, 3, 1, out), 0);
    int counts[3];
    for (int k = 0; k < 3; k++)
        counts[k] = owned_by(out, 8, three[k]);
    CU_ASSERT_EQUAL(counts[0], 3);
    CU_ASSERT_EQUAL(counts[1], 3);
    CU_ASSERT_EQUAL(counts[2], 2);
    for (int i = 0; i < 8; i++) {
        CU_ASSERT_TRUE(out[i].changed);
        CU_ASSERT_EQUAL(out[i].epoch, 1);
        CU_ASSERT_EQUAL(out[i].n_replicas, 2);
        CU_ASSERT_EQUAL(out[i].n_in_sync, 0);
    }
    check_wellformed(out, 8, three, 3);
    check_idempotent(out, 8, three, 3, 3, 1);
}

static void test_fourth_node_gets_replicas(void)
{
    /* Every replica caught up, then node-4 joins a 3-node cluster, R = 3. */
    reset(8);
    static zkv_assignment first[8], cur[8];
    CU_ASSERT_EQUAL_FATAL(place(in, 8, three, 3, 3, 1, first), 0);
    mark_all_in_sync(first, 8);
    const char *shuffled[] = {"node-3", "node-4", "node-1", "node-2"};

    /* Pass 1: node-4 becomes the extra replica of max(1, 4/2) = 2 ranges; nothing is
     * removed, in_sync is untouched, the rest stays as it was. */
    CU_ASSERT_EQUAL_FATAL(place(first, 8, four, 4, 3, 1, out), 0);
    CU_ASSERT_EQUAL_FATAL(place(first, 8, shuffled, 4, 3, 1, again), 0);
    int extras = 0;
    for (int i = 0; i < 8; i++) {
        CU_ASSERT_TRUE(zkv_assignment_equal(&out[i], &again[i])); /* deterministic */
        CU_ASSERT_STRING_EQUAL(out[i].owner, first[i].owner);
        CU_ASSERT_EQUAL(out[i].epoch, first[i].epoch);
        CU_ASSERT_EQUAL(out[i].n_in_sync, first[i].n_in_sync);
        for (int j = 0; j < out[i].n_in_sync && j < first[i].n_in_sync; j++)
            CU_ASSERT_STRING_EQUAL(out[i].in_sync[j], first[i].in_sync[j]);
        if (out[i].n_replicas == 3) {
            extras++;
            CU_ASSERT_TRUE(out[i].changed);
            expect_replicas(
                &out[i], (const char *[]){first[i].replicas[0], first[i].replicas[1], "node-4"}, 3);
        } else {
            CU_ASSERT_FALSE(out[i].changed);
            CU_ASSERT_TRUE(zkv_assignment_equal(&out[i], &first[i]));
        }
    }
    CU_ASSERT_EQUAL(extras, 2);
    CU_ASSERT_EQUAL(owned_by(out, 8, "node-4"), 0);
    check_wellformed(out, 8, four, 4);
    /* Half-done: placing again, and again, changes nothing until in_sync does. */
    check_idempotent(out, 8, four, 4, 3, 1);
    CU_ASSERT_EQUAL_FATAL(place(again, 8, four, 4, 3, 1, in), 0);
    for (int i = 0; i < 8; i++)
        CU_ASSERT_FALSE(in[i].changed);

    /* Pass 2: node-4 caught up on those ranges: each drops one other replica (from
     * replicas and in_sync) and keeps node-4; 2 other ranges start moves. */
    memcpy(cur, out, sizeof(cur));
    for (int i = 0; i < 8; i++)
        if (cur[i].n_replicas == 3)
            snprintf(cur[i].in_sync[cur[i].n_in_sync++], ZKV_ID_MAX, "node-4");
    CU_ASSERT_EQUAL_FATAL(place(cur, 8, four, 4, 3, 1, out), 0);
    int finished = 0, started = 0;
    for (int i = 0; i < 8; i++) {
        if (cur[i].n_replicas == 3) {
            finished++;
            CU_ASSERT_EQUAL(out[i].n_replicas, 2);
            CU_ASSERT_EQUAL(out[i].n_in_sync, 2);
            CU_ASSERT_TRUE(has_replica(&out[i], "node-4"));
            CU_ASSERT_TRUE(in_sync_has(&out[i], "node-4"));
            for (int j = 0; j < out[i].n_in_sync; j++)
                CU_ASSERT_TRUE(has_replica(&out[i], out[i].in_sync[j]));
        } else if (out[i].n_replicas == 3) {
            started++;
            CU_ASSERT_STRING_EQUAL(out[i].replicas[2], "node-4");
        }
        CU_ASSERT_STRING_EQUAL(out[i].owner, cur[i].owner);
        CU_ASSERT_EQUAL(out[i].epoch, cur[i].epoch);
    }
    CU_ASSERT_EQUAL(finished, 2);
    CU_ASSERT_EQUAL(started, 2);
    CU_ASSERT_EQUAL(copies_on(out, 8, "node-4"), 4);
    check_wellformed(out, 8, four, 4);
    check_idempotent(out, 8, four, 4, 3, 1);

    /* To the end: 24 copies over 4 nodes, 6 each, every range at 2 replicas, reached
     * with exactly the 6 moves node-4's 6 slots need. */
    memcpy(cur, first, sizeof(cur));
    int moves = 0;
    int passes = converge(cur, 8, four, 4, 3, &moves);
    CU_ASSERT_TRUE(passes > 0 && passes <= 6);
    CU_ASSERT_EQUAL(moves, 6);
    for (int i = 0; i < 8; i++) {
        CU_ASSERT_EQUAL(cur[i].n_replicas, 2);
        CU_ASSERT_STRING_EQUAL(cur[i].owner, first[i].owner);
    }
    for (int k = 0; k < 4; k++)
        CU_ASSERT_EQUAL(copies_on(cur, 8, four[k]), 6);
}

static void test_move_extra_dies(void)
{
    /* node-4 is the extra replica of r0 and dies before it is in_sync: dropped, the
     * range is back to its replicas and in_sync. */
    reset(1);
    set_assignment(&in[0], "node-1", (const char *[]){"node-2", "node-3", "node-4"}, 3, 5);
    set_in_sync(&in[0], (const char *[]){"node-3", "node-2"}, 2);
    CU_ASSERT_EQUAL_FATAL(place(in, 1, three, 3, 3, 1, out), 0);
    CU_ASSERT_TRUE(out[0].changed);
    CU_ASSERT_STRING_EQUAL(out[0].owner, "node-1");
    CU_ASSERT_EQUAL(out[0].epoch, 5);
    expect_replicas(&out[0], (const char *[]){"node-2", "node-3"}, 2);
    expect_in_sync(&out[0], (const char *[]){"node-3", "node-2"}, 2);
    check_idempotent(out, 1, three, 3, 3, 1);
    /* While it is alive and not in_sync the move just waits. */
    CU_ASSERT_EQUAL_FATAL(place(in, 1, four, 4, 3, 1, out), 0);
    CU_ASSERT_FALSE(out[0].changed);
    /* Dead but already in_sync: it has every acknowledged write and stays (its owner
     * drops it from in_sync, then it goes as above). */
    set_in_sync(&in[0], (const char *[]){"node-4"}, 1);
    CU_ASSERT_EQUAL_FATAL(place(in, 1, three, 3, 3, 1, out), 0);
    CU_ASSERT_FALSE(out[0].changed);
    check_idempotent(out, 1, three, 3, 3, 1);
}

static void test_move_finish_choice(void)
{
    /* r0: owner node-1, replicas node-2, node-3 and the in_sync extra node-5. Other
     * ranges make node-3 the more loaded one. */
    const char *five[] = {"node-1", "node-2", "node-3", "node-4", "node-5"};
    reset(3);
    set_assignment(&in[0], "node-1", (const char *[]){"node-2", "node-3", "node-5"}, 3, 2);
    set_in_sync(&in[0], (const char *[]){"node-2", "node-3", "node-5"}, 3);
    set_assignment(&in[1], "node-4", (const char *[]){"node-3", "node-1"}, 2, 1);
    set_in_sync(&in[1], (const char *[]){"node-3", "node-1"}, 2);
    set_assignment(&in[2], "node-5", (const char *[]){"node-4", "node-2"}, 2, 1);
    set_in_sync(&in[2], (const char *[]){"node-4", "node-2"}, 2);
    /* node-2 and node-3 both carry 2: the tie goes to the higher id. */
    CU_ASSERT_EQUAL_FATAL(place(in, 3, five, 5, 3, 1, out), 0);
    expect_replicas(&out[0], (const char *[]){"node-2", "node-5"}, 2);
    expect_in_sync(&out[0], (const char *[]){"node-2", "node-5"}, 2);
    CU_ASSERT_FALSE(out[1].changed);
    CU_ASSERT_FALSE(out[2].changed);
    /* node-2 carries more: it leaves. */
    set_assignment(&in[2], "node-5", (const char *[]){"node-2", "node-4"}, 2, 1);
    set_assignment(&in[1], "node-4", (const char *[]){"node-1", "node-2"}, 2, 1);
    CU_ASSERT_EQUAL_FATAL(place(in, 3, five, 5, 3, 1, out), 0);
    expect_replicas(&out[0], (const char *[]){"node-3", "node-5"}, 2);
    expect_in_sync(&out[0], (const char *[]){"node-3", "node-5"}, 2);
    /* A replica that is not in_sync leaves first, however light (node-3, now empty,
     * then becomes the target of a new move: node-2 carries 3). */
    set_in_sync(&in[0], (const char *[]){"node-2", "node-5"}, 2);
    CU_ASSERT_EQUAL_FATAL(place(in, 3, five, 5, 3, 1, out), 0);
    expect_replicas(&out[0], (const char *[]){"node-2", "node-5", "node-3"}, 3);
    expect_in_sync(&out[0], (const char *[]){"node-2", "node-5"}, 2);
    /* A dead one leaves before anything else, in_sync or not. */
    set_in_sync(&in[0], (const char *[]){"node-2", "node-3", "node-5"}, 3);
    const char *no3[] = {"node-1", "node-2", "node-4", "node-5"};
    CU_ASSERT_EQUAL_FATAL(place(in, 3, no3, 4, 3, 1, out), 0);
    expect_replicas(&out[0], (const char *[]){"node-2", "node-5"}, 2);
    expect_in_sync(&out[0], (const char *[]){"node-2", "node-5"}, 2);
    check_wellformed(out, 3, no3, 4);
    check_idempotent(out, 3, no3, 4, 3, 1);
    /* The extra not in_sync yet: nothing leaves. */
    set_in_sync(&in[0], (const char *[]){"node-2", "node-3"}, 2);
    CU_ASSERT_EQUAL_FATAL(place(in, 3, five, 5, 3, 1, out), 0);
    CU_ASSERT_FALSE(out[0].changed);
}

static void test_move_absorbs_dead_replica(void)
{
    /* While node-4 is being added to r0, node-2 (not in_sync) dies: node-4 takes its
     * slot instead of a spare, the move is over. */
    reset(1);
    set_assignment(&in[0], "node-1", (const char *[]){"node-2", "node-3", "node-4"}, 3, 2);
    set_in_sync(&in[0], (const char *[]){"node-3"}, 1);
    const char *live[] = {"node-1", "node-3", "node-4", "node-5"};
    CU_ASSERT_EQUAL_FATAL(place(in, 1, live, 4, 3, 1, out), 0);
    expect_replicas(&out[0], (const char *[]){"node-3", "node-4"}, 2);
    expect_in_sync(&out[0], (const char *[]){"node-3"}, 1);
    check_wellformed(out, 1, live, 4);
    check_idempotent(out, 1, live, 4, 3, 1);
}

static void test_move_needs_live_owner(void)
{
    /* Owner node-1 down, nothing in_sync: read-only. The half-done move stays, even
     * with its extra node-4 in place and an empty node-5 around. */
    reset(1);
    set_assignment(&in[0], "node-1", (const char *[]){"node-2", "node-3", "node-4"}, 3, 3);
    const char *live[] = {"node-2", "node-3", "node-4", "node-5"};
    CU_ASSERT_EQUAL_FATAL(place(in, 1, live, 4, 3, 1, out), 0);
    CU_ASSERT_FALSE(out[0].changed);
    check_idempotent(out, 1, live, 4, 3, 1);
    /* The extra caught up before the owner died: it is promoted; the dead old owner
     * takes its slot as the extra and, not in_sync, goes. */
    set_in_sync(&in[0], (const char *[]){"node-4"}, 1);
    CU_ASSERT_EQUAL_FATAL(place(in, 1, live, 4, 3, 1, out), 0);
    CU_ASSERT_STRING_EQUAL(out[0].owner, "node-4");
    CU_ASSERT_EQUAL(out[0].epoch, 4);
    expect_replicas(&out[0], (const char *[]){"node-2", "node-3"}, 2);
    CU_ASSERT_EQUAL(out[0].n_in_sync, 0);
    check_wellformed(out, 1, live, 4);
    check_idempotent(out, 1, live, 4, 3, 1);
    /* Owner down and a replica that is not in_sync dies too: without a live owner the
     * move does not take its slot (no spare either: it stays). */
    set_assignment(&in[0], "node-1", (const char *[]){"node-2", "node-3", "node-4"}, 3, 3);
    const char *two[] = {"node-3", "node-4"};
    CU_ASSERT_EQUAL_FATAL(place(in, 1, two, 2, 3, 1, out), 0);
    CU_ASSERT_FALSE(out[0].changed);
    check_idempotent(out, 1, two, 2, 3, 1);
    /* Dead owner, fully in_sync replicas, new empty nodes: no move starts. */
    reset(4);
    for (int i = 0; i < 4; i++) {
        set_assignment(&in[i], "node-1", (const char *[]){"node-2", "node-3"}, 2, 1);
        set_in_sync(&in[i], (const char *[]){"node-2"}, 1);
    }
    const char *no2[] = {"node-3", "node-4", "node-5", "node-6"};
    CU_ASSERT_EQUAL_FATAL(place(in, 4, no2, 4, 3, 1, out), 0);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_FALSE(out[i].changed);
}

/* n4..n7 join 32 ranges on n0..n3 (the start of the move tests): live gets "n0".."n7";
 * cur the placement on n0..n3 (all in_sync when in_sync), out the next pass with all 8
 * live, which starts 4 moves. */
static void four_join(const char *live[8], zkv_assignment *cur, bool in_sync)
{
    static char names[8][ZKV_ID_MAX];
    for (int k = 0; k < 8; k++) {
        snprintf(names[k], ZKV_ID_MAX, "n%d", k);
        live[k] = names[k];
    }
    reset(32);
    CU_ASSERT_EQUAL_FATAL(place(in, 32, live, 4, 3, 1, cur), 0);
    if (in_sync)
        mark_all_in_sync(cur, 32);
    CU_ASSERT_EQUAL_FATAL(place(cur, 32, live, 8, 3, 1, out), 0);
    CU_ASSERT_EQUAL(moving(out, 32, 3), 4);
}

static void test_move_budget(void)
{
    /* 32 ranges on n0..n3, all in_sync, n4..n7 join: at most 4 moves at a time, one
     * extra per range, and in the end every node within 1 of the others. */
    const char *live[8];
    static zkv_assignment cur[32];
    four_join(live, cur, true);
    for (int i = 0; i < 32; i++)
        CU_ASSERT_TRUE(out[i].n_replicas <= 3);
    int moves = 0;
    CU_ASSERT_TRUE(converge(cur, 32, live, 8, 3, &moves) > 0);
    CU_ASSERT_TRUE(balanced(cur, 32, live, 8));
    for (int k = 0; k < 4; k++)
        CU_ASSERT_EQUAL(owned_by(cur, 32, live[k]), 8);
    /* 96 copies, 12 per node: n4..n7 need 48 slots, each move gives one. */
    CU_ASSERT_EQUAL(moves, 48);
    /* Three live nodes: one move at a time. R = 2, n0 owns all, n1 holds every
     * replica, n2 joins. */
    reset(4);
    for (int i = 0; i < 4; i++) {
        set_assignment(&cur[i], "n0", (const char *[]){"n1"}, 1, 1);
        set_in_sync(&cur[i], (const char *[]){"n1"}, 1);
    }
    CU_ASSERT_EQUAL_FATAL(place(cur, 4, live, 3, 2, 1, out), 0);
    CU_ASSERT_EQUAL(moving(out, 4, 2), 1);
    expect_replicas(&out[0], (const char *[]){"n1", "n2"}, 2);
    moves = 0;
    CU_ASSERT_TRUE(converge(cur, 4, live, 3, 2, &moves) > 0);
    CU_ASSERT_EQUAL(moves, 2);
    CU_ASSERT_EQUAL(copies_on(cur, 4, "n1"), 2);
    CU_ASSERT_EQUAL(copies_on(cur, 4, "n2"), 2);
}

static void test_dead_replica_replaced(void)
{
    reset(1);
    const char *reps[] = {"node-2", "node-3"};
    set_assignment(&in[0], "node-1", reps, 2, 4);
    const char *live[] = {"node-1", "node-3", "node-4"}; /* node-2 died, node-4 is spare */
    CU_ASSERT_EQUAL_FATAL(place(in, 1, live, 3, 3, 1, out), 0);
    CU_ASSERT_TRUE(out[0].changed);
    CU_ASSERT_STRING_EQUAL(out[0].owner, "node-1");
    CU_ASSERT_EQUAL(out[0].epoch, 4);
    CU_ASSERT_EQUAL(out[0].n_replicas, 2);
    expect_replicas(&out[0], (const char *[]){"node-4", "node-3"}, 2); /* in node-2's slot */
    check_idempotent(out, 1, live, 3, 3, 1);
}

static void test_dead_replica_kept_without_spare(void)
{
    reset(1);
    set_assignment(&in[0], "node-1", (const char *[]){"node-2", "node-3"}, 2, 4);
    /* node-2 died and every live node already holds a copy: nothing to do. */
    const char *live[] = {"node-1", "node-3"};
    CU_ASSERT_EQUAL_FATAL(place(in, 1, live, 2, 3, 1, out), 0);
    CU_ASSERT_FALSE(out[0].changed);
    CU_ASSERT_STRING_EQUAL(out[0].owner, "node-1");
    expect_replicas(&out[0], (const char *[]){"node-2", "node-3"}, 2);
    check_wellformed(out, 1, live, 2);
    check_idempotent(out, 1, live, 2, 3, 1);
    /* node-2 comes back: still its replica, nothing changes. */
    CU_ASSERT_EQUAL_FATAL(place(out, 1, three, 3, 3, 1, again), 0);
    CU_ASSERT_FALSE(again[0].changed);
    /* Instead, a spare node-4 arrives while node-2 is down: it takes node-2's slot. */
    const char *spare[] = {"node-1", "node-3", "node-4"};
    CU_ASSERT_EQUAL_FATAL(place(out, 1, spare, 3, 3, 1, again), 0);
    CU_ASSERT_TRUE(again[0].changed);
    expect_replicas(&again[0], (const char *[]){"node-4", "node-3"}, 2);
    CU_ASSERT_EQUAL(again[0].epoch, 4);
}

static void test_dead_in_sync_replica_kept(void)
{
    /* A dead in_sync replica is the owner's to drop: kept, spare or not. */
    reset(1);
    set_assignment(&in[0], "node-1", (const char *[]){"node-2", "node-3"}, 2, 4);
    set_in_sync(&in[0], (const char *[]){"node-2"}, 1);
    const char *live[] = {"node-1", "node-3", "node-4"};
    CU_ASSERT_EQUAL_FATAL(place(in, 1, live, 3, 3, 1, out), 0);
    CU_ASSERT_FALSE(out[0].changed);
    expect_replicas(&out[0], (const char *[]){"node-2", "node-3"}, 2);
    expect_in_sync(&out[0], (const char *[]){"node-2"}, 1);
    check_wellformed(out, 1, live, 3);
    check_idempotent(out, 1, live, 3, 3, 1);
    /* Once the owner has shrunk in_sync, the spare takes the slot. */
    out[0].n_in_sync = 0;
    CU_ASSERT_EQUAL_FATAL(place(out, 1, live, 3, 3, 1, again), 0);
    CU_ASSERT_TRUE(again[0].changed);
    expect_replicas(&again[0], (const char *[]){"node-4", "node-3"}, 2);
}

static void test_in_sync_untouched_for_live_owner(void)
{
    /* Live owner: in_sync keeps its entries and their order, dead ones included, even
     * with a spare around and positions reported (they only matter for failover). */
    reset(1);
    set_assignment(&in[0], "node-1", (const char *[]){"node-2", "node-3"}, 2, 7);
    set_in_sync(&in[0], (const char *[]){"node-3", "node-2"}, 2);
    const char *live[] = {"node-1", "node-3", "node-4"}; /* node-2 dead */
    zkv_range_positions pos[1] = {0};
    add_position(&pos[0], "node-3", 9, 9);
    CU_ASSERT_EQUAL_FATAL(place_pos(in, 1, live, 3, 3, 1, pos, out), 0);
    CU_ASSERT_FALSE(out[0].changed);
    CU_ASSERT_STRING_EQUAL(out[0].owner, "node-1");
    CU_ASSERT_EQUAL(out[0].epoch, 7);
    expect_replicas(&out[0], (const char *[]){"node-2", "node-3"}, 2);
    expect_in_sync(&out[0], (const char *[]){"node-3", "node-2"}, 2);
}

static void test_dead_owner_kept(void)
{
    reset(2);
    const char *reps[] = {"node-2", "node-3"};
    set_assignment(&in[0], "node-1", reps, 2, 3);
    set_assignment(&in[1], "node-2", (const char *[]){"node-1", "node-3"}, 2, 1);
    const char *live[] = {"node-2", "node-3", "node-4"}; /* node-1 died */
    CU_ASSERT_EQUAL_FATAL(place(in, 2, live, 3, 3, 1, out), 0);
    CU_ASSERT_STRING_EQUAL(out[0].owner, "node-1");
    CU_ASSERT_EQUAL(out[0].epoch, 3);
    CU_ASSERT_STRING_EQUAL(out[1].owner, "node-2");
    CU_ASSERT_EQUAL(out[1].epoch, 1);
    CU_ASSERT_FALSE(has_replica(&out[1], "node-1"));
    CU_ASSERT_EQUAL(out[1].n_replicas, 2);
    check_wellformed(out, 2, live, 3);
    check_idempotent(out, 2, live, 3, 3, 1);
}

static void test_under_replicated_single_node(void)
{
    reset(8);
    const char *one[] = {"node-1"};
    CU_ASSERT_EQUAL_FATAL(place(in, 8, one, 1, 3, 1, out), 0);
    for (int i = 0; i < 8; i++) {
        CU_ASSERT_STRING_EQUAL(out[i].owner, "node-1");
        CU_ASSERT_EQUAL(out[i].n_replicas, 0);
        CU_ASSERT_EQUAL(out[i].epoch, 1);
    }
    check_idempotent(out, 8, one, 1, 3, 1);
    /* A second node joins: one replica each, owners untouched. */
    zkv_assignment second[8];
    CU_ASSERT_EQUAL_FATAL(place(out, 8, three, 2, 3, 1, second), 0);
    for (int i = 0; i < 8; i++) {
        CU_ASSERT_STRING_EQUAL(second[i].owner, "node-1");
        CU_ASSERT_EQUAL(second[i].n_replicas, 1);
        CU_ASSERT_STRING_EQUAL(second[i].replicas[0], "node-2");
        CU_ASSERT_EQUAL(second[i].epoch, 1);
    }
}

static void test_in_sync_filtered(void)
{
    reset(1);
    const char *reps[] = {"node-2", "node-3"};
    set_assignment(&in[0], "node-1", reps, 2, 2);
    snprintf(in[0].in_sync[0], ZKV_ID_MAX, "node-3");
    snprintf(in[0].in_sync[1], ZKV_ID_MAX, "node-9"); /* not a replica */
    in[0].n_in_sync = 2;
    const char *live[] = {"node-1", "node-2"}; /* node-3 died */
    CU_ASSERT_EQUAL_FATAL(place(in, 1, live, 2, 3, 1, out), 0);
    /* node-9 is not a replica and goes; dead node-3 is in_sync and stays. */
    CU_ASSERT_TRUE(out[0].changed);
    expect_replicas(&out[0], (const char *[]){"node-2", "node-3"}, 2);
    expect_in_sync(&out[0], (const char *[]){"node-3"}, 1);
    check_idempotent(out, 1, live, 2, 3, 1);
}

static void test_owner_choice_and_epoch(void)
{
    /* Fewest owned first, then fewest replica slots: node-2 and node-3 own nothing,
     * node-2 holds a replica slot, so node-3 takes r1. r1 was owned before (epoch 5),
     * so --min-nodes 10 does not hold it back, and its epoch grows to 6. */
    reset(2);
    set_assignment(&in[0], "node-1", (const char *[]){"node-2"}, 1, 1);
    set_assignment(&in[1], "", NULL, 0, 5);
    CU_ASSERT_EQUAL_FATAL(place(in, 2, three, 3, 2, 10, out), 0);
    CU_ASSERT_STRING_EQUAL(out[1].owner, "node-3");
    CU_ASSERT_EQUAL(out[1].epoch, 6);
    CU_ASSERT_TRUE(out[1].changed);
    CU_ASSERT_EQUAL(out[1].n_replicas, 1);
    CU_ASSERT_FALSE(out[0].changed);
    check_wellformed(out, 2, three, 3);
    check_idempotent(out, 2, three, 3, 2, 10);
}

static void test_new_owner_leaves_replicas(void)
{
    /* node-2 holds two replica slots, node-3 one (in r1 itself): node-3 becomes r1's
     * owner and is no longer listed among its replicas. */
    reset(3);
    set_assignment(&in[0], "node-1", (const char *[]){"node-2"}, 1, 1);
    set_assignment(&in[1], "", (const char *[]){"node-3"}, 1, 2);
    set_assignment(&in[2], "node-1", (const char *[]){"node-2"}, 1, 1);
    CU_ASSERT_EQUAL_FATAL(place(in, 3, three, 3, 2, 1, out), 0);
    CU_ASSERT_STRING_EQUAL(out[1].owner, "node-3");
    CU_ASSERT_EQUAL(out[1].epoch, 3);
    CU_ASSERT_FALSE(has_replica(&out[1], "node-3"));
    CU_ASSERT_EQUAL(out[1].n_replicas, 1);
    check_wellformed(out, 3, three, 3);
    check_idempotent(out, 3, three, 3, 2, 1);
}

/* A dead owner node-1 with replicas node-2..node-4, all in_sync (R = 4), the live
 * nodes node-2..node-4: no spare. */
static const char *const survivors[] = {"node-2", "node-3", "node-4"};
static void setup_failover(void)
{
    reset(1);
    set_assignment(&in[0], "node-1", survivors, 3, 3);
    set_in_sync(&in[0], survivors, 3);
}

static void test_failover_highest_position(void)
{
    setup_failover();
    zkv_range_positions pos[1] = {0};
    add_position(&pos[0], "node-2", 3, 1000);
    add_position(&pos[0], "node-3", 3, 1042); /* highest: not the lowest id */
    add_position(&pos[0], "node-4", 2, 9999); /* older epoch, longer log */
    CU_ASSERT_EQUAL_FATAL(place_pos(in, 1, survivors, 3, 4, 1, pos, out), 0);
    CU_ASSERT_TRUE(out[0].changed);
    CU_ASSERT_STRING_EQUAL(out[0].owner, "node-3");
    CU_ASSERT_EQUAL(out[0].epoch, 4);
    /* The old owner stays in the slot node-3 left; in_sync loses the new owner. */
    expect_replicas(&out[0], (const char *[]){"node-2", "node-1", "node-4"}, 3);
    expect_in_sync(&out[0], (const char *[]){"node-2", "node-4"}, 2);
    check_wellformed(out, 1, survivors, 3);
    check_idempotent(out, 1, survivors, 3, 4, 1);
    /* Promotion happens once: the same positions again change nothing. */
    CU_ASSERT_EQUAL_FATAL(place_pos(out, 1, survivors, 3, 4, 1, pos, again), 0);
    CU_ASSERT_FALSE(again[0].changed);
}

static void test_failover_ties(void)
{
    /* Equal highest positions: the lowest id wins, whatever order the answers are in. */
    setup_failover();
    zkv_range_positions pos[1] = {0};
    add_position(&pos[0], "node-4", 5, 70);
    add_position(&pos[0], "node-3", 5, 70);
    add_position(&pos[0], "node-2", 5, 69);
    CU_ASSERT_EQUAL_FATAL(place_pos(in, 1, survivors, 3, 4, 1, pos, out), 0);
    CU_ASSERT_STRING_EQUAL(out[0].owner, "node-3");
    memset(pos, 0, sizeof(pos));
    add_position(&pos[0], "node-3", 5, 70);
    add_position(&pos[0], "node-2", 5, 69);
    add_position(&pos[0], "node-4", 5, 70);
    CU_ASSERT_EQUAL_FATAL(place_pos(in, 1, survivors, 3, 4, 1, pos, again), 0);
    CU_ASSERT_STRING_EQUAL(again[0].owner, "node-3");
    CU_ASSERT_TRUE(zkv_assignment_equal(&out[0], &again[0]));
    /* All equal: node-2. */
    memset(pos, 0, sizeof(pos));
    add_position(&pos[0], "node-4", 1, 1);
    add_position(&pos[0], "node-2", 1, 1);
    add_position(&pos[0], "node-3", 1, 1);
    CU_ASSERT_EQUAL_FATAL(place_pos(in, 1, survivors, 3, 4, 1, pos, out), 0);
    CU_ASSERT_STRING_EQUAL(out[0].owner, "node-2");
}

static void test_failover_missing_answers(void)
{
    setup_failover();
    /* Nobody answered: the first live in_sync replica by id, whatever in_sync's order. */
    set_in_sync(&in[0], (const char *[]){"node-4", "node-3"}, 2);
    CU_ASSERT_EQUAL_FATAL(place_pos(in, 1, survivors, 3, 4, 1, NULL, out), 0);
    CU_ASSERT_STRING_EQUAL(out[0].owner, "node-3");
    CU_ASSERT_EQUAL(out[0].epoch, 4);
    expect_in_sync(&out[0], (const char *[]){"node-4"}, 1);
    /* Positions of nodes that are no candidates count for nothing: node-2 is not
     * in_sync, node-1 is the dead owner, node-9 is nobody. */
    zkv_range_positions pos[1] = {0};
    add_position(&pos[0], "node-2", 9, 9);
    add_position(&pos[0], "node-1", 9, 9);
    add_position(&pos[0], "node-9", 9, 9);
    CU_ASSERT_EQUAL_FATAL(place_pos(in, 1, survivors, 3, 4, 1, pos, again), 0);
    CU_ASSERT_STRING_EQUAL(again[0].owner, "node-3");
    /* One candidate answered: it wins over the unanswered lower id. */
    add_position(&pos[0], "node-4", 0, 0);
    CU_ASSERT_EQUAL_FATAL(place_pos(in, 1, survivors, 3, 4, 1, pos, again), 0);
    CU_ASSERT_STRING_EQUAL(again[0].owner, "node-4");
    expect_in_sync(&again[0], (const char *[]){"node-3"}, 1);
}

static void test_failover_no_live_in_sync_keeps_owner(void)
{
    /* node-1 (owner) and node-2 (its only in_sync replica) are down; node-3 is a live
     * replica that is not in_sync and reports a position: still no promotion. */
    reset(1);
    set_assignment(&in[0], "node-1", (const char *[]){"node-2", "node-3"}, 2, 6);
    set_in_sync(&in[0], (const char *[]){"node-2"}, 1);
    const char *live[] = {"node-3"};
    zkv_range_positions pos[1] = {0};
    add_position(&pos[0], "node-3", 6, 500);
    CU_ASSERT_EQUAL_FATAL(place_pos(in, 1, live, 1, 3, 1, pos, out), 0);
    CU_ASSERT_FALSE(out[0].changed);
    CU_ASSERT_STRING_EQUAL(out[0].owner, "node-1");
    CU_ASSERT_EQUAL(out[0].epoch, 6);
    expect_replicas(&out[0], (const char *[]){"node-2", "node-3"}, 2);
    expect_in_sync(&out[0], (const char *[]){"node-2"}, 1);
    char cand[ZKV_MAX_REPLICAS][ZKV_ID_MAX];
    CU_ASSERT_EQUAL(zkv_failover_candidates(&in[0], live, 1, cand), 0);
    /* No in_sync replica at all: the same. */
    in[0].n_in_sync = 0;
    CU_ASSERT_EQUAL_FATAL(place_pos(in, 1, live, 1, 3, 1, pos, out), 0);
    CU_ASSERT_STRING_EQUAL(out[0].owner, "node-1");
    CU_ASSERT_EQUAL(out[0].epoch, 6);
    check_idempotent(out, 1, live, 1, 3, 1);
    /* Its in_sync replica comes back: promoted at once. */
    in[0].n_in_sync = 1;
    const char *back[] = {"node-2", "node-3"};
    CU_ASSERT_EQUAL_FATAL(place_pos(in, 1, back, 2, 3, 1, NULL, out), 0);
    CU_ASSERT_STRING_EQUAL(out[0].owner, "node-2");
    CU_ASSERT_EQUAL(out[0].epoch, 7);
    expect_replicas(&out[0], (const char *[]){"node-1", "node-3"}, 2);
    CU_ASSERT_EQUAL(out[0].n_in_sync, 0);
}

static void test_failover_spare_takes_old_owner_slot(void)
{
    reset(1);
    set_assignment(&in[0], "node-1", (const char *[]){"node-2", "node-3"}, 2, 1);
    set_in_sync(&in[0], (const char *[]){"node-2", "node-3"}, 2);
    const char *live[] = {"node-2", "node-3", "node-4"};
    zkv_range_positions pos[1] = {0};
    add_position(&pos[0], "node-2", 1, 10);
    add_position(&pos[0], "node-3", 1, 12);
    CU_ASSERT_EQUAL_FATAL(place_pos(in, 1, live, 3, 3, 1, pos, out), 0);
    CU_ASSERT_STRING_EQUAL(out[0].owner, "node-3");
    CU_ASSERT_EQUAL(out[0].epoch, 2);
    expect_replicas(&out[0], (const char *[]){"node-2", "node-4"}, 2);
    expect_in_sync(&out[0], (const char *[]){"node-2"}, 1);
    check_wellformed(out, 1, live, 3);
    check_idempotent(out, 1, live, 3, 3, 1);
}

static void test_failover_old_owner_kept_and_returns(void)
{
    reset(1);
    set_assignment(&in[0], "node-1", (const char *[]){"node-2", "node-3"}, 2, 1);
    set_in_sync(&in[0], (const char *[]){"node-2", "node-3"}, 2);
    const char *live[] = {"node-2", "node-3"};
    zkv_range_positions pos[1] = {0};
    add_position(&pos[0], "node-3", 1, 12);
    CU_ASSERT_EQUAL_FATAL(place_pos(in, 1, live, 2, 3, 1, pos, out), 0);
    CU_ASSERT_STRING_EQUAL(out[0].owner, "node-3");
    CU_ASSERT_EQUAL(out[0].epoch, 2);
    expect_replicas(&out[0], (const char *[]){"node-2", "node-1"}, 2);
    expect_in_sync(&out[0], (const char *[]){"node-2"}, 1);
    check_wellformed(out, 1, live, 2);
    check_idempotent(out, 1, live, 2, 3, 1);
    /* node-1 returns: just a replica, not in_sync until the owner adds it. */
    CU_ASSERT_EQUAL_FATAL(place(out, 1, three, 3, 3, 1, again), 0);
    CU_ASSERT_FALSE(again[0].changed);
    CU_ASSERT_STRING_EQUAL(again[0].owner, "node-3");
    CU_ASSERT_EQUAL(again[0].epoch, 2);
    CU_ASSERT_TRUE(has_replica(&again[0], "node-1"));
    CU_ASSERT_FALSE(in_sync_has(&again[0], "node-1"));
}

static void test_failover_drops_dead_in_sync(void)
{
    /* At promotion in_sync also loses the nodes that are down; those become ordinary
     * dead replicas, which a spare replaces. */
    reset(1);
    set_assignment(&in[0], "node-1", survivors, 3, 3);
    set_in_sync(&in[0], survivors, 3);
    const char *live[] = {"node-2", "node-3", "node-5"}; /* node-1, node-4 down */
    CU_ASSERT_EQUAL_FATAL(place_pos(in, 1, live, 3, 4, 1, NULL, out), 0);
    CU_ASSERT_STRING_EQUAL(out[0].owner, "node-2");
    CU_ASSERT_EQUAL(out[0].epoch, 4);
    expect_in_sync(&out[0], (const char *[]){"node-3"}, 1);
    /* node-2's slot went to node-1, then to the spare node-5; dead node-4 has no spare
     * left and stays. */
    expect_replicas(&out[0], (const char *[]){"node-5", "node-3", "node-4"}, 3);
    check_wellformed(out, 1, live, 3);
    check_idempotent(out, 1, live, 3, 4, 1);
}

static void test_failover_per_range_positions(void)
{
    /* Two ranges of the dead node-1: each uses its own answers. */
    reset(2);
    set_assignment(&in[0], "node-1", (const char *[]){"node-2", "node-3"}, 2, 2);
    set_in_sync(&in[0], (const char *[]){"node-2", "node-3"}, 2);
    set_assignment(&in[1], "node-1", (const char *[]){"node-2", "node-3"}, 2, 8);
    set_in_sync(&in[1], (const char *[]){"node-2", "node-3"}, 2);
    zkv_range_positions pos[2] = {0};
    add_position(&pos[0], "node-2", 2, 5);
    add_position(&pos[0], "node-3", 2, 4);
    add_position(&pos[1], "node-2", 8, 4);
    add_position(&pos[1], "node-3", 8, 5);
    const char *live[] = {"node-2", "node-3"};
    CU_ASSERT_EQUAL_FATAL(place_pos(in, 2, live, 2, 3, 1, pos, out), 0);
    CU_ASSERT_STRING_EQUAL(out[0].owner, "node-2");
    CU_ASSERT_EQUAL(out[0].epoch, 3);
    CU_ASSERT_STRING_EQUAL(out[1].owner, "node-3");
    CU_ASSERT_EQUAL(out[1].epoch, 9);
    check_wellformed(out, 2, live, 2);
    check_idempotent(out, 2, live, 2, 3, 1);
}

static void test_read_only_replicas_not_rebalanced(void)
{
    /* Four read-only ranges (owner node-1 down, nothing in_sync) with their replica on
     * node-3, and an empty node-4: those replicas are the last readable copies and
     * nobody could fill a new one, so none moves. The slot of a range with a live owner
     * does move. R = 2. */
    reset(5);
    for (int i = 0; i < 4; i++)
        set_assignment(&in[i], "node-1", (const char *[]){"node-3"}, 1, 1);
    const char *live[] = {"node-2", "node-3", "node-4"};
    CU_ASSERT_EQUAL_FATAL(place(in, 4, live, 3, 2, 1, out), 0);
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_FALSE(out[i].changed);
        CU_ASSERT_STRING_EQUAL(out[i].owner, "node-1");
    }
    set_assignment(&in[4], "node-2", (const char *[]){"node-3"}, 1, 1);
    CU_ASSERT_EQUAL_FATAL(place(in, 5, live, 3, 2, 1, out), 0);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_FALSE(out[i].changed);
    expect_replicas(&out[4], (const char *[]){"node-3", "node-4"}, 2); /* node-4 is added */
    check_idempotent(out, 5, live, 3, 2, 1);
}

static void test_failover_candidates(void)
{
    char cand[ZKV_MAX_REPLICAS][ZKV_ID_MAX];
    reset(1);
    set_assignment(&in[0], "node-1", (const char *[]){"node-4", "node-2", "node-3"}, 3, 3);
    set_in_sync(&in[0], (const char *[]){"node-4", "node-3", "node-9"}, 3); /* node-9 junk */
    const char *live[] = {"node-4", "node-2", "node-3"};
    CU_ASSERT_EQUAL(zkv_failover_candidates(&in[0], live, 3, cand), 2);
    CU_ASSERT_STRING_EQUAL(cand[0], "node-3");
    CU_ASSERT_STRING_EQUAL(cand[1], "node-4");
    const char *some[] = {"node-4"};
    CU_ASSERT_EQUAL(zkv_failover_candidates(&in[0], some, 1, cand), 1);
    CU_ASSERT_STRING_EQUAL(cand[0], "node-4");
    /* Live owner, or none: no candidates. */
    const char *with_owner[] = {"node-1", "node-3"};
    CU_ASSERT_EQUAL(zkv_failover_candidates(&in[0], with_owner, 2, cand), 0);
    in[0].owner[0] = '\0';
    CU_ASSERT_EQUAL(zkv_failover_candidates(&in[0], live, 3, cand), 0);
}

static void test_bad_arguments(void)
{
    reset(1);
    CU_ASSERT_EQUAL(place(in, 1, three, 3, 0, 1, out), -1);
    CU_ASSERT_EQUAL(place(in, 1, three, 3, ZKV_MAX_REPLICAS + 2, 1, out), -1);
    CU_ASSERT_EQUAL(place(in, 0, three, 3, 3, 1, out), 0);
}

/* A small deterministic generator for the property tests. */
static uint32_t rng_state;
static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 16) % n;
}

static bool position_above(const zkv_position *x, const zkv_position *y)
{
    return x->epoch > y->epoch || (x->epoch == y->epoch && x->seq > y->seq);
}

static const zkv_position *find_position(const zkv_range_positions *rp, const char *id)
{
    for (int k = 0; k < rp->n; k++)
        if (strcmp(rp->at[k].node, id) == 0)
            return &rp->at[k];
    return NULL;
}

/* b's in_sync is want[0..n_want) in order, except that when a move may have finished
 * (moving: the input listed an extra replica), one entry that is no longer a replica may
 * be missing (or listed again as the target of a new move, not in_sync). */
static void check_in_sync_kept(const char (*want)[ZKV_ID_MAX], int n_want, const zkv_assignment *b,
                               bool moving)
{
    int m = 0, missing = 0;
    for (int j = 0; j < n_want; j++) {
        if (m < b->n_in_sync && strcmp(b->in_sync[m], want[j]) == 0) {
            m++;
            continue;
        }
        missing++;
        bool new_target = b->n_replicas > 0 &&
                          strcmp(b->replicas[b->n_replicas - 1], want[j]) == 0 &&
                          !in_sync_has(b, want[j]);
        CU_ASSERT_TRUE(!has_replica(b, want[j]) || new_target);
    }
    CU_ASSERT_EQUAL(m, b->n_in_sync);
    CU_ASSERT_TRUE(missing <= (moving ? 1 : 0));
}

/* The failover rules checked from the outside on one range: in -> out with live, R = r. */
static void check_failover(const zkv_assignment *a, const zkv_assignment *b,
                           const zkv_range_positions *rp, const char *const *live, size_t n_live,
                           int r)
{
    bool moving = a->n_replicas > r - 1;
    char cand[ZKV_MAX_REPLICAS][ZKV_ID_MAX];
    int n = zkv_failover_candidates(a, live, n_live, cand);
    if (a->owner[0] == '\0')
        return;
    if (n == 0) {
        /* Live owner, or dead without a live in_sync replica: owner, epoch and in_sync
         * stay as they were (but for the replica a finished move dropped). */
        CU_ASSERT_STRING_EQUAL(b->owner, a->owner);
        CU_ASSERT_EQUAL(b->epoch, a->epoch);
        check_in_sync_kept((const char(*)[ZKV_ID_MAX])a->in_sync, a->n_in_sync, b, moving);
        return;
    }
    CU_ASSERT_EQUAL(b->epoch, a->epoch + 1);
    const zkv_position *won = find_position(rp, b->owner);
    bool is_candidate = false, any_answer = false;
    for (int k = 0; k < n; k++) {
        is_candidate |= strcmp(cand[k], b->owner) == 0;
        const zkv_position *pk = find_position(rp, cand[k]);
        if (!pk)
            continue;
        any_answer = true;
        CU_ASSERT_PTR_NOT_NULL(won);
        if (won) {
            CU_ASSERT_FALSE(position_above(pk, won));
            if (!position_above(won, pk))
                CU_ASSERT_TRUE(strcmp(b->owner, cand[k]) <= 0);
        }
    }
    CU_ASSERT_TRUE(is_candidate);
    if (!any_answer)
        CU_ASSERT_STRING_EQUAL(b->owner, cand[0]);
    /* in_sync: the old one minus the new owner and the dead, in order (and minus the
     * replica a finished move dropped). */
    char want[ZKV_MAX_REPLICAS][ZKV_ID_MAX];
    int m = 0;
    for (int j = 0; j < a->n_in_sync; j++) {
        if (strcmp(a->in_sync[j], b->owner) == 0 || !is_live(a->in_sync[j], live, n_live))
            continue;
        memcpy(want[m++], a->in_sync[j], ZKV_ID_MAX);
    }
    check_in_sync_kept((const char(*)[ZKV_ID_MAX])want, m, b, moving);
    /* The old owner holds a slot unless a spare could take it. */
    if (!has_replica(b, a->owner))
        CU_ASSERT_FALSE(is_live(a->owner, live, n_live));
}

static void test_deterministic_and_idempotent(void)
{
    static char names[MAX_NODES][ZKV_ID_MAX];
    static zkv_range_positions pos[MAX_RANGES], rev[MAX_RANGES];
    for (int k = 0; k < MAX_NODES; k++)
        snprintf(names[k], ZKV_ID_MAX, "node-%02d", k);
    rng_state = 42;
    int promotions = 0, read_only = 0, dead_kept = 0, starts = 0, finishes = 0;
    for (int round = 0; round < 300; round++) {
        size_t n = 1 + rnd(MAX_RANGES);
        int r = 1 + (int)rnd(5);
        /* A random history: assign, then change the node set a few times. */
        memset(in, 0, sizeof(in));
        for (int step = 0; step < 6; step++) {
            const char *live[MAX_NODES] = {0}, *shuffled[MAX_NODES];
            size_t n_live = 0;
            for (int k = 0; k < MAX_NODES; k++)
                if (rnd(3) != 0 || rnd(2) == 0)
                    live[n_live++] = names[k];
            for (size_t k = 0; k < n_live; k++)
                shuffled[k] = live[n_live - 1 - k];
            /* Mark some replicas in_sync (extras too) to exercise moves and failover,
             * and let some candidates report positions (small numbers: many ties). */
            memset(pos, 0, sizeof(pos));
            memset(rev, 0, sizeof(rev));
            for (size_t i = 0; i < n; i++) {
                in[i].n_in_sync = 0;
                memset(in[i].in_sync, 0, sizeof(in[i].in_sync));
                for (int j = 0; j < in[i].n_replicas; j++)
                    if (rnd(2) == 0)
                        memcpy(in[i].in_sync[in[i].n_in_sync++], in[i].replicas[j], ZKV_ID_MAX);
                for (int j = 0; j < in[i].n_in_sync; j++)
                    if (rnd(3) != 0)
                        add_position(&pos[i], in[i].in_sync[j], 1 + rnd(2), rnd(3));
                for (int k = 0; k < pos[i].n; k++)
                    rev[i].at[pos[i].n - 1 - k] = pos[i].at[k];
                rev[i].n = pos[i].n;
            }
            int min_nodes = 1 + (int)rnd(3);
            CU_ASSERT_EQUAL_FATAL(place_pos(in, n, live, n_live, r, min_nodes, pos, out), 0);
            /* Same input, other order of the live list and answers: same output. */
            CU_ASSERT_EQUAL_FATAL(place_pos(in, n, shuffled, n_live, r, min_nodes, rev, again), 0);
            for (size_t i = 0; i < n; i++) {
                CU_ASSERT_TRUE(zkv_assignment_equal(&out[i], &again[i]));
                CU_ASSERT_EQUAL(out[i].changed, again[i].changed);
                /* Live owners never move; epochs never shrink. */
                if (in[i].owner[0] && is_live(in[i].owner, live, n_live))
                    CU_ASSERT_STRING_EQUAL(out[i].owner, in[i].owner);
                CU_ASSERT_TRUE(out[i].epoch >= in[i].epoch);
                check_failover(&in[i], &out[i], &pos[i], live, n_live, r);
                if (out[i].owner[0] && !is_live(out[i].owner, live, n_live))
                    read_only++;
                /* in_sync replicas keep their slots, except dead ones once a
                 * promotion took them out of in_sync, and one when a move finished. */
                bool promoted = in[i].owner[0] && strcmp(in[i].owner, out[i].owner) != 0;
                bool was_moving = in[i].n_replicas > r - 1;
                promotions += promoted;
                int lost = 0;
                for (int j = 0; j < in[i].n_in_sync; j++)
                    if (strcmp(in[i].in_sync[j], out[i].owner) != 0 &&
                        (!promoted || is_live(in[i].in_sync[j], live, n_live)))
                        lost += !has_replica(&out[i], in[i].in_sync[j]);
                CU_ASSERT_TRUE(lost <= (was_moving ? 1 : 0));
                finishes += lost;
                if (out[i].owner[0] != '\0') {
                    /* At most one extra replica, only with room for it. */
                    CU_ASSERT_TRUE(out[i].n_replicas <= (r >= 2 ? r : r - 1));
                    if (out[i].n_replicas < r - 1)
                        CU_ASSERT_FALSE(spare_exists(&out[i], live, n_live));
                }
                /* A move starts only with a live owner, adds a live target that is
                 * not in_sync, and removes nothing else. */
                if (out[i].n_replicas > r - 1 &&
                    !has_replica(&in[i], out[i].replicas[out[i].n_replicas - 1])) {
                    starts++;
                    CU_ASSERT_TRUE(is_live(out[i].owner, live, n_live));
                    CU_ASSERT_TRUE(is_live(out[i].replicas[r - 1], live, n_live));
                    CU_ASSERT_FALSE(in_sync_has(&out[i], out[i].replicas[r - 1]));
                }
                for (int j = 0; j < out[i].n_replicas; j++)
                    dead_kept += !is_live(out[i].replicas[j], live, n_live);
            }
            /* Moves at once: within the budget, or no more than before. */
            int busy_in = moving(in, n, r), busy_out = moving(out, n, r);
            CU_ASSERT_TRUE(busy_out <= move_budget(n_live) || busy_out <= busy_in);
            check_wellformed(out, n, live, n_live);
            check_idempotent(out, n, live, n_live, r, min_nodes);
            memcpy(in, out, sizeof(in));
        }
    }
    /* The generator really exercised the failover and move paths. */
    CU_ASSERT_TRUE(starts > 100);
    CU_ASSERT_TRUE(finishes > 100);
    CU_ASSERT_TRUE(promotions > 100);
    CU_ASSERT_TRUE(read_only > 100);
    CU_ASSERT_TRUE(dead_kept > 100);
}

static void test_balance_without_in_sync(void)
{
    /* Nothing in_sync yet when n4..n7 join: moves start (4 at a time) and wait for
     * their extras; once the owners catch them up, copies end up within 1 of each
     * other and owners stay where they are. */
    const char *live[8];
    static zkv_assignment cur[32];
    four_join(live, cur, false);
    check_idempotent(out, 32, live, 8, 3, 1);
    int moves = 0;
    CU_ASSERT_TRUE(converge(cur, 32, live, 8, 3, &moves) > 0);
    CU_ASSERT_TRUE(balanced(cur, 32, live, 8));
    CU_ASSERT_EQUAL(moving(cur, 32, 3), 0);
    for (int k = 0; k < 4; k++)
        CU_ASSERT_EQUAL(owned_by(cur, 32, live[k]), 8);
}

static void test_moves_converge(void)
{
    /* Generated clusters, every replica caught up, then nodes join:
     * placement with the owners catching up after each pass settles with no move in
     * progress. Copies end within 1 of each other whenever the owners allow it (no node
     * owns more than the average). */
    static char names[MAX_NODES][ZKV_ID_MAX];
    for (int k = 0; k < MAX_NODES; k++)
        snprintf(names[k], ZKV_ID_MAX, "node-%02d", k);
    static zkv_assignment cur[MAX_RANGES];
    rng_state = 7;
    int settled = 0, even = 0;
    for (int round = 0; round < 60; round++) {
        size_t n = 1 + rnd(MAX_RANGES);
        int r = 2 + (int)rnd(3);
        size_t first = 1 + rnd(6), n_live = first + 1 + rnd(MAX_NODES - 7);
        const char *live[MAX_NODES];
        for (size_t k = 0; k < n_live; k++)
            live[k] = names[k];
        memset(in, 0, sizeof(in));
        CU_ASSERT_EQUAL_FATAL(place(in, n, live, first, r, 1, cur), 0);
        mark_all_in_sync(cur, n);
        int moves = 0;
        int passes = converge(cur, n, live, n_live, r, &moves);
        CU_ASSERT_TRUE(passes > 0);
        settled += passes > 0;
        CU_ASSERT_EQUAL(moving(cur, n, r), 0);
        long copies = 0;
        int max_owned = 0;
        for (size_t k = 0; k < n_live; k++) {
            copies += copies_on(cur, n, live[k]);
            int o = owned_by(cur, n, live[k]);
            max_owned = o > max_owned ? o : max_owned;
        }
        if ((long)max_owned * (long)n_live <= copies) {
            CU_ASSERT_TRUE(balanced(cur, n, live, n_live));
            even++;
        }
    }
    CU_ASSERT_EQUAL(settled, 60);
    CU_ASSERT_TRUE(even > 30);
}

static void test_format_list(void)
{
    char ids[3][ZKV_ID_MAX] = {"node-1", "node-3", "x"};
    char buf[64];
    zkv_assignment_format_list((const char(*)[ZKV_ID_MAX])ids, 2, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "[node-1,node-3]");
    zkv_assignment_format_list((const char(*)[ZKV_ID_MAX])ids, 0, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "[]");
    zkv_assignment_format_list((const char(*)[ZKV_ID_MAX])ids, 2, buf, 5);
    CU_ASSERT_EQUAL(strlen(buf), 4);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("placement", NULL, NULL);
    CU_add_test(s, "nothing before min_nodes", test_nothing_before_min_nodes);
    CU_add_test(s, "initial assignment balanced", test_initial_assignment_balanced);
    CU_add_test(s, "fourth node gets replicas", test_fourth_node_gets_replicas);
    CU_add_test(s, "move: extra dies", test_move_extra_dies);
    CU_add_test(s, "move: finish choice", test_move_finish_choice);
    CU_add_test(s, "move: absorbs dead replica", test_move_absorbs_dead_replica);
    CU_add_test(s, "move: needs live owner", test_move_needs_live_owner);
    CU_add_test(s, "move: budget and balance", test_move_budget);
    CU_add_test(s, "dead replica replaced", test_dead_replica_replaced);
    CU_add_test(s, "dead replica kept without spare", test_dead_replica_kept_without_spare);
    CU_add_test(s, "dead in_sync replica kept", test_dead_in_sync_replica_kept);
    CU_add_test(s, "in_sync untouched for live owner", test_in_sync_untouched_for_live_owner);
    CU_add_test(s, "dead owner kept", test_dead_owner_kept);
    CU_add_test(s, "under-replicated single node", test_under_replicated_single_node);
    CU_add_test(s, "in_sync filtered", test_in_sync_filtered);
    CU_add_test(s, "owner choice and epoch", test_owner_choice_and_epoch);
    CU_add_test(s, "new owner leaves replicas", test_new_owner_leaves_replicas);
    CU_add_test(s, "failover: highest position", test_failover_highest_position);
    CU_add_test(s, "failover: ties", test_failover_ties);
    CU_add_test(s, "failover: missing answers", test_failover_missing_answers);
    CU_add_test(s, "failover: no live in_sync keeps owner",
                test_failover_no_live_in_sync_keeps_owner);
    CU_add_test(s, "failover: spare takes old owner slot",
                test_failover_spare_takes_old_owner_slot);
    CU_add_test(s, "failover: old owner kept and returns",
                test_failover_old_owner_kept_and_returns);
    CU_add_test(s, "failover: drops dead in_sync", test_failover_drops_dead_in_sync);
    CU_add_test(s, "failover: per-range positions", test_failover_per_range_positions);
    CU_add_test(s, "failover candidates", test_failover_candidates);
    CU_add_test(s, "read-only replicas not rebalanced", test_read_only_replicas_not_rebalanced);
    CU_add_test(s, "bad arguments", test_bad_arguments);
    CU_add_test(s, "deterministic and idempotent", test_deterministic_and_idempotent);
    CU_add_test(s, "balance without in_sync", test_balance_without_in_sync);
    CU_add_test(s, "moves converge", test_moves_converge);
    CU_add_test(s, "format list", test_format_list);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
