/* test_server_reclaim_plan.c: what a node may delete of what it no longer holds
 * (server/reclaim_plan.c), and the store operations that carry it out (zkv_store_range_ids,
 * zkv_store_range_forget, zkv_store_delete_data in server/store.c) against a real LevelDB
 * store in a mkdtemp directory: unheld parts and ids become due after the delay, keep
 * their time across maps, leave when held again; ids are forgotten before any data goes;
 * deleting piece by piece resumes where it stopped; held data and positions survive. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map_alloc.h"
#include "reclaim_plan.h"
#include "store.h"

#define DELAY 1000u

static char dir[64];
static char err[256];

typedef struct spec {
    const char *id, *start, *end; /* "" start: the lowest key; "" end: the end */
    const char *owner, *replica;
} spec;

static zkv_rangemap *make_map(const spec *sp, size_t n)
{
    zkv_rangemap *m = test_map_alloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    if (!m)
        return NULL; /* (the assertion has returned already; for the analysers) */
    for (size_t i = 0; i < n; i++) {
        zkv_range *r = &m->ranges[i];
        snprintf(r->id, sizeof(r->id), "%s", sp[i].id);
        snprintf(r->owner, sizeof(r->owner), "%s", sp[i].owner);
        snprintf(r->replicas[0], ZKV_ID_MAX, "%s", sp[i].replica);
        r->n_replicas = 1;
        CU_ASSERT_EQUAL(zkv_range_set_bounds(r, (const uint8_t *)sp[i].start, strlen(sp[i].start),
                                             (const uint8_t *)sp[i].end, strlen(sp[i].end)),
                        0);
    }
    return m;
}

/* me = "me": holds r0 and r2 of four. */
static const spec four[] = {{"r0", "", "b", "me", "x"},
                            {"r1", "b", "d", "x", "y"},
                            {"r2", "d", "f", "y", "me"},
                            {"r3", "f", "", "x", "y"}};

static void expect_delete(const zkv_reclaim_step *st, const char *start, const char *end)
{
    CU_ASSERT_EQUAL_FATAL(st->kind, ZKV_RECLAIM_DELETE);
    CU_ASSERT_EQUAL(st->slen, strlen(start));
    CU_ASSERT_EQUAL(st->elen, strlen(end));
    if (st->slen == strlen(start) && st->slen)
        CU_ASSERT_EQUAL(memcmp(st->start, start, st->slen), 0);
    if (st->elen == strlen(end) && st->elen)
        CU_ASSERT_EQUAL(memcmp(st->end, end, st->elen), 0);
}

static void test_due_after_delay(void)
{
    zkv_reclaim_plan *p = zkv_reclaim_plan_new();
    zkv_rangemap *m = make_map(four, 4);
    CU_ASSERT_EQUAL_FATAL(zkv_reclaim_plan_observe(p, m, "me", NULL, 0, 5000), 0);
    size_t pieces, ids;
    zkv_reclaim_plan_pending(p, &pieces, &ids);
    CU_ASSERT_EQUAL(pieces, 2); /* [b, d) and [f, end) */
    CU_ASSERT_EQUAL(ids, 0);
    CU_ASSERT_EQUAL(zkv_reclaim_plan_next(p, 5000 + DELAY - 1, DELAY).kind, ZKV_RECLAIM_NONE);
    /* seen again later: the time is kept */
    CU_ASSERT_EQUAL_FATAL(zkv_reclaim_plan_observe(p, m, "me", NULL, 0, 5900), 0);
    zkv_reclaim_step st = zkv_reclaim_plan_next(p, 5000 + DELAY, DELAY);
    expect_delete(&st, "b", "d");
    /* [b, d) done: the next is [f, end) */
    CU_ASSERT_EQUAL(zkv_reclaim_plan_cleaned(p, st.piece, NULL, 0), 0);
    st = zkv_reclaim_plan_next(p, 5000 + DELAY, DELAY);
    expect_delete(&st, "f", "");
    CU_ASSERT_EQUAL(zkv_reclaim_plan_cleaned(p, st.piece, NULL, 0), 0);
    CU_ASSERT_EQUAL(zkv_reclaim_plan_next(p, 99999, DELAY).kind, ZKV_RECLAIM_NONE);
    /* clean stays clean across maps */
    CU_ASSERT_EQUAL_FATAL(zkv_reclaim_plan_observe(p, m, "me", NULL, 0, 99999), 0);
    CU_ASSERT_EQUAL(zkv_reclaim_plan_next(p, 999999, DELAY).kind, ZKV_RECLAIM_NONE);
    zkv_reclaim_plan_pending(p, &pieces, &ids);
    CU_ASSERT_EQUAL(pieces, 0);
    zkv_rangemap_free(m);
    zkv_reclaim_plan_free(p);
}

