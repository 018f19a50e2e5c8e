/* test_server_reshape.c: a node's side of splits and merges (server/reshape.c): which
 * ranges were made together (the same parents at the same positions), which ranges a
 * node holds (owner or replica), and zkv_reshape_apply against a real LevelDB store in a
 * mkdtemp directory: the children of a parent gone from the map continue its log when
 * this copy is at the parent's position (only the children this node holds), start
 * empty when it is not, the parent's log goes either way; a parent still in the map is
 * left alone; applying a map again, or after a restart, changes nothing. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map_alloc.h"
#include "reshape.h"

static char dir[64];
static char err[256];

static void rm_rf(const char *path)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", path);
}

static int setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/zkv-test-reshape-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void)
{
    rm_rf(dir);
    return 0;
}

static zkv_store *open_at(const char *name)
{
    char path[200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    zkv_store *s = NULL;
    CU_ASSERT_EQUAL_FATAL(zkv_store_open(path, &s, err, sizeof(err)), 0);
    return s;
}

/* n puts of range id at epoch, committed. */
static void writes(zkv_store *s, const char *id, uint64_t epoch, int n)
{
    for (int i = 0; i < n; i++) {
        char k[32];
        snprintf(k, sizeof(k), "%s-%d", id, i);
        zkv_value_meta m;
        CU_ASSERT_EQUAL_FATAL(zkv_store_put(s, id, epoch, (const uint8_t *)k, strlen(k),
                                            (const uint8_t *)"v", 1, &m, err, sizeof(err)),
                              0);
    }
    CU_ASSERT_EQUAL_FATAL(zkv_store_commit(s, err, sizeof(err)), 0);
}

/* The position of id, (0, 0) when the store does not know it. */
static void pos(zkv_store *s, const char *id, uint64_t *epoch, uint64_t *seq)
{
    const zkv_range_state *r = zkv_store_range(s, id);
    *epoch = r ? r->epoch : 0;
    *seq = r ? r->last_seq : 0;
}

static void expect_pos(zkv_store *s, const char *id, uint64_t epoch, uint64_t seq)
{
    uint64_t e, q;
    pos(s, id, &e, &q);
    if (e != epoch || q != seq)
        fprintf(stderr, "\nrange %s at (%llu, %llu), expected (%llu, %llu)\n", id,
                (unsigned long long)e, (unsigned long long)q, (unsigned long long)epoch,
                (unsigned long long)seq);
    CU_ASSERT_EQUAL(e, epoch);
    CU_ASSERT_EQUAL(q, seq);
}

/* A parent after its fork: nothing left of its log. */
static void expect_dropped(zkv_store *s, const char *id)
{
    expect_pos(s, id, 0, 0);
    CU_ASSERT_EQUAL(zkv_store_history(s, id, NULL, 0), 0);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, id), 0);
}

/* ---- the map ---- */

typedef struct range_spec {
    const char *id;
    const char *owner;
    const char *replicas[3]; /* NULL-terminated */
    const char *parent[2];   /* NULL: none */
    uint64_t pepoch[2], pseq[2];
} range_spec;

static zkv_rangemap *make_map(const range_spec *spec, size_t n)
{
    zkv_rangemap *m = test_map_alloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    if (!m)
        return NULL; /* (the assertion has returned already; for the analysers) */
    m->version = 10;
    for (size_t i = 0; i < n; i++) {
        zkv_range *r = &m->ranges[i];
        snprintf(r->id, sizeof(r->id), "%s", spec[i].id);
        snprintf(r->owner, sizeof(r->owner), "%s", spec[i].owner ? spec[i].owner : "");
        for (int j = 0; j < 3 && spec[i].replicas[j]; j++) {
            snprintf(r->replicas[j], ZKV_ID_MAX, "%s", spec[i].replicas[j]);
            snprintf(r->in_sync[j], ZKV_ID_MAX, "%s", spec[i].replicas[j]);
            r->n_replicas = r->n_in_sync = j + 1;
        }
        r->epoch = 9;
        r->zversion = 1;
        for (int k = 0; k < 2 && spec[i].parent[k]; k++) {
            snprintf(r->parents[k].id, ZKV_ID_MAX, "%s", spec[i].parent[k]);
            r->parents[k].epoch = spec[i].pepoch[k];
            r->parents[k].seq = spec[i].pseq[k];
            r->n_parents = k + 1;
        }
    }
    return m;
}

