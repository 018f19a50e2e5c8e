/* test_scan.c: scans (docs/api.md, "Scans") on three servers and a coordinator, 8 ranges,
 * 2 copies each, over 600 keys whose first bytes walk every byte value (NUL and 0xFF
 * included) and 50 keys under the prefix "user:42:".
 *  - Paged by tokens, 37 keys a page, forward and reverse: every key once, in order.
 *  - A prefix: exactly its keys, both ways; keys only: no values.
 *  - Bounds: start and end with a limit, reverse between two keys.
 *  - Tokens across changes of shape: after the first page the range holding the middle key
 *    is split, and the scan goes on from its token to the end with every key once; the
 *    same in reverse while the two halves are merged back.
 *  - The async client: a reverse scan with a prefix through libuv. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "it_admin.h"
#include "it_common.h"
#include "zkt/zkt.h"
#include "it_uv.h"
#include "zkv/zkv.h"
#include "zkv/zkv_async.h"

#define N_KEYS 600
#define N_USER 50
#define PAGE 37
#define WAIT_MS 60000

static zkt_cluster g_cl;
static zkv_client *g_client;

/* Every key put, sorted ascending. */
typedef struct key {
    uint8_t b[IT_KEY_MAX];
    size_t len;
} key;
static key g_keys[N_KEYS + N_USER];
static size_t g_n;

static int key_order(const void *a, const void *b)
{
    const key *x = a, *y = b;
    int c = memcmp(x->b, y->b, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "scan") != 0)
        return -1;
    g_cl.ranges = 8;
    g_cl.replicas = 2;
    if (it_cluster_up(&g_cl, 3, 10000, 0, &g_client) != 0)
        return -1;
    for (int i = 0; i < N_KEYS; i++) {
        key *k = &g_keys[g_n++];
        k->len = it_key(i, k->b);
        if (zkv_put(g_client, k->b, k->len, k->b, k->len, 0, 0, NULL) != ZKV_OK)
            return -1;
    }
    for (int i = 0; i < N_USER; i++) {
        key *k = &g_keys[g_n++];
        k->len = (size_t)snprintf((char *)k->b, sizeof k->b, "user:42:%03d", i);
        if (zkv_put(g_client, k->b, k->len, "v", 1, 0, 0, NULL) != ZKV_OK)
            return -1;
    }
    qsort(g_keys, g_n, sizeof g_keys[0], key_order);
    return 0;
}

static int suite_cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

/* Scans all of a (its token ignored) page by page with tokens, `between` run after the
 * first page; checks the keys against want[0..n) (reversed when a->reverse). */
static void scan_all(zkv_scan_args a, const key *want, size_t n, void (*between)(void))
{
    size_t got = 0, pages = 0;
    uint8_t token[2 * IT_KEY_MAX + 64];
    size_t tlen = 0;
    a.limit = PAGE;
    for (;;) {
        if (tlen) {
            a.token = token;
            a.tlen = tlen;
        }
        zkv_scan *s = NULL;
        int rc = zkv_scan_run(g_client, &a, 10000, 0, &s);
        if (rc != ZKV_OK)
            zkt_log("scan page %zu: %s: %s", pages + 1, zkv_strerror(rc), zkv_last_error());
        CU_ASSERT_EQUAL_FATAL(rc, ZKV_OK);
        pages++;
        for (size_t i = 0; i < zkv_scan_count(s); i++, got++) {
            size_t kl = 0, vl = 0;
            const void *k = zkv_scan_key(s, i, &kl);
            zkv_scan_value(s, i, &vl);
            const key *w = got < n ? &want[a.reverse ? n - 1 - got : got] : NULL;
            CU_ASSERT_FATAL(w != NULL);
            CU_ASSERT(kl == w->len && memcmp(k, w->b, kl) == 0);
            if (a.keys_only)
                CU_ASSERT_EQUAL(vl, 0);
        }
        size_t len = 0;
        const void *t = zkv_scan_token(s, &len);
        CU_ASSERT_EQUAL(t != NULL, zkv_scan_more(s) != 0);
        CU_ASSERT_FATAL(len <= sizeof token);
        if (t)
            memcpy(token, t, len);
        tlen = t ? len : 0;
        zkv_scan_free(s);
        if (!tlen)
            break;
        if (pages == 1 && between)
            between();
    }
    zkt_log("scan %s%s: %zu keys in %zu pages", a.reverse ? "reverse" : "forward",
            a.plen ? " with a prefix" : "", got, pages);
    CU_ASSERT_EQUAL(got, n);
}

static void test_forward_and_reverse(void)
{
    zkv_scan_args a = {0};
    scan_all(a, g_keys, g_n, NULL);
    a.reverse = 1;
    scan_all(a, g_keys, g_n, NULL);
    a.keys_only = 1;
    scan_all(a, g_keys, g_n, NULL);
}

