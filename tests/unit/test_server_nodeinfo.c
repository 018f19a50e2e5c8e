/* Unit tests of server/nodeinfo.c, the INFO answer: rates and percentiles over the ring's
 * window (and none before a second has passed), key counts counted, estimated from a
 * sample or a lower bound, totals over ranges, and the JSON's fields. */
#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "nodeinfo.h"

static double get_num(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b)
        x = cJSON_GetObjectItemCaseSensitive(x, b);
    return cJSON_IsNumber(x) ? x->valuedouble : -12345;
}

static void test_key_count(void)
{
    zkv_key_count k = zkv_nodeinfo_key_count(120, true, 0, 0);
    CU_ASSERT_EQUAL(k.keys, 120);
    CU_ASSERT_TRUE(k.exact);
    CU_ASSERT_FALSE(k.at_least);
    /* 2,000 keys in the first 1 MB of a 10 MB range: about 20,000 */
    k = zkv_nodeinfo_key_count(2000, false, 1000000, 10000000);
    CU_ASSERT_EQUAL(k.keys, 20000);
    CU_ASSERT_FALSE(k.exact);
    CU_ASSERT_FALSE(k.at_least);
    /* sizes that say nothing (the memory table): a lower bound */
    k = zkv_nodeinfo_key_count(2000, false, 0, 0);
    CU_ASSERT_EQUAL(k.keys, 2000);
    CU_ASSERT_TRUE(k.at_least);
    k = zkv_nodeinfo_key_count(2000, false, 5000, 4000); /* range smaller than its sample */
    CU_ASSERT_TRUE(k.at_least);
    zkv_key_count total = {.exact = true};
    zkv_key_count_add(&total, zkv_nodeinfo_key_count(10, true, 0, 0));
    CU_ASSERT_TRUE(total.exact);
    zkv_key_count_add(&total, zkv_nodeinfo_key_count(2000, false, 1, 3));
    CU_ASSERT_EQUAL(total.keys, 6010);
    CU_ASSERT_FALSE(total.exact);
    CU_ASSERT_FALSE(total.at_least);
    zkv_key_count_add(&total, zkv_nodeinfo_key_count(5, false, 0, 0));
    CU_ASSERT_TRUE(total.at_least);
}

static cJSON *render(const zkv_nodeinfo *ni, const zkv_nodeinfo_ring *r, uint64_t now)
{
    char *text = zkv_nodeinfo_render(ni, r, now);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    cJSON *doc = cJSON_Parse(text);
    free(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    return doc;
}

static void test_window(void)
{
    static zkv_nodeinfo_ring ring;
    memset(&ring, 0, sizeof ring);
    zkv_nodeinfo ni;
    memset(&ni, 0, sizeof ni);
    ni.node_id = "node-1";
    ni.version = "0.1.0";
    ni.address = "127.0.0.1:7001";
    ni.serving = true;
    ni.has_map = true;
    ni.owned = 3;
    ni.replica_of = 5;
    ni.keys = (zkv_key_count){.keys = 42, .exact = true};
    ni.uptime_ms = 61500;

    /* before any sample: no rates, no percentiles */
    cJSON *doc = render(&ni, &ring, 1000);
    CU_ASSERT_EQUAL(get_num(doc, "window_s", NULL), 0);
    CU_ASSERT_EQUAL(get_num(doc, "requests_per_s", "get"), 0);
    CU_ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "latency_ms"),
                                         "get"),
        "p99")));
    CU_ASSERT_EQUAL(get_num(doc, "uptime_s", NULL), 61);
    CU_ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "serving")));
    CU_ASSERT_EQUAL(get_num(doc, "keys", NULL), 42);
    CU_ASSERT_EQUAL(get_num(doc, "ranges_replica", NULL), 5);
    cJSON_Delete(doc);

    /* 1,000 GETs before the window, then 20 s of 100 GETs a second at 80 us, and 10 PUTs a
     * second of which the last second's take 20 ms */
    for (int i = 0; i < 1000; i++) {
        ni.counters.requests[ZKV_MOP_GET][ZKV_MST_OK]++;
        zkv_metrics_observe(&ni.counters.latency, ZKV_MOP_GET, 3000000);
    }
    uint64_t t = 10000;
    for (int sec = 0; sec <= 20; sec++, t += 1000) {
        zkv_nodeinfo_tick(&ring, &ni.counters, t);
        for (int i = 0; i < 100; i++) {
            ni.counters.requests[ZKV_MOP_GET][i % 10 ? ZKV_MST_OK : ZKV_MST_NOT_FOUND]++;
            zkv_metrics_observe(&ni.counters.latency, ZKV_MOP_GET, 80);
        }
        for (int i = 0; i < 10; i++) {
            ni.counters.requests[ZKV_MOP_PUT][ZKV_MST_OK]++;
            zkv_metrics_observe(&ni.counters.latency, ZKV_MOP_PUT, sec == 20 ? 20000 : 400);
        }
    }
    /* now = the last tick + 1 s: the window starts at the oldest sample kept, 10 s back */
    doc = render(&ni, &ring, t);
    CU_ASSERT_DOUBLE_EQUAL(get_num(doc, "window_s", NULL), 11.0, 0.001);
    CU_ASSERT_DOUBLE_EQUAL(get_num(doc, "requests_per_s", "get"), 100.0, 0.001);
    CU_ASSERT_DOUBLE_EQUAL(get_num(doc, "requests_per_s", "put"), 10.0, 0.001);
    CU_ASSERT_DOUBLE_EQUAL(get_num(doc, "requests_per_s", "total"), 110.0, 0.001);
    CU_ASSERT_EQUAL(get_num(doc, "requests_total", NULL), 1000 + 21 * 110);
    const cJSON *lat = cJSON_GetObjectItemCaseSensitive(doc, "latency_ms");
    /* the slow GETs before the window do not count */
    CU_ASSERT_DOUBLE_EQUAL(get_num(lat, "get", "p999"), 0.1, 0.0001);
    CU_ASSERT_DOUBLE_EQUAL(get_num(lat, "put", "p50"), 0.5, 0.0001);
    CU_ASSERT_DOUBLE_EQUAL(get_num(lat, "put", "p99"), 25.0, 0.0001);
    CU_ASSERT_TRUE(cJSON_IsNull(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(lat, "scan"), "p50")));
    cJSON_Delete(doc);

    /* a node asked long after its last sample (a stalled timer) reports no window */
    doc = render(&ni, &ring, t + 60000);
    CU_ASSERT_EQUAL(get_num(doc, "window_s", NULL), 0);
    cJSON_Delete(doc);

    /* a fenced node, or one without a map, does not serve */
    ni.has_map = false;
    doc = render(&ni, &ring, t);
    CU_ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(doc, "serving")));
    cJSON_Delete(doc);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("nodeinfo", NULL, NULL);
    CU_add_test(s, "key counts: counted, estimated, lower bounds, totals", test_key_count);
    CU_add_test(s, "rates and percentiles over the window", test_window);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
