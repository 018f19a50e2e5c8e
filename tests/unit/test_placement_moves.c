/* test_placement_moves.c: the placement rules for a cluster that changes shape
 * (coordinator/placement.h, rules 10-13), by simulation: placement runs, then the world
 * acts as the nodes would (an owner carries out a handoff request: the target owns at
 * epoch + 1 and the old owner takes its slot in replicas and in_sync; a live replica
 * catches up and enters in_sync), and again, until nothing changes.
 * - After a rolling restart left one node owning everything, owners even out (max - min
 *   <= 1), never more than max(1, nodes / 2) requests at a time, and the result is stable.
 * - Growing 3 -> 5 nodes evens out copies and owners.
 * - A drained node ends holding nothing; a leaving owner's ranges get requests to live
 *   in_sync replicas; excluded nodes never get a never-owned range or a spare slot.
 * - Requests are withdrawn when they no longer stand: target out of in_sync, dead or
 *   excluded; owner dead (failover clears it); stale.
 * - A dead node within the rebalance delay keeps its slots; after it, a spare takes them.
 * - Idempotence of every output. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement.h"

#include "placement_sim.h"

typedef sim_world world;

/* One placement pass written back, then the nodes act. Returns whether anything changed. */
static bool step(world *w)
{
    static zkv_assignment out[SIM_MAXR], again[SIM_MAXR];
    CU_ASSERT_FATAL(sim_place(w, out, NULL) == 0);
    /* idempotence: the output placed again changes nothing */
    world copy = *w;
    memcpy(copy.r, out, sizeof(out));
    CU_ASSERT_FATAL(sim_place(&copy, again, NULL) == 0);
    for (size_t i = 0; i < w->n; i++)
        CU_ASSERT(!again[i].changed);
    bool changed = false;
    int outstanding = 0;
    for (size_t i = 0; i < w->n; i++) {
        changed |= out[i].changed;
        w->r[i] = out[i];
        w->r[i].changed = false;
        outstanding += w->r[i].handoff[0] != '\0';
    }
    if (outstanding > w->max_outstanding)
        w->max_outstanding = outstanding;
    changed |= sim_nodes_act(w);
    return changed;
}

static int settle(world *w)
{
    int steps = 0;
    while (step(w) && steps < 200)
        steps++;
    CU_ASSERT(steps < 200);
    return steps;
}

static int owned(const world *w, const char *id)
{
    int k = 0;
    for (size_t i = 0; i < w->n; i++)
        k += strcmp(w->r[i].owner, id) == 0;
    return k;
}

static int copies(const world *w, const char *id)
{
    int k = 0;
    for (size_t i = 0; i < w->n; i++)
        k += (strcmp(w->r[i].owner, id) == 0) +
             sim_in_list((const char(*)[ZKV_ID_MAX])w->r[i].replicas, w->r[i].n_replicas, id);
    return k;
}

static void expect_spread(const world *w, int (*count)(const world *, const char *), int max_diff)
{
    int lo = 1 << 30, hi = 0;
    for (size_t k = 0; k < w->n_live; k++) {
        bool ex = false;
        for (size_t e = 0; e < w->n_excluded; e++)
            ex |= strcmp(w->excluded[e], w->live[k]) == 0;
        if (ex)
            continue;
        int c = count(w, w->live[k]);
        lo = c < lo ? c : lo;
        hi = c > hi ? c : hi;
    }
    CU_ASSERT(hi - lo <= max_diff);
    if (hi - lo > max_diff)
        fprintf(stderr, "spread %d..%d\n", lo, hi);
}

/* n ranges owned by owner with replicas reps (all in_sync), epoch 1. */
static void fill(world *w, size_t n, const char *owner, const char *const *reps, int n_reps)
{
    w->n = n;
    for (size_t i = 0; i < n; i++) {
        zkv_assignment *a = &w->r[i];
        memset(a, 0, sizeof(*a));
        snprintf(a->owner, ZKV_ID_MAX, "%s", owner);
        for (int j = 0; j < n_reps; j++) {
            snprintf(a->replicas[j], ZKV_ID_MAX, "%s", reps[j]);
            snprintf(a->in_sync[j], ZKV_ID_MAX, "%s", reps[j]);
        }
        a->n_replicas = a->n_in_sync = n_reps;
        a->epoch = 1;
    }
}

