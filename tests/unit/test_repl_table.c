/* test_repl_table.c: column widths from content, alignment, no trailing blanks; and the
 * ranges/nodes views rendered from a zkv_describe document, with the SEQ and LAG columns
 * of replication. */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "describe_render.h"
#include "table.h"

static void test_widths(void)
{
    const char *h[] = {"ID", "NAME", "N"};
    zkv_repl_table *t = zkv_repl_table_create(3, h);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    if (!t)
        return;
    const char *r1[] = {"a", "longer-name", "7"};
    const char *r2[] = {"abcd", "x", "1234"};
    CU_ASSERT_EQUAL(zkv_repl_table_add_row(t, r1), 0);
    CU_ASSERT_EQUAL(zkv_repl_table_add_row(t, r2), 0);
    CU_ASSERT_EQUAL(zkv_repl_table_rows(t), 2);
    CU_ASSERT_EQUAL(zkv_repl_table_width(t, 0), 4);
    CU_ASSERT_EQUAL(zkv_repl_table_width(t, 1), 11);
    CU_ASSERT_EQUAL(zkv_repl_table_width(t, 2), 4);
    char *out = zkv_repl_table_render(t);
    CU_ASSERT_STRING_EQUAL(out, "ID    NAME         N\n"
                                "a     longer-name  7\n"
                                "abcd  x            1234\n");
    free(out);
    zkv_repl_table_set_align(t, 2, ZKV_REPL_ALIGN_RIGHT);
    out = zkv_repl_table_render(t);
    CU_ASSERT_STRING_EQUAL(out, "ID    NAME            N\n"
                                "a     longer-name     7\n"
                                "abcd  x            1234\n");
    free(out);
    zkv_repl_table_free(t);
}

static void test_empty_and_null_cells(void)
{
    const char *h[] = {"A", "B"};
    zkv_repl_table *t = zkv_repl_table_create(2, h);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    if (!t)
        return;
    char *out = zkv_repl_table_render(t);
    CU_ASSERT_STRING_EQUAL(out, "A  B\n");
    free(out);
    const char *r[] = {"xyz", NULL};
    CU_ASSERT_EQUAL(zkv_repl_table_add_row(t, r), 0);
    out = zkv_repl_table_render(t);
    CU_ASSERT_STRING_EQUAL(out, "A    B\nxyz\n"); /* no trailing blanks */
    free(out);
    /* many rows: growth */
    for (int i = 0; i < 100; i++)
        CU_ASSERT_EQUAL(zkv_repl_table_add_row(t, r), 0);
    CU_ASSERT_EQUAL(zkv_repl_table_rows(t), 101);
    zkv_repl_table_free(t);
    zkv_repl_table_free(NULL);
    CU_ASSERT_PTR_NULL(zkv_repl_table_create(0, h));
}

static const char describe[] =
    "{\"cluster\":\"default\",\"cluster_id\":\"c1\",\"map_version\":7,\"replicas\":3,"
    "\"ranges\":["
    "{\"id\":\"r0001\",\"start\":\"\\\\x80\\\\x00\",\"end\":\"\",\"owner\":\"node-b\","
    "\"replicas\":[\"node-a\",\"node-c\"],\"in_sync\":[\"node-a\"],\"epoch\":12,"
    "\"seq\":1042,\"bytes\":3145728,\"lag\":{\"node-a\":{\"seq_behind\":0,\"lag_ms\":0,"
    "\"connected\":true},"
    "\"node-c\":{\"seq_behind\":12,\"lag_ms\":2500,\"connected\":false}}},"
    "{\"id\":\"r0000\",\"start\":\"\",\"end\":\"\\\\x80\\\\x00\",\"owner\":\"node-gone\","
    "\"replicas\":[],\"in_sync\":[],\"epoch\":3},"
    "{\"id\":\"r0002\",\"start\":\"\\\\x90\",\"end\":\"\\\\xa0\",\"owner\":\"\","
    "\"replicas\":[],\"in_sync\":[],\"epoch\":0},"
    "{\"id\":\"r0003\",\"start\":\"a b\",\"end\":\"a c\",\"owner\":\"\",\"replicas\":[],"
    "\"in_sync\":[],\"epoch\":0}],"
    "\"nodes\":["
    "{\"id\":\"node-b\",\"addr\":\"127.0.0.1:7401\",\"incarnation\":2,\"zone\":\"\","
    "\"version\":\"0.1.0\",\"owned\":1,\"replica_of\":0},"
    "{\"id\":\"node-a\",\"addr\":\"127.0.0.1:7400\",\"incarnation\":15,\"zone\":\"\","
    "\"version\":\"0.1.0\",\"owned\":0,\"replica_of\":1}]}";

