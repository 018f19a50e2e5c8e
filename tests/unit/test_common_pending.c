/* Unit tests of common/pending.h, the FIFO of requests in flight on one connection: a
 * record per push, zeroed but for its id; in-order pops (an answer for any id but the
 * head's is refused, nothing changes); records copied out intact; growth while the ring
 * wraps, with records of the async client's shape and of a larger one; at/head bounds;
 * emptying in order as a lost connection does, and clear keeping the ring. */
#include <CUnit/Basic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/pending.h"

/* The async client's record (client/src/async_int.h). */
typedef struct rec {
    uint64_t id;
    void *item;
} rec;

/* A bigger one, as the shipper's links keep (id first, then the owner's fields). */
typedef struct big {
    uint64_t id;
    uint64_t sent_ms;
    uint32_t what;
    char name[13];
} big;

static void test_ids_and_order(void)
{
    zkv_pending q;
    zkv_pending_init(&q, sizeof(rec));
    CU_ASSERT_EQUAL(zkv_pending_count(&q), 0);
    CU_ASSERT_PTR_NULL(zkv_pending_head(&q));
    CU_ASSERT_EQUAL(zkv_pending_pop(&q, 1, NULL), -1); /* empty */
    int items[3];
    for (int i = 0; i < 3; i++) {
        rec *r = zkv_pending_push(&q, (uint64_t)i + 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        if (!r)
            return; /* (the assertion has returned already; for the analysers) */
        CU_ASSERT_EQUAL(r->id, (uint64_t)i + 1);
        CU_ASSERT_PTR_NULL(r->item); /* zeroed */
        r->item = &items[i];
    }
    CU_ASSERT_EQUAL(zkv_pending_count(&q), 3);
    rec out = {.id = 77, .item = NULL};
    CU_ASSERT_EQUAL(zkv_pending_pop(&q, 2, &out), -1); /* not the head: out of order */
    CU_ASSERT_EQUAL(zkv_pending_pop(&q, 9, &out), -1); /* unknown */
    CU_ASSERT_EQUAL(out.id, 77);                       /* untouched */
    CU_ASSERT_EQUAL(zkv_pending_count(&q), 3);
    CU_ASSERT_EQUAL(((rec *)zkv_pending_head(&q))->id, 1);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(zkv_pending_pop(&q, (uint64_t)i + 1, &out), 0);
        CU_ASSERT_EQUAL(out.id, (uint64_t)i + 1);
        CU_ASSERT_PTR_EQUAL(out.item, &items[i]);
    }
    CU_ASSERT_EQUAL(zkv_pending_count(&q), 0);
    CU_ASSERT_EQUAL(zkv_pending_pop(&q, 4, &out), -1); /* empty */
    zkv_pending_free(&q);
    zkv_pending_free(&q);                            /* twice is harmless */
    CU_ASSERT_PTR_NOT_NULL(zkv_pending_push(&q, 5)); /* and usable again */
    CU_ASSERT_EQUAL(zkv_pending_pop(&q, 5, NULL), 0);
    zkv_pending_free(&q);
}

/* Ids are the caller's (the shipper's links share one counter): any increasing ones, and
 * a reused slot comes back zeroed. */
static void test_caller_ids_zeroed_slots(void)
{
    zkv_pending q;
    zkv_pending_init(&q, sizeof(big));
    uint64_t ids[] = {10, 12, 15, 40};
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < 4; i++) {
            big *b = zkv_pending_push(&q, ids[i] + (uint64_t)round * 100);
            CU_ASSERT_PTR_NOT_NULL_FATAL(b);
            if (!b)
                return; /* (the assertion has returned already; for the analysers) */
            CU_ASSERT(b->sent_ms == 0 && b->what == 0 && b->name[0] == '\0' && b->name[12] == '\0');
            b->sent_ms = 999;
            b->what = 0xdeadbeef;
            memset(b->name, 'x', sizeof b->name);
        }
        for (size_t i = 0; i < 4; i++)
            CU_ASSERT_EQUAL(zkv_pending_pop(&q, ids[i] + (uint64_t)round * 100, NULL), 0);
    }
    zkv_pending_free(&q);
}

/* The smallest record: the id alone. */
static void test_id_only(void)
{
    zkv_pending q;
    zkv_pending_init(&q, sizeof(uint64_t));
    for (uint64_t id = 1; id <= 100; id++)
        CU_ASSERT_PTR_NOT_NULL_FATAL(zkv_pending_push(&q, id));
    uint64_t out = 0;
    for (uint64_t id = 1; id <= 100; id++) {
        CU_ASSERT_EQUAL(zkv_pending_pop(&q, id, &out), 0);
        CU_ASSERT_EQUAL(out, id);
    }
    zkv_pending_free(&q);
}

/* Pushes and pops interleaved so the ring wraps before it grows; every record keeps its
 * fields, and at(k) walks them from the head. */