static void test_owners_even_out_after_restart(void)
{
    world w = {.live = {"a", "b", "c"}, .n_live = 3, .replicas = 3, .balance = true};
    const char *reps[] = {"b", "c"};
    fill(&w, 8, "a", reps, 2);
    settle(&w);
    expect_spread(&w, owned, 1);
    expect_spread(&w, copies, 1);
    CU_ASSERT(w.max_outstanding <= 1); /* max(1, 3 / 2) */
    for (size_t i = 0; i < w.n; i++)
        CU_ASSERT(w.r[i].n_in_sync == 2 && w.r[i].handoff[0] == '\0');
    /* without owner balance nothing moves */
    world off = {.live = {"a", "b", "c"}, .n_live = 3, .replicas = 3};
    fill(&off, 8, "a", reps, 2);
    settle(&off);
    CU_ASSERT_EQUAL(owned(&off, "a"), 8);
}

static void test_grow_three_to_five(void)
{
    world w = {.live = {"a", "b", "c"}, .n_live = 3, .replicas = 3, .balance = true};
    const char *reps[] = {"b", "c"};
    fill(&w, 16, "a", reps, 2);
    settle(&w);
    w.live[3] = "d";
    w.live[4] = "e";
    w.n_live = 5;
    settle(&w);
    expect_spread(&w, owned, 1);
    expect_spread(&w, copies, 1);
    CU_ASSERT(owned(&w, "d") >= 3 && owned(&w, "e") >= 3);
    CU_ASSERT(w.max_outstanding <= 2); /* max(1, 5 / 2) */
    for (size_t i = 0; i < w.n; i++)
        CU_ASSERT(w.r[i].n_replicas == 2 && w.r[i].n_in_sync == 2);
}

static void test_drain(void)
{
    world w = {.live = {"a", "b", "c", "d"}, .n_live = 4, .replicas = 3, .balance = true};
    const char *reps[] = {"b", "c"};
    fill(&w, 8, "a", reps, 2);
    settle(&w);
    w.excluded[0] = "b";
    w.n_excluded = 1;
    settle(&w);
    CU_ASSERT_EQUAL(copies(&w, "b"), 0);
    expect_spread(&w, owned, 1);
    for (size_t i = 0; i < w.n; i++)
        CU_ASSERT(w.r[i].n_replicas == 2 && w.r[i].n_in_sync == 2);
    /* undrained: it takes load again */
    w.n_excluded = 0;
    settle(&w);
    CU_ASSERT(copies(&w, "b") >= 5);
    expect_spread(&w, owned, 1);
    /* with only R nodes a drained node cannot give its copies away: they stay, and it owns
     * nothing */
    world small = {.live = {"a", "b", "c"}, .n_live = 3, .replicas = 3, .balance = true};
    fill(&small, 6, "a", reps, 2);
    small.excluded[0] = "a";
    small.n_excluded = 1;
    settle(&small);
    CU_ASSERT_EQUAL(owned(&small, "a"), 0);
    CU_ASSERT_EQUAL(copies(&small, "a"), 6);
}

static void test_leaving_owner_and_new_ranges(void)
{
    world w = {.live = {"a", "b", "c"}, .n_live = 3, .replicas = 3};
    const char *reps[] = {"b", "c"};
    fill(&w, 4, "a", reps, 2);
    w.excluded[0] = "a";
    w.n_excluded = 1;
    static zkv_assignment out[SIM_MAXR];
    CU_ASSERT_FATAL(sim_place(&w, out, NULL) == 0);
    for (size_t i = 0; i < w.n; i++) {
        CU_ASSERT(out[i].changed);
        CU_ASSERT(strcmp(out[i].handoff, "b") == 0 || strcmp(out[i].handoff, "c") == 0);
    }
    /* requests spread over the replicas (fewest owned first) */
    int to_b = 0;
    for (size_t i = 0; i < w.n; i++)
        to_b += strcmp(out[i].handoff, "b") == 0;
    CU_ASSERT_EQUAL(to_b, 2);
    /* a never-owned range is not given to an excluded node, nor are spare slots */
    world n = {.live = {"a", "b"}, .n_live = 2, .replicas = 2, .n = 1};
    n.excluded[0] = "a";
    n.n_excluded = 1;
    CU_ASSERT_FATAL(sim_place(&n, out, NULL) == 0);
    CU_ASSERT_STRING_EQUAL(out[0].owner, "b");
    CU_ASSERT_EQUAL(out[0].n_replicas, 0);
    n.excluded[1] = "b";
    n.n_excluded = 2;
    CU_ASSERT_FATAL(sim_place(&n, out, NULL) == 0);
    CU_ASSERT_STRING_EQUAL(out[0].owner, ""); /* every node excluded: it waits */
}

