/* test_server_rowcache.c: server/rowcache.c, the GET row cache: put/get/replace of records
 * and "known missing" marks, invalidation, clear, the hash (spread over buckets, one-bit
 * changes), the memory budget (never exceeded, too-large entries refused, budget 0),
 * CLOCK eviction (entries hit since the hand passed survive), pinned entries outliving
 * invalidation, eviction, clear and the cache itself, and a randomized model check against
 * a plain array (exact with a large budget; with a small one every hit must match the
 * model and the counters must match what the cache holds). */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rowcache.h"

static const uint8_t *u8(const char *s)
{
    return (const uint8_t *)s;
}

/* 1 when key is cached with exactly rec (rec NULL: a missing mark), 0 when not cached,
 * -1 when cached with something else. */
static int has(zkv_rowcache *c, const char *key, const char *rec)
{
    zkv_rowcache_entry *e = zkv_rowcache_get(c, u8(key), strlen(key));
    if (!e)
        return 0;
    size_t rlen;
    const uint8_t *r = zkv_rowcache_entry_record(e, &rlen);
    if (!rec)
        return zkv_rowcache_entry_missing(e) && !r && rlen == 0 ? 1 : -1;
    if (zkv_rowcache_entry_missing(e) || rlen != strlen(rec) || memcmp(r, rec, rlen) != 0)
        return -1;
    return 1;
}

static int put(zkv_rowcache *c, const char *key, const char *rec)
{
    return zkv_rowcache_put(c, u8(key), strlen(key), u8(rec), strlen(rec));
}

