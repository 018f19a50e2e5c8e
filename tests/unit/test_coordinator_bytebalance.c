/* test_coordinator_bytebalance.c: rule 14, owners even by bytes (coordinator/
 * bytebalance.c): the trade that shrinks the gap most (one range each way, or one way when
 * the heavy node owns more ranges), and every reason to do nothing. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "bytebalance.h"

#define MIB (1024.0 * 1024.0)

static const char *const nodes3[] = {"n1", "n2", "n3"};

/* Range i owned by owner, the other two nodes replicas and in_sync. */
static void range(zkv_assignment *a, const char *owner)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->owner, sizeof(a->owner), "%s", owner);
    for (int k = 0; k < 3; k++) {
        if (strcmp(nodes3[k], owner) == 0)
            continue;
        snprintf(a->replicas[a->n_replicas++], ZKV_ID_MAX, "%s", nodes3[k]);
        snprintf(a->in_sync[a->n_in_sync++], ZKV_ID_MAX, "%s", nodes3[k]);
    }
}

static int handoffs(const zkv_assignment *v, size_t n)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += v[i].handoff[0] != '\0';
    return k;
}

/* n1 owns 2 ranges of 500 and 400 MiB, n2 two of 100 and 50, n3 two of 200 and 150. */
static void world(zkv_assignment *v, double *b)
{
    const char *own[6] = {"n1", "n1", "n2", "n2", "n3", "n3"};
    const double mib[6] = {500, 400, 100, 50, 200, 150};
    for (int i = 0; i < 6; i++) {
        range(&v[i], own[i]);
        b[i] = mib[i] * MIB;
    }
}

static void test_swap(void)
{
    zkv_assignment v[6];
    double b[6];
    world(v, b);
    /* gap n1 - n2 = 900 - 150 = 750, best moved 375: 500 <-> 100 and 400 <-> 50 both move
     * 400 and 350 (new gap 50); the first in routing order wins */
    CU_ASSERT_TRUE(zkv_byte_balance(v, 6, b, nodes3, 3, 64 * MIB));
    CU_ASSERT_STRING_EQUAL(v[0].handoff, "n2");
    CU_ASSERT_STRING_EQUAL(v[2].handoff, "n1");
    CU_ASSERT_TRUE(v[0].changed && v[2].changed);
    CU_ASSERT_EQUAL(handoffs(v, 6), 2);
    /* a trade in progress: nothing more */
    CU_ASSERT_FALSE(zkv_byte_balance(v, 6, b, nodes3, 3, 64 * MIB));
}

static void test_one_way(void)
{
    zkv_assignment v[5];
    double b[5];
    const char *own[5] = {"n1", "n1", "n2", "n3", "n3"};
    const double mib[5] = {300, 250, 50, 200, 100};
    for (int i = 0; i < 5; i++) {
        range(&v[i], own[i]);
        b[i] = mib[i] * MIB;
    }
    /* n1 550 (2 ranges), n2 50 (1): the 250 MiB range one way and 300 <-> 50 both close the
     * gap of 500; one handoff beats two */
    CU_ASSERT_TRUE(zkv_byte_balance(v, 5, b, nodes3, 3, 64 * MIB));
    CU_ASSERT_STRING_EQUAL(v[1].handoff, "n2");
    CU_ASSERT_EQUAL(handoffs(v, 5), 1);
}