static void test_held_again_and_times_per_part(void)
{
    zkv_reclaim_plan *p = zkv_reclaim_plan_new();
    zkv_rangemap *m = make_map(four, 4);
    CU_ASSERT_EQUAL_FATAL(zkv_reclaim_plan_observe(p, m, "me", NULL, 0, 1000), 0);
    /* later, r1 is held again (me its new replica) and r2 is given up */
    spec moved[4];
    memcpy(moved, four, sizeof(moved));
    moved[1].replica = "me";
    moved[2].replica = "z";
    zkv_rangemap *m2 = make_map(moved, 4);
    CU_ASSERT_EQUAL_FATAL(zkv_reclaim_plan_observe(p, m2, "me", NULL, 0, 1500), 0);
    /* [b, d) left at once; [f, end) keeps 1000; [d, f) starts at 1500 */
    zkv_reclaim_step st = zkv_reclaim_plan_next(p, 1000 + DELAY, DELAY);
    expect_delete(&st, "f", "");
    CU_ASSERT_EQUAL(zkv_reclaim_plan_cleaned(p, st.piece, NULL, 0), 0);
    CU_ASSERT_EQUAL(zkv_reclaim_plan_next(p, 1500 + DELAY - 1, DELAY).kind, ZKV_RECLAIM_NONE);
    st = zkv_reclaim_plan_next(p, 1500 + DELAY, DELAY);
    expect_delete(&st, "d", "f");
    /* an unheld range split in the map: parts keep their time, whatever the ids */
    spec split[5] = {
        moved[0], moved[1], {"r2a", "d", "e", "y", "z"}, {"r2b", "e", "f", "y", "z"}, moved[3]};
    zkv_rangemap *m3 = make_map(split, 5);
    CU_ASSERT_EQUAL_FATAL(zkv_reclaim_plan_observe(p, m3, "me", NULL, 0, 1800), 0);
    st = zkv_reclaim_plan_next(p, 1500 + DELAY, DELAY);
    expect_delete(&st, "d", "f");
    zkv_rangemap_free(m);
    zkv_rangemap_free(m2);
    zkv_rangemap_free(m3);
    zkv_reclaim_plan_free(p);
}

static void test_ids_first(void)
{
    zkv_reclaim_plan *p = zkv_reclaim_plan_new();
    zkv_rangemap *m = make_map(four, 4);
    /* the store has positions for r0 (held), r1 (not held) and r9 (not in the map) */
    const char *ids[] = {"r0", "r1", "r9"};
    CU_ASSERT_EQUAL_FATAL(zkv_reclaim_plan_observe(p, m, "me", ids, 3, 1000), 0);
    size_t pieces, n_ids;
    zkv_reclaim_plan_pending(p, &pieces, &n_ids);
    CU_ASSERT_EQUAL(n_ids, 2);
    zkv_reclaim_step st = zkv_reclaim_plan_next(p, 1000 + DELAY, DELAY);
    CU_ASSERT_EQUAL_FATAL(st.kind, ZKV_RECLAIM_FORGET);
    CU_ASSERT_STRING_EQUAL(st.range_id, "r1");
    zkv_reclaim_plan_forgot(p, "r1");
    st = zkv_reclaim_plan_next(p, 1000 + DELAY, DELAY);
    CU_ASSERT_EQUAL_FATAL(st.kind, ZKV_RECLAIM_FORGET);
    CU_ASSERT_STRING_EQUAL(st.range_id, "r9");
    /* an unheld id that is not due yet holds every data deletion back */
    const char *later[] = {"r0", "r9"};
    CU_ASSERT_EQUAL_FATAL(zkv_reclaim_plan_observe(p, m, "me", later, 2, 1000 + DELAY), 0);
    spec gone[4];
    memcpy(gone, four, sizeof(gone));
    gone[0].owner = "x"; /* r0 given up too, at 1500 */
    zkv_rangemap *m2 = make_map(gone, 4);
    const char *both[] = {"r0", "r9"};
    CU_ASSERT_EQUAL_FATAL(zkv_reclaim_plan_observe(p, m2, "me", both, 2, 1500), 0);
    zkv_reclaim_plan_forgot(p, "r9");
    CU_ASSERT_EQUAL(zkv_reclaim_plan_next(p, 1000 + DELAY, DELAY).kind, ZKV_RECLAIM_NONE);
    st = zkv_reclaim_plan_next(p, 1500 + DELAY, DELAY);
    CU_ASSERT_EQUAL_FATAL(st.kind, ZKV_RECLAIM_FORGET);
    CU_ASSERT_STRING_EQUAL(st.range_id, "r0");
    zkv_reclaim_plan_forgot(p, "r0");
    st = zkv_reclaim_plan_next(p, 1500 + DELAY, DELAY);
    expect_delete(&st, "", "b"); /* r0's part first, in key order */
    zkv_rangemap_free(m);
    zkv_rangemap_free(m2);
    zkv_reclaim_plan_free(p);
}

