/* test_api_examples.c: the examples of docs/api.md, as the page shows them (the build
 * takes each from the page), run against a live cluster of two servers and a coordinator.
 *  - counter.c: two copies at once add 100 each to one key by compare-and-set loops; the
 *    key ends at exactly 200.
 *  - listing.c: 250 keys under a prefix (and others around it) listed 40 a page, each page
 *    from the token of the one before: every key of the prefix once, in order.
 *  - sessions.c: a session created with a TTL, found with its time left, renewed, and gone
 *    once nobody uses it. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define WAIT_MS 60000

static zkt_cluster g_cl;
static zkv_client *g_client;

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "examples") != 0)
        return -1;
    g_cl.ranges = 2;
    g_cl.replicas = 2;
    if (it_cluster_up(&g_cl, 2, 10000, 0, &g_client) != 0)
        return -1;
    /* the examples make their clients from the environment */
    setenv("ZKV_ZK", g_cl.zk.connect, 1);
    setenv("ZKV_CLUSTER", g_cl.name, 1);
    return 0;
}

static int suite_cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

static void test_counter(void)
{
    const char *argv[] = {ZKV_EXAMPLE_COUNTER, "visits", "100", NULL};
    pid_t a = zkt_spawn("counter-a", argv, NULL), b = zkt_spawn("counter-b", argv, NULL);
    CU_ASSERT_FATAL(a > 0 && b > 0);
    int sa = -1, sb = -1;
    CU_ASSERT_EQUAL(zkt_proc_wait_exit(a, WAIT_MS, &sa), 0);
    CU_ASSERT_EQUAL(zkt_proc_wait_exit(b, WAIT_MS, &sb), 0);
    CU_ASSERT_EQUAL(zkt_exit_code(sa), 0);
    CU_ASSERT_EQUAL(zkt_exit_code(sb), 0);
    zkv_value *v = NULL;
    CU_ASSERT_EQUAL_FATAL(zkv_get(g_client, "visits", 6, 0, 0, &v), ZKV_OK);
    CU_ASSERT(zkv_value_len(v) == 3 && memcmp(zkv_value_data(v), "200", 3) == 0);
    zkv_value_free(v);
}

static void test_listing(void)
{
    char key[32];
    for (int i = 0; i < 250; i++) {
        snprintf(key, sizeof key, "post:7:%04d", i);
        CU_ASSERT_EQUAL_FATAL(zkv_put(g_client, key, strlen(key), "v", 1, 0, 0, NULL), ZKV_OK);
    }
    CU_ASSERT_EQUAL(zkv_put(g_client, "post:6:9999", 11, "v", 1, 0, 0, NULL), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_put(g_client, "post:8:0000", 11, "v", 1, 0, 0, NULL), ZKV_OK);
    const char *argv[] = {ZKV_EXAMPLE_LISTING, "post:7:", "40", NULL};
    zkt_run_result r;
    CU_ASSERT_FATAL(zkt_run(argv, NULL, 0, WAIT_MS, &r) == 0);
    CU_ASSERT_EQUAL(r.code, 0);
    zkt_log("listing: %s", r.err);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "7 pages"));
    char want[16 * 250 + 1] = "";
    size_t at = 0;
    for (int i = 0; i < 250; i++)
        at += (size_t)snprintf(want + at, sizeof want - at, "post:7:%04d\n", i);
    CU_ASSERT_STRING_EQUAL(r.out, want);
    zkt_run_result_free(&r);
}

static void test_sessions(void)
{
    const char *argv[] = {ZKV_EXAMPLE_SESSIONS, "abc", NULL};
    zkt_run_result r;
    CU_ASSERT_FATAL(zkt_run(argv, NULL, 0, WAIT_MS, &r) == 0);
    zkt_log("sessions: %s", r.out);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "create: ok\nfind: ok"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "renew: ok\nlater: gone\n"));
    zkt_run_result_free(&r);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("api_examples", suite_init, suite_cleanup);
    CU_add_test(s, "counter.c: two copies, one key, compare-and-set", test_counter);
    CU_add_test(s, "listing.c: pages by tokens", test_listing);
    CU_add_test(s, "sessions.c: a session with a TTL", test_sessions);
    return zkt_run_all();
}
