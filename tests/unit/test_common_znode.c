/* Unit tests of common/znode.h: path layout, id validation and the JSON codecs of the
 * cluster, node, range and map znodes (round trips with binary keys, and rejection of
 * missing fields, wrong types, invalid ids, oversized lists and truncated input). */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include "common/znode.h"

static void test_paths(void)
{
    char p[ZKV_PATH_MAX];
    CU_ASSERT_EQUAL(zkv_path(p, sizeof p, "prod", ZKV_PATH_ROOT, NULL), 0);
    CU_ASSERT_STRING_EQUAL(p, "/zkv/prod");
    CU_ASSERT_EQUAL(zkv_path(p, sizeof p, "prod", ZKV_PATH_CLUSTER, NULL), 0);
    CU_ASSERT_STRING_EQUAL(p, "/zkv/prod/cluster");
    CU_ASSERT_EQUAL(zkv_path(p, sizeof p, "prod", ZKV_PATH_NODES, "node-1"), 0);
    CU_ASSERT_STRING_EQUAL(p, "/zkv/prod/nodes/node-1");
    CU_ASSERT_EQUAL(zkv_path(p, sizeof p, "prod", ZKV_PATH_RANGES, "r0007"), 0);
    CU_ASSERT_STRING_EQUAL(p, "/zkv/prod/ranges/r0007");
    CU_ASSERT_EQUAL(zkv_path(p, sizeof p, "prod", ZKV_PATH_MAP, NULL), 0);
    CU_ASSERT_STRING_EQUAL(p, "/zkv/prod/map");
    CU_ASSERT_EQUAL(zkv_path(p, sizeof p, "prod", ZKV_PATH_COORDINATOR, "c-"), 0);
    CU_ASSERT_STRING_EQUAL(p, "/zkv/prod/coordinator/c-");
    CU_ASSERT_EQUAL(zkv_path(p, sizeof p, "", ZKV_PATH_ROOT, NULL), -1);
    CU_ASSERT_EQUAL(zkv_path(p, sizeof p, "a/b", ZKV_PATH_ROOT, NULL), -1);
    char longname[102];
    memset(longname, 'x', 101);
    longname[101] = '\0';
    CU_ASSERT_EQUAL(zkv_path(p, sizeof p, longname, ZKV_PATH_ROOT, NULL), -1);
    longname[100] = '\0';
    CU_ASSERT_EQUAL(zkv_path(p, sizeof p, longname, ZKV_PATH_ROOT, NULL), 0);
    char small[12];
    CU_ASSERT_EQUAL(zkv_path(small, sizeof small, "prod", ZKV_PATH_CLUSTER, NULL), -1);
}

static void test_id_valid(void)
{
    CU_ASSERT_TRUE(zkv_id_valid("node-1"));
    CU_ASSERT_TRUE(zkv_id_valid("r0000"));
    CU_ASSERT_TRUE(zkv_id_valid("A.b_c-9"));
    CU_ASSERT_FALSE(zkv_id_valid(""));
    CU_ASSERT_FALSE(zkv_id_valid(NULL));
    CU_ASSERT_FALSE(zkv_id_valid("a/b"));
    CU_ASSERT_FALSE(zkv_id_valid("a b"));
    CU_ASSERT_FALSE(zkv_id_valid("caf\xc3\xa9"));
    char id[80];
    memset(id, 'a', sizeof id);
    id[63] = '\0';
    CU_ASSERT_TRUE(zkv_id_valid(id)); /* 63 bytes */
    id[63] = 'a';
    id[64] = '\0';
    CU_ASSERT_FALSE(zkv_id_valid(id)); /* 64 bytes */
}

