/* test_server_stats.c: a node's report on its ranges (server/stats.c): the write rates
 * between two samples (none before the first, a rebuilt range counted from zero) and the
 * report's JSON. */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "stats.h"

static void test_rates(void)
{
    zkv_stats_sample a = {.id = "r0001", .seq = 100, .bytes_written = 10000, .at_ms = 1000};
    zkv_stats_sample b = {.id = "r0001", .seq = 300, .bytes_written = 30000, .at_ms = 3000};
    zkv_stats_rate r = zkv_stats_rate_of(NULL, &a);
    CU_ASSERT(r.writes_per_s == 0 && r.write_bytes_per_s == 0);
    r = zkv_stats_rate_of(&a, &b);
    CU_ASSERT_DOUBLE_EQUAL(r.writes_per_s, 100.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(r.write_bytes_per_s, 10000.0, 1e-9);
    zkv_stats_sample c = {.id = "r0001", .seq = 50, .bytes_written = 5000, .at_ms = 4000};
    r = zkv_stats_rate_of(&b, &c); /* rebuilt: seq and bytes start over */
    CU_ASSERT_DOUBLE_EQUAL(r.writes_per_s, 50.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(r.write_bytes_per_s, 5000.0, 1e-9);
    r = zkv_stats_rate_of(&b, &b); /* no time passed */
    CU_ASSERT(r.writes_per_s == 0);
}

static void test_render(void)
{
    zkv_stats_sample s[2] = {{.id = "r0001", .epoch = 2, .seq = 7, .bytes = 4096},
                             {.id = "r0005", .epoch = 1, .seq = 0, .bytes = 0}};
    zkv_stats_rate r[2] = {{1.5, 300}, {0, 0}};
    char *json = zkv_stats_render("node-1", "2026-12-07T00:00:00.000Z", 10000, s, r, 2);
    CU_ASSERT_FATAL(json != NULL);
    if (!json)
        return; /* (CU_ASSERT_FATAL has returned already; for the analysers) */
    cJSON *o = cJSON_Parse(json);
    CU_ASSERT_FATAL(o != NULL);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(o, "node")->valuestring, "node-1");
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(o, "interval_ms")->valueint, 10000);
    cJSON *ranges = cJSON_GetObjectItem(o, "ranges");
    CU_ASSERT_EQUAL(cJSON_GetArraySize(ranges), 2);
    cJSON *first = cJSON_GetArrayItem(ranges, 0);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(first, "id")->valuestring, "r0001");
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(first, "bytes")->valueint, 4096);
    CU_ASSERT_DOUBLE_EQUAL(cJSON_GetObjectItem(first, "writes_per_s")->valuedouble, 1.5, 1e-9);
    cJSON_Delete(o);
    free(json);
    json = zkv_stats_render("node-2", "x", 1, s, r, 0);
    CU_ASSERT(json && strstr(json, "\"ranges\":[]"));
    free(json);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("server_stats", NULL, NULL);
    CU_add_test(s, "write rates between samples", test_rates);
    CU_add_test(s, "the report's JSON", test_render);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