static void test_nothing_to_do(void)
{
    zkv_assignment v[6];
    double b[6];
    world(v, b);
    CU_ASSERT_FALSE(zkv_byte_balance(v, 6, b, nodes3, 3, 1000 * MIB)); /* gap under min */
    world(v, b);
    b[4] = -1; /* a range without a report */
    CU_ASSERT_FALSE(zkv_byte_balance(v, 6, b, nodes3, 3, 64 * MIB));
    world(v, b);
    v[5].split_asked = true; /* a split first */
    CU_ASSERT_FALSE(zkv_byte_balance(v, 6, b, nodes3, 3, 64 * MIB));
    world(v, b);
    snprintf(v[2].merge_with, ZKV_ID_MAX, "r9"); /* a merge first */
    CU_ASSERT_FALSE(zkv_byte_balance(v, 6, b, nodes3, 3, 64 * MIB));
    world(v, b);
    /* n2 is not a node that may own more (drained): n1 trades with n3 instead */
    const char *const two[] = {"n1", "n3"};
    for (int i = 2; i < 4; i++)
        range(&v[i], "n1"); /* n2's ranges elsewhere, so every owner is allowed */
    CU_ASSERT_TRUE(zkv_byte_balance(v, 6, b, two, 2, 64 * MIB));
    for (int i = 0; i < 6; i++)
        CU_ASSERT(!v[i].handoff[0] || strcmp(v[i].handoff, "n2") != 0);
    /* even enough: within a quarter of the lighter node */
    zkv_assignment e[3];
    double eb[3] = {400 * MIB, 350 * MIB, 330 * MIB};
    for (int i = 0; i < 3; i++)
        range(&e[i], nodes3[i]);
    CU_ASSERT_FALSE(zkv_byte_balance(e, 3, eb, nodes3, 3, 1 * MIB));
}

static void test_only_in_sync_takes(void)
{
    zkv_assignment v[6];
    double b[6];
    world(v, b);
    /* n2 is no longer in_sync for n1's ranges, nor n1 for n2's */
    for (int i = 0; i < 4; i++) {
        const char *drop = i < 2 ? "n2" : "n1";
        int k = 0;
        for (int j = 0; j < v[i].n_in_sync; j++)
            if (strcmp(v[i].in_sync[j], drop) != 0)
                memcpy(v[i].in_sync[k++], v[i].in_sync[j], ZKV_ID_MAX);
        v[i].n_in_sync = k;
    }
    bool traded = zkv_byte_balance(v, 6, b, nodes3, 3, 64 * MIB);
    /* the lightest (n2) cannot trade with the heaviest (n1): the next pair, n1 (900 MiB)
     * with n3 (350), does: 500 <-> 200 or 400 <-> 150 (300 and 250 moved; new gaps 50 and
     * 50), the first in routing order */
    CU_ASSERT_TRUE(traded);
    CU_ASSERT_EQUAL(handoffs(v, 6), 2);
    CU_ASSERT_STRING_EQUAL(v[0].handoff, "n3");
    CU_ASSERT_STRING_EQUAL(v[4].handoff, "n1");
    for (int i = 0; i < 6; i++)
        CU_ASSERT(strcmp(v[i].handoff, "n2") != 0);
}

static void test_converges(void)
{
    zkv_assignment v[6];
    double b[6];
    world(v, b);
    /* carry each trade out (owners swap) until nothing is asked: the gap only shrinks */
    double prev_gap = 1e18;
    for (int round = 0; round < 10; round++) {
        if (!zkv_byte_balance(v, 6, b, nodes3, 3, 64 * MIB))
            break;
        for (int i = 0; i < 6; i++) {
            if (!v[i].handoff[0])
                continue;
            char to[ZKV_ID_MAX];
            snprintf(to, sizeof(to), "%s", v[i].handoff);
            range(&v[i], to);
        }
        double load[3] = {0, 0, 0};
        for (int i = 0; i < 6; i++)
            for (int k = 0; k < 3; k++)
                load[k] += strcmp(v[i].owner, nodes3[k]) == 0 ? b[i] : 0;
        double hi = load[0], lo = load[0];
        for (int k = 1; k < 3; k++) {
            hi = load[k] > hi ? load[k] : hi;
            lo = load[k] < lo ? load[k] : lo;
        }
        CU_ASSERT(hi - lo < prev_gap);
        prev_gap = hi - lo;
    }
    CU_ASSERT(prev_gap < 400 * MIB);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("coordinator_bytebalance", NULL, NULL);
    CU_add_test(s, "one range each way between the heaviest and the lightest", test_swap);
    CU_add_test(s, "one way when the heavy node owns more ranges", test_one_way);
    CU_add_test(s, "nothing to do", test_nothing_to_do);
    CU_add_test(s, "only an in_sync replica takes a range; the next pair trades",
                test_only_in_sync_takes);
    CU_add_test(s, "trades carried out only shrink the gap", test_converges);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
