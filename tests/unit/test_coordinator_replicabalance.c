/* test_coordinator_replicabalance.c: rule 15, replica slots even by bytes
 * (coordinator/bytebalance.c) and the placement's side of it (coordinator/placement.c:
 * the replica a move names in leaving is the one that goes): which trade, every reason to
 * do nothing, and a simulated cluster that converges without fighting rule 9. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "bytebalance.h"
#include "placement_sim.h"

#define MIB (1024.0 * 1024.0)

static const char *const nodes3[] = {"n1", "n2", "n3"};

/* a owned by owner with the given replicas, all in_sync. */
static void range(zkv_assignment *a, const char *owner, const char *r0, const char *r1)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->owner, sizeof(a->owner), "%s", owner);
    a->epoch = 1;
    const char *reps[2] = {r0, r1};
    for (int k = 0; k < 2; k++) {
        if (!reps[k])
            continue;
        snprintf(a->replicas[a->n_replicas++], ZKV_ID_MAX, "%s", reps[k]);
        snprintf(a->in_sync[a->n_in_sync++], ZKV_ID_MAX, "%s", reps[k]);
    }
}

/* R = 2 over 3 nodes: every node owns 2 ranges and holds 2 replica slots (counts even),
 * but n1's slots hold 900 MiB and n2's 150. */
static void world(zkv_assignment *v, double *b)
{
    static const char *own[6] = {"n2", "n3", "n1", "n3", "n1", "n2"};
    static const char *rep[6] = {"n1", "n1", "n2", "n2", "n3", "n3"};
    static const double mib[6] = {500, 400, 100, 50, 200, 150};
    for (int i = 0; i < 6; i++) {
        range(&v[i], own[i], rep[i], NULL);
        b[i] = mib[i] * MIB;
    }
}

static int moves(const zkv_assignment *v, size_t n)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += v[i].leaving[0] != '\0';
    return k;
}

static void test_swap(void)
{
    zkv_assignment v[6];
    double b[6];
    world(v, b);
    /* gap n1 - n2 = 900 - 150 = 750: n1's 500 MiB copy to n2 (owner n2: not allowed), so
     * the 400 MiB copy (range 1, owner n3) goes to n2 and n2's 100 MiB copy (range 2,
     * owner n1: n1 holds it) cannot come back; 50 MiB (range 3, owner n3) can: 350 moved,
     * gap 50 */
    CU_ASSERT_TRUE(zkv_replica_byte_balance(v, 6, b, nodes3, 3, 1, 64 * MIB));
    CU_ASSERT_EQUAL(v[1].n_replicas, 2);
    CU_ASSERT_STRING_EQUAL(v[1].replicas[1], "n2");
    CU_ASSERT_STRING_EQUAL(v[1].leaving, "n1");
    CU_ASSERT_EQUAL(v[3].n_replicas, 2);
    CU_ASSERT_STRING_EQUAL(v[3].replicas[1], "n1");
    CU_ASSERT_STRING_EQUAL(v[3].leaving, "n2");
    CU_ASSERT_TRUE(v[1].changed && v[3].changed);
    CU_ASSERT_EQUAL(moves(v, 6), 2);
    /* owners untouched, and nothing more while the moves run */
    CU_ASSERT_STRING_EQUAL(v[1].owner, "n3");
    CU_ASSERT_FALSE(zkv_replica_byte_balance(v, 6, b, nodes3, 3, 1, 64 * MIB));
}

static void test_one_way(void)
{
    zkv_assignment v[4];
    double b[4] = {300 * MIB, 250 * MIB, 40 * MIB, 10 * MIB};
    /* slots: n1 550 MiB (2), n2 50 (2), n3 none; counts (owned + slots) 3/3/2, so n1 may
     * give n3 one copy without a return: the 300 MiB one (owner n2; n3 owns range 1) */
    range(&v[0], "n2", "n1", NULL);
    range(&v[1], "n3", "n1", NULL);
    range(&v[2], "n3", "n2", NULL);
    range(&v[3], "n1", "n2", NULL);
    CU_ASSERT_TRUE(zkv_replica_byte_balance(v, 4, b, nodes3, 3, 1, 64 * MIB));
    CU_ASSERT_EQUAL(moves(v, 4), 1);
    CU_ASSERT_STRING_EQUAL(v[0].leaving, "n1");
    CU_ASSERT_STRING_EQUAL(v[0].replicas[1], "n3");
}

