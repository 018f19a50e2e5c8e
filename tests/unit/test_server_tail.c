/* test_server_tail.c: server/tail.c, the owner's in-memory run of recent log entries:
 * exact contents, contiguity and epoch rules, the byte budget (eviction, entries larger
 * than the budget, the buffer bound), truncation and reset, the source decision of a
 * stream (zkv_tail_source), and a randomised comparison with a plain model. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tail.h"

static int put(zkv_tail *t, uint64_t seq, uint64_t epoch, const char *k, const char *v)
{
    return zkv_tail_append(t, seq, epoch, ZKV_LOG_OP_PUT, (const uint8_t *)k, strlen(k),
                           (const uint8_t *)v, strlen(v), 0, NULL);
}

static int is(const zkv_tail *t, uint64_t seq, uint64_t epoch, const char *k, const char *v)
{
    const zkv_tail_entry *e = zkv_tail_at(t, seq);
    return e && e->seq == seq && e->epoch == epoch && e->klen == strlen(k) &&
           memcmp(zkv_tail_key(t, e), k, e->klen) == 0 && e->vlen == strlen(v) &&
           memcmp(zkv_tail_value(t, e), v, e->vlen) == 0;
}

static void test_append_and_read(void)
{
    zkv_tail t;
    zkv_tail_init(&t, 1 << 20);
    CU_ASSERT_EQUAL(zkv_tail_first(&t), 0);
    CU_ASSERT_EQUAL(zkv_tail_last(&t), 0);
    CU_ASSERT_PTR_NULL(zkv_tail_at(&t, 1));
    CU_ASSERT_EQUAL(put(&t, 7, 2, "a", "alpha"), 0); /* an empty tail starts anywhere */
    CU_ASSERT_EQUAL(put(&t, 8, 2, "bb", ""), 0);
    CU_ASSERT_EQUAL(zkv_tail_append(&t, 9, 3, ZKV_LOG_OP_DELETE, (const uint8_t *)"c", 1,
                                    (const uint8_t *)"ignored", 7, 99, NULL),
                    0);
    CU_ASSERT_EQUAL(zkv_tail_append(&t, 10, 3, ZKV_LOG_OP_PUT, (const uint8_t *)"d", 1,
                                    (const uint8_t *)"x", 1, 12345, NULL),
                    0);
    CU_ASSERT_EQUAL(zkv_tail_first(&t), 7);
    CU_ASSERT_EQUAL(zkv_tail_last(&t), 10);
    CU_ASSERT(is(&t, 7, 2, "a", "alpha"));
    CU_ASSERT(is(&t, 8, 2, "bb", ""));
    const zkv_tail_entry *d = zkv_tail_at(&t, 9);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_EQUAL(d->op, ZKV_LOG_OP_DELETE);
    CU_ASSERT_EQUAL(d->vlen, 0); /* a delete carries no value nor expiry */
    CU_ASSERT_EQUAL(d->expiry_ms, 0);
    CU_ASSERT_EQUAL(zkv_tail_at(&t, 10)->expiry_ms, 12345);
    CU_ASSERT_PTR_NULL(zkv_tail_at(&t, 6));
    CU_ASSERT_PTR_NULL(zkv_tail_at(&t, 11));
    zkv_tail_free(&t);
}

static void test_contiguity(void)
{
    zkv_tail t;
    zkv_tail_init(&t, 1 << 20);
    CU_ASSERT_EQUAL(put(&t, 0, 1, "k", "v"), 1); /* seq 0 is no entry */
    zkv_tail_reset(&t, 5);
    CU_ASSERT_EQUAL(put(&t, 4, 1, "k", "v"), 1); /* must start at 5 */
    CU_ASSERT_EQUAL(put(&t, 6, 1, "k", "v"), 1);
    CU_ASSERT_EQUAL(put(&t, 5, 3, "k", "v"), 0);
    CU_ASSERT_EQUAL(put(&t, 7, 3, "k", "v"), 1);  /* a gap */
    CU_ASSERT_EQUAL(put(&t, 5, 3, "k", "v"), 1);  /* a repeat */
    CU_ASSERT_EQUAL(put(&t, 6, 2, "k", "v"), 1);  /* an older epoch */
    CU_ASSERT_EQUAL(put(&t, 6, 4, "k2", "v"), 0); /* a newer one is fine */
    CU_ASSERT_EQUAL(zkv_tail_first(&t), 5);
    CU_ASSERT_EQUAL(zkv_tail_last(&t), 6);
    CU_ASSERT(is(&t, 6, 4, "k2", "v"));
    zkv_tail_free(&t);
}