static void test_wrap_and_grow(void)
{
    zkv_pending q;
    zkv_pending_init(&q, sizeof(big));
    uint64_t next_pop = 1, pushed = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 70 + round * 2 && pushed < 5000; i++) {
            pushed++;
            big *b = zkv_pending_push(&q, pushed);
            CU_ASSERT_PTR_NOT_NULL_FATAL(b);
            if (!b)
                return; /* (the assertion has returned already; for the analysers) */
            b->sent_ms = pushed * 3;
            b->what = (uint32_t)pushed;
            snprintf(b->name, sizeof b->name, "r%llu", (unsigned long long)pushed);
        }
        for (int i = 0; i < 60 && zkv_pending_count(&q) > 0; i++) {
            big out;
            CU_ASSERT_EQUAL_FATAL(zkv_pending_pop(&q, next_pop, &out), 0);
            char name[sizeof out.name];
            snprintf(name, sizeof name, "r%llu", (unsigned long long)next_pop);
            CU_ASSERT(out.id == next_pop && out.sent_ms == next_pop * 3 &&
                      out.what == (uint32_t)next_pop && strcmp(out.name, name) == 0);
            next_pop++;
        }
        size_t n = zkv_pending_count(&q);
        CU_ASSERT_EQUAL(n, pushed - (next_pop - 1));
        for (size_t k = 0; k < n; k++) {
            const big *b = zkv_pending_at(&q, k);
            CU_ASSERT(b->id == next_pop + k && b->what == (uint32_t)(next_pop + k));
        }
        CU_ASSERT_PTR_NULL(zkv_pending_at(&q, n));
        CU_ASSERT_PTR_EQUAL(zkv_pending_head(&q), n ? zkv_pending_at(&q, 0) : NULL);
    }
    zkv_pending_free(&q);
}

/* A record popped into the caller's copy stays valid while the answer's handling pushes
 * more (the ring grows and moves). */
static void test_copy_out_survives_growth(void)
{
    zkv_pending q;
    zkv_pending_init(&q, sizeof(rec));
    int item;
    rec *r = zkv_pending_push(&q, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    if (!r)
        return; /* (the assertion has returned already; for the analysers) */
    r->item = &item;
    rec out;
    CU_ASSERT_EQUAL(zkv_pending_pop(&q, 1, &out), 0);
    for (uint64_t id = 2; id < 1000; id++)
        CU_ASSERT_PTR_NOT_NULL_FATAL(zkv_pending_push(&q, id));
    CU_ASSERT(out.id == 1 && out.item == &item);
    CU_ASSERT_EQUAL(((rec *)zkv_pending_head(&q))->id, 2);
    zkv_pending_free(&q);
}

/* A lost connection: every record in order, then empty; clear keeps the ring usable. */
static void test_empty_in_order_and_clear(void)
{
    zkv_pending q;
    zkv_pending_init(&q, sizeof(rec));
    int items[5];
    for (int i = 0; i < 5; i++) {
        rec *r = zkv_pending_push(&q, (uint64_t)i + 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        if (!r)
            return; /* (the assertion has returned already; for the analysers) */
        r->item = &items[i];
    }
    CU_ASSERT_EQUAL(zkv_pending_pop(&q, 1, NULL), 0);
    int n = 0;
    for (const rec *h; (h = zkv_pending_head(&q)) != NULL; n++) {
        rec out;
        CU_ASSERT_EQUAL_FATAL(zkv_pending_pop(&q, h->id, &out), 0);
        CU_ASSERT(out.id == (uint64_t)n + 2 && out.item == &items[n + 1]);
    }
    CU_ASSERT_EQUAL(n, 4);
    for (uint64_t id = 6; id < 50; id++)
        CU_ASSERT_PTR_NOT_NULL_FATAL(zkv_pending_push(&q, id));
    zkv_pending_clear(&q);
    CU_ASSERT_EQUAL(zkv_pending_count(&q), 0);
    CU_ASSERT_PTR_NULL(zkv_pending_head(&q));
    CU_ASSERT_EQUAL(zkv_pending_pop(&q, 6, NULL), -1);
    rec *r = zkv_pending_push(&q, 50);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    if (!r)
        return; /* (the assertion has returned already; for the analysers) */
    CU_ASSERT_PTR_NULL(r->item);
    CU_ASSERT_EQUAL(zkv_pending_pop(&q, 50, NULL), 0);
    zkv_pending_free(&q);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("common_pending", NULL, NULL);
    CU_add_test(s, "in-order pops, other ids refused", test_ids_and_order);
    CU_add_test(s, "caller's ids, slots zeroed", test_caller_ids_zeroed_slots);
    CU_add_test(s, "records of the id alone", test_id_only);
    CU_add_test(s, "ring wraps and grows", test_wrap_and_grow);
    CU_add_test(s, "a copied-out record survives growth", test_copy_out_survives_growth);
    CU_add_test(s, "emptied in order; clear", test_empty_in_order_and_clear);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