static void test_withdrawn_requests(void)
{
    world w = {.live = {"a", "b", "c"}, .n_live = 3, .replicas = 3};
    const char *reps[] = {"b", "c"};
    fill(&w, 1, "a", reps, 2);
    static zkv_assignment out[SIM_MAXR];
    /* a valid request stands */
    snprintf(w.r[0].handoff, ZKV_ID_MAX, "b");
    CU_ASSERT_FATAL(sim_place(&w, out, NULL) == 0);
    CU_ASSERT_STRING_EQUAL(out[0].handoff, "b");
    CU_ASSERT(!out[0].changed);
    /* stale */
    bool stale = true;
    CU_ASSERT_FATAL(sim_place(&w, out, &stale) == 0);
    CU_ASSERT_STRING_EQUAL(out[0].handoff, "");
    /* target out of in_sync */
    w.r[0].n_in_sync = 1; /* only b */
    snprintf(w.r[0].handoff, ZKV_ID_MAX, "c");
    CU_ASSERT_FATAL(sim_place(&w, out, NULL) == 0);
    CU_ASSERT_STRING_EQUAL(out[0].handoff, "");
    /* target not a replica at all */
    snprintf(w.r[0].handoff, ZKV_ID_MAX, "z");
    CU_ASSERT_FATAL(sim_place(&w, out, NULL) == 0);
    CU_ASSERT_STRING_EQUAL(out[0].handoff, "");
    /* target dead */
    snprintf(w.r[0].handoff, ZKV_ID_MAX, "b");
    w.live[1] = "c";
    w.live[2] = "a";
    w.n_live = 2; /* b is gone */
    CU_ASSERT_FATAL(sim_place(&w, out, NULL) == 0);
    CU_ASSERT_STRING_EQUAL(out[0].handoff, "");
    /* owner dead: the failover clears it */
    world f = {.live = {"b", "c"}, .n_live = 2, .replicas = 3};
    fill(&f, 1, "a", reps, 2);
    snprintf(f.r[0].handoff, ZKV_ID_MAX, "c");
    CU_ASSERT_FATAL(sim_place(&f, out, NULL) == 0);
    CU_ASSERT(strcmp(out[0].owner, "a") != 0);
    CU_ASSERT_STRING_EQUAL(out[0].handoff, "");
}

static void test_rebalance_delay(void)
{
    world w = {.live = {"a", "b", "c", "d"}, .n_live = 4, .replicas = 3};
    const char *reps[] = {"b", "c"};
    fill(&w, 2, "a", reps, 2);
    w.r[0].n_in_sync = 1; /* c not in sync for range 0 */
    w.r[1].n_in_sync = 1;
    w.n_live = 3; /* d stays, c is dead: live = a b d */
    w.live[2] = "d";
    w.grace[0] = "c";
    w.n_grace = 1;
    static zkv_assignment out[SIM_MAXR];
    CU_ASSERT_FATAL(sim_place(&w, out, NULL) == 0);
    for (size_t i = 0; i < w.n; i++)
        CU_ASSERT(sim_in_list((const char(*)[ZKV_ID_MAX])out[i].replicas, out[i].n_replicas, "c"));
    /* the delay is over: d takes c's slot */
    w.n_grace = 0;
    CU_ASSERT_FATAL(sim_place(&w, out, NULL) == 0);
    for (size_t i = 0; i < w.n; i++) {
        CU_ASSERT(!sim_in_list((const char(*)[ZKV_ID_MAX])out[i].replicas, out[i].n_replicas, "c"));
        CU_ASSERT(sim_in_list((const char(*)[ZKV_ID_MAX])out[i].replicas, out[i].n_replicas, "d"));
    }
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("placement_moves", NULL, NULL);
    CU_add_test(s, "owners even out after a rolling restart", test_owners_even_out_after_restart);
    CU_add_test(s, "growing 3 to 5 nodes evens out copies and owners", test_grow_three_to_five);
    CU_add_test(s, "a drained node ends holding nothing", test_drain);
    CU_add_test(s, "leaving owners and excluded nodes", test_leaving_owner_and_new_ranges);
    CU_add_test(s, "requests withdrawn when they no longer stand", test_withdrawn_requests);
    CU_add_test(s, "dead nodes keep their slots within the rebalance delay", test_rebalance_delay);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
