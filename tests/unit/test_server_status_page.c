/* Unit tests of server/status_page.c and the latency quantiles it shows: the page of a
 * serving node and of a fenced one, its ranges and replicas, HTML escaping of what comes
 * from outside (node ids), and quantiles from the histogram's buckets. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "status_page.h"

static void test_quantiles(void)
{
    zkv_latency l;
    memset(&l, 0, sizeof l);
    CU_ASSERT_EQUAL(zkv_metrics_quantile_us(&l, ZKV_MOP_GET, 0.99), 0);
    for (int i = 0; i < 98; i++)
        zkv_metrics_observe(&l, ZKV_MOP_GET, 80);  /* le 100 us */
    zkv_metrics_observe(&l, ZKV_MOP_GET, 20000);   /* le 25 ms */
    zkv_metrics_observe(&l, ZKV_MOP_GET, 9000000); /* past 5 s */
    CU_ASSERT_EQUAL(zkv_metrics_quantile_us(&l, ZKV_MOP_GET, 0.5), 100);
    CU_ASSERT_EQUAL(zkv_metrics_quantile_us(&l, ZKV_MOP_GET, 0.98), 100);
    CU_ASSERT_EQUAL(zkv_metrics_quantile_us(&l, ZKV_MOP_GET, 0.99), 25000);
    CU_ASSERT_EQUAL(zkv_metrics_quantile_us(&l, ZKV_MOP_GET, 1.0), UINT64_MAX);
    CU_ASSERT_EQUAL(zkv_metrics_quantile_us(&l, ZKV_MOP_PUT, 0.5), 0);
    CU_ASSERT_STRING_EQUAL(zkv_metrics_op_name(ZKV_MOP_SCAN), "scan");
}

static const char *page(const zkv_metrics_snapshot *s, zkv_buf *b)
{
    zkv_buf_init(b);
    CU_ASSERT_EQUAL_FATAL(zkv_status_page_render(s, b), 0);
    CU_ASSERT_EQUAL_FATAL(zkv_buf_append(b, "", 1), 0);
    return (const char *)b->data;
}

static void test_page(void)
{
    zkv_metrics_snapshot s;
    memset(&s, 0, sizeof s);
    s.node_id = "node-<1>";
    s.version = "0.1.0";
    s.zk_session_ok = true;
    s.conns_open = 3;
    s.conns_max = 10000;
    s.c.requests[ZKV_MOP_PUT][ZKV_MST_OK] = 7;
    zkv_metrics_observe(&s.c.latency, ZKV_MOP_PUT, 1800);
    zkv_metrics_range *r = zkv_metrics_add_range(&s);
    CU_ASSERT_FATAL(r != NULL);
    snprintf(r->id, sizeof r->id, "r0001");
    r->epoch = 3;
    r->committed_seq = 100;
    r->commit_point = 98;
    r->n_replicas = 2;
    snprintf(r->replicas[0].node_id, sizeof r->replicas[0].node_id, "node-2");
    r->replicas[0].in_sync = true;
    r->replicas[0].lag_entries = 2;
    snprintf(r->replicas[1].node_id, sizeof r->replicas[1].node_id, "node-\"3\"");
    r->replicas[1].lag_entries = 40;
    zkv_buf b;
    const char *html = page(&s, &b);
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<!DOCTYPE html>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<title>zkv-server node-&lt;1&gt;</title>"));
    CU_ASSERT_PTR_NULL(strstr(html, "node-<1>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "yes: ZooKeeper session confirmed"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<td>put</td><td>7</td><td>2.5 ms</td><td>2.5 ms</td>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<td>r0001</td><td>3</td><td>100</td><td>98</td>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "node-2 in sync (2)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "node-&quot;3&quot; out of sync (40)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "</body></html>\n"));
    zkv_buf_free(&b);
    s.zk_session_ok = false;
    html = page(&s, &b);
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "class=\"bad\">no: fenced"));
    zkv_buf_free(&b);
    zkv_metrics_snapshot_free(&s);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("server_status_page", NULL, NULL);
    CU_add_test(s, "latency quantiles", test_quantiles);
    CU_add_test(s, "the page", test_page);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