static void test_nothing_to_do(void)
{
    zkv_assignment v[6];
    double b[6];
    world(v, b);
    CU_ASSERT_FALSE(zkv_replica_byte_balance(v, 6, b, nodes3, 3, 1, 1000 * MIB)); /* small gap */
    CU_ASSERT_FALSE(zkv_replica_byte_balance(v, 6, b, nodes3, 3, 0, 64 * MIB));   /* R = 1 */
    CU_ASSERT_FALSE(
        zkv_replica_byte_balance(v, 6, b, nodes3, 3, ZKV_MAX_REPLICAS, 64 * MIB)); /* no room */
    b[4] = -1; /* a range without a report */
    CU_ASSERT_FALSE(zkv_replica_byte_balance(v, 6, b, nodes3, 3, 1, 64 * MIB));
    world(v, b);
    v[0].n_in_sync = 0; /* a replica catching up */
    CU_ASSERT_FALSE(zkv_replica_byte_balance(v, 6, b, nodes3, 3, 1, 64 * MIB));
    world(v, b);
    snprintf(v[5].handoff, ZKV_ID_MAX, "n3"); /* an owner handoff first */
    CU_ASSERT_FALSE(zkv_replica_byte_balance(v, 6, b, nodes3, 3, 1, 64 * MIB));
    world(v, b);
    v[2].split_asked = true; /* a split first */
    CU_ASSERT_FALSE(zkv_replica_byte_balance(v, 6, b, nodes3, 3, 1, 64 * MIB));
    world(v, b);
    /* n2 drained (not among the nodes): its copies are not steady, nothing */
    const char *const two[] = {"n1", "n3"};
    CU_ASSERT_FALSE(zkv_replica_byte_balance(v, 6, b, two, 2, 1, 64 * MIB));
    CU_ASSERT_EQUAL(moves(v, 6), 0);
    /* even enough: within a quarter of the lighter node */
    zkv_assignment e[3];
    double eb[3] = {400 * MIB, 350 * MIB, 330 * MIB};
    range(&e[0], "n1", "n2", NULL);
    range(&e[1], "n2", "n3", NULL);
    range(&e[2], "n3", "n1", NULL);
    CU_ASSERT_FALSE(zkv_replica_byte_balance(e, 3, eb, nodes3, 3, 1, 1 * MIB));
}

/* Placement finishes a move by dropping the replica it names, even when rule 8's load
 * order would pick another; it forgets the name once the move is over. */