static void test_cluster_json(void)
{
    zkv_cluster_info c = {0};
    strcpy(c.cluster_id, "c-0123abcd");
    strcpy(c.created, "2026-11-22T12:00:00.123Z");
    c.replicas = 3;
    c.format = 1;
    char *js = zkv_cluster_to_json(&c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(js);
    CU_ASSERT_STRING_EQUAL(js, "{\"cluster_id\":\"c-0123abcd\",\"created\":\"2026-11-22T12:00:00."
                               "123Z\",\"replicas\":3,\"format\":1}");
    zkv_cluster_info d;
    char err[256] = "";
    CU_ASSERT_EQUAL(zkv_cluster_from_json(js, strlen(js), &d, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(d.cluster_id, "c-0123abcd");
    CU_ASSERT_STRING_EQUAL(d.created, c.created);
    CU_ASSERT_EQUAL(d.replicas, 3);
    CU_ASSERT_EQUAL(d.format, 1);
    /* every truncation of valid JSON is rejected (and read only within len) */
    for (size_t n = 0; n < strlen(js); n++) {
        char *cut = malloc(n ? n : 1);
        memcpy(cut, js, n);
        CU_ASSERT_EQUAL(zkv_cluster_from_json(cut, n, &d, err, sizeof err), -1);
        free(cut);
    }
    free(js);

    const char *missing = "{\"cluster_id\":\"x\",\"created\":\"t\",\"format\":1}";
    CU_ASSERT_EQUAL(zkv_cluster_from_json(missing, strlen(missing), &d, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "replicas"));
    const char *wrongtype = "{\"cluster_id\":\"x\",\"created\":\"t\",\"replicas\":\"3\","
                            "\"format\":1}";
    CU_ASSERT_EQUAL(zkv_cluster_from_json(wrongtype, strlen(wrongtype), &d, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "replicas"));
    const char *badid = "{\"cluster_id\":\"a b\",\"created\":\"t\",\"replicas\":3,\"format\":1}";
    CU_ASSERT_EQUAL(zkv_cluster_from_json(badid, strlen(badid), &d, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cluster_id"));
    const char *frac = "{\"cluster_id\":\"x\",\"created\":\"t\",\"replicas\":2.5,\"format\":1}";
    CU_ASSERT_EQUAL(zkv_cluster_from_json(frac, strlen(frac), &d, err, sizeof err), -1);
    const char *arr = "[1,2,3]";
    CU_ASSERT_EQUAL(zkv_cluster_from_json(arr, strlen(arr), &d, err, sizeof err), -1);
    CU_ASSERT_EQUAL(zkv_cluster_from_json(NULL, 0, &d, err, sizeof err), -1);
}

static void test_node_json(void)
{
    zkv_node_info n = {0};
    strcpy(n.id, "node-1a2b3c4d");
    strcpy(n.addr, "127.0.0.1:7400");
    n.incarnation = 9007199254740992ull; /* 2^53 survives */
    strcpy(n.zone, "");
    strcpy(n.version, "0.1.0");
    char *js = zkv_node_to_json(&n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(js);
    CU_ASSERT_STRING_EQUAL(js, "{\"id\":\"node-1a2b3c4d\",\"addr\":\"127.0.0.1:7400\","
                               "\"incarnation\":9007199254740992,\"zone\":\"\",\"version\":"
                               "\"0.1.0\"}");
    zkv_node_info d;
    char err[256];
    CU_ASSERT_EQUAL(zkv_node_from_json(js, strlen(js), &d, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(d.id, n.id);
    CU_ASSERT_STRING_EQUAL(d.addr, n.addr);
    CU_ASSERT_EQUAL(d.incarnation, 9007199254740992ull);
    CU_ASSERT_STRING_EQUAL(d.zone, "");
    CU_ASSERT_STRING_EQUAL(d.version, "0.1.0");
    free(js);

    const char *neg = "{\"id\":\"n\",\"addr\":\"h:1\",\"incarnation\":-1,\"zone\":\"\","
                      "\"version\":\"v\"}";
    CU_ASSERT_EQUAL(zkv_node_from_json(neg, strlen(neg), &d, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "incarnation"));
    const char *noaddr = "{\"id\":\"n\",\"incarnation\":1,\"zone\":\"\",\"version\":\"v\"}";
    CU_ASSERT_EQUAL(zkv_node_from_json(noaddr, strlen(noaddr), &d, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "addr"));
    const char *badid = "{\"id\":\"../x\",\"addr\":\"h:1\",\"incarnation\":1,\"zone\":\"\","
                        "\"version\":\"v\"}";
    CU_ASSERT_EQUAL(zkv_node_from_json(badid, strlen(badid), &d, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "id"));
    const char *zonenum = "{\"id\":\"n\",\"addr\":\"h:1\",\"incarnation\":1,\"zone\":5,"
                          "\"version\":\"v\"}";
    CU_ASSERT_EQUAL(zkv_node_from_json(zonenum, strlen(zonenum), &d, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "zone"));
    const char *garbage = "\x01\xff{{{\"";
    CU_ASSERT_EQUAL(zkv_node_from_json(garbage, strlen(garbage), &d, err, sizeof err), -1);
}

static void make_range(zkv_range *r)
{
    memset(r, 0, sizeof *r);
    strcpy(r->id, "r0003");
    static const uint8_t s[] = {'a', 0x00, 0xff, '\\'};
    static const uint8_t e[] = {0xff, 0xff, 0x00};
    CU_ASSERT_EQUAL_FATAL(zkv_range_set_bounds(r, s, sizeof s, e, sizeof e), 0);
    strcpy(r->owner, "node-a");
    strcpy(r->replicas[0], "node-b");
    strcpy(r->replicas[1], "node-c");
    r->n_replicas = 2;
    strcpy(r->in_sync[0], "node-c");
    r->n_in_sync = 1;
    r->epoch = 12;
    r->zversion = 5;
}

static void test_range_json_round_trip(void)
{
    zkv_range r;
    make_range(&r);
    char *js = zkv_range_to_json(&r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(js);
    CU_ASSERT_STRING_EQUAL(js, "{\"id\":\"r0003\",\"start\":\"a\\\\x00\\\\xff\\\\x5c\","
                               "\"end\":\"\\\\xff\\\\xff\\\\x00\",\"owner\":\"node-a\","
                               "\"replicas\":[\"node-b\",\"node-c\"],\"in_sync\":[\"node-c\"],"
                               "\"epoch\":12}");
    zkv_range d;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(zkv_range_from_json(js, strlen(js), &d, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(d.id, "r0003");
    CU_ASSERT_EQUAL(d.start_len, 4);
    CU_ASSERT_EQUAL(memcmp(d.start, r.start, 4), 0);
    CU_ASSERT_EQUAL(d.end_len, 3);
    CU_ASSERT_EQUAL(memcmp(d.end, r.end, 3), 0);
    CU_ASSERT_STRING_EQUAL(d.owner, "node-a");
    CU_ASSERT_EQUAL(d.n_replicas, 2);
    CU_ASSERT_STRING_EQUAL(d.replicas[1], "node-c");
    CU_ASSERT_EQUAL(d.n_in_sync, 1);
    CU_ASSERT_STRING_EQUAL(d.in_sync[0], "node-c");
    CU_ASSERT_EQUAL(d.epoch, 12);
    CU_ASSERT_EQUAL(d.zversion, -1);
    zkv_range_clear(&d);
    free(js);
    zkv_range_clear(&r);
}

static void test_range_json_unbounded(void)
{
    const char *js = "{\"id\":\"r0000\",\"start\":\"\",\"end\":\"\",\"owner\":\"\","
                     "\"replicas\":[],\"in_sync\":[],\"epoch\":0}";
    zkv_range d;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(zkv_range_from_json(js, strlen(js), &d, err, sizeof err), 0);
    CU_ASSERT_PTR_NULL(d.start);
    CU_ASSERT_EQUAL(d.start_len, 0);
    CU_ASSERT_PTR_NULL(d.end);
    CU_ASSERT_EQUAL(d.end_len, 0);
    CU_ASSERT_STRING_EQUAL(d.owner, "");
    CU_ASSERT_EQUAL(d.n_replicas, 0);
    CU_ASSERT_EQUAL(d.epoch, 0);
    char *again = zkv_range_to_json(&d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(again);
    CU_ASSERT_STRING_EQUAL(again, js);
    free(again);
    zkv_range_clear(&d);
}

static void expect_range_reject(const char *js, const char *needle)
{
    zkv_range d;
    char err[256] = "";
    CU_ASSERT_EQUAL(zkv_range_from_json(js, strlen(js), &d, err, sizeof err), -1);
    if (needle && !strstr(err, needle)) {
        fprintf(stderr, "\nerror '%s' does not mention '%s'\n", err, needle);
        CU_FAIL("error message does not name the field");
    }
    CU_ASSERT_PTR_NULL(d.start);
    CU_ASSERT_PTR_NULL(d.end);
}

static void test_range_json_reject(void)
{
    expect_range_reject("{\"start\":\"\",\"end\":\"\",\"owner\":\"\",\"replicas\":[],"
                        "\"in_sync\":[],\"epoch\":0}",
                        "id");
    expect_range_reject("{\"id\":\"r1\",\"start\":\"a\",\"end\":\"\",\"owner\":\"\","
                        "\"replicas\":[],\"in_sync\":[]}",
                        "epoch");
    expect_range_reject("{\"id\":\"r1\",\"start\":\"a\",\"end\":\"b\",\"owner\":\"\","
                        "\"replicas\":[],\"in_sync\":[],\"epoch\":\"1\"}",
                        "epoch");
    expect_range_reject("{\"id\":\"r1\",\"start\":1,\"end\":\"\",\"owner\":\"\","
                        "\"replicas\":[],\"in_sync\":[],\"epoch\":1}",
                        "start");
    expect_range_reject("{\"id\":\"r1\",\"start\":\"\\\\q\",\"end\":\"\",\"owner\":\"\","
                        "\"replicas\":[],\"in_sync\":[],\"epoch\":1}",
                        "start");
    expect_range_reject("{\"id\":\"r1\",\"start\":\"\",\"end\":\"\",\"owner\":\"bad id\","
                        "\"replicas\":[],\"in_sync\":[],\"epoch\":1}",
                        "owner");
    expect_range_reject("{\"id\":\"r1\",\"start\":\"\",\"end\":\"\",\"owner\":\"\","
                        "\"replicas\":\"n1\",\"in_sync\":[],\"epoch\":1}",
                        "replicas");
    expect_range_reject("{\"id\":\"r1\",\"start\":\"\",\"end\":\"\",\"owner\":\"\","
                        "\"replicas\":[\"n1\",7],\"in_sync\":[],\"epoch\":1}",
                        "replicas");
    expect_range_reject("{\"id\":\"r1\",\"start\":\"\",\"end\":\"\",\"owner\":\"\","
                        "\"replicas\":[],\"in_sync\":[\"\"],\"epoch\":1}",
                        "in_sync");
    expect_range_reject("{\"id\":\"r/1\",\"start\":\"\",\"end\":\"\",\"owner\":\"\","
                        "\"replicas\":[],\"in_sync\":[],\"epoch\":1}",
                        "id");
    expect_range_reject("{\"id\":\"r1\",\"start\":\"b\",\"end\":\"a\",\"owner\":\"\","
                        "\"replicas\":[],\"in_sync\":[],\"epoch\":1}",
                        "start");
    expect_range_reject("{\"id\":\"r1\",\"start\":\"\",\"end\":\"\",\"owner\":\"\","
                        "\"replicas\":[],\"in_sync\":[],\"epoch\":1e300}",
                        "epoch");
    /* 16 replicas: one more than ZKV_MAX_REPLICAS */
    char big[1024] = "{\"id\":\"r1\",\"start\":\"\",\"end\":\"\",\"owner\":\"\",\"replicas\":[";
    for (int i = 0; i < ZKV_MAX_REPLICAS + 1; i++) {
        char one[16];
        snprintf(one, sizeof one, "%s\"n%d\"", i ? "," : "", i);
        strcat(big, one);
    }
    strcat(big, "],\"in_sync\":[],\"epoch\":1}");
    expect_range_reject(big, "replicas");
    expect_range_reject("", NULL);
    expect_range_reject("null", NULL);
    expect_range_reject("{\"id\":\"r1\"", NULL);
}

static void test_range_json_not_nul_terminated(void)
{
    zkv_range r;
    make_range(&r);
    char *js = zkv_range_to_json(&r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(js);
    size_t n = strlen(js);
    /* exact-length copy without a NUL: must parse within len */
    char *exact = malloc(n);
    memcpy(exact, js, n);
    zkv_range d;
    char err[256];
    CU_ASSERT_EQUAL(zkv_range_from_json(exact, n, &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(d.epoch, 12);
    zkv_range_clear(&d);
    for (size_t k = 0; k < n; k++)
        CU_ASSERT_EQUAL(zkv_range_from_json(exact, k, &d, err, sizeof err), -1);
    free(exact);
    free(js);
    zkv_range_clear(&r);
}

static void test_mapver_json(void)
{
    char *js = zkv_mapver_to_json(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(js);
    CU_ASSERT_STRING_EQUAL(js, "{\"version\":1}");
    int64_t v = 0;
    char err[128];
    CU_ASSERT_EQUAL(zkv_mapver_from_json(js, strlen(js), &v, err, sizeof err), 0);
    CU_ASSERT_EQUAL(v, 1);
    free(js);
    js = zkv_mapver_to_json(123456789012345);
    CU_ASSERT_EQUAL(zkv_mapver_from_json(js, strlen(js), &v, err, sizeof err), 0);
    CU_ASSERT_EQUAL(v, 123456789012345);
    free(js);
    CU_ASSERT_EQUAL(zkv_mapver_from_json("{}", 2, &v, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "version"));
    CU_ASSERT_EQUAL(zkv_mapver_from_json("{\"version\":true}", 16, &v, err, sizeof err), -1);
    CU_ASSERT_EQUAL(zkv_mapver_from_json("{\"version\":-3}", 14, &v, err, sizeof err), -1);
    CU_ASSERT_EQUAL(zkv_mapver_from_json("", 0, &v, err, sizeof err), -1);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("common_znode", NULL, NULL);
    CU_add_test(s, "paths", test_paths);
    CU_add_test(s, "id_valid", test_id_valid);
    CU_add_test(s, "cluster_json", test_cluster_json);
    CU_add_test(s, "node_json", test_node_json);
    CU_add_test(s, "range_json_round_trip", test_range_json_round_trip);
    CU_add_test(s, "range_json_unbounded", test_range_json_unbounded);
    CU_add_test(s, "range_json_reject", test_range_json_reject);
    CU_add_test(s, "range_json_not_nul_terminated", test_range_json_not_nul_terminated);
    CU_add_test(s, "mapver_json", test_mapver_json);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