static void test_ranges_view(void)
{
    char err[128];
    char *out = zkv_repl_describe_render(describe, ZKV_REPL_VIEW_RANGES, false, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    if (!out)
        return;
    CU_ASSERT_STRING_EQUAL(out, "ID     RANGE           OWNER      REPLICAS       IN_SYNC  EPOCH   "
                                "SEQ  SIZE  LAG                 "
                                "ADDRESS\n"
                                "r0000  -inf..\\x80\\x00  node-gone  -              -            3 "
                                "    ?     ?  -                   "
                                "(down)\n"
                                "r0003  a\\x20b..a\\x20c  -          -              -            0 "
                                "    ?     ?  -                   "
                                "-\n"
                                "r0001  \\x80\\x00..+inf  node-b     node-a,node-c  node-a      12 "
                                " 1042  3.0M  node-a:0,node-c:12  "
                                "127.0.0.1:7401\n"
                                "r0002  \\x90..\\xa0      -          -              -            0 "
                                "    ?     ?  -                   "
                                "-\n");
    free(out);
}

static void test_nodes_view(void)
{
    char err[128];
    char *out = zkv_repl_describe_render(describe, ZKV_REPL_VIEW_NODES, false, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    if (!out)
        return;
    CU_ASSERT_STRING_EQUAL(out, "ID      ADDRESS         INCARNATION  OWNED  REPLICA_OF\n"
                                "node-a  127.0.0.1:7400           15      0           1\n"
                                "node-b  127.0.0.1:7401            2      1           0\n");
    free(out);
}

static void test_json_views(void)
{
    char err[128];
    char *out = zkv_repl_describe_render(describe, ZKV_REPL_VIEW_NODES, true, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    if (!out)
        return;
    CU_ASSERT_EQUAL(out[0], '[');
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"addr\":\"127.0.0.1:7400\""));
    CU_ASSERT_PTR_NULL(strstr(out, "\"ranges\""));
    CU_ASSERT_EQUAL(out[strlen(out) - 1], '\n');
    free(out);
    out = zkv_repl_describe_render(describe, ZKV_REPL_VIEW_RANGES, true, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    if (!out)
        return;
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"id\":\"r0001\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"start\":\"\\\\x80\\\\x00\""));
    /* seq and lag pass through */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"seq\":1042"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"node-c\":{\"seq_behind\":12,\"lag_ms\":2500"));
    free(out);
}

/* The LAG cell of a range given as JSON. */
static void check_lag(const char *range_json, const char *want)
{
    cJSON *r = cJSON_Parse(range_json);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    char *cell = zkv_repl_lag_cell(r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cell);
    CU_ASSERT_STRING_EQUAL(cell, want);
    free(cell);
    cJSON_Delete(r);
}

static void test_lag_cell(void)
{
    /* the owner did not answer: unknown */
    check_lag("{\"replicas\":[\"node-2\",\"node-3\"]}", "?");
    /* no replicas: nothing to lag */
    check_lag("{\"replicas\":[]}", "-");
    check_lag("{\"replicas\":[],\"lag\":{}}", "-");
    /* in the map's order; a replica the owner did not report is ? */
    check_lag("{\"replicas\":[\"node-3\",\"node-2\"],\"lag\":{\"node-2\":{\"seq_behind\":0},"
              "\"node-3\":{\"seq_behind\":12}}}",
              "node-3:12,node-2:0");
    check_lag("{\"replicas\":[\"node-2\",\"node-3\"],\"lag\":{\"node-2\":{\"seq_behind\":7}}}",
              "node-2:7,node-3:?");
    /* one the owner ships to that the map does not list yet comes last */
    check_lag("{\"replicas\":[\"node-2\"],\"lag\":{\"node-2\":{\"seq_behind\":1},"
              "\"node-9\":{\"seq_behind\":100000}}}",
              "node-2:1,node-9:100000");
    /* junk numbers do not print as numbers */
    check_lag("{\"replicas\":[\"node-2\",\"node-3\"],\"lag\":{\"node-2\":{\"seq_behind\":-1},"
              "\"node-3\":{\"seq_behind\":1e300}}}",
              "node-2:?,node-3:?");
}

static void test_bad_documents(void)
{
    char err[128] = "";
    CU_ASSERT_PTR_NULL(
        zkv_repl_describe_render("{not json", ZKV_REPL_VIEW_RANGES, false, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot parse"));
    CU_ASSERT_PTR_NULL(zkv_repl_describe_render("[]", ZKV_REPL_VIEW_NODES, false, err, sizeof err));
    CU_ASSERT_PTR_NULL(
        zkv_repl_describe_render("{\"ranges\":[]}", ZKV_REPL_VIEW_NODES, false, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "without ranges or nodes"));
    char *out = zkv_repl_describe_render("{\"ranges\":[],\"nodes\":[]}", ZKV_REPL_VIEW_RANGES,
                                         false, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    if (!out)
        return;
    CU_ASSERT_STRING_EQUAL(out,
                           "ID  RANGE  OWNER  REPLICAS  IN_SYNC  EPOCH  SEQ  SIZE  LAG  ADDRESS\n");
    free(out);
}

/* The SIZE cell of a range given as JSON. */
static void expect_size(const char *json, const char *want)
{
    cJSON *r = cJSON_Parse(json);
    char cell[16];
    zkv_repl_size_cell(r, cell, sizeof cell);
    CU_ASSERT_STRING_EQUAL(cell, want);
    cJSON_Delete(r);
}

static void test_size_cell(void)
{
    expect_size("{}", "?");
    expect_size("{\"bytes\":0}", "0B");
    expect_size("{\"bytes\":512}", "512B");
    expect_size("{\"bytes\":4096}", "4.0K");
    expect_size("{\"bytes\":12582912}", "12M");
    expect_size("{\"bytes\":1610612736}", "1.5G");
    expect_size("{\"bytes\":\"x\"}", "?");
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("repl_table", NULL, NULL);
    CU_add_test(s, "widths", test_widths);
    CU_add_test(s, "empty_and_null_cells", test_empty_and_null_cells);
    CU_add_test(s, "ranges_view", test_ranges_view);
    CU_add_test(s, "nodes_view", test_nodes_view);
    CU_add_test(s, "json_views", test_json_views);
    CU_add_test(s, "lag_cell", test_lag_cell);
    CU_add_test(s, "size_cell", test_size_cell);
    CU_add_test(s, "bad_documents", test_bad_documents);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
