/* Unit tests of common/znode.h: path layout, id validation and the JSON codecs of the
 * cluster, node, range and map znodes (round trips with binary keys, and rejection of
 * missing fields, wrong types, invalid ids, oversized lists and truncated input); the
 * range's optional split/merge fields (parents, split, merge) and the split operation
 * (kind "split", args range and an optional binary key of at most ZKV_OP_KEY_MAX bytes);
 * a new operation (zkv_op_init), the merge operation's JSON (kind "merge"), and a node's
 * stats report (each well-formed range entry given out, the others skipped). */
#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stdio.h>
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
    if (!js)
        return; /* (the assertion has returned already; for the analysers) */
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
    if (!js)
        return; /* (the assertion has returned already; for the analysers) */
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
    if (!js)
        return; /* (the assertion has returned already; for the analysers) */
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
    if (!again)
        return; /* (the assertion has returned already; for the analysers) */
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
    if (!js)
        return; /* (the assertion has returned already; for the analysers) */
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
    if (!js)
        return; /* (the assertion has returned already; for the analysers) */
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

/* make_range plus every optional field of a split or merge. */
static void make_reshaped_range(zkv_range *r)
{
    make_range(r);
    strcpy(r->parents[0].id, "r0001");
    r->parents[0].epoch = 7;
    r->parents[0].seq = 123456789012ull;
    strcpy(r->parents[1].id, "r0002");
    r->parents[1].epoch = 3;
    r->parents[1].seq = 0;
    r->n_parents = 2;
    static const uint8_t k[] = {'m', 0x00, 0xff, 0x00};
    CU_ASSERT_EQUAL_FATAL(zkv_range_set_split_key(r, k, sizeof k), 0);
    r->split_asked = true;
    strcpy(r->split_ids[0], "r12a");
    strcpy(r->split_ids[1], "r12b");
    strcpy(r->merge_with, "r0004");
    strcpy(r->merge_id, "r13");
    strcpy(r->leaving, "node-b");
}