static void test_prefix_and_bounds(void)
{
    size_t first = 0;
    while (first < g_n && memcmp(g_keys[first].b, "user:42:", 8) != 0)
        first++;
    CU_ASSERT_FATAL(first + N_USER <= g_n);
    zkv_scan_args a = {.prefix = "user:42:", .plen = 8};
    scan_all(a, &g_keys[first], N_USER, NULL);
    a.reverse = 1;
    scan_all(a, &g_keys[first], N_USER, NULL);
    /* start and end inside the prefix: [user:42:010, user:42:020) */
    zkv_scan_args b = {.start = "user:42:010", .slen = 11, .end = "user:42:020", .elen = 11};
    scan_all(b, &g_keys[first + 10], 10, NULL);
    b.reverse = 1;
    scan_all(b, &g_keys[first + 10], 10, NULL);
    /* a limit alone: the first keys, more set, in either order */
    zkv_scan *s = NULL;
    zkv_scan_args c = {.limit = 5, .reverse = 1};
    CU_ASSERT_EQUAL_FATAL(zkv_scan_run(g_client, &c, 0, 0, &s), ZKV_OK);
    size_t kl;
    const void *k = zkv_scan_key(s, 0, &kl);
    CU_ASSERT(zkv_scan_count(s) == 5 && zkv_scan_more(s) && kl == g_keys[g_n - 1].len &&
              memcmp(k, g_keys[g_n - 1].b, kl) == 0);
    zkv_scan_free(s);
    /* a token that is not one */
    zkv_scan_args bad = {.token = "nope", .tlen = 4};
    CU_ASSERT_EQUAL(zkv_scan_run(g_client, &bad, 0, 0, &s), ZKV_EINVAL);
}

/* --- across changes of the map --------------------------------------------------------- */

/* The id of the range holding the middle key (into id). */
static void middle_range(char *id, size_t n)
{
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    const key *mid = &g_keys[g_n / 2];
    int pick = -1;
    for (int i = 0; i < m->n_ranges && pick < 0; i++) {
        const zkt_map_range *r = &m->ranges[i];
        key s = {.len = r->start_len}, e = {.len = r->end_len};
        memcpy(s.b, r->start, r->start_len);
        memcpy(e.b, r->end, r->end_len);
        if ((s.len == 0 || key_order(&s, mid) <= 0) && (e.len == 0 || key_order(mid, &e) < 0))
            pick = i;
    }
    CU_ASSERT_FATAL(pick >= 0);
    snprintf(id, n, "%s", m->ranges[pick].id);
    zkt_map_free(m);
}

/* Splits or merges (with its right neighbour) the range of the middle key, and waits. */
static void reshape_middle(const char *kind)
{
    char range[64], id[64];
    middle_range(range, sizeof range);
    CU_ASSERT_FATAL(it_admin_submit(g_client, kind, range, NULL, id, sizeof id));
    CU_ASSERT(it_wait_op(g_client, id, WAIT_MS));
}

static void split_middle(void)
{
    reshape_middle("split");
}

static void merge_middle(void)
{
    reshape_middle("merge");
}

static void test_tokens_across_split_and_merge(void)
{
    zkv_scan_args a = {0};
    scan_all(a, g_keys, g_n, split_middle); /* the split lands between two pages */
    a.reverse = 1;
    scan_all(a, g_keys, g_n, merge_middle);
}

/* --- the async client ------------------------------------------------------------------- */

typedef struct async_scan {
    int status;
    zkv_scan *s;
    bool done;
} async_scan;

static void on_scan(zkv_async *a, int status, zkv_scan *s, void *priv)
{
    (void)a;
    async_scan *r = priv;
    r->status = status;
    r->s = s;
    r->done = true;
}

static void test_async(void)
{
    it_uv u;
    CU_ASSERT_FATAL(it_uv_open(&u, g_client) == ZKV_OK);
    zkv_async *a = u.a;
    async_scan r = {0};
    zkv_scan_args args = {.prefix = "user:42:", .plen = 8, .reverse = 1, .limit = 20};
    CU_ASSERT_EQUAL_FATAL(zkv_async_scan_run(a, &args, 0, on_scan, &r), ZKV_OK);
    it_uv_run_until(&u, &r.done);
    CU_ASSERT_FATAL(r.done && r.status == ZKV_OK);
    CU_ASSERT_EQUAL(zkv_scan_count(r.s), 20);
    size_t kl;
    const void *k = zkv_scan_key(r.s, 0, &kl);
    CU_ASSERT(kl == 11 && memcmp(k, "user:42:049", 11) == 0);
    k = zkv_scan_key(r.s, 19, &kl);
    CU_ASSERT(kl == 11 && memcmp(k, "user:42:030", 11) == 0);
    CU_ASSERT(zkv_scan_token(r.s, NULL) != NULL);
    zkv_scan_free(r.s);
    it_uv_close(&u);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("scan", suite_init, suite_cleanup);
    CU_add_test(s, "forward, reverse and keys only, paged by tokens", test_forward_and_reverse);
    CU_add_test(s, "a prefix, bounds, a limit, a bad token", test_prefix_and_bounds);
    CU_add_test(s, "tokens across a split and a merge", test_tokens_across_split_and_merge);
    CU_add_test(s, "the async client: reverse with a prefix", test_async);
    return zkt_run_all();
}
