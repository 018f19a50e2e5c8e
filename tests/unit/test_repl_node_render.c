/* Unit tests of repl/node_render.c: the `zkv info` table (sorted rows, estimated and
 * lower-bound key counts, data requests per second, percentiles, nodes that did not
 * answer listed below it), its JSON form, uptimes, the `zkv latency` line and its
 * arguments. */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include "node_render.h"
#include "tokenize.h"

static const char INFO_JSON[] =
    "{\"nodes\":["
    "{\"node\":\"node-2\",\"version\":\"0.1.0\",\"address\":\"127.0.0.1:7002\",\"uptime_s\":3700,"
    "\"serving\":false,\"ranges_owned\":0,\"ranges_replica\":4,\"keys\":2000,\"keys_exact\":false,"
    "\"keys_at_least\":true,\"bytes\":0,\"requests_per_s\":{\"get\":0,\"put\":0,\"delete\":0,"
    "\"scan\":0,\"other\":40,\"total\":40},\"latency_ms\":{\"get\":{\"p50\":null,\"p99\":null},"
    "\"put\":{\"p50\":null,\"p99\":null}},\"rtt_ms\":0.5},"
    "{\"node\":\"node-3\",\"address\":\"127.0.0.1:7003\",\"error\":\"ECONNECT: refused\"},"
    "{\"node\":\"node-1\",\"version\":\"0.1.0\",\"address\":\"127.0.0.1:7001\",\"uptime_s\":59,"
    "\"serving\":true,\"ranges_owned\":4,\"ranges_replica\":0,\"keys\":123456,"
    "\"keys_exact\":false,\"keys_at_least\":false,\"bytes\":2097152,\"requests_per_s\":{\"get\":"
    "100.4,\"put\":20,\"delete\":1,\"scan\":0,\"other\":500,\"total\":621.4},\"latency_ms\":{"
    "\"get\":{\"p50\":0.1,\"p99\":0.25},\"put\":{\"p50\":1,\"p99\":-1}},\"rtt_ms\":0.25}]}";

static void test_info_table(void)
{
    char err[256];
    size_t failed = 99;
    char *out = zkv_repl_info_render(INFO_JSON, false, &failed, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT_EQUAL(failed, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "NODE    ADDRESS"));
    const char *n1 = strstr(out, "\nnode-1"), *n2 = strstr(out, "\nnode-2");
    CU_ASSERT_PTR_NOT_NULL_FATAL(n1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n2);
    CU_ASSERT_TRUE(n1 < n2); /* sorted by node */
    char row1[512], row2[512];
    snprintf(row1, sizeof row1, "%.*s", (int)strcspn(n1 + 1, "\n"), n1 + 1);
    snprintf(row2, sizeof row2, "%.*s", (int)strcspn(n2 + 1, "\n"), n2 + 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(row1, " 59s "));
    CU_ASSERT_PTR_NOT_NULL(strstr(row1, " yes "));
    CU_ASSERT_PTR_NOT_NULL(strstr(row1, " ~123456 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(row1, " 2.0M "));
    CU_ASSERT_PTR_NOT_NULL(strstr(row1, " 121 ")); /* get + put + delete + scan, not other */
    CU_ASSERT_PTR_NOT_NULL(strstr(row1, " 0.1/0.25 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(row1, " 1/slow "));
    CU_ASSERT_PTR_NOT_NULL(strstr(row2, " 1h01m "));
    CU_ASSERT_PTR_NOT_NULL(strstr(row2, " NO "));
    CU_ASSERT_PTR_NOT_NULL(strstr(row2, " >=2000 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(row2, " -/- "));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\nnode-3 (127.0.0.1:7003): ECONNECT: refused\n"));
    CU_ASSERT_PTR_NULL(strstr(out, "\nnode-3  ")); /* not a table row */
    free(out);

    out = zkv_repl_info_render(INFO_JSON, true, &failed, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT_EQUAL(failed, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"keys\":\t123456"));
    free(out);

    CU_ASSERT_PTR_NULL(zkv_repl_info_render("[1,2]", false, &failed, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not the JSON"));
    CU_ASSERT_PTR_NULL(zkv_repl_info_render("{\"nodes\":", false, &failed, err, sizeof err));
}

static void test_uptime(void)
{
    char b[32];
    zkv_repl_uptime_cell(0, b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "0s");
    zkv_repl_uptime_cell(723, b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "12m03s");
    zkv_repl_uptime_cell(5 * 3600 + 7 * 60 + 9, b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "5h07m");
    zkv_repl_uptime_cell(3 * 86400 + 4 * 3600 + 1, b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "3d04h");
    zkv_repl_uptime_cell(-5, b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "0s");
}

static void test_latency_line(void)
{
    zkv_repl_latency l;
    memset(&l, 0, sizeof l);
    char b[256];
    zkv_repl_latency_line(&l, b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "(no samples)");
    l.failed = 2;
    zkv_repl_latency_line(&l, b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "(no samples, 2 failed)");
    l.failed = 0;
    zkv_repl_latency_add(&l, 0.5);
    zkv_repl_latency_add(&l, 0.1);
    zkv_repl_latency_add(&l, 0.3);
    zkv_repl_latency_line(&l, b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "min: 0.10, max: 0.50, avg: 0.30 (3 samples)");
    l.failed = 1;
    zkv_repl_latency_line(&l, b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "min: 0.10, max: 0.50, avg: 0.30 (3 samples, 1 failed)");
}

static int parse(const char *line, zkv_repl_latency_args *la, char *err)
{
    zkv_repl_args a;
    char terr[128];
    CU_ASSERT_EQUAL_FATAL(zkv_repl_tokenize(line, &a, terr, sizeof terr), 0);
    int rc = zkv_repl_latency_args_parse(&a, la, err, 256);
    static char node[64];
    if (rc == 0 && la->node) { /* keep it past the free */
        snprintf(node, sizeof node, "%s", la->node);
        la->node = node;
    }
    zkv_repl_args_free(&a);
    return rc;
}

static void test_latency_args(void)
{
    zkv_repl_latency_args la;
    char err[256];
    CU_ASSERT_EQUAL(parse("latency", &la, err), 0);
    CU_ASSERT_PTR_NULL(la.node);
    CU_ASSERT_EQUAL(la.samples, 0);
    CU_ASSERT_EQUAL(la.history_s, 0);
    CU_ASSERT_EQUAL(parse("latency node-2 --samples 50 --history 15", &la, err), 0);
    CU_ASSERT_STRING_EQUAL(la.node, "node-2");
    CU_ASSERT_EQUAL(la.samples, 50);
    CU_ASSERT_EQUAL(la.history_s, 15);
    CU_ASSERT_EQUAL(parse("latency --samples 0", &la, err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "--samples"));
    CU_ASSERT_EQUAL(parse("latency --samples", &la, err), -1);
    CU_ASSERT_EQUAL(parse("latency --history 1x", &la, err), -1);
    CU_ASSERT_EQUAL(parse("latency --history 86401", &la, err), -1);
    CU_ASSERT_EQUAL(parse("latency a b", &la, err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unexpected argument 'b'"));
    CU_ASSERT_EQUAL(parse("latency --bogus", &la, err), -1);
    CU_ASSERT_EQUAL(parse("latency \"a\\x00b\"", &la, err), -1); /* no NUL in a node id */
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("node_render", NULL, NULL);
    CU_add_test(s, "info: the table, its JSON, nodes that did not answer", test_info_table);
    CU_add_test(s, "uptime cells", test_uptime);
    CU_add_test(s, "latency: the line", test_latency_line);
    CU_add_test(s, "latency: arguments", test_latency_args);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
