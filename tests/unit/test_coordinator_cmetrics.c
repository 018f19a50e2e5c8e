/* Unit tests of coordinator/cmetrics.c: the cluster summary of a map (ranges without an
 * owner or with an unregistered one, under-replicated ranges, replicas out of sync, live
 * nodes, operations by kind and failed ones), the text of a leader and of a standby, and
 * the status page. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmetrics.h"

/* 4 ranges, R = 3: r0 owned by n1 with both replicas in sync; r1 by n1 with one of two in
 * sync; r2 owned by n9 (not registered); r3 without owner. Live: n1, n2, n3. */
static zkv_rangemap *test_map(void)
{
    zkv_rangemap *m = calloc(1, sizeof *m);
    m->version = 42;
    m->n_ranges = 4;
    m->ranges = calloc(4, sizeof *m->ranges);
    for (int i = 0; i < 4; i++)
        snprintf(m->ranges[i].id, sizeof m->ranges[i].id, "r%d", i);
    const char *owners[] = {"n1", "n1", "n9", ""};
    for (int i = 0; i < 4; i++) {
        zkv_range *r = &m->ranges[i];
        snprintf(r->owner, sizeof r->owner, "%s", owners[i]);
        r->n_replicas = 2;
        snprintf(r->replicas[0], sizeof r->replicas[0], "n2");
        snprintf(r->replicas[1], sizeof r->replicas[1], "n3");
    }
    strcpy(m->ranges[0].in_sync[0], "n2");
    strcpy(m->ranges[0].in_sync[1], "n3");
    m->ranges[0].n_in_sync = 2;
    strcpy(m->ranges[1].in_sync[0], "n2");
    m->ranges[1].n_in_sync = 1;
    strcpy(m->ranges[2].in_sync[0], "n2");
    strcpy(m->ranges[2].in_sync[1], "n3");
    m->ranges[2].n_in_sync = 2;
    m->n_nodes = 3;
    m->nodes = calloc(3, sizeof *m->nodes);
    for (int i = 0; i < 3; i++) {
        snprintf(m->nodes[i].id, sizeof m->nodes[i].id, "n%d", i + 1);
        snprintf(m->nodes[i].addr, sizeof m->nodes[i].addr, "127.0.0.1:%d", 7401 + i);
    }
    return m;
}

static void test_summary(void)
{
    zkv_rangemap *m = test_map();
    zkv_op ops[3];
    memset(ops, 0, sizeof ops);
    ops[0].kind = ZKV_OP_SPLIT;
    strcpy(ops[0].step, "start");
    ops[1].kind = ZKV_OP_MOVE;
    strcpy(ops[1].step, "catch-up");
    ops[2].kind = ZKV_OP_MOVE;
    strcpy(ops[2].step, "failed");
    const zkv_op *v[3] = {&ops[0], &ops[1], &ops[2]};
    zkv_cluster_summary s;
    zkv_cmetrics_summarize(m, 3, v, 3, &s);
    CU_ASSERT_TRUE(s.valid);
    CU_ASSERT_EQUAL(s.map_version, 42);
    CU_ASSERT_EQUAL(s.ranges, 4);
    CU_ASSERT_EQUAL(s.nodes_live, 3);
    CU_ASSERT_EQUAL(s.ranges_no_owner, 2);         /* r2 (n9 not live), r3 */
    CU_ASSERT_EQUAL(s.ranges_under_replicated, 2); /* r1 (2 of 3 in sync), r3 (no owner) */
    CU_ASSERT_EQUAL(s.replicas_out_of_sync, 3);    /* r1's n3, r3's two */
    CU_ASSERT_EQUAL(s.ops[ZKV_OP_SPLIT], 1);
    CU_ASSERT_EQUAL(s.ops[ZKV_OP_MOVE], 1);
    CU_ASSERT_EQUAL(s.ops_failed, 1);
    zkv_rangemap_free(m);
}

static char *render(const zkv_cmetrics *m, bool status)
{
    zkv_buf b;
    zkv_buf_init(&b);
    CU_ASSERT_EQUAL_FATAL(status ? zkv_cmetrics_status(m, &b) : zkv_cmetrics_render(m, &b), 0);
    CU_ASSERT_EQUAL_FATAL(zkv_buf_append(&b, "", 1), 0);
    return (char *)b.data;
}

static void test_text(void)
{
    zkv_rangemap *map = test_map();
    zkv_cmetrics m = {
        .id = "coord-\"a\"",
        .version = "0.1.0",
        .cluster = "prod",
        .zk_connected = true,
        .leader = true,
        .process = {.cpu_us = 2500000, .rss_bytes = 4096, .start_time_ms = 1700000000250}};
    zkv_cmetrics_summarize(map, 3, NULL, 0, &m.cluster_now);
    char *t = render(&m, false);
    CU_ASSERT_PTR_NOT_NULL(strstr(
        t, "zkv_coordinator_info{id=\"coord-\\\"a\\\"\",version=\"0.1.0\",cluster=\"prod\"} 1\n"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(t, "# TYPE zkv_coordinator_leader gauge\nzkv_coordinator_leader 1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "\nzkv_cluster_map_version 42\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "\nzkv_cluster_ranges_without_owner 2\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "\nzkv_cluster_operations{kind=\"set-replicas\"} 0\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "\nprocess_cpu_seconds_total 2.500000\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "\nprocess_start_time_seconds 1700000000.250\n"));
    free(t);
    /* a standby: itself only */
    m.leader = false;
    t = render(&m, false);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "\nzkv_coordinator_leader 0\n"));
    CU_ASSERT_PTR_NULL(strstr(t, "zkv_cluster_"));
    free(t);
    t = render(&m, true);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "<title>zkv-coordinator coord-&quot;a&quot;</title>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "standby"));
    free(t);
    m.leader = true;
    t = render(&m, true);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "ranges without owner</th><td class=\"bad\">2"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "<th>map version</th><td>42</td>"));
    free(t);
    zkv_rangemap_free(map);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("coordinator_cmetrics", NULL, NULL);
    CU_add_test(s, "the cluster summary", test_summary);
    CU_add_test(s, "/metrics and /status", test_text);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