static void test_cleaned_below(void)
{
    zkv_reclaim_plan *p = zkv_reclaim_plan_new();
    zkv_rangemap *m = make_map(four, 4);
    CU_ASSERT_EQUAL_FATAL(zkv_reclaim_plan_observe(p, m, "me", NULL, 0, 0), 0);
    zkv_reclaim_step st = zkv_reclaim_plan_next(p, DELAY, DELAY);
    expect_delete(&st, "b", "d");
    CU_ASSERT_EQUAL(zkv_reclaim_plan_cleaned(p, st.piece, (const uint8_t *)"c", 1), 0);
    st = zkv_reclaim_plan_next(p, DELAY, DELAY);
    expect_delete(&st, "c", "d"); /* resumes where it stopped */
    /* a bound at or past the end cleans the whole piece */
    CU_ASSERT_EQUAL(zkv_reclaim_plan_cleaned(p, st.piece, (const uint8_t *)"d", 1), 0);
    st = zkv_reclaim_plan_next(p, DELAY, DELAY);
    expect_delete(&st, "f", "");
    CU_ASSERT_EQUAL(zkv_reclaim_plan_cleaned(p, st.piece, (const uint8_t *)"g\0", 2), 0);
    st = zkv_reclaim_plan_next(p, DELAY, DELAY);
    CU_ASSERT_EQUAL_FATAL(st.kind, ZKV_RECLAIM_DELETE);
    CU_ASSERT_EQUAL(st.slen, 2);
    CU_ASSERT_EQUAL(st.elen, 0);
    /* the same map again: clean parts stay clean, the rest is still due */
    CU_ASSERT_EQUAL_FATAL(zkv_reclaim_plan_observe(p, m, "me", NULL, 0, 5), 0);
    st = zkv_reclaim_plan_next(p, DELAY, DELAY);
    CU_ASSERT_EQUAL_FATAL(st.kind, ZKV_RECLAIM_DELETE);
    CU_ASSERT_EQUAL(st.slen, 2);
    size_t pieces, ids;
    zkv_reclaim_plan_pending(p, &pieces, &ids);
    CU_ASSERT_EQUAL(pieces, 1);
    CU_ASSERT_EQUAL(zkv_reclaim_plan_observe(p, NULL, "me", NULL, 0, 6), 0); /* no map */
    CU_ASSERT_EQUAL(zkv_reclaim_plan_next(p, 99999, DELAY).kind, ZKV_RECLAIM_NONE);
    zkv_rangemap_free(m);
    zkv_reclaim_plan_free(p);
}

/* ---- the store side, on a real LevelDB ---- */

static int setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/zkv-test-reclaim-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void put(zkv_store *s, const char *id, const char *key)
{
    zkv_value_meta meta;
    CU_ASSERT_EQUAL_FATAL(zkv_store_put(s, id, 1, (const uint8_t *)key, strlen(key),
                                        (const uint8_t *)"v", 1, &meta, err, sizeof(err)),
                          0);
}

static bool present(zkv_store *s, const char *key)
{
    zkv_store_value v;
    int rc = zkv_store_get(s, (const uint8_t *)key, strlen(key), &v, err, sizeof(err));
    CU_ASSERT(rc == 0 || rc == 1);
    if (rc == 1)
        zkv_store_value_release(&v);
    return rc == 1;
}

/* The shell's loop, here synchronous: every due step until none, max keys per deletion. */
static void run_plan(zkv_store *s, zkv_reclaim_plan *p, uint64_t now, size_t max)
{
    for (int guard = 0; guard < 1000; guard++) {
        zkv_reclaim_step st = zkv_reclaim_plan_next(p, now, DELAY);
        if (st.kind == ZKV_RECLAIM_NONE)
            return;
        if (st.kind == ZKV_RECLAIM_FORGET) {
            CU_ASSERT_EQUAL_FATAL(zkv_store_range_forget(s, st.range_id, err, sizeof(err)), 0);
            zkv_reclaim_plan_forgot(p, st.range_id);
            continue;
        }
        size_t n = 0;
        zkv_buf last;
        zkv_buf_init(&last);
        CU_ASSERT_EQUAL_FATAL(zkv_store_delete_data(s, st.start, st.slen, st.end, st.elen, max, &n,
                                                    &last, err, sizeof(err)),
                              0);
        if (n < max) {
            CU_ASSERT_EQUAL(zkv_reclaim_plan_cleaned(p, st.piece, NULL, 0), 0);
        } else { /* resume just past the last key deleted */
            uint8_t zero = 0;
            CU_ASSERT_EQUAL_FATAL(zkv_buf_append(&last, &zero, 1), 0);
            CU_ASSERT_EQUAL(zkv_reclaim_plan_cleaned(p, st.piece, last.data, last.len), 0);
        }
        zkv_buf_free(&last);
    }
    CU_FAIL("the plan did not finish");
}