static void test_placement_drops_the_named_replica(void)
{
    sim_world w = {.n = 1, .live = {"n1", "n2", "n3", "n4"}, .n_live = 4, .replicas = 3};
    /* n3 carries more than n2 (load order would drop n3); the move names n2 */
    range(&w.r[0], "n1", "n2", "n3");
    snprintf(w.r[0].replicas[2], ZKV_ID_MAX, "n4");
    w.r[0].n_replicas = 3;
    snprintf(w.r[0].leaving, ZKV_ID_MAX, "n2");
    zkv_assignment out[1];
    CU_ASSERT_EQUAL_FATAL(sim_place(&w, out, NULL), 0);
    CU_ASSERT_EQUAL(out[0].n_replicas, 3); /* n4 not in_sync yet: the move waits */
    CU_ASSERT_STRING_EQUAL(out[0].leaving, "n2");
    w.r[0] = out[0];
    sim_nodes_act(&w); /* n4 catches up */
    CU_ASSERT_EQUAL_FATAL(sim_place(&w, out, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(out[0].n_replicas, 2);
    CU_ASSERT_STRING_EQUAL(out[0].replicas[0], "n3");
    CU_ASSERT_STRING_EQUAL(out[0].replicas[1], "n4");
    CU_ASSERT_STRING_EQUAL(out[0].leaving, "");
    /* a name that is no replica (say the target became owner) is dropped at once */
    range(&w.r[0], "n1", "n2", "n3");
    snprintf(w.r[0].leaving, ZKV_ID_MAX, "n1");
    CU_ASSERT_EQUAL_FATAL(sim_place(&w, out, NULL), 0);
    CU_ASSERT_STRING_EQUAL(out[0].leaving, "");
}

/* Over v (n ranges): the spread (max - min) of replica-slot bytes per node into *gap and
 * of owned + slots into *spread. */
static void spreads(const zkv_assignment *v, size_t n, const double *b, const char *const *live,
                    size_t n_live, double *gap, int *spread)
{
    double hi = 0, lo = 0;
    int chi = 0, clo = 0;
    for (size_t k = 0; k < n_live; k++) {
        double slot = 0;
        int count = 0;
        for (size_t i = 0; i < n; i++) {
            count += strcmp(v[i].owner, live[k]) == 0;
            for (int j = 0; j < v[i].n_replicas; j++)
                if (strcmp(v[i].replicas[j], live[k]) == 0) {
                    slot += b[i];
                    count++;
                }
        }
        hi = k == 0 || slot > hi ? slot : hi;
        lo = k == 0 || slot < lo ? slot : lo;
        chi = k == 0 || count > chi ? count : chi;
        clo = k == 0 || count < clo ? count : clo;
    }
    *gap = hi - lo;
    *spread = chi - clo;
}

/* The leader's loop on a 4-node cluster with R = 3, counts even (each node owns 2 ranges
 * and holds 4 replica slots) but bytes skewed (of the two 600 MiB ranges' copies, n3 holds
 * two and n1 none): placement, then rule 15, then the nodes catch up; until nothing changes. Every
 * trade starts from counts within one and a smaller slot-bytes gap than the last, rule 9
 * undoes none of it, and it ends. */
static void test_converges_with_placement(void)
{
    sim_world w = {.live = {"n1", "n2", "n3", "n4"}, .n_live = 4, .replicas = 3, .n = 8};
    double b[8] = {0};
    for (size_t i = 0; i < w.n; i++) {
        range(&w.r[i], w.live[i % 4], w.live[(i + 1) % 4], w.live[(i + 2) % 4]);
        b[i] = (i % 4 > 1 || i > 3 ? 20.0 : 600.0) * MIB;
    }
    zkv_assignment out[8];
    double start_gap, gap, prev = 1e18;
    int spread, trades = 0, quiet = 0;
    spreads(w.r, w.n, b, w.live, w.n_live, &start_gap, &spread);
    for (int round = 0; round < 200 && quiet < 3; round++) {
        CU_ASSERT_EQUAL_FATAL(sim_place(&w, out, NULL), 0);
        spreads(out, w.n, b, w.live, w.n_live, &gap, &spread);
        bool traded = zkv_replica_byte_balance(out, w.n, b, w.live, w.n_live, 2, 64 * MIB);
        if (traded) {
            trades++;
            CU_ASSERT(spread <= 1);
            CU_ASSERT(gap < prev);
            prev = gap;
        }
        bool changed = traded;
        for (size_t i = 0; i < w.n; i++) {
            changed = changed || !zkv_assignment_equal(&out[i], &w.r[i]);
            w.r[i] = out[i];
        }
        changed = sim_nodes_act(&w) || changed;
        quiet = changed ? 0 : quiet + 1;
    }
    CU_ASSERT_EQUAL(quiet, 3); /* it ended */
    CU_ASSERT(trades >= 1);
    spreads(w.r, w.n, b, w.live, w.n_live, &gap, &spread);
    CU_ASSERT(spread <= 1);
    CU_ASSERT(gap < start_gap / 2);
    CU_ASSERT_EQUAL(moves(w.r, w.n), 0);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("coordinator_replicabalance", NULL, NULL);
    CU_add_test(s, "one copy each way between the heaviest and the lightest", test_swap);
    CU_add_test(s, "one way when the heavy node carries more ranges", test_one_way);
    CU_add_test(s, "nothing to do", test_nothing_to_do);
    CU_add_test(s, "placement drops the replica the move names",
                test_placement_drops_the_named_replica);
    CU_add_test(s, "converges with placement, rule 9 never undoes it",
                test_converges_with_placement);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