static int apply(zkv_store *s, const range_spec *spec, size_t n, const char *me)
{
    zkv_rangemap *m = make_map(spec, n);
    int rc = zkv_reshape_apply(s, m, me, err, sizeof(err));
    zkv_rangemap_free(m);
    return rc;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the predicates ---- */

static void test_same_parents(void)
{
    range_spec spec[] = {
        {"c1", "n1", {NULL}, {"p", NULL}, {2, 0}, {30, 0}},
        {"c2", "n1", {NULL}, {"p", NULL}, {2, 0}, {30, 0}},
        {"c3", "n1", {NULL}, {"p", NULL}, {2, 0}, {31, 0}}, /* another seq */
        {"c4", "n1", {NULL}, {"p", NULL}, {3, 0}, {30, 0}}, /* another epoch */
        {"c5", "n1", {NULL}, {"q", NULL}, {2, 0}, {30, 0}}, /* another parent */
        {"c6", "n1", {NULL}, {"p", "q"}, {2, 1}, {30, 5}},  /* two parents */
        {"c7", "n1", {NULL}, {"p", "q"}, {2, 1}, {30, 5}},
        {"c8", "n1", {NULL}, {"p", "q"}, {2, 1}, {30, 6}},
        {"c9", "n1", {NULL}, {NULL}, {0}, {0}}, /* none */
        {"c10", "n1", {NULL}, {NULL}, {0}, {0}},
    };
    zkv_rangemap *m = make_map(spec, N(spec));
    const zkv_range *r = m->ranges;
    CU_ASSERT_TRUE(zkv_reshape_same_parents(&r[0], &r[1]));
    CU_ASSERT_TRUE(zkv_reshape_same_parents(&r[1], &r[0]));
    CU_ASSERT_TRUE(zkv_reshape_same_parents(&r[0], &r[0]));
    CU_ASSERT_FALSE(zkv_reshape_same_parents(&r[0], &r[2]));
    CU_ASSERT_FALSE(zkv_reshape_same_parents(&r[0], &r[3]));
    CU_ASSERT_FALSE(zkv_reshape_same_parents(&r[0], &r[4]));
    CU_ASSERT_FALSE(zkv_reshape_same_parents(&r[0], &r[5])); /* one parent against two */
    CU_ASSERT_FALSE(zkv_reshape_same_parents(&r[5], &r[0]));
    CU_ASSERT_TRUE(zkv_reshape_same_parents(&r[5], &r[6]));
    CU_ASSERT_FALSE(zkv_reshape_same_parents(&r[5], &r[7])); /* the second parent differs */
    /* ranges made from nothing were not made together */
    CU_ASSERT_FALSE(zkv_reshape_same_parents(&r[8], &r[9]));
    CU_ASSERT_FALSE(zkv_reshape_same_parents(&r[8], &r[8]));
    CU_ASSERT_FALSE(zkv_reshape_same_parents(&r[0], &r[8]));
    zkv_rangemap_free(m);
}

static void test_holds(void)
{
    range_spec spec[] = {
        {"r1", "n1", {"n2", "n3", NULL}, {NULL}, {0}, {0}},
        {"r2", "", {"n2", NULL}, {NULL}, {0}, {0}},
    };
    zkv_rangemap *m = make_map(spec, N(spec));
    zkv_range *r = m->ranges;
    CU_ASSERT_TRUE(zkv_reshape_holds(&r[0], "n1"));
    CU_ASSERT_TRUE(zkv_reshape_holds(&r[0], "n2"));
    CU_ASSERT_TRUE(zkv_reshape_holds(&r[0], "n3"));
    CU_ASSERT_FALSE(zkv_reshape_holds(&r[0], "n4"));
    CU_ASSERT_FALSE(zkv_reshape_holds(&r[0], "n")); /* whole ids only */
    CU_ASSERT_FALSE(zkv_reshape_holds(&r[0], "n10"));
    CU_ASSERT_TRUE(zkv_reshape_holds(&r[1], "n2")); /* a replica of a range without owner */
    CU_ASSERT_FALSE(zkv_reshape_holds(&r[1], "n1"));
    /* in_sync without a replica slot, or a handoff target, is not holding it */
    r[0].n_replicas = 1;
    CU_ASSERT_FALSE(zkv_reshape_holds(&r[0], "n3"));
    strcpy(r[0].handoff, "n5");
    CU_ASSERT_FALSE(zkv_reshape_holds(&r[0], "n5"));
    zkv_rangemap_free(m);
}

/* ---- apply ---- */

static void test_apply_split(void)
{
    zkv_store *s = open_at("split");
    writes(s, "p", 2, 3); /* p at (2, 3) */
    writes(s, "other", 1, 2);
    /* the map after the split: p is gone, c1 and c2 were made from it at (2, 3) */
    range_spec after[] = {
        {"c1", "n1", {"n2", NULL}, {"p", NULL}, {2, 0}, {3, 0}},
        {"c2", "n1", {"n2", NULL}, {"p", NULL}, {2, 0}, {3, 0}},
        {"other", "n1", {"n2", NULL}, {NULL}, {0}, {0}},
    };
    CU_ASSERT_EQUAL(apply(s, after, N(after), "n2"), 0);
    expect_pos(s, "c1", 2, 3);
    expect_pos(s, "c2", 2, 3);
    expect_dropped(s, "p");
    expect_pos(s, "other", 1, 2);
    zkv_epoch_start h[4];
    CU_ASSERT_EQUAL_FATAL(zkv_store_history(s, "c1", h, 4), 1);
    CU_ASSERT_EQUAL(h[0].epoch, 2);
    CU_ASSERT_EQUAL(h[0].start_seq, 1);
    CU_ASSERT_EQUAL(zkv_store_history(s, "c2", h, 4), 1);
    /* the data stays */
    zkv_store_value v;
    CU_ASSERT_EQUAL(zkv_store_get(s, (const uint8_t *)"p-2", 3, &v, err, sizeof(err)), 1);
    zkv_store_value_release(&v);
    /* c1's owner writes on; the same map again changes nothing */
    zkv_value_meta m;
    CU_ASSERT_EQUAL(zkv_store_put(s, "c1", 9, (const uint8_t *)"p-9", 3, (const uint8_t *)"w", 1,
                                  &m, err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(m.seq, 4);
    CU_ASSERT_EQUAL(zkv_store_commit(s, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(apply(s, after, N(after), "n2"), 0);
    expect_pos(s, "c1", 9, 4);
    expect_pos(s, "c2", 2, 3);
    expect_dropped(s, "p");
    zkv_store_close(s);
    /* after a restart too */
    s = open_at("split");
    CU_ASSERT_PTR_NULL(zkv_store_range(s, "p"));
    CU_ASSERT_EQUAL(apply(s, after, N(after), "n2"), 0);
    expect_pos(s, "c1", 9, 4);
    expect_pos(s, "c2", 2, 3);
    expect_dropped(s, "p");
    expect_pos(s, "other", 1, 2);
    zkv_store_close(s);
}

static void test_apply_held_children_only(void)
{
    zkv_store *s = open_at("held");
    writes(s, "p", 4, 5);
    writes(s, "q", 4, 2);
    /* n2 holds c1 (a replica) but not c2 */
    range_spec after[] = {
        {"c1", "n1", {"n2", NULL}, {"p", NULL}, {4, 0}, {5, 0}},
        {"c2", "n1", {"n3", NULL}, {"p", NULL}, {4, 0}, {5, 0}},
    };
    CU_ASSERT_EQUAL(apply(s, after, N(after), "n2"), 0);
    expect_pos(s, "c1", 4, 5);
    expect_pos(s, "c2", 0, 0);
    CU_ASSERT_EQUAL(zkv_store_history(s, "c2", NULL, 0), 0);
    expect_dropped(s, "p");
    /* the first child is not this node's, the second is (the owner) */
    range_spec after_q[] = {
        {"d1", "n3", {"n4", NULL}, {"q", NULL}, {4, 0}, {2, 0}},
        {"d2", "n2", {"n4", NULL}, {"q", NULL}, {4, 0}, {2, 0}},
    };
    CU_ASSERT_EQUAL(apply(s, after_q, N(after_q), "n2"), 0);
    expect_pos(s, "d1", 0, 0);
    expect_pos(s, "d2", 4, 2);
    expect_dropped(s, "q");
    zkv_store_close(s);
}

static void test_apply_parent_still_mapped(void)
{
    zkv_store *s = open_at("mapped");
    writes(s, "p", 2, 3);
    /* the split is not in the map yet (or another range names p while p is still there) */
    range_spec during[] = {
        {"p", "n1", {"n2", NULL}, {NULL}, {0}, {0}},
        {"c1", "n1", {"n2", NULL}, {"p", NULL}, {2, 0}, {3, 0}},
        {"c2", "n1", {"n2", NULL}, {"p", NULL}, {2, 0}, {3, 0}},
    };
    CU_ASSERT_EQUAL(apply(s, during, N(during), "n1"), 0);
    expect_pos(s, "p", 2, 3);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "p"), 1);
    expect_pos(s, "c1", 0, 0);
    expect_pos(s, "c2", 0, 0);
    /* ranges without parents, and parents this node never had: nothing happens */
    range_spec plain[] = {
        {"p", "n1", {"n2", NULL}, {NULL}, {0}, {0}},
        {"e1", "n1", {"n2", NULL}, {"never", NULL}, {1, 0}, {1, 0}},
    };
    CU_ASSERT_EQUAL(apply(s, plain, N(plain), "n1"), 0);
    expect_pos(s, "p", 2, 3);
    expect_pos(s, "e1", 0, 0);
    CU_ASSERT_PTR_NULL(zkv_store_range(s, "never"));
    /* then the split lands */
    CU_ASSERT_EQUAL(apply(s, during + 1, 2, "n1"), 0);
    expect_pos(s, "c1", 2, 3);
    expect_pos(s, "c2", 2, 3);
    expect_dropped(s, "p");
    zkv_store_close(s);
}

static void test_apply_mismatch(void)
{
    zkv_store *s = open_at("mismatch");
    writes(s, "p", 2, 3);
    /* the owner split at (2, 4): this copy is behind; it is rebuilt from the owner */
    range_spec after[] = {
        {"c1", "n1", {"n2", NULL}, {"p", NULL}, {2, 0}, {4, 0}},
        {"c2", "n1", {"n2", NULL}, {"p", NULL}, {2, 0}, {4, 0}},
    };
    CU_ASSERT_EQUAL(apply(s, after, N(after), "n2"), 0);
    expect_pos(s, "c1", 0, 0);
    expect_pos(s, "c2", 0, 0);
    expect_dropped(s, "p");
    zkv_store_value v;
    CU_ASSERT_EQUAL(zkv_store_get(s, (const uint8_t *)"p-0", 3, &v, err, sizeof(err)), 1);
    zkv_store_value_release(&v);
    zkv_store_close(s);
}

static void test_apply_merge(void)
{
    zkv_store *s = open_at("merge");
    writes(s, "a", 1, 2);
    writes(s, "b", 3, 6);
    range_spec after[] = {
        {"ab", "n1", {"n2", NULL}, {"a", "b"}, {1, 3}, {2, 6}},
    };
    CU_ASSERT_EQUAL(apply(s, after, N(after), "n1"), 0);
    expect_pos(s, "ab", 3, 6); /* the higher position, b's */
    zkv_epoch_start h[4];
    CU_ASSERT_EQUAL_FATAL(zkv_store_history(s, "ab", h, 4), 1);
    CU_ASSERT_EQUAL(h[0].epoch, 3);
    CU_ASSERT_EQUAL(h[0].start_seq, 1);
    expect_dropped(s, "a");
    expect_dropped(s, "b");
    /* this node held only one of the two parents: the merged range is rebuilt from its
     * owner, the parent's log goes */
    writes(s, "x", 1, 4);
    range_spec only_x[] = {
        {"xz", "n1", {"n2", NULL}, {"x", "z"}, {1, 1}, {4, 2}},
    };
    CU_ASSERT_EQUAL(apply(s, only_x, N(only_x), "n2"), 0);
    expect_pos(s, "xz", 0, 0);
    expect_dropped(s, "x");
    CU_ASSERT_PTR_NULL(zkv_store_range(s, "z"));
    /* again: nothing */
    CU_ASSERT_EQUAL(apply(s, after, N(after), "n1"), 0);
    expect_pos(s, "ab", 3, 6);
    zkv_store_close(s);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("server_reshape", setup, teardown);
    CU_add_test(s, "ranges made together", test_same_parents);
    CU_add_test(s, "ranges a node holds", test_holds);
    CU_add_test(s, "apply a split: fork, again, after a restart", test_apply_split);
    CU_add_test(s, "apply: only the children this node holds", test_apply_held_children_only);
    CU_add_test(s, "apply: a parent still in the map", test_apply_parent_still_mapped);
    CU_add_test(s, "apply: a copy off the parent's position", test_apply_mismatch);
    CU_add_test(s, "apply a merge", test_apply_merge);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