static void test_budget(void)
{
    char v[200];
    memset(v, 'v', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    size_t cost = 1 + strlen(v) + ZKV_TAIL_ENTRY_COST; /* key "k" */
    zkv_tail t;
    zkv_tail_init(&t, 10 * cost);
    for (uint64_t s = 1; s <= 1000; s++) {
        CU_ASSERT_EQUAL_FATAL(put(&t, s, 1, "k", v), 0);
        CU_ASSERT(t.used <= t.budget);
        CU_ASSERT(t.bcap <= 2 * t.budget);
    }
    CU_ASSERT_EQUAL(zkv_tail_last(&t), 1000);
    CU_ASSERT_EQUAL(zkv_tail_first(&t), 991); /* exactly ten fit */
    for (uint64_t s = 991; s <= 1000; s++)
        CU_ASSERT(is(&t, s, 1, "k", v));
    /* an entry larger than the whole budget empties the tail, which goes on after it */
    char *big = malloc(11 * cost);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, 'b', 11 * cost - 1);
    big[11 * cost - 1] = '\0';
    CU_ASSERT_EQUAL(put(&t, 1001, 1, "k", big), 0);
    CU_ASSERT_EQUAL(zkv_tail_first(&t), 0);
    CU_ASSERT_PTR_NULL(zkv_tail_at(&t, 1001));
    CU_ASSERT_EQUAL(put(&t, 1001, 1, "k", v), 1);
    CU_ASSERT_EQUAL(put(&t, 1002, 1, "k", v), 0);
    CU_ASSERT_EQUAL(zkv_tail_first(&t), 1002);
    free(big);
    zkv_tail_free(&t);
}

static void test_drop_and_reset(void)
{
    zkv_tail t;
    zkv_tail_init(&t, 1 << 20);
    for (uint64_t s = 1; s <= 10; s++)
        CU_ASSERT_EQUAL(put(&t, s, 1, "key", "value"), 0);
    zkv_tail_drop_before(&t, 4);
    CU_ASSERT_EQUAL(zkv_tail_first(&t), 4);
    CU_ASSERT_PTR_NULL(zkv_tail_at(&t, 3));
    CU_ASSERT(is(&t, 4, 1, "key", "value"));
    zkv_tail_drop_before(&t, 100);
    CU_ASSERT_EQUAL(zkv_tail_first(&t), 0);
    CU_ASSERT_EQUAL(put(&t, 11, 1, "k", "v"), 0); /* still expects the next seq */
    zkv_tail_reset(&t, 0);
    CU_ASSERT_EQUAL(zkv_tail_first(&t), 0);
    CU_ASSERT_PTR_NULL(zkv_tail_at(&t, 11));
    CU_ASSERT_EQUAL(put(&t, 3, 1, "k", "v"), 0); /* reset to 0: any start */
    CU_ASSERT_EQUAL(t.used, 2 + ZKV_TAIL_ENTRY_COST);
    zkv_tail_free(&t);
}

static void test_source(void)
{
    /* nothing committed beyond the stream */
    CU_ASSERT_EQUAL(zkv_tail_source(true, 5, 10, 11, 10), ZKV_TAIL_SRC_NONE);
    CU_ASSERT_EQUAL(zkv_tail_source(false, 5, 10, 11, 10), ZKV_TAIL_SRC_NONE);
    /* a tail that may not be used */
    CU_ASSERT_EQUAL(zkv_tail_source(false, 5, 10, 7, 10), ZKV_TAIL_SRC_LOG);
    CU_ASSERT_EQUAL(zkv_tail_source(false, 0, 0, 7, 10), ZKV_TAIL_SRC_LOG);
    /* an empty tail starts at the stream */
    CU_ASSERT_EQUAL(zkv_tail_source(true, 0, 0, 7, 10), ZKV_TAIL_SRC_FILL);
    /* behind the tail: the log */
    CU_ASSERT_EQUAL(zkv_tail_source(true, 5, 10, 4, 12), ZKV_TAIL_SRC_LOG);
    CU_ASSERT_EQUAL(zkv_tail_source(true, 5, 10, 1, 12), ZKV_TAIL_SRC_LOG);
    /* inside */
    CU_ASSERT_EQUAL(zkv_tail_source(true, 5, 10, 5, 12), ZKV_TAIL_SRC_TAIL);
    CU_ASSERT_EQUAL(zkv_tail_source(true, 5, 10, 10, 12), ZKV_TAIL_SRC_TAIL);
    /* at or past the end: the tail grows from its end */
    CU_ASSERT_EQUAL(zkv_tail_source(true, 5, 10, 11, 12), ZKV_TAIL_SRC_FILL);
    CU_ASSERT_EQUAL(zkv_tail_source(true, 5, 10, 12, 12), ZKV_TAIL_SRC_FILL);
}