static void test_basic(void)
{
    zkv_rowcache *c = zkv_rowcache_create(1 << 20);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(has(c, "a", "1"), 0);
    CU_ASSERT_EQUAL(put(c, "a", "1"), 0);
    CU_ASSERT_EQUAL(put(c, "b", "22"), 0);
    CU_ASSERT_EQUAL(zkv_rowcache_put_missing(c, u8("m"), 1), 0);
    CU_ASSERT_EQUAL(zkv_rowcache_put(c, NULL, 0, u8("empty key"), 9), 0);
    CU_ASSERT_EQUAL(put(c, "z", ""), 0); /* an empty record is not a missing mark */
    CU_ASSERT_EQUAL(has(c, "a", "1"), 1);
    CU_ASSERT_EQUAL(has(c, "b", "22"), 1);
    CU_ASSERT_EQUAL(has(c, "m", NULL), 1);
    CU_ASSERT_EQUAL(has(c, "", "empty key"), 1);
    CU_ASSERT_EQUAL(has(c, "z", ""), 1);
    CU_ASSERT_EQUAL(has(c, "ab", "1"), 0);
    /* binary keys that differ only after a NUL */
    CU_ASSERT_EQUAL(zkv_rowcache_put(c, u8("k\0x"), 3, u8("X"), 1), 0);
    CU_ASSERT_EQUAL(zkv_rowcache_put(c, u8("k\0y"), 3, u8("Y"), 1), 0);
    size_t rl;
    zkv_rowcache_entry *e = zkv_rowcache_get(c, u8("k\0y"), 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(zkv_rowcache_entry_record(e, &rl)[0], 'Y');
    /* replace: record -> missing -> record */
    CU_ASSERT_EQUAL(zkv_rowcache_put_missing(c, u8("a"), 1), 0);
    CU_ASSERT_EQUAL(has(c, "a", NULL), 1);
    CU_ASSERT_EQUAL(put(c, "a", "333"), 0);
    CU_ASSERT_EQUAL(has(c, "a", "333"), 1);
    zkv_rowcache_stats st;
    zkv_rowcache_stats_get(c, &st);
    CU_ASSERT_EQUAL(st.entries, 7);
    size_t want = 7 * ZKV_ROWCACHE_ENTRY_OVERHEAD + (1 + 3) + (1 + 2) + 1 + 9 + 1 + 2 * (3 + 1);
    CU_ASSERT_EQUAL(st.bytes, want);
    CU_ASSERT_EQUAL(st.budget, 1 << 20);
    CU_ASSERT_EQUAL(st.evictions, 0);
    /* invalidate */
    zkv_rowcache_invalidate(c, u8("a"), 1);
    zkv_rowcache_invalidate(c, u8("nope"), 4);
    CU_ASSERT_EQUAL(has(c, "a", "333"), 0);
    CU_ASSERT_EQUAL(has(c, "b", "22"), 1);
    zkv_rowcache_invalidate(c, u8("m"), 1);
    CU_ASSERT_EQUAL(has(c, "m", NULL), 0);
    zkv_rowcache_stats_get(c, &st);
    CU_ASSERT_EQUAL(st.invalidations, 2);
    CU_ASSERT_EQUAL(st.entries, 5);
    CU_ASSERT(st.hits > 0 && st.misses > 0);
    /* clear */
    zkv_rowcache_clear(c);
    CU_ASSERT_EQUAL(has(c, "b", "22"), 0);
    CU_ASSERT_EQUAL(has(c, "", "empty key"), 0);
    zkv_rowcache_stats_get(c, &st);
    CU_ASSERT_EQUAL(st.entries, 0);
    CU_ASSERT_EQUAL(st.bytes, 0);
    CU_ASSERT_EQUAL(st.clears, 1);
    CU_ASSERT_EQUAL(put(c, "b", "4"), 0);
    CU_ASSERT_EQUAL(has(c, "b", "4"), 1);
    zkv_rowcache_free(c);
    zkv_rowcache_free(NULL);
}

static void test_hash(void)
{
    /* 100,000 bench-like keys over 1024 buckets: each near 98 (a fair hash stays well
     * within 60..140), and one flipped input bit changes about half the output bits. */
    enum { N = 100000, B = 1024 };
    static unsigned buckets[B];
    memset(buckets, 0, sizeof(buckets));
    char k[32];
    for (int i = 0; i < N; i++) {
        int n = snprintf(k, sizeof(k), "key:%012d", i);
        buckets[zkv_rowcache_hash(u8(k), (size_t)n) & (B - 1)]++;
    }
    unsigned lo = N, hi = 0;
    for (int i = 0; i < B; i++) {
        lo = buckets[i] < lo ? buckets[i] : lo;
        hi = buckets[i] > hi ? buckets[i] : hi;
    }
    CU_ASSERT(lo >= 55);
    CU_ASSERT(hi <= 145);
    uint8_t key[24];
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i * 37 + 1);
    double total = 0;
    int trials = 0;
    for (size_t len = 1; len <= sizeof(key); len++) {
        uint64_t h0 = zkv_rowcache_hash(key, len);
        CU_ASSERT_NOT_EQUAL(h0, zkv_rowcache_hash(key, len - 1)); /* length matters */
        for (size_t bit = 0; bit < len * 8; bit++) {
            key[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            total += __builtin_popcountll(h0 ^ zkv_rowcache_hash(key, len));
            key[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            trials++;
        }
    }
    double avg = total / trials;
    CU_ASSERT(avg > 30.0 && avg < 34.0);
    /* trailing zero bytes are not ignored */
    CU_ASSERT_NOT_EQUAL(zkv_rowcache_hash(u8("a\0"), 2), zkv_rowcache_hash(u8("a"), 1));
}

static void test_budget(void)
{
    /* 0: nothing is kept */
    zkv_rowcache *c = zkv_rowcache_create(0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(put(c, "a", "1"), 1);
    CU_ASSERT_EQUAL(zkv_rowcache_put_missing(c, u8("a"), 1), 1);
    CU_ASSERT_EQUAL(has(c, "a", "1"), 0);
    zkv_rowcache_free(c);

    size_t budget = 64 * 1024;
    c = zkv_rowcache_create(budget);
    /* larger than 1/8 of the budget: refused, and an old entry of the key is dropped */
    static char big[8192];
    memset(big, 'x', sizeof(big) - 1);
    CU_ASSERT_EQUAL(put(c, "big", "small"), 0);
    CU_ASSERT_EQUAL(put(c, "big", big), 1);
    CU_ASSERT_EQUAL(has(c, "big", "small"), 0);
    /* many entries of mixed sizes: the charge never exceeds the budget */
    char k[32], v[600];
    zkv_rowcache_stats st;
    for (int i = 0; i < 20000; i++) {
        int kl = snprintf(k, sizeof(k), "k%d", i);
        size_t vl = (size_t)(i * 7919) % sizeof(v);
        memset(v, 'a' + i % 26, vl);
        int rc = i % 5 == 0 ? zkv_rowcache_put_missing(c, u8(k), (size_t)kl)
                            : zkv_rowcache_put(c, u8(k), (size_t)kl, u8(v), vl);
        CU_ASSERT_EQUAL(rc, 0);
        zkv_rowcache_stats_get(c, &st);
        CU_ASSERT(st.bytes <= budget);
        if (st.bytes > budget)
            break;
    }
    CU_ASSERT(st.evictions > 0);
    CU_ASSERT(st.bytes > budget / 2); /* and it is used */
    CU_ASSERT_EQUAL(st.inserts, 20000 + 1);
    CU_ASSERT_EQUAL(st.entries + st.evictions, 20000);
    /* the newest entry is there */
    zkv_rowcache_entry *e = zkv_rowcache_get(c, u8(k), strlen(k));
    CU_ASSERT_PTR_NOT_NULL(e);
    zkv_rowcache_free(c);
}

static void test_clock(void)
{
    /* room for exactly 100 entries of this size */
    size_t charge = ZKV_ROWCACHE_ENTRY_OVERHEAD + 6 + 4;
    zkv_rowcache *c = zkv_rowcache_create(100 * charge);
    char k[16];
    for (int i = 0; i < 100; i++) {
        snprintf(k, sizeof(k), "k%05d", i);
        CU_ASSERT_EQUAL(put(c, k, "vvvv"), 0);
    }
    zkv_rowcache_stats st;
    zkv_rowcache_stats_get(c, &st);
    CU_ASSERT_EQUAL(st.entries, 100);
    CU_ASSERT_EQUAL(st.evictions, 0);
    /* hit the even ones: the next 50 insertions evict only odd ones */
    for (int i = 0; i < 100; i += 2) {
        snprintf(k, sizeof(k), "k%05d", i);
        CU_ASSERT_EQUAL(has(c, k, "vvvv"), 1);
    }
    for (int i = 100; i < 150; i++) {
        snprintf(k, sizeof(k), "k%05d", i);
        CU_ASSERT_EQUAL(put(c, k, "vvvv"), 0);
    }
    zkv_rowcache_stats_get(c, &st);
    CU_ASSERT_EQUAL(st.entries, 100);
    CU_ASSERT_EQUAL(st.evictions, 50);
    int even = 0, odd = 0, fresh = 0;
    for (int i = 0; i < 150; i++) {
        snprintf(k, sizeof(k), "k%05d", i);
        if (has(c, k, "vvvv") == 1)
            *(i >= 100 ? &fresh : i % 2 ? &odd : &even) += 1;
    }
    CU_ASSERT_EQUAL(even, 50);
    CU_ASSERT_EQUAL(odd, 0);
    CU_ASSERT_EQUAL(fresh, 50);
    /* an all-referenced ring still makes room (one turn of the hand) */
    CU_ASSERT_EQUAL(put(c, "k99999", "vvvv"), 0);
    zkv_rowcache_stats_get(c, &st);
    CU_ASSERT_EQUAL(st.entries, 100);
    zkv_rowcache_free(c);
}

static void check_entry(zkv_rowcache_entry *e, const char *rec);

static void test_overwrite_in_place(void)
{
    zkv_rowcache *c = zkv_rowcache_create(1 << 20);
    CU_ASSERT_EQUAL(put(c, "k", "aaaa"), 0);
    zkv_rowcache_entry *e = zkv_rowcache_get(c, u8("k"), 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    /* same size, not pinned: the same entry, new bytes */
    CU_ASSERT_EQUAL(put(c, "k", "bbbb"), 0);
    CU_ASSERT_PTR_EQUAL(zkv_rowcache_get(c, u8("k"), 1), e);
    check_entry(e, "bbbb");
    /* another size: a new entry */
    CU_ASSERT_EQUAL(put(c, "k", "ccccc"), 0);
    e = zkv_rowcache_get(c, u8("k"), 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    check_entry(e, "ccccc");
    /* pinned: a reader keeps its bytes, the cache gets a new entry */
    zkv_rowcache_pin(e);
    CU_ASSERT_EQUAL(put(c, "k", "ddddd"), 0);
    zkv_rowcache_entry *f = zkv_rowcache_get(c, u8("k"), 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT(f != e);
    check_entry(f, "ddddd");
    check_entry(e, "ccccc");
    zkv_rowcache_unpin(e);
    /* a missing mark over a missing mark, then a record of length 0 over it */
    CU_ASSERT_EQUAL(zkv_rowcache_put_missing(c, u8("m"), 1), 0);
    CU_ASSERT_EQUAL(zkv_rowcache_put_missing(c, u8("m"), 1), 0);
    zkv_rowcache_entry *m = zkv_rowcache_get(c, u8("m"), 1);
    CU_ASSERT(m && zkv_rowcache_entry_missing(m));
    CU_ASSERT_EQUAL(zkv_rowcache_put(c, u8("m"), 1, u8(""), 0), 0);
    m = zkv_rowcache_get(c, u8("m"), 1);
    CU_ASSERT(m && !zkv_rowcache_entry_missing(m));
    zkv_rowcache_stats st;
    zkv_rowcache_stats_get(c, &st);
    CU_ASSERT_EQUAL(st.entries, 2);
    zkv_rowcache_free(c);
}

static void check_entry(zkv_rowcache_entry *e, const char *rec)
{
    size_t rl;
    const uint8_t *r = zkv_rowcache_entry_record(e, &rl);
    CU_ASSERT_EQUAL(rl, strlen(rec));
    CU_ASSERT(r && memcmp(r, rec, rl) == 0);
}

static void test_pins(void)
{
    size_t charge = ZKV_ROWCACHE_ENTRY_OVERHEAD + 2 + 5;
    zkv_rowcache *c = zkv_rowcache_create(10 * charge);
    CU_ASSERT_EQUAL(put(c, "k1", "val-1"), 0);
    CU_ASSERT_EQUAL(put(c, "k2", "val-2"), 0);
    CU_ASSERT_EQUAL(put(c, "k3", "val-3"), 0);
    CU_ASSERT_EQUAL(put(c, "k4", "val-4"), 0);
    zkv_rowcache_entry *e1 = zkv_rowcache_get(c, u8("k1"), 2);
    zkv_rowcache_entry *e2 = zkv_rowcache_get(c, u8("k2"), 2);
    zkv_rowcache_entry *e3 = zkv_rowcache_get(c, u8("k3"), 2);
    zkv_rowcache_entry *e4 = zkv_rowcache_get(c, u8("k4"), 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e4);
    zkv_rowcache_pin(e1);
    zkv_rowcache_pin(e2);
    zkv_rowcache_pin(e2); /* twice */
    zkv_rowcache_pin(e3);
    /* dropped by invalidation, replacement and eviction: still readable (ASan checks) */
    zkv_rowcache_invalidate(c, u8("k1"), 2);
    CU_ASSERT_EQUAL(put(c, "k2", "new-2"), 0);
    char k[8];
    for (int i = 0; i < 40; i++) {
        snprintf(k, sizeof(k), "x%d", i % 10);
        put(c, k, "xxxxx");
    }
    CU_ASSERT_EQUAL(has(c, "k1", "val-1"), 0);
    CU_ASSERT_EQUAL(has(c, "k2", "new-2"), 0); /* evicted by now */
    check_entry(e1, "val-1");
    check_entry(e2, "val-2");
    check_entry(e3, "val-3");
    zkv_rowcache_stats st;
    zkv_rowcache_stats_get(c, &st);
    CU_ASSERT(st.bytes <= 10 * charge); /* unlinked pinned entries are not charged */
    zkv_rowcache_unpin(e1);             /* freed here */
    zkv_rowcache_unpin(e2);
    check_entry(e2, "val-2");
    zkv_rowcache_unpin(e2);
    /* a pinned entry still in the cache, then clear and free of the cache */
    CU_ASSERT_EQUAL(put(c, "k5", "val-5"), 0);
    zkv_rowcache_entry *e5 = zkv_rowcache_get(c, u8("k5"), 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e5);
    zkv_rowcache_pin(e5);
    zkv_rowcache_clear(c);
    check_entry(e5, "val-5");
    CU_ASSERT_EQUAL(put(c, "k6", "val-6"), 0);
    zkv_rowcache_entry *e6 = zkv_rowcache_get(c, u8("k6"), 2);
    zkv_rowcache_pin(e6);
    zkv_rowcache_pin(e6);
    zkv_rowcache_unpin(e6); /* still in the cache and pinned once */
    zkv_rowcache_free(c);
    check_entry(e3, "val-3");
    check_entry(e6, "val-6");
    zkv_rowcache_unpin(e3);
    zkv_rowcache_unpin(e5);
    zkv_rowcache_unpin(e6);
    (void)e4;
}

/* ---- randomized model check ---- */

enum { MK = 300, MAXV = 40 };

typedef struct model {
    int state[MK]; /* 0 absent, 1 record, 2 missing mark */
    uint8_t rec[MK][MAXV];
    size_t rlen[MK];
} model;

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t key_of(int i, char *k, size_t cap)
{
    /* varied lengths, some sharing long prefixes */
    return (size_t)snprintf(k, cap, i % 3 ? "key:%08d" : "a-much-longer-key-prefix/%d/end", i);
}

/* Checks the whole cache against the model; returns the number of cached keys. */
static size_t check_model(zkv_rowcache *c, const model *m, bool exact)
{
    char k[64];
    size_t cached = 0;
    for (int i = 0; i < MK; i++) {
        size_t kl = key_of(i, k, sizeof(k));
        zkv_rowcache_entry *e = zkv_rowcache_get(c, u8(k), kl);
        if (!e) {
            if (exact)
                CU_ASSERT_EQUAL(m->state[i], 0);
            continue;
        }
        cached++;
        size_t rl;
        const uint8_t *r = zkv_rowcache_entry_record(e, &rl);
        CU_ASSERT_NOT_EQUAL(m->state[i], 0); /* never something the model dropped */
        if (m->state[i] == 2)
            CU_ASSERT(zkv_rowcache_entry_missing(e));
        if (m->state[i] == 1)
            CU_ASSERT(!zkv_rowcache_entry_missing(e) && rl == m->rlen[i] &&
                      (rl == 0 || memcmp(r, m->rec[i], rl) == 0));
    }
    return cached;
}

static void run_model(size_t budget, bool exact, uint64_t seed, int ops)
{
    rng_state = seed;
    zkv_rowcache *c = zkv_rowcache_create(budget);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    static model m;
    memset(&m, 0, sizeof(m));
    char k[64];
    zkv_rowcache_entry *pinned = NULL;
    uint8_t pinned_rec[MAXV];
    size_t pinned_len = 0;
    for (int op = 0; op < ops; op++) {
        int i = (int)(rnd() % MK);
        size_t kl = key_of(i, k, sizeof(k));
        unsigned what = (unsigned)(rnd() % 100);
        if (what < 35) { /* put */
            size_t rl = (size_t)(rnd() % MAXV);
            for (size_t j = 0; j < rl; j++)
                m.rec[i][j] = (uint8_t)rnd();
            m.rlen[i] = rl;
            int rc = zkv_rowcache_put(c, u8(k), kl, m.rec[i], rl);
            CU_ASSERT_EQUAL(rc, 0);
            m.state[i] = rc == 0 ? 1 : 0;
        } else if (what < 45) { /* missing mark */
            int rc = zkv_rowcache_put_missing(c, u8(k), kl);
            CU_ASSERT_EQUAL(rc, 0);
            m.state[i] = rc == 0 ? 2 : 0;
        } else if (what < 60) { /* invalidate */
            zkv_rowcache_invalidate(c, u8(k), kl);
            m.state[i] = 0;
        } else if (what < 61 && rnd() % 4 == 0) { /* clear, rarely */
            zkv_rowcache_clear(c);
            memset(m.state, 0, sizeof(m.state));
        } else { /* get; sometimes keep the entry pinned a while */
            zkv_rowcache_entry *e = zkv_rowcache_get(c, u8(k), kl);
            if (exact)
                CU_ASSERT_EQUAL(e != NULL, m.state[i] != 0);
            if (e) {
                CU_ASSERT_NOT_EQUAL(m.state[i], 0);
                CU_ASSERT_EQUAL(zkv_rowcache_entry_missing(e), m.state[i] == 2);
                size_t rl;
                const uint8_t *r = zkv_rowcache_entry_record(e, &rl);
                if (m.state[i] == 1)
                    CU_ASSERT(rl == m.rlen[i] && (rl == 0 || memcmp(r, m.rec[i], rl) == 0));
                if (!pinned && m.state[i] == 1 && rnd() % 8 == 0) {
                    zkv_rowcache_pin(e);
                    pinned = e;
                    memcpy(pinned_rec, r, rl);
                    pinned_len = rl;
                }
            }
        }
        if (pinned && rnd() % 16 == 0) {
            size_t rl;
            const uint8_t *r = zkv_rowcache_entry_record(pinned, &rl);
            CU_ASSERT(rl == pinned_len && (rl == 0 || memcmp(r, pinned_rec, rl) == 0));
            zkv_rowcache_unpin(pinned);
            pinned = NULL;
        }
        if (op % 97 == 0) {
            zkv_rowcache_stats st;
            zkv_rowcache_stats_get(c, &st);
            CU_ASSERT(st.bytes <= budget);
            size_t cached = check_model(c, &m, exact);
            CU_ASSERT_EQUAL(cached, st.entries);
        }
    }
    zkv_rowcache_stats st;
    zkv_rowcache_stats_get(c, &st);
    CU_ASSERT(exact ? st.evictions == 0 : st.evictions > 0);
    zkv_rowcache_free(c);
    if (pinned)
        zkv_rowcache_unpin(pinned);
}

static void test_model(void)
{
    /* large budget: the cache is exactly the model */
    run_model((size_t)1 << 20, true, 0x9e3779b97f4a7c15ull, 60000);
    /* small budgets: evictions; every hit still matches the model */
    run_model(40 * (ZKV_ROWCACHE_ENTRY_OVERHEAD + 64), false, 12345, 60000);
    run_model(12 * (ZKV_ROWCACHE_ENTRY_OVERHEAD + 64), false, 777, 60000);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("server_rowcache", NULL, NULL);
    CU_add_test(s, "put, get, missing marks, invalidate, clear", test_basic);
    CU_add_test(s, "hash spread and bit changes", test_hash);
    CU_add_test(s, "memory budget", test_budget);
    CU_add_test(s, "CLOCK eviction gives hit entries a second chance", test_clock);
    CU_add_test(s, "pinned entries outlive drops and the cache", test_pins);
    CU_add_test(s, "overwrites of the same size in place, unless pinned", test_overwrite_in_place);
    CU_add_test(s, "randomized model check", test_model);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