static void test_range_json_reshape_round_trip(void)
{
    zkv_range r;
    make_reshaped_range(&r);
    char *js = zkv_range_to_json(&r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(js);
    if (!js)
        return; /* (the assertion has returned already; for the analysers) */
    CU_ASSERT_STRING_EQUAL(js, "{\"id\":\"r0003\",\"start\":\"a\\\\x00\\\\xff\\\\x5c\","
                               "\"end\":\"\\\\xff\\\\xff\\\\x00\",\"owner\":\"node-a\","
                               "\"replicas\":[\"node-b\",\"node-c\"],\"in_sync\":[\"node-c\"],"
                               "\"epoch\":12,\"leaving\":\"node-b\","
                               "\"parents\":[{\"id\":\"r0001\",\"epoch\":7,"
                               "\"seq\":123456789012},{\"id\":\"r0002\",\"epoch\":3,\"seq\":0}],"
                               "\"split\":{\"key\":\"m\\\\x00\\\\xff\\\\x00\",\"ids\":[\"r12a\","
                               "\"r12b\"]},\"merge\":{\"with\":\"r0004\",\"id\":\"r13\"}}");
    zkv_range d;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(zkv_range_from_json(js, strlen(js), &d, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(d.id, "r0003");
    CU_ASSERT_EQUAL(d.epoch, 12);
    CU_ASSERT_EQUAL(d.n_parents, 2);
    CU_ASSERT_STRING_EQUAL(d.parents[0].id, "r0001");
    CU_ASSERT_EQUAL(d.parents[0].epoch, 7);
    CU_ASSERT_EQUAL(d.parents[0].seq, 123456789012ull);
    CU_ASSERT_STRING_EQUAL(d.parents[1].id, "r0002");
    CU_ASSERT_EQUAL(d.parents[1].epoch, 3);
    CU_ASSERT_EQUAL(d.parents[1].seq, 0);
    CU_ASSERT_TRUE(d.split_asked);
    CU_ASSERT_EQUAL_FATAL(d.split_key_len, 4);
    CU_ASSERT_EQUAL(memcmp(d.split_key, "m\x00\xff\x00", 4), 0);
    CU_ASSERT_STRING_EQUAL(d.split_ids[0], "r12a");
    CU_ASSERT_STRING_EQUAL(d.split_ids[1], "r12b");
    CU_ASSERT_STRING_EQUAL(d.merge_with, "r0004");
    CU_ASSERT_STRING_EQUAL(d.merge_id, "r13");
    CU_ASSERT_STRING_EQUAL(d.leaving, "node-b");
    CU_ASSERT_EQUAL(d.zversion, -1);
    /* and back to the same text */
    char *again = zkv_range_to_json(&d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(again);
    if (!again)
        return; /* (the assertion has returned already; for the analysers) */
    CU_ASSERT_STRING_EQUAL(again, js);
    free(again);
    zkv_range_clear(&d);
    /* a deep copy owns its own split key */
    zkv_range c;
    CU_ASSERT_EQUAL_FATAL(zkv_range_copy(&c, &r), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c.split_key);
    CU_ASSERT_PTR_NOT_EQUAL(c.split_key, r.split_key);
    CU_ASSERT_EQUAL(c.split_key_len, 4);
    CU_ASSERT(c.split_key && r.split_key && memcmp(c.split_key, r.split_key, 4) == 0);
    zkv_range_clear(&c);
    CU_ASSERT_PTR_NULL(c.split_key);
    CU_ASSERT_EQUAL(c.split_key_len, 0);
    /* every truncation of it is rejected, read only within len */
    size_t n = strlen(js);
    char *exact = malloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(exact);
    if (!exact)
        return;           /* (the assertion has returned already; for the analysers) */
    memcpy(exact, js, n); // NOLINT(bugprone-not-null-terminated-result): on purpose, no NUL
    for (size_t k = 0; k < n; k++) {
        CU_ASSERT_EQUAL(zkv_range_from_json(exact, k, &d, err, sizeof err), -1);
        CU_ASSERT_PTR_NULL(d.split_key);
    }
    CU_ASSERT_EQUAL(zkv_range_from_json(exact, n, &d, err, sizeof err), 0);
    zkv_range_clear(&d);
    free(exact);
    free(js);
    zkv_range_clear(&r);
}

static void test_range_json_reshape_partial(void)
{
    char err[256];
    zkv_range d;
    /* none of the fields: zeros */
    const char *plain = "{\"id\":\"r1\",\"start\":\"\",\"end\":\"\",\"owner\":\"n1\","
                        "\"replicas\":[],\"in_sync\":[],\"epoch\":4}";
    CU_ASSERT_EQUAL_FATAL(zkv_range_from_json(plain, strlen(plain), &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(d.n_parents, 0);
    CU_ASSERT_STRING_EQUAL(d.parents[0].id, "");
    CU_ASSERT_EQUAL(d.parents[0].epoch, 0);
    CU_ASSERT_EQUAL(d.parents[0].seq, 0);
    CU_ASSERT_FALSE(d.split_asked);
    CU_ASSERT_PTR_NULL(d.split_key);
    CU_ASSERT_EQUAL(d.split_key_len, 0);
    CU_ASSERT_STRING_EQUAL(d.split_ids[0], "");
    CU_ASSERT_STRING_EQUAL(d.split_ids[1], "");
    CU_ASSERT_STRING_EQUAL(d.merge_with, "");
    CU_ASSERT_STRING_EQUAL(d.merge_id, "");
    zkv_range_clear(&d);

    /* one parent, a split without a key (the owner picks the middle), no merge */
    zkv_range r;
    make_range(&r);
    strcpy(r.parents[0].id, "r0000");
    r.parents[0].epoch = 9007199254740992ull; /* 2^53 survives */
    r.parents[0].seq = 41;
    r.n_parents = 1;
    r.split_asked = true;
    strcpy(r.split_ids[0], "r5a");
    strcpy(r.split_ids[1], "r5b");
    char *js = zkv_range_to_json(&r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(js);
    if (!js)
        return; /* (the assertion has returned already; for the analysers) */
    CU_ASSERT_PTR_NOT_NULL(strstr(js, ",\"parents\":[{\"id\":\"r0000\",\"epoch\":"
                                      "9007199254740992,\"seq\":41}],\"split\":{\"key\":\"\","
                                      "\"ids\":[\"r5a\",\"r5b\"]}}"));
    CU_ASSERT_PTR_NULL(strstr(js, "merge"));
    CU_ASSERT_EQUAL_FATAL(zkv_range_from_json(js, strlen(js), &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(d.n_parents, 1);
    CU_ASSERT_STRING_EQUAL(d.parents[0].id, "r0000");
    CU_ASSERT_EQUAL(d.parents[0].epoch, 9007199254740992ull);
    CU_ASSERT_EQUAL(d.parents[0].seq, 41);
    CU_ASSERT_STRING_EQUAL(d.parents[1].id, "");
    CU_ASSERT_TRUE(d.split_asked);
    CU_ASSERT_PTR_NULL(d.split_key);
    CU_ASSERT_EQUAL(d.split_key_len, 0);
    CU_ASSERT_STRING_EQUAL(d.split_ids[0], "r5a");
    CU_ASSERT_STRING_EQUAL(d.split_ids[1], "r5b");
    CU_ASSERT_STRING_EQUAL(d.merge_with, "");
    zkv_range_clear(&d);
    free(js);

    /* only a merge request; an empty parents array is fine too */
    r.n_parents = 0;
    r.split_asked = false;
    strcpy(r.merge_with, "r0009");
    strcpy(r.merge_id, "r77");
    js = zkv_range_to_json(&r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(js);
    if (!js)
        return; /* (the assertion has returned already; for the analysers) */
    CU_ASSERT_PTR_NULL(strstr(js, "parents"));
    CU_ASSERT_PTR_NULL(strstr(js, "split"));
    CU_ASSERT_PTR_NOT_NULL(strstr(js, ",\"merge\":{\"with\":\"r0009\",\"id\":\"r77\"}}"));
    CU_ASSERT_EQUAL_FATAL(zkv_range_from_json(js, strlen(js), &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(d.n_parents, 0);
    CU_ASSERT_FALSE(d.split_asked);
    CU_ASSERT_STRING_EQUAL(d.merge_with, "r0009");
    CU_ASSERT_STRING_EQUAL(d.merge_id, "r77");
    zkv_range_clear(&d);
    free(js);
    zkv_range_clear(&r);
    const char *empty_parents = "{\"id\":\"r1\",\"start\":\"\",\"end\":\"\",\"owner\":\"\","
                                "\"replicas\":[],\"in_sync\":[],\"epoch\":1,\"parents\":[]}";
    CU_ASSERT_EQUAL(zkv_range_from_json(empty_parents, strlen(empty_parents), &d, err, sizeof err),
                    0);
    CU_ASSERT_EQUAL(d.n_parents, 0);
    zkv_range_clear(&d);
}

/* A range znode with the base fields and extra (the optional ones). */
static void expect_reshape_reject(const char *extra, const char *needle)
{
    char js[2048];
    snprintf(js, sizeof js,
             "{\"id\":\"r1\",\"start\":\"a\",\"end\":\"z\",\"owner\":\"n1\",\"replicas\":[],"
             "\"in_sync\":[],\"epoch\":1,%s}",
             extra);
    expect_range_reject(js, needle);
    zkv_range d;
    char err[256];
    if (zkv_range_from_json(js, strlen(js), &d, err, sizeof err) == -1) {
        CU_ASSERT_PTR_NULL(d.split_key); /* cleared: nothing to free */
        CU_ASSERT_EQUAL(d.n_parents, 0);
        CU_ASSERT_FALSE(d.split_asked);
    }
}

static void test_range_json_reshape_reject(void)
{
    /* parents: an array of at most 2 objects with a valid id and two counters */
    expect_reshape_reject("\"parents\":{\"id\":\"r0\",\"epoch\":1,\"seq\":1}", "parents");
    expect_reshape_reject("\"parents\":\"r0\"", "parents");
    expect_reshape_reject("\"parents\":[{\"id\":\"r0\",\"epoch\":1,\"seq\":1},"
                          "{\"id\":\"r2\",\"epoch\":1,\"seq\":1},"
                          "{\"id\":\"r3\",\"epoch\":1,\"seq\":1}]",
                          "parents");
    expect_reshape_reject("\"parents\":[{\"id\":\"r0\",\"epoch\":1}]", "seq");
    expect_reshape_reject("\"parents\":[{\"id\":\"r0\",\"seq\":1}]", "epoch");
    expect_reshape_reject("\"parents\":[{\"epoch\":1,\"seq\":1}]", "id");
    expect_reshape_reject("\"parents\":[{\"id\":\"a b\",\"epoch\":1,\"seq\":1}]", "id");
    expect_reshape_reject("\"parents\":[{\"id\":\"\",\"epoch\":1,\"seq\":1}]", "id");
    expect_reshape_reject("\"parents\":[{\"id\":\"r0\",\"epoch\":-1,\"seq\":1}]", "epoch");
    expect_reshape_reject("\"parents\":[{\"id\":\"r0\",\"epoch\":1,\"seq\":\"1\"}]", "seq");
    expect_reshape_reject("\"parents\":[{\"id\":\"r0\",\"epoch\":1,\"seq\":1.5}]", "seq");
    expect_reshape_reject("\"parents\":[7]", "id");
    /* split: a key (escaped) and exactly two valid ids */
    expect_reshape_reject("\"split\":{\"key\":\"m\",\"ids\":[\"r1a\"]}", "split");
    expect_reshape_reject("\"split\":{\"key\":\"m\",\"ids\":[]}", "split");
    expect_reshape_reject("\"split\":{\"key\":\"m\",\"ids\":[\"r1a\",\"r1b\",\"r1c\"]}", "split");
    expect_reshape_reject("\"split\":{\"key\":\"m\",\"ids\":[\"r1a\",\"a b\"]}", "ids");
    expect_reshape_reject("\"split\":{\"key\":\"m\",\"ids\":[\"r1a\",\"\"]}", "ids");
    expect_reshape_reject("\"split\":{\"key\":\"m\",\"ids\":[\"r1a\",2]}", "ids");
    expect_reshape_reject("\"split\":{\"key\":\"m\",\"ids\":\"r1a\"}", "ids");
    expect_reshape_reject("\"split\":{\"key\":\"m\"}", "ids");
    expect_reshape_reject("\"split\":{\"ids\":[\"r1a\",\"r1b\"]}", "key");
    expect_reshape_reject("\"split\":{\"key\":\"\\\\q\",\"ids\":[\"r1a\",\"r1b\"]}", "key");
    expect_reshape_reject("\"split\":{\"key\":3,\"ids\":[\"r1a\",\"r1b\"]}", "key");
    /* merge: two valid ids */
    expect_reshape_reject("\"merge\":{\"with\":\"r2\"}", "id");
    expect_reshape_reject("\"merge\":{\"id\":\"r9\"}", "with");
    expect_reshape_reject("\"merge\":{\"with\":\"\",\"id\":\"r9\"}", "with");
    expect_reshape_reject("\"merge\":{\"with\":\"r2\",\"id\":\"x/y\"}", "id");
    /* the later fields are checked after a good earlier one, and a bad later one drops
     * what the earlier ones allocated (ASan: no leak of the split key) */
    expect_reshape_reject("\"parents\":[{\"id\":\"r0\",\"epoch\":1,\"seq\":1}],"
                          "\"split\":{\"key\":\"m\",\"ids\":[\"r1a\",\"r1b\"]},"
                          "\"merge\":{\"with\":\"r2\",\"id\":5}",
                          "id");
}

/* The decoders promise a reason in err with every -1 (znode.h). A "split" or "merge"
 * field that is not an object must be rejected with one naming the field. */
static void test_range_json_reshape_reject_not_object(void)
{
    expect_reshape_reject("\"split\":\"m\"", "split");
    expect_reshape_reject("\"split\":[\"r1a\",\"r1b\"]", "split");
    expect_reshape_reject("\"merge\":\"r2\"", "merge");
    expect_reshape_reject("\"merge\":[]", "merge");
}

/* "split":{"ids":[...]} with more than two entries must be rejected without writing past
 * split_ids: a zkv_range followed by guard bytes must see its guard intact. */
static void test_range_json_split_ids_bounded(void)
{
    struct {
        zkv_range r;
        unsigned char guard[16 * ZKV_ID_MAX];
    } g;
    for (int n = 3; n <= ZKV_MAX_REPLICAS + 1; n++) {
        char js[4096];
        int off = snprintf(js, sizeof js,
                           "{\"id\":\"r1\",\"start\":\"\",\"end\":\"\",\"owner\":\"\","
                           "\"replicas\":[],\"in_sync\":[],\"epoch\":1,"
                           "\"split\":{\"key\":\"\",\"ids\":[");
        for (int i = 0; i < n; i++)
            off += snprintf(js + off, sizeof js - (size_t)off, "%s\"kid%02d-%040d\"", i ? "," : "",
                            i, 0);
        snprintf(js + off, sizeof js - (size_t)off, "]}}");
        memset(&g, 0, sizeof g);
        memset(g.guard, 0xa5, sizeof g.guard);
        char err[256] = "";
        CU_ASSERT_EQUAL(zkv_range_from_json(js, strlen(js), &g.r, err, sizeof err), -1);
        bool intact = true;
        for (size_t i = 0; i < sizeof g.guard; i++)
            intact = intact && g.guard[i] == 0xa5;
        if (!intact)
            fprintf(stderr, "\n%d split ids: bytes written past the zkv_range\n", n);
        CU_ASSERT_TRUE(intact);
    }
}

static char *op_json(const zkv_op *op)
{
    char *js = zkv_op_to_json(op);
    CU_ASSERT_PTR_NOT_NULL_FATAL(js);
    return js;
}

static void split_op(zkv_op *op)
{
    memset(op, 0, sizeof *op);
    strcpy(op->id, "op-0000000012");
    op->kind = ZKV_OP_SPLIT;
    strcpy(op->range, "r0003");
    strcpy(op->step, "splitting");
    op->attempts = 2;
    strcpy(op->created, "2026-01-02T03:04:05.006Z");
    strcpy(op->updated, "2026-01-02T03:04:06.007Z");
    op->updated_ms = 1767323046007ull;
}

static void test_op_split_json(void)
{
    CU_ASSERT_STRING_EQUAL(zkv_op_kind_name(ZKV_OP_SPLIT), "split");
    CU_ASSERT_EQUAL(zkv_op_kind_parse("split"), ZKV_OP_SPLIT);
    CU_ASSERT_EQUAL(zkv_op_kind_parse("Split"), ZKV_OP_NONE);
    CU_ASSERT_PTR_NULL(zkv_op_kind_name((zkv_op_kind)99));
    /* with a binary key */
    zkv_op op;
    split_op(&op);
    static const uint8_t k[] = {'m', 0x00, 0xff, '\\'};
    memcpy(op.key, k, sizeof k);
    op.key_len = sizeof k;
    char *js = op_json(&op);
    CU_ASSERT_STRING_EQUAL(js, "{\"kind\":\"split\",\"args\":{\"range\":\"r0003\",\"key\":"
                               "\"m\\\\x00\\\\xff\\\\x5c\"},\"step\":\"splitting\","
                               "\"created\":\"2026-01-02T03:04:05.006Z\",\"updated\":"
                               "\"2026-01-02T03:04:06.007Z\",\"updated_ms\":1767323046007,"
                               "\"attempts\":2}");
    zkv_op back;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(zkv_op_from_json(js, strlen(js), &back, err, sizeof err), 0);
    CU_ASSERT_EQUAL(back.kind, ZKV_OP_SPLIT);
    CU_ASSERT_STRING_EQUAL(back.id, ""); /* the znode names it */
    CU_ASSERT_STRING_EQUAL(back.range, "r0003");
    CU_ASSERT_STRING_EQUAL(back.node, "");
    CU_ASSERT_EQUAL_FATAL(back.key_len, 4);
    CU_ASSERT_EQUAL(memcmp(back.key, k, 4), 0);
    CU_ASSERT_STRING_EQUAL(back.step, "splitting");
    CU_ASSERT_EQUAL(back.attempts, 2);
    CU_ASSERT_EQUAL(back.updated_ms, 1767323046007ull);
    CU_ASSERT_STRING_EQUAL(back.created, "2026-01-02T03:04:05.006Z");
    free(js);
    /* without a key: no "key" in args, key_len 0 back */
    split_op(&op);
    js = op_json(&op);
    CU_ASSERT_PTR_NOT_NULL(strstr(js, "\"args\":{\"range\":\"r0003\"},"));
    CU_ASSERT_PTR_NULL(strstr(js, "key"));
    memset(&back, 0x5a, sizeof back);
    CU_ASSERT_EQUAL_FATAL(zkv_op_from_json(js, strlen(js), &back, err, sizeof err), 0);
    CU_ASSERT_EQUAL(back.kind, ZKV_OP_SPLIT);
    CU_ASSERT_EQUAL(back.key_len, 0);
    CU_ASSERT_EQUAL(back.key[0], 0);
    free(js);
    /* an empty key in the JSON is the same as none */
    const char *ek = "{\"kind\":\"split\",\"args\":{\"range\":\"r1\",\"key\":\"\"},\"step\":"
                     "\"start\"}";
    CU_ASSERT_EQUAL(zkv_op_from_json(ek, strlen(ek), &back, err, sizeof err), 0);
    CU_ASSERT_EQUAL(back.key_len, 0);
    CU_ASSERT_EQUAL(back.attempts, 0);
    CU_ASSERT_EQUAL(back.updated_ms, 0);
}

/* "{...,"key":"<key>"}" for a split of r1 (key already escaped for JSON). */
static char *split_json_with_key(const char *key_json)
{
    size_t n = strlen(key_json) + 128;
    char *js = malloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(js);
    if (!js)
        return NULL; /* (the assertion has returned already; for the analysers) */
    snprintf(js, n,
             "{\"kind\":\"split\",\"args\":{\"range\":\"r1\",\"key\":\"%s\"},\"step\":"
             "\"start\"}",
             key_json);
    return js;
}

static void test_op_split_key_limit(void)
{
    zkv_op op, back;
    char err[256];
    /* ZKV_OP_KEY_MAX bytes, every one escaped: fits and comes back */
    split_op(&op);
    for (int i = 0; i < ZKV_OP_KEY_MAX; i++)
        op.key[i] = (uint8_t)(i * 7 + 1) | 0x80;
    op.key_len = ZKV_OP_KEY_MAX;
    char *js = op_json(&op);
    CU_ASSERT_EQUAL_FATAL(zkv_op_from_json(js, strlen(js), &back, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(back.key_len, ZKV_OP_KEY_MAX);
    CU_ASSERT_EQUAL(memcmp(back.key, op.key, ZKV_OP_KEY_MAX), 0);
    free(js);
    /* the largest operation (key, ids, error all at their limits, all escaped) fits in
     * ZKV_OP_JSON_MAX, the buffer the coordinator reads an operation znode into */
    memset(op.key, 0, sizeof op.key);
    memset(op.range, 'r', ZKV_ID_MAX - 1);
    op.range[ZKV_ID_MAX - 1] = '\0';
    memset(op.node, 'n', ZKV_ID_MAX - 1);
    op.node[ZKV_ID_MAX - 1] = '\0';
    memset(op.error, 0x01, sizeof op.error - 1);
    op.error[sizeof op.error - 1] = '\0';
    memset(op.step, 's', sizeof op.step - 1);
    op.step[sizeof op.step - 1] = '\0';
    op.attempts = 1000000;
    op.updated_ms = 9007199254740992ull;
    js = op_json(&op);
    CU_ASSERT(strlen(js) < ZKV_OP_JSON_MAX);
    CU_ASSERT_EQUAL(zkv_op_from_json(js, strlen(js), &back, err, sizeof err), 0);
    CU_ASSERT_EQUAL(back.key_len, ZKV_OP_KEY_MAX);
    CU_ASSERT_EQUAL(back.key[ZKV_OP_KEY_MAX - 1], 0);
    free(js);
    /* 256 plain bytes accepted, 257 rejected (also when escaped) */
    char key[5 * (ZKV_OP_KEY_MAX + 1) + 1];
    memset(key, 'x', ZKV_OP_KEY_MAX);
    key[ZKV_OP_KEY_MAX] = '\0';
    js = split_json_with_key(key);
    CU_ASSERT_EQUAL(zkv_op_from_json(js, strlen(js), &back, err, sizeof err), 0);
    CU_ASSERT_EQUAL(back.key_len, ZKV_OP_KEY_MAX);
    CU_ASSERT_EQUAL(back.key[ZKV_OP_KEY_MAX - 1], 'x');
    free(js);
    key[ZKV_OP_KEY_MAX] = 'x';
    key[ZKV_OP_KEY_MAX + 1] = '\0';
    js = split_json_with_key(key);
    err[0] = '\0';
    CU_ASSERT_EQUAL(zkv_op_from_json(js, strlen(js), &back, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "256"));
    free(js);
    size_t kl = 0;
    for (int i = 0; i < ZKV_OP_KEY_MAX + 1; i++, kl += 5)
        memcpy(key + kl, "\\\\x00", 5); /* an escaped zero byte */
    key[kl] = '\0';
    js = split_json_with_key(key);
    CU_ASSERT_EQUAL(zkv_op_from_json(js, strlen(js), &back, err, sizeof err), -1);
    free(js);
    /* a bad escape, a key that is not a string */
    js = split_json_with_key("ab\\\\xg0");
    err[0] = '\0';
    CU_ASSERT_EQUAL(zkv_op_from_json(js, strlen(js), &back, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "key"));
    free(js);
    const char *numkey = "{\"kind\":\"split\",\"args\":{\"range\":\"r1\",\"key\":5},\"step\":"
                         "\"start\"}";
    CU_ASSERT_EQUAL(zkv_op_from_json(numkey, strlen(numkey), &back, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "key"));
}

static void test_op_split_check(void)
{
    zkv_op op;
    char err[256];
    split_op(&op);
    CU_ASSERT_EQUAL(zkv_op_check(&op, err, sizeof err), 0);
    op.key_len = ZKV_OP_KEY_MAX;
    CU_ASSERT_EQUAL(zkv_op_check(&op, err, sizeof err), 0);
    op.key_len = ZKV_OP_KEY_MAX + 1;
    err[0] = '\0';
    CU_ASSERT_EQUAL(zkv_op_check(&op, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "split"));
    op.key_len = 0;
    strcpy(op.range, "");
    err[0] = '\0';
    CU_ASSERT_EQUAL(zkv_op_check(&op, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "range"));
    strcpy(op.range, "r 1");
    CU_ASSERT_EQUAL(zkv_op_check(&op, err, sizeof err), -1);
    strcpy(op.range, "../r1");
    CU_ASSERT_EQUAL(zkv_op_check(&op, err, sizeof err), -1);
    /* the decoder checks too: no range, a bad range */
    zkv_op back;
    const char *norange = "{\"kind\":\"split\",\"args\":{\"key\":\"m\"},\"step\":\"start\"}";
    CU_ASSERT_EQUAL(zkv_op_from_json(norange, strlen(norange), &back, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "range"));
    const char *badrange = "{\"kind\":\"split\",\"args\":{\"range\":\"a b\"},\"step\":\"start\"}";
    CU_ASSERT_EQUAL(zkv_op_from_json(badrange, strlen(badrange), &back, err, sizeof err), -1);
    const char *nostep = "{\"kind\":\"split\",\"args\":{\"range\":\"r1\"}}";
    CU_ASSERT_EQUAL(zkv_op_from_json(nostep, strlen(nostep), &back, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "step"));
}

static void test_op_init(void)
{
    zkv_op op;
    memset(&op, 0x5a, sizeof op);
    zkv_op_init(&op, ZKV_OP_MERGE, 0);
    CU_ASSERT_EQUAL(op.kind, ZKV_OP_MERGE);
    CU_ASSERT_STRING_EQUAL(op.step, "start");
    CU_ASSERT_STRING_EQUAL(op.created, "1970-01-01T00:00:00.000Z");
    CU_ASSERT_STRING_EQUAL(op.updated, "1970-01-01T00:00:00.000Z");
    CU_ASSERT_EQUAL(op.updated_ms, 0);
    /* everything else cleared: the arguments are the caller's to set */
    CU_ASSERT_STRING_EQUAL(op.id, "");
    CU_ASSERT_STRING_EQUAL(op.range, "");
    CU_ASSERT_STRING_EQUAL(op.node, "");
    CU_ASSERT_EQUAL(op.replicas, 0);
    CU_ASSERT_EQUAL(op.key_len, 0);
    CU_ASSERT_EQUAL(op.key[0], 0);
    CU_ASSERT_EQUAL(op.attempts, 0);
    CU_ASSERT_STRING_EQUAL(op.error, "");
    /* created == updated, in ms */
    memset(&op, 0x5a, sizeof op);
    zkv_op_init(&op, ZKV_OP_SPLIT, 1767323046007ull);
    CU_ASSERT_EQUAL(op.kind, ZKV_OP_SPLIT);
    CU_ASSERT_STRING_EQUAL(op.step, "start");
    CU_ASSERT_STRING_EQUAL(op.created, "2026-01-02T03:04:06.007Z");
    CU_ASSERT_STRING_EQUAL(op.updated, "2026-01-02T03:04:06.007Z");
    CU_ASSERT_EQUAL(op.updated_ms, 1767323046007ull);
    CU_ASSERT_EQUAL(op.key_len, 0);
    zkv_op_init(&op, ZKV_OP_MOVE, 999);
    CU_ASSERT_STRING_EQUAL(op.created, "1970-01-01T00:00:00.999Z");
    CU_ASSERT_EQUAL(op.updated_ms, 999);
}

static void test_op_merge_json(void)
{
    CU_ASSERT_STRING_EQUAL(zkv_op_kind_name(ZKV_OP_MERGE), "merge");
    CU_ASSERT_EQUAL(zkv_op_kind_parse("merge"), ZKV_OP_MERGE);
    CU_ASSERT_EQUAL(zkv_op_kind_parse("Merge"), ZKV_OP_NONE);
    zkv_op op;
    zkv_op_init(&op, ZKV_OP_MERGE, 1767323046007ull);
    strcpy(op.id, "op-0000000012");
    strcpy(op.range, "r0003");
    strcpy(op.step, "colocate");
    op.attempts = 1;
    char *js = op_json(&op);
    CU_ASSERT_STRING_EQUAL(js, "{\"kind\":\"merge\",\"args\":{\"range\":\"r0003\"},\"step\":"
                               "\"colocate\",\"created\":\"2026-01-02T03:04:06.007Z\","
                               "\"updated\":\"2026-01-02T03:04:06.007Z\",\"updated_ms\":"
                               "1767323046007,\"attempts\":1}");
    zkv_op back;
    char err[256];
    memset(&back, 0x5a, sizeof back);
    CU_ASSERT_EQUAL_FATAL(zkv_op_from_json(js, strlen(js), &back, err, sizeof err), 0);
    free(js);
    CU_ASSERT_EQUAL(back.kind, ZKV_OP_MERGE);
    CU_ASSERT_STRING_EQUAL(back.id, ""); /* the znode names it */
    CU_ASSERT_STRING_EQUAL(back.range, "r0003");
    CU_ASSERT_STRING_EQUAL(back.node, "");
    CU_ASSERT_EQUAL(back.replicas, 0);
    CU_ASSERT_EQUAL(back.key_len, 0);
    CU_ASSERT_STRING_EQUAL(back.step, "colocate");
    CU_ASSERT_EQUAL(back.attempts, 1);
    CU_ASSERT_STRING_EQUAL(back.error, "");
    CU_ASSERT_STRING_EQUAL(back.created, "2026-01-02T03:04:06.007Z");
    CU_ASSERT_STRING_EQUAL(back.updated, "2026-01-02T03:04:06.007Z");
    CU_ASSERT_EQUAL(back.updated_ms, 1767323046007ull);
    /* failed, with its reason */
    strcpy(op.step, "failed");
    op.attempts = 3;
    strcpy(op.error, "r0003 is the last range: it has no right neighbour");
    js = op_json(&op);
    CU_ASSERT_EQUAL_FATAL(zkv_op_from_json(js, strlen(js), &back, err, sizeof err), 0);
    free(js);
    CU_ASSERT_EQUAL(back.kind, ZKV_OP_MERGE);
    CU_ASSERT_STRING_EQUAL(back.step, "failed");
    CU_ASSERT_EQUAL(back.attempts, 3);
    CU_ASSERT_STRING_EQUAL(back.error, "r0003 is the last range: it has no right neighbour");
    /* a merge needs a valid range */
    CU_ASSERT_EQUAL(zkv_op_check(&op, err, sizeof err), 0);
    strcpy(op.range, "");
    err[0] = '\0';
    CU_ASSERT_EQUAL(zkv_op_check(&op, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "merge"));
    const char *norange = "{\"kind\":\"merge\",\"args\":{},\"step\":\"start\"}";
    CU_ASSERT_EQUAL(zkv_op_from_json(norange, strlen(norange), &back, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "range"));
}

#define STATS_MAX 8

typedef struct stats_seen {
    int n;
    char id[STATS_MAX][ZKV_ID_MAX];
    double bytes[STATS_MAX];
    double wps[STATS_MAX];
} stats_seen;

static void stats_cb(void *ctx, const char *range_id, double bytes, double writes_per_s)
{
    stats_seen *s = ctx;
    CU_ASSERT_FATAL(s->n < STATS_MAX);
    snprintf(s->id[s->n], ZKV_ID_MAX, "%s", range_id);
    s->bytes[s->n] = bytes;
    s->wps[s->n] = writes_per_s;
    s->n++;
}

static int stats_parse(const char *js, stats_seen *seen)
{
    memset(seen, 0, sizeof *seen);
    return zkv_stats_parse(js, strlen(js), stats_cb, seen);
}

static void test_stats_parse(void)
{
    /* three ranges, the second without "bytes": skipped */
    const char *js = "{\"node\":\"n1\",\"at\":\"2026-01-02T03:04:06.007Z\",\"interval_ms\":10000,"
                     "\"ranges\":[{\"id\":\"r0001\",\"epoch\":3,\"seq\":10,\"bytes\":1048576,"
                     "\"writes_per_s\":12.5},{\"id\":\"r0002\",\"epoch\":1,\"seq\":2,"
                     "\"writes_per_s\":3},{\"id\":\"r12a\",\"epoch\":1,\"seq\":0,\"bytes\":0,"
                     "\"writes_per_s\":0}]}";
    stats_seen seen;
    CU_ASSERT_EQUAL(stats_parse(js, &seen), 2);
    CU_ASSERT_EQUAL_FATAL(seen.n, 2);
    CU_ASSERT_STRING_EQUAL(seen.id[0], "r0001");
    CU_ASSERT_DOUBLE_EQUAL(seen.bytes[0], 1048576.0, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(seen.wps[0], 12.5, 0.0);
    CU_ASSERT_STRING_EQUAL(seen.id[1], "r12a");
    CU_ASSERT_DOUBLE_EQUAL(seen.bytes[1], 0.0, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(seen.wps[1], 0.0, 0.0);
    /* only id, bytes and writes_per_s are needed; large sizes come through */
    js = "{\"ranges\":[{\"id\":\"r1\",\"bytes\":1099511627776,\"writes_per_s\":0.25}]}";
    CU_ASSERT_EQUAL(stats_parse(js, &seen), 1);
    CU_ASSERT_STRING_EQUAL(seen.id[0], "r1");
    CU_ASSERT_DOUBLE_EQUAL(seen.bytes[0], 1099511627776.0, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(seen.wps[0], 0.25, 0.0);
    /* entries of the wrong shape are skipped: no id, id not a string, a number as a
     * string, no writes_per_s, not an object */
    js = "{\"ranges\":[{\"bytes\":1,\"writes_per_s\":1},{\"id\":7,\"bytes\":1,"
         "\"writes_per_s\":1},{\"id\":\"r2\",\"bytes\":\"5\",\"writes_per_s\":1},"
         "{\"id\":\"r3\",\"bytes\":5},5,\"r4\",null,{\"id\":\"r5\",\"bytes\":5,"
         "\"writes_per_s\":6}]}";
    CU_ASSERT_EQUAL(stats_parse(js, &seen), 1);
    CU_ASSERT_EQUAL_FATAL(seen.n, 1);
    CU_ASSERT_STRING_EQUAL(seen.id[0], "r5");
    CU_ASSERT_DOUBLE_EQUAL(seen.bytes[0], 5.0, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(seen.wps[0], 6.0, 0.0);
    /* no ranges owned: 0, fn not called */
    js = "{\"node\":\"n1\",\"ranges\":[]}";
    CU_ASSERT_EQUAL(stats_parse(js, &seen), 0);
    CU_ASSERT_EQUAL(seen.n, 0);
}

static void test_stats_parse_reject(void)
{
    const char *bad[] = {
        "",
        "nope",
        "{\"node\":\"n1\"",                                 /* truncated */
        "{\"node\":\"n1\",\"interval_ms\":10000}",          /* no ranges */
        "{\"ranges\":{\"id\":\"r1\"}}",                     /* not an array */
        "{\"ranges\":\"r1\"}",                              /* not an array */
        "{\"ranges\":null}",                                /* not an array */
        "{\"Ranges\":[]}",                                  /* the name is case-sensitive */
        "[{\"id\":\"r1\",\"bytes\":1,\"writes_per_s\":1}]", /* not an object */
        "5",
    };
    stats_seen seen;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_EQUAL(stats_parse(bad[i], &seen), -1);
        CU_ASSERT_EQUAL(seen.n, 0);
    }
    /* only len bytes are read: a report cut short is not one */
    const char *js = "{\"ranges\":[{\"id\":\"r1\",\"bytes\":1,\"writes_per_s\":1}]}";
    memset(&seen, 0, sizeof seen);
    CU_ASSERT_EQUAL(zkv_stats_parse(js, strlen(js) - 2, stats_cb, &seen), -1);
    CU_ASSERT_EQUAL(seen.n, 0);
    CU_ASSERT_EQUAL(zkv_stats_parse(js, strlen(js), stats_cb, &seen), 1);
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
    CU_add_test(s, "range_json_reshape_round_trip", test_range_json_reshape_round_trip);
    CU_add_test(s, "range_json_reshape_partial", test_range_json_reshape_partial);
    CU_add_test(s, "range_json_reshape_reject", test_range_json_reshape_reject);
    CU_add_test(s, "range_json_reshape_reject_not_object: a reason given",
                test_range_json_reshape_reject_not_object);
    CU_add_test(s, "range_json_split_ids_bounded: nothing written past split_ids",
                test_range_json_split_ids_bounded);
    CU_add_test(s, "op_split_json", test_op_split_json);
    CU_add_test(s, "op_split_key_limit", test_op_split_key_limit);
    CU_add_test(s, "op_split_check", test_op_split_check);
    CU_add_test(s, "op_init", test_op_init);
    CU_add_test(s, "op_merge_json", test_op_merge_json);
    CU_add_test(s, "stats_parse", test_stats_parse);
    CU_add_test(s, "stats_parse_reject", test_stats_parse_reject);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
