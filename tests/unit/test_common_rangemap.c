/* Unit tests of common/rangemap.h: tiling checks (gaps, overlaps, unsorted input, open
 * ends), lookup by key at the edges, node lookup, and range copies. */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include "common/keyrange.h"
#include "common/rangemap.h"

/* Builds a map from boundaries given as escaped strings: ranges[i] = [b[i], b[i+1]). */
static zkv_rangemap *map_from(const char *const *starts, const char *const *ends, size_t n)
{
    zkv_rangemap *m = calloc(1, sizeof *m);
    m->ranges = calloc(n, sizeof *m->ranges);
    m->n_ranges = n;
    for (size_t i = 0; i < n; i++) {
        zkv_range *r = &m->ranges[i];
        snprintf(r->id, sizeof r->id, "r%04zu", i);
        uint8_t s[64], e[64];
        long sl = zkv_key_unescape(starts[i], s);
        long el = zkv_key_unescape(ends[i], e);
        CU_ASSERT_FATAL(sl >= 0 && el >= 0);
        CU_ASSERT_EQUAL_FATAL(zkv_range_set_bounds(r, s, (size_t)sl, e, (size_t)el), 0);
        r->zversion = -1;
    }
    return m;
}

static void test_finish_ok_unsorted(void)
{
    /* given out of order; finish sorts them */
    const char *st[] = {"m", "", "\\xff", "a\\x00"};
    const char *en[] = {"\\xff", "a\\x00", "", "m"};
    zkv_rangemap *m = map_from(st, en, 4);
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(zkv_rangemap_finish(m, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(m->ranges[0].id, "r0001");
    CU_ASSERT_STRING_EQUAL(m->ranges[1].id, "r0003");
    CU_ASSERT_STRING_EQUAL(m->ranges[2].id, "r0000");
    CU_ASSERT_STRING_EQUAL(m->ranges[3].id, "r0002");

    const zkv_range *r;
    r = zkv_rangemap_find(m, NULL, 0); /* the empty key */
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(r->id, "r0001");
    r = zkv_rangemap_find(m, (const uint8_t *)"a", 1);
    CU_ASSERT_STRING_EQUAL(r->id, "r0001");
    r = zkv_rangemap_find(m, (const uint8_t *)"a\x00", 2); /* exactly a start */
    CU_ASSERT_STRING_EQUAL(r->id, "r0003");
    r = zkv_rangemap_find(m, (const uint8_t *)"l\xff\xff", 3);
    CU_ASSERT_STRING_EQUAL(r->id, "r0003");
    r = zkv_rangemap_find(m, (const uint8_t *)"m", 1);
    CU_ASSERT_STRING_EQUAL(r->id, "r0000");
    r = zkv_rangemap_find(m, (const uint8_t *)"\xfe\xff\xff", 3);
    CU_ASSERT_STRING_EQUAL(r->id, "r0000");
    r = zkv_rangemap_find(m, (const uint8_t *)"\xff", 1);
    CU_ASSERT_STRING_EQUAL(r->id, "r0002");
    r = zkv_rangemap_find(m, (const uint8_t *)"\xff\xff\xff\xff", 4);
    CU_ASSERT_STRING_EQUAL(r->id, "r0002");
    /* the range of the keys just below a reverse scan's upper bound */
    r = zkv_rangemap_find_before(m, NULL, 0); /* +infinity */
    CU_ASSERT_STRING_EQUAL(r->id, "r0002");
    r = zkv_rangemap_find_before(m, (const uint8_t *)"m", 1); /* a start: the range before */
    CU_ASSERT_STRING_EQUAL(r->id, "r0003");
    r = zkv_rangemap_find_before(m, (const uint8_t *)"m\x00", 2);
    CU_ASSERT_STRING_EQUAL(r->id, "r0000");
    r = zkv_rangemap_find_before(m, (const uint8_t *)"a\x00", 2);
    CU_ASSERT_STRING_EQUAL(r->id, "r0001");
    r = zkv_rangemap_find_before(m, (const uint8_t *)"\x00", 1); /* only "" below: r0001 */
    CU_ASSERT_STRING_EQUAL(r->id, "r0001");
    zkv_rangemap_free(m);
}

static void test_finish_single(void)
{
    const char *st[] = {""};
    const char *en[] = {""};
    zkv_rangemap *m = map_from(st, en, 1);
    char err[256];
    CU_ASSERT_EQUAL(zkv_rangemap_finish(m, err, sizeof err), 0);
    CU_ASSERT_PTR_EQUAL(zkv_rangemap_find(m, (const uint8_t *)"\x00", 1), &m->ranges[0]);
    CU_ASSERT_PTR_EQUAL(zkv_rangemap_find(m, NULL, 0), &m->ranges[0]);
    zkv_rangemap_free(m);
}

static void expect_bad(const char *const *st, const char *const *en, size_t n, const char *needle1,
                       const char *needle2)
{
    zkv_rangemap *m = map_from(st, en, n);
    char err[256] = "";
    CU_ASSERT_EQUAL(zkv_rangemap_finish(m, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, needle1));
    if (needle2)
        CU_ASSERT_PTR_NOT_NULL(strstr(err, needle2));
    zkv_rangemap_free(m);
}

static void test_finish_errors(void)
{
    { /* gap between r0000 and r0001 */
        const char *st[] = {"", "n"};
        const char *en[] = {"m", ""};
        expect_bad(st, en, 2, "r0000", "gap");
    }
    { /* overlap */
        const char *st[] = {"", "m"};
        const char *en[] = {"n", ""};
        expect_bad(st, en, 2, "r0001", "overlap");
    }
    { /* does not start at the lowest key */
        const char *st[] = {"a", "m"};
        const char *en[] = {"m", ""};
        expect_bad(st, en, 2, "r0000", NULL);
    }
    { /* does not reach the end */
        const char *st[] = {"", "m"};
        const char *en[] = {"m", "z"};
        expect_bad(st, en, 2, "r0001", NULL);
    }
    { /* two unbounded-start ranges */
        const char *st[] = {"", ""};
        const char *en[] = {"", "m"};
        expect_bad(st, en, 2, "r000", NULL);
    }
    { /* an empty range in the middle */
        const char *st[] = {"", "m", "m"};
        const char *en[] = {"m", "m", ""};
        expect_bad(st, en, 3, "r000", NULL);
    }
    /* no ranges at all */
    zkv_rangemap *m = calloc(1, sizeof *m);
    char err[128] = "";
    CU_ASSERT_EQUAL(zkv_rangemap_finish(m, err, sizeof err), -1);
    CU_ASSERT(strlen(err) > 0);
    CU_ASSERT_PTR_NULL(zkv_rangemap_find(m, (const uint8_t *)"a", 1));
    zkv_rangemap_free(m);
    zkv_rangemap_free(NULL);
}

static void test_find_with_split_boundaries(void)
{
    /* the layout the coordinator creates: 8 even ranges by the first two bytes */
    const unsigned n = 8;
    zkv_rangemap *m = calloc(1, sizeof *m);
    m->ranges = calloc(n, sizeof *m->ranges);
    m->n_ranges = n;
    for (unsigned i = 0; i < n; i++) {
        uint8_t s[2], e[2];
        size_t sl = zkv_split_boundary(i, n, s), el = zkv_split_boundary(i + 1, n, e);
        snprintf(m->ranges[n - 1 - i].id, ZKV_ID_MAX, "r%04u", i);
        CU_ASSERT_EQUAL_FATAL(zkv_range_set_bounds(&m->ranges[n - 1 - i], s, sl, e, el), 0);
    }
    char err[256];
    CU_ASSERT_EQUAL_FATAL(zkv_rangemap_finish(m, err, sizeof err), 0);
    for (unsigned b = 0; b < 256; b++) {
        uint8_t key[3] = {(uint8_t)b, 0xff, 0x00};
        const zkv_range *r = zkv_rangemap_find(m, key, sizeof key);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        char want[8];
        snprintf(want, sizeof want, "r%04u", b / 32);
        CU_ASSERT_STRING_EQUAL(r->id, want);
        CU_ASSERT_TRUE(zkv_range_contains(r->start, r->start_len, r->end, r->end_len, key, 3));
    }
    /* one-byte key "\x20" sorts before boundary "\x20\x00": still in r0000 */
    const zkv_range *r = zkv_rangemap_find(m, (const uint8_t *)"\x20", 1);
    CU_ASSERT_STRING_EQUAL(r->id, "r0000");
    zkv_rangemap_free(m);
}

static void test_nodes_and_membership(void)
{
    zkv_rangemap m = {0};
    zkv_node_info nodes[3] = {{.id = "node-c"}, {.id = "node-a"}, {.id = "node-b"}};
    strcpy(nodes[1].addr, "127.0.0.1:7401");
    m.nodes = nodes;
    m.n_nodes = 3;
    zkv_range r = {0};
    strcpy(r.id, "r0");
    r.start = NULL;
    m.ranges = &r;
    m.n_ranges = 1;
    char err[128];
    CU_ASSERT_EQUAL(zkv_rangemap_finish(&m, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(m.nodes[0].id, "node-a");
    CU_ASSERT_STRING_EQUAL(m.nodes[2].id, "node-c");
    const zkv_node_info *ni = zkv_rangemap_node(&m, "node-a");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ni);
    CU_ASSERT_STRING_EQUAL(ni->addr, "127.0.0.1:7401");
    CU_ASSERT_PTR_NOT_NULL(zkv_rangemap_node(&m, "node-b"));
    CU_ASSERT_PTR_NOT_NULL(zkv_rangemap_node(&m, "node-c"));
    CU_ASSERT_PTR_NULL(zkv_rangemap_node(&m, "node-d"));
    CU_ASSERT_PTR_NULL(zkv_rangemap_node(&m, ""));

    strcpy(r.owner, "node-a");
    strcpy(r.replicas[0], "node-b");
    strcpy(r.replicas[1], "node-c");
    r.n_replicas = 2;
    strcpy(r.in_sync[0], "node-c");
    r.n_in_sync = 1;
    CU_ASSERT_TRUE(zkv_range_is_replica(&r, "node-b"));
    CU_ASSERT_TRUE(zkv_range_is_replica(&r, "node-c"));
    CU_ASSERT_FALSE(zkv_range_is_replica(&r, "node-a"));
    CU_ASSERT_FALSE(zkv_range_is_replica(&r, ""));
    CU_ASSERT_TRUE(zkv_range_is_in_sync(&r, "node-c"));
    CU_ASSERT_FALSE(zkv_range_is_in_sync(&r, "node-b"));
    CU_ASSERT_FALSE(zkv_range_is_in_sync(&r, "node-a"));
}

static void test_copy_and_bounds(void)
{
    zkv_range a = {0};
    strcpy(a.id, "r7");
    strcpy(a.owner, "n1");
    a.epoch = 4;
    a.zversion = 2;
    CU_ASSERT_EQUAL(zkv_range_set_bounds(&a, (const uint8_t *)"\x00\x01", 2, NULL, 0), 0);
    /* replacing the bounds frees the old ones (ASan would report a leak) */
    CU_ASSERT_EQUAL(zkv_range_set_bounds(&a, (const uint8_t *)"b", 1, (const uint8_t *)"\xff", 1),
                    0);
    zkv_range b;
    CU_ASSERT_EQUAL_FATAL(zkv_range_copy(&b, &a), 0);
    CU_ASSERT_PTR_NOT_EQUAL(b.start, a.start);
    CU_ASSERT_EQUAL(b.start_len, 1);
    CU_ASSERT_EQUAL(b.start[0], 'b');
    CU_ASSERT_EQUAL(b.end_len, 1);
    CU_ASSERT_EQUAL(b.end[0], 0xff);
    CU_ASSERT_STRING_EQUAL(b.owner, "n1");
    CU_ASSERT_EQUAL(b.epoch, 4);
    CU_ASSERT_EQUAL(b.zversion, 2);
    zkv_range_clear(&a);
    CU_ASSERT_PTR_NULL(a.start);
    CU_ASSERT_EQUAL(a.epoch, 0);
    CU_ASSERT_EQUAL(b.start[0], 'b'); /* independent of a */
    zkv_range_clear(&b);
    zkv_range_clear(NULL);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("common_rangemap", NULL, NULL);
    CU_add_test(s, "finish_ok_unsorted", test_finish_ok_unsorted);
    CU_add_test(s, "finish_single", test_finish_single);
    CU_add_test(s, "finish_errors", test_finish_errors);
    CU_add_test(s, "find_with_split_boundaries", test_find_with_split_boundaries);
    CU_add_test(s, "nodes_and_membership", test_nodes_and_membership);
    CU_add_test(s, "copy_and_bounds", test_copy_and_bounds);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
