/* test_placement.c: CUnit tests of the coordinator's pure placement function
 * (coordinator/placement.c): waiting for --min-nodes, balanced first assignment, nodes
 * joining and dying, dead owners kept, under-replication, in_sync replicas never moved,
 * determinism and idempotence over many generated clusters. */
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

static int place(const zkv_assignment *cur, size_t n, const char *const *live, size_t n_live, int r,
                 int min_nodes, zkv_assignment *res)
{
    zkv_placement_input pi = {cur, n, live, n_live, r, min_nodes};
    return zkv_placement_compute(&pi, res);
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

/* Replicas distinct, live, not the owner; in_sync a subset of replicas. */
static void check_wellformed(const zkv_assignment *a, size_t n, const char *const *live,
                             size_t n_live)
{
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < a[i].n_replicas; j++) {
            CU_ASSERT_STRING_NOT_EQUAL(a[i].replicas[j], a[i].owner);
            CU_ASSERT_TRUE(is_live(a[i].replicas[j], live, n_live));
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
    reset(8);
    zkv_assignment first[8];
    CU_ASSERT_EQUAL_FATAL(place(in, 8, three, 3, 3, 1, first), 0);
    CU_ASSERT_EQUAL_FATAL(place(first, 8, four, 4, 3, 1, out), 0);
    for (int i = 0; i < 8; i++) {
        CU_ASSERT_STRING_EQUAL(out[i].owner, first[i].owner);
        CU_ASSERT_EQUAL(out[i].epoch, first[i].epoch);
        CU_ASSERT_EQUAL(out[i].n_replicas, 2);
    }
    CU_ASSERT_EQUAL(owned_by(out, 8, "node-4"), 0);
    /* 24 copies over 4 nodes: 6 each, so node-4 holds 6 replica slots. */
    for (int k = 0; k < 4; k++)
        CU_ASSERT_EQUAL(copies_on(out, 8, four[k]), 6);
    check_wellformed(out, 8, four, 4);
    check_idempotent(out, 8, four, 4, 3, 1);
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
    CU_ASSERT_FALSE(has_replica(&out[0], "node-2"));
    CU_ASSERT_TRUE(has_replica(&out[0], "node-3"));
    CU_ASSERT_TRUE(has_replica(&out[0], "node-4"));
    check_idempotent(out, 1, live, 3, 3, 1);
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

static void test_in_sync_not_moved(void)
{
    reset(8);
    zkv_assignment first[8];
    CU_ASSERT_EQUAL_FATAL(place(in, 8, three, 3, 3, 1, first), 0);
    /* Every replica caught up: a new node may not take any slot. */
    for (int i = 0; i < 8; i++) {
        memcpy(first[i].in_sync, first[i].replicas, sizeof(first[i].in_sync));
        first[i].n_in_sync = first[i].n_replicas;
    }
    CU_ASSERT_EQUAL_FATAL(place(first, 8, four, 4, 3, 1, out), 0);
    for (int i = 0; i < 8; i++) {
        CU_ASSERT_FALSE(out[i].changed);
        CU_ASSERT_TRUE(zkv_assignment_equal(&out[i], &first[i]));
    }
    /* Only the first half is in_sync: moves happen in the second half only. */
    for (int i = 4; i < 8; i++)
        first[i].n_in_sync = 0, memset(first[i].in_sync, 0, sizeof(first[i].in_sync));
    CU_ASSERT_EQUAL_FATAL(place(first, 8, four, 4, 3, 1, out), 0);
    int moved = 0;
    for (int i = 0; i < 8; i++) {
        if (i < 4)
            CU_ASSERT_TRUE(zkv_assignment_equal(&out[i], &first[i]));
        moved += out[i].changed;
        for (int j = 0; j < first[i].n_in_sync; j++)
            CU_ASSERT_TRUE(has_replica(&out[i], first[i].in_sync[j]));
    }
    CU_ASSERT_TRUE(moved > 0);
    CU_ASSERT_TRUE(copies_on(out, 8, "node-4") > 0);
    check_wellformed(out, 8, four, 4);
    check_idempotent(out, 8, four, 4, 3, 1);
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
    CU_ASSERT_TRUE(out[0].changed);
    CU_ASSERT_EQUAL(out[0].n_replicas, 1);
    CU_ASSERT_STRING_EQUAL(out[0].replicas[0], "node-2");
    CU_ASSERT_EQUAL(out[0].n_in_sync, 0);
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

static void test_deterministic_and_idempotent(void)
{
    static char names[MAX_NODES][ZKV_ID_MAX];
    for (int k = 0; k < MAX_NODES; k++)
        snprintf(names[k], ZKV_ID_MAX, "node-%02d", k);
    rng_state = 42;
    for (int round = 0; round < 300; round++) {
        size_t n = 1 + rnd(MAX_RANGES);
        int r = 1 + (int)rnd(5);
        /* A random history: assign, then change the node set a few times. */
        memset(in, 0, sizeof(in));
        for (int step = 0; step < 4; step++) {
            const char *live[MAX_NODES], *shuffled[MAX_NODES];
            size_t n_live = 0;
            for (int k = 0; k < MAX_NODES; k++)
                if (rnd(3) == 0)
                    live[n_live++] = names[k];
            for (size_t k = 0; k < n_live; k++)
                shuffled[k] = live[n_live - 1 - k];
            /* Mark some replicas in_sync to exercise the "never move" rule. */
            for (size_t i = 0; i < n; i++) {
                in[i].n_in_sync = 0;
                for (int j = 0; j < in[i].n_replicas; j++)
                    if (rnd(4) == 0)
                        memcpy(in[i].in_sync[in[i].n_in_sync++], in[i].replicas[j], ZKV_ID_MAX);
            }
            int min_nodes = 1 + (int)rnd(3);
            CU_ASSERT_EQUAL_FATAL(place(in, n, live, n_live, r, min_nodes, out), 0);
            /* Same input, other order of the live list: same output. */
            CU_ASSERT_EQUAL_FATAL(place(in, n, shuffled, n_live, r, min_nodes, again), 0);
            for (size_t i = 0; i < n; i++) {
                CU_ASSERT_TRUE(zkv_assignment_equal(&out[i], &again[i]));
                CU_ASSERT_EQUAL(out[i].changed, again[i].changed);
                /* Live owners never move; epochs never shrink. */
                if (in[i].owner[0] && is_live(in[i].owner, live, n_live))
                    CU_ASSERT_STRING_EQUAL(out[i].owner, in[i].owner);
                CU_ASSERT_TRUE(out[i].epoch >= in[i].epoch);
                for (int j = 0; j < in[i].n_in_sync; j++)
                    if (is_live(in[i].in_sync[j], live, n_live) &&
                        strcmp(in[i].in_sync[j], out[i].owner) != 0)
                        CU_ASSERT_TRUE(has_replica(&out[i], in[i].in_sync[j]));
                if (out[i].owner[0] != '\0') {
                    int others = (int)n_live - is_live(out[i].owner, live, n_live);
                    int want = r - 1 < others ? r - 1 : others;
                    CU_ASSERT_EQUAL(out[i].n_replicas, want);
                }
            }
            check_wellformed(out, n, live, n_live);
            check_idempotent(out, n, live, n_live, r, min_nodes);
            memcpy(in, out, sizeof(in));
        }
    }
}

static void test_balance_without_in_sync(void)
{
    /* With nothing in_sync, copies end up within 1 of each other whenever that is
     * reachable; with equal owner counts it always is. */
    static char names[8][ZKV_ID_MAX];
    const char *live[8];
    for (int k = 0; k < 8; k++) {
        snprintf(names[k], ZKV_ID_MAX, "n%d", k);
        live[k] = names[k];
    }
    reset(32);
    zkv_assignment first[32];
    CU_ASSERT_EQUAL_FATAL(place(in, 32, live, 4, 3, 1, first), 0);
    CU_ASSERT_EQUAL_FATAL(place(first, 32, live, 8, 3, 1, out), 0);
    int lo = 1000, hi = 0;
    for (int k = 0; k < 8; k++) {
        int c = copies_on(out, 32, live[k]);
        lo = c < lo ? c : lo;
        hi = c > hi ? c : hi;
    }
    CU_ASSERT_TRUE(hi - lo <= 1);
    for (int k = 0; k < 4; k++)
        CU_ASSERT_EQUAL(owned_by(out, 32, live[k]), 8);
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
    CU_add_test(s, "dead replica replaced", test_dead_replica_replaced);
    CU_add_test(s, "dead owner kept", test_dead_owner_kept);
    CU_add_test(s, "under-replicated single node", test_under_replicated_single_node);
    CU_add_test(s, "in_sync not moved", test_in_sync_not_moved);
    CU_add_test(s, "in_sync filtered", test_in_sync_filtered);
    CU_add_test(s, "owner choice and epoch", test_owner_choice_and_epoch);
    CU_add_test(s, "new owner leaves replicas", test_new_owner_leaves_replicas);
    CU_add_test(s, "bad arguments", test_bad_arguments);
    CU_add_test(s, "deterministic and idempotent", test_deterministic_and_idempotent);
    CU_add_test(s, "balance without in_sync", test_balance_without_in_sync);
    CU_add_test(s, "format list", test_format_list);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