/* Random appends (sizes across the budget), truncations and resets against a model that
 * keeps every entry; the tail must hold exactly a suffix of the model within its budget. */
typedef struct model_entry {
    uint64_t seq, epoch;
    uint8_t k[40];
    size_t klen;
    uint8_t *v;
    size_t vlen;
} model_entry;

static void test_random_model(void)
{
    enum { N = 20000 };
    model_entry *m = calloc(N + 1, sizeof(*m));
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    zkv_tail t;
    zkv_tail_init(&t, 64 * 1024);
    srand(7);
    uint64_t epoch = 1, lo = 1; /* model entries [lo, seq] may be in the tail */
    for (uint64_t seq = 1; seq <= N; seq++) {
        model_entry *e = &m[seq];
        e->seq = seq;
        if (rand() % 500 == 0)
            epoch++;
        e->epoch = epoch;
        e->klen = (size_t)snprintf((char *)e->k, sizeof(e->k), "key-%d", rand());
        int r = rand() % 100;
        e->vlen = r < 80 ? (size_t)(rand() % 100) : r < 99 ? (size_t)(rand() % 8000) : 70000;
        e->v = malloc(e->vlen ? e->vlen : 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(e->v);
        for (size_t i = 0; i < e->vlen; i++)
            e->v[i] = (uint8_t)(seq * 31 + i);
        CU_ASSERT_EQUAL_FATAL(zkv_tail_append(&t, seq, epoch, ZKV_LOG_OP_PUT, e->k, e->klen, e->v,
                                              e->vlen, seq, NULL),
                              0);
        if (rand() % 1000 == 0) {
            lo = seq - (uint64_t)(rand() % 20);
            zkv_tail_drop_before(&t, lo);
        }
        if (rand() % 5000 == 0) {
            zkv_tail_reset(&t, seq + 1);
            lo = seq + 1;
        }
        CU_ASSERT_FATAL(t.used <= t.budget);
        CU_ASSERT_FATAL(t.bcap <= 2 * t.budget);
        uint64_t first = zkv_tail_first(&t), last = zkv_tail_last(&t);
        if (first == 0)
            continue;
        CU_ASSERT_FATAL(last == seq && first >= lo);
        if (seq % 97 != 0)
            continue;
        for (uint64_t s = first; s <= last; s++) {
            const zkv_tail_entry *te = zkv_tail_at(&t, s);
            const model_entry *me = &m[s];
            CU_ASSERT_FATAL(
                te && te->seq == s && te->epoch == me->epoch && te->expiry_ms == s &&
                te->klen == me->klen && te->vlen == me->vlen &&
                memcmp(zkv_tail_key(&t, te), me->k, me->klen) == 0 &&
                (me->vlen == 0 || memcmp(zkv_tail_value(&t, te), me->v, me->vlen) == 0));
        }
        /* the tail keeps as much as fits: one more older entry would exceed the budget */
        if (first > lo && first > 1) {
            const model_entry *prev = &m[first - 1];
            CU_ASSERT(t.used + prev->klen + prev->vlen + ZKV_TAIL_ENTRY_COST > t.budget);
        }
    }
    for (uint64_t seq = 1; seq <= N; seq++)
        free(m[seq].v);
    free(m);
    zkv_tail_free(&t);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("server_tail", NULL, NULL);
    CU_add_test(s, "append and read back", test_append_and_read);
    CU_add_test(s, "contiguity and epochs", test_contiguity);
    CU_add_test(s, "byte budget", test_budget);
    CU_add_test(s, "truncation and reset", test_drop_and_reset);
    CU_add_test(s, "source of a stream's next frame", test_source);
    CU_add_test(s, "random operations against a model", test_random_model);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