static void test_store_reclaims_what_is_not_held(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/db", dir);
    zkv_store *s = NULL;
    CU_ASSERT_EQUAL_FATAL(zkv_store_open(path, &s, err, sizeof(err)), 0);
    /* r0 [, b) held; r1 [b, d) not: 25 keys each side, and a key with a NUL byte */
    char k[16];
    for (int i = 0; i < 25; i++) {
        snprintf(k, sizeof(k), "a%02d", i);
        put(s, "r0", k);
        snprintf(k, sizeof(k), "c%02d", i);
        put(s, "r1", k);
    }
    zkv_value_meta meta;
    CU_ASSERT_EQUAL_FATAL(zkv_store_put(s, "r1", 1, (const uint8_t *)"b\0x", 3,
                                        (const uint8_t *)"v", 1, &meta, err, sizeof(err)),
                          0);
    CU_ASSERT_EQUAL_FATAL(zkv_store_commit(s, err, sizeof(err)), 0);
    CU_ASSERT_TRUE(present(s, "c07")); /* in the row cache now */
    const char *ids[8];
    size_t n_ids = zkv_store_range_ids(s, ids, 8);
    CU_ASSERT_EQUAL_FATAL(n_ids, 2);

    zkv_reclaim_plan *p = zkv_reclaim_plan_new();
    zkv_rangemap *m = make_map(four, 4);
    CU_ASSERT_EQUAL_FATAL(zkv_reclaim_plan_observe(p, m, "me", ids, n_ids, 0), 0);
    run_plan(s, p, DELAY, 4); /* 4 keys per deletion: resumes 7 times */

    /* r1's log and position are gone, its data too; r0 untouched */
    const zkv_range_state *r1 = zkv_store_range(s, "r1");
    CU_ASSERT_TRUE(!r1 || (r1->last_seq == 0 && r1->epoch == 0));
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(s, "r1"), 0);
    CU_ASSERT_EQUAL(zkv_store_range(s, "r0")->last_seq, 25);
    CU_ASSERT_FALSE(present(s, "c07")); /* not from a stale row cache entry either */
    CU_ASSERT_FALSE(present(s, "c24"));
    CU_ASSERT_EQUAL(zkv_store_delete_data(s, (const uint8_t *)"b", 1, (const uint8_t *)"d", 1, 100,
                                          &(size_t){0}, NULL, err, sizeof(err)),
                    0);
    for (int i = 0; i < 25; i++) {
        snprintf(k, sizeof(k), "a%02d", i);
        CU_ASSERT_TRUE(present(s, k));
    }
    zkv_store_compact_data(s, (const uint8_t *)"b", 1, (const uint8_t *)"d", 1);
    n_ids = zkv_store_range_ids(s, ids, 8);
    CU_ASSERT_EQUAL(n_ids, 1);
    zkv_store_close(s);

    /* after a restart: the same */
    CU_ASSERT_EQUAL_FATAL(zkv_store_open(path, &s, err, sizeof(err)), 0);
    n_ids = zkv_store_range_ids(s, ids, 8);
    CU_ASSERT_EQUAL_FATAL(n_ids, 1);
    CU_ASSERT_STRING_EQUAL(ids[0], "r0");
    CU_ASSERT_FALSE(present(s, "c00"));
    CU_ASSERT_TRUE(present(s, "a24"));
    CU_ASSERT_EQUAL(zkv_store_range(s, "r0")->last_seq, 25);
    zkv_store_close(s);
    zkv_rangemap_free(m);
    zkv_reclaim_plan_free(p);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("server_reclaim_plan", setup, teardown);
    CU_add_test(s, "unheld parts are due after the delay, one by one", test_due_after_delay);
    CU_add_test(s, "held again leaves at once; each part keeps its own time",
                test_held_again_and_times_per_part);
    CU_add_test(s, "ids are forgotten before any data goes", test_ids_first);
    CU_add_test(s, "deleting resumes where it stopped", test_cleaned_below);
    CU_add_test(s, "the store deletes what is not held, keeps what is",
                test_store_reclaims_what_is_not_held);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
