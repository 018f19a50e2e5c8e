/* Unit tests of libzkv's socket-free parts: status names and the thread-local last error,
 * options defaults and validation, batch queueing and per-node grouping, the describe
 * JSON, argument checks, and zkv_client_create failing fast (with the connect string in
 * its message) when nothing listens where ZooKeeper should be. */
#include <CUnit/Basic.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "zkv/zkv.h"
#include "common/frame.h"
#include "common/keyrange.h"
#include "common/rangemap.h"
#include "batch.h"
#include "conn.h"
#include "describe.h"
#include "options.h"
#include "scan.h"
#include "value.h"

static void test_strerror(void)
{
    int codes[] = {ZKV_OK,          ZKV_ENOTFOUND, ZKV_ENOTOWNER, ZKV_EUNAVAILABLE, ZKV_ETOOLARGE,
                   ZKV_EBADREQUEST, ZKV_ETIMEOUT,  ZKV_EINTERNAL, ZKV_ECONNECT,     ZKV_EZOOKEEPER,
                   ZKV_ENOCLUSTER,  ZKV_ENOMEM,    ZKV_EINVAL,    ZKV_EPROTOCOL,    ZKV_EAUTH};
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        const char *s = zkv_strerror(codes[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        CU_ASSERT_EQUAL(strncmp(s, "ZKV_", 4), 0);
        for (size_t j = 0; j < i; j++)
            CU_ASSERT_STRING_NOT_EQUAL(s, zkv_strerror(codes[j]));
    }
    CU_ASSERT_STRING_EQUAL(zkv_strerror(ZKV_ENOTFOUND), "ZKV_ENOTFOUND: key not found");
    CU_ASSERT_PTR_NOT_NULL(zkv_strerror(12345));
    CU_ASSERT_PTR_NOT_NULL(zkv_strerror(-12345));
    CU_ASSERT_STRING_EQUAL(zkv_version_string(), ZKV_VERSION);
    zkv_free(NULL);
}

static void *other_thread(void *arg)
{
    (void)arg;
    /* A failure on this thread must not be seen by the main thread, and vice versa. */
    const char *before = zkv_last_error();
    int empty = before[0] == '\0';
    zkv_options *o = zkv_options_create();
    zkv_options_set_timeout(o, -5);
    zkv_options_free(o);
    return (void *)(intptr_t)(empty && strstr(zkv_last_error(), "timeout") != NULL);
}

static void test_last_error_thread_local(void)
{
    zkv_options *o = zkv_options_create();
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_EQUAL(zkv_options_set_cluster(o, "bad/name"), ZKV_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(zkv_last_error(), "bad/name"));
    pthread_t t;
    void *ok = NULL;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, other_thread, NULL), 0);
    pthread_join(t, &ok);
    CU_ASSERT_TRUE((intptr_t)ok);
    CU_ASSERT_PTR_NOT_NULL(strstr(zkv_last_error(), "bad/name"));
    zkv_options_free(o);
}

static void test_options_defaults_and_env(void)
{
    unsetenv("ZKV_ZK");
    unsetenv("ZKV_CLUSTER");
    zkv_options *o = zkv_options_create();
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_STRING_EQUAL(o->zk, "127.0.0.1:2181");
    CU_ASSERT_STRING_EQUAL(o->cluster, "default");
    CU_ASSERT_EQUAL(o->connect_timeout_ms, 5000);
    CU_ASSERT_EQUAL(o->timeout_ms, 5000);
    CU_ASSERT_EQUAL(o->session_timeout_ms, 10000);
    CU_ASSERT_EQUAL(o->max_key, 4096);
    CU_ASSERT_EQUAL(o->max_value, 1024 * 1024);
    CU_ASSERT_EQUAL(o->default_flags, 0);
    CU_ASSERT_EQUAL(o->failfast_ms, 1000);
    CU_ASSERT_STRING_EQUAL(o->zone, "");
    zkv_options_free(o);

    setenv("ZKV_ZK", "127.0.0.1:2999", 1);
    setenv("ZKV_CLUSTER", "east", 1);
    o = zkv_options_create();
    CU_ASSERT_STRING_EQUAL(o->zk, "127.0.0.1:2999");
    CU_ASSERT_STRING_EQUAL(o->cluster, "east");
    zkv_options_free(o);
    unsetenv("ZKV_ZK");
    unsetenv("ZKV_CLUSTER");
    zkv_options_free(NULL);
}

static void test_options_validation(void)
{
    zkv_options *o = zkv_options_create();
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_EQUAL(zkv_options_set_zk(o, ""), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_options_set_zk(o, NULL), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_options_set_zk(o, "127.0.0.1:1,127.0.0.1:2/chroot"), ZKV_OK);
    CU_ASSERT_STRING_EQUAL(o->zk, "127.0.0.1:1,127.0.0.1:2/chroot");
    CU_ASSERT_EQUAL(zkv_options_set_cluster(o, ""), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_options_set_cluster(o, "a/b"), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_options_set_cluster(o, "prod-1.eu_west"), ZKV_OK);
    CU_ASSERT_STRING_EQUAL(o->cluster, "prod-1.eu_west");
    CU_ASSERT_EQUAL(zkv_options_set_timeout(o, 0), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_options_set_timeout(o, -1), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_options_set_timeout(o, 250), ZKV_OK);
    CU_ASSERT_EQUAL(o->timeout_ms, 250);
    CU_ASSERT_EQUAL(zkv_options_set_connect_timeout(o, 0), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_options_set_connect_timeout(o, 100), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_options_set_session_timeout(o, -3), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_options_set_session_timeout(o, 400), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_options_set_max_value(o, 0), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_options_set_max_value(o, (size_t)1 << 40), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_options_set_max_value(o, 10), ZKV_OK);
    CU_ASSERT_EQUAL(o->max_value, 10);
    CU_ASSERT_EQUAL(zkv_options_set_default_flags(o, 1u << 7), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_options_set_default_flags(o, ZKV_FLAG_READ_REPLICA | ZKV_FLAG_OWNER_ONLY),
                    ZKV_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(zkv_last_error(), "exclude"));
    CU_ASSERT_EQUAL(zkv_options_set_default_flags(o, ZKV_FLAG_READ_REPLICA | ZKV_FLAG_ACK_OWNER),
                    ZKV_OK);
    CU_ASSERT_EQUAL(o->default_flags, ZKV_FLAG_READ_REPLICA | ZKV_FLAG_ACK_OWNER);
    CU_ASSERT_EQUAL(zkv_options_set_default_flags(o, ZKV_FLAG_OWNER_ONLY), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_options_set_failfast(o, -1), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_options_set_failfast(NULL, 10), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_options_set_failfast(o, 0), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_options_set_failfast(o, 2500), ZKV_OK);
    CU_ASSERT_EQUAL(o->failfast_ms, 2500);
    CU_ASSERT_EQUAL(zkv_options_set_zone(o, NULL), ZKV_EINVAL);
    char longzone[100];
    memset(longzone, 'z', sizeof longzone - 1);
    longzone[sizeof longzone - 1] = '\0';
    CU_ASSERT_EQUAL(zkv_options_set_zone(o, longzone), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_options_set_zone(o, "eu-west-1a"), ZKV_OK);
    CU_ASSERT_STRING_EQUAL(o->zone, "eu-west-1a");
    CU_ASSERT_EQUAL(zkv_options_set_client_name(o, "bench-7"), ZKV_OK);
    CU_ASSERT_STRING_EQUAL(o->client_name, "bench-7");
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CU_ASSERT_EQUAL(zkv_options_set_client_name(o, longname), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_options_set_timeout(NULL, 5), ZKV_EINVAL);
    /* a copy is deep */
    struct zkv_options copy;
    CU_ASSERT_EQUAL_FATAL(zkv__options_copy(&copy, o), ZKV_OK);
    CU_ASSERT_PTR_NOT_EQUAL(copy.zk, o->zk);
    CU_ASSERT_STRING_EQUAL(copy.cluster, "prod-1.eu_west");
    CU_ASSERT_PTR_NOT_EQUAL(copy.zone, o->zone);
    CU_ASSERT_STRING_EQUAL(copy.zone, "eu-west-1a");
    CU_ASSERT_EQUAL(copy.failfast_ms, 2500);
    CU_ASSERT_EQUAL(copy.max_value, 10);
    zkv__options_clear(&copy);
    zkv_options_free(o);
}

static void test_batch_queue(void)
{
    zkv_batch *b = zkv_batch_create();
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(zkv_batch_count(b), 0);
    char key[8];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "k%02d", i);
        int rc = i % 3 == 0   ? zkv_batch_get(b, key, strlen(key))
                 : i % 3 == 1 ? zkv_batch_put(b, key, strlen(key), "v\0x", 3)
                              : zkv_batch_del(b, key, strlen(key));
        CU_ASSERT_EQUAL(rc, ZKV_OK);
    }
    CU_ASSERT_EQUAL(zkv_batch_count(b), 100);
    /* keys and values were copied: check a few in the arena */
    const zkv__batch_op *op = &b->ops[4];
    CU_ASSERT_EQUAL(op->op, ZKV__OP__PUT);
    CU_ASSERT_EQUAL(memcmp(b->arena.data + op->koff, "k04", 3), 0);
    CU_ASSERT_EQUAL(op->vlen, 3);
    CU_ASSERT_EQUAL(memcmp(b->arena.data + op->voff, "v\0x", 3), 0);
    CU_ASSERT_EQUAL(b->ops[99].op, ZKV__OP__GET);
    CU_ASSERT_EQUAL(b->ops[98].op, ZKV__OP__DELETE);
    /* not run yet: no status, no value */
    CU_ASSERT_EQUAL(zkv_batch_status(b, 0), ZKV_EINVAL);
    size_t len = 99;
    CU_ASSERT_PTR_NULL(zkv_batch_value(b, 0, &len));
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_EQUAL(zkv_batch_status(b, 100), ZKV_EINVAL);
    /* binary and empty keys are fine; NULL with a length is not */
    CU_ASSERT_EQUAL(zkv_batch_get(b, "", 0), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_batch_get(b, NULL, 3), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_batch_put(b, "k", 1, NULL, 2), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_batch_get(NULL, "k", 1), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_batch_count(b), 101);
    zkv_batch_clear(b);
    CU_ASSERT_EQUAL(zkv_batch_count(b), 0);
    CU_ASSERT_EQUAL(zkv_batch_put(b, "a", 1, "b", 1), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_batch_count(b), 1);
    CU_ASSERT_EQUAL(memcmp(b->arena.data + b->ops[0].koff, "a", 1), 0);
    CU_ASSERT_EQUAL(zkv_batch_run(NULL, b, 0, 0), ZKV_EINVAL);
    zkv_batch_free(b);
    zkv_batch_free(NULL);
    CU_ASSERT_EQUAL(zkv_batch_count(NULL), 0);
}

static void test_batch_order(void)
{
    /* 7 ops over groups given in first-seen order n3, n1, n2; op 5 is not grouped */
    zkv__batch_op ops[7];
    memset(ops, 0, sizeof ops);
    int g[7] = {0, 1, 0, 2, 1, -1, 0};
    for (int i = 0; i < 7; i++)
        ops[i].group = g[i];
    zkv__batch_group groups[3];
    memset(groups, 0, sizeof groups);
    strcpy(groups[0].node, "node-3");
    strcpy(groups[1].node, "node-1");
    strcpy(groups[2].node, "node-2");
    size_t order[7], rank[3];
    CU_ASSERT_EQUAL(zkv__batch_order(ops, 7, groups, 3, order, rank), 6);
    CU_ASSERT_STRING_EQUAL(groups[0].node, "node-1");
    CU_ASSERT_STRING_EQUAL(groups[1].node, "node-2");
    CU_ASSERT_STRING_EQUAL(groups[2].node, "node-3");
    CU_ASSERT_EQUAL(groups[0].first, 0);
    CU_ASSERT_EQUAL(groups[0].count, 2);
    CU_ASSERT_EQUAL(groups[1].first, 2);
    CU_ASSERT_EQUAL(groups[1].count, 1);
    CU_ASSERT_EQUAL(groups[2].first, 3);
    CU_ASSERT_EQUAL(groups[2].count, 3);
    size_t want[6] = {1, 4, 3, 0, 2, 6}; /* node-1's ops, node-2's, node-3's; queue order */
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(order[i], want[i]);
    CU_ASSERT_EQUAL(ops[0].group, 2);
    CU_ASSERT_EQUAL(ops[1].group, 0);
    CU_ASSERT_EQUAL(ops[3].group, 1);
    CU_ASSERT_EQUAL(ops[5].group, -1);
    CU_ASSERT_EQUAL(zkv__batch_order(ops, 7, groups, 0, order, rank), 0);
}

static void test_describe_json(void)
{
    zkv_rangemap *m = calloc(1, sizeof *m);
    m->version = 42;
    m->n_ranges = 2;
    m->ranges = calloc(2, sizeof *m->ranges);
    strcpy(m->ranges[0].id, "r0000");
    strcpy(m->ranges[1].id, "r0001");
    const uint8_t mid[2] = {0x80, 0x00};
    CU_ASSERT_FATAL(zkv_range_set_bounds(&m->ranges[0], NULL, 0, mid, 2) == 0);
    CU_ASSERT_FATAL(zkv_range_set_bounds(&m->ranges[1], mid, 2, NULL, 0) == 0);
    strcpy(m->ranges[0].owner, "node-a");
    strcpy(m->ranges[0].replicas[0], "node-b");
    m->ranges[0].n_replicas = 1;
    m->ranges[0].epoch = 3;
    strcpy(m->ranges[1].owner, "node-a");
    m->n_nodes = 2;
    m->nodes = calloc(2, sizeof *m->nodes);
    strcpy(m->nodes[0].id, "node-a");
    strcpy(m->nodes[0].addr, "127.0.0.1:7400");
    m->nodes[0].incarnation = 5;
    strcpy(m->nodes[0].zone, "z1");
    strcpy(m->nodes[0].version, "0.1.0");
    strcpy(m->nodes[1].id, "node-b");
    strcpy(m->nodes[1].addr, "127.0.0.1:7401");
    zkv_cluster_info info = {.replicas = 3, .format = 1};
    strcpy(info.cluster_id, "c0ffee");

    char *json = zkv__describe_json("default", &info, m, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    CU_ASSERT_PTR_NULL(strchr(json, '\n')); /* compact */
    cJSON *root = cJSON_Parse(json);
    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(root, "cluster")->valuestring, "default");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(root, "cluster_id")->valuestring, "c0ffee");
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(root, "map_version")->valuedouble, 42);
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(root, "replicas")->valuedouble, 3);
    cJSON *ranges = cJSON_GetObjectItem(root, "ranges");
    CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(ranges), 2);
    cJSON *r0 = cJSON_GetArrayItem(ranges, 0);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(r0, "id")->valuestring, "r0000");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(r0, "start")->valuestring, "");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(r0, "end")->valuestring, "\\x80\\x00");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(r0, "owner")->valuestring, "node-a");
    CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(r0, "replicas")), 1);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(r0, "in_sync")), 0);
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(r0, "epoch")->valuedouble, 3);
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(r0, "seq")); /* nobody asked: absent */
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(r0, "lag"));
    cJSON *nodes = cJSON_GetObjectItem(root, "nodes");
    CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(nodes), 2);
    cJSON *na = cJSON_GetArrayItem(nodes, 0), *nb = cJSON_GetArrayItem(nodes, 1);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(na, "addr")->valuestring, "127.0.0.1:7400");
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(na, "incarnation")->valuedouble, 5);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(na, "zone")->valuestring, "z1");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(na, "version")->valuestring, "0.1.0");
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(na, "owned")->valuedouble, 2);
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(na, "replica_of")->valuedouble, 0);
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(nb, "owned")->valuedouble, 0);
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(nb, "replica_of")->valuedouble, 1);
    cJSON_Delete(root);
    zkv_free(json);
    zkv_rangemap_free(m);
}

static void test_describe_status(void)
{
    /* RANGE_STATUS answers: r0000's owner reports two replicas, r0001's did not answer */
    zkv_rangemap *m = calloc(1, sizeof *m);
    m->version = 9;
    m->n_ranges = 2;
    m->ranges = calloc(2, sizeof *m->ranges);
    strcpy(m->ranges[0].id, "r0000");
    strcpy(m->ranges[1].id, "r0001");
    const uint8_t mid[1] = {'m'};
    CU_ASSERT_FATAL(zkv_range_set_bounds(&m->ranges[0], NULL, 0, mid, 1) == 0);
    CU_ASSERT_FATAL(zkv_range_set_bounds(&m->ranges[1], mid, 1, NULL, 0) == 0);
    strcpy(m->ranges[0].owner, "node-1");
    strcpy(m->ranges[1].owner, "node-2");
    zkv_cluster_info info = {.replicas = 3, .format = 1};
    strcpy(info.cluster_id, "c1");

    Zkv__Response r = ZKV__RESPONSE__INIT;
    Zkv__ReplicaStatus a = ZKV__REPLICA_STATUS__INIT, b = ZKV__REPLICA_STATUS__INIT;
    a.node_id = "node-2";
    a.acked_seq = 1042;
    a.in_sync = true;
    a.connected = true;
    b.node_id = "node-3";
    b.acked_seq = 1030;
    b.connected = false;
    b.lag_ms = 2500;
    Zkv__ReplicaStatus *reps[2] = {&a, &b};
    r.status = ZKV__STATUS__OK;
    r.owner = true;
    r.range_epoch = 3;
    r.range_seq = 1042;
    r.replicas = reps;
    r.n_replicas = 2;
    zkv__range_status st[2];
    zkv__range_status_from(&st[0], &r);
    CU_ASSERT_TRUE(st[0].answered);
    CU_ASSERT_TRUE(st[0].owner);
    CU_ASSERT_EQUAL(st[0].seq, 1042);
    CU_ASSERT_EQUAL(st[0].n_replicas, 2);
    CU_ASSERT_STRING_EQUAL(st[0].replicas[1].id, "node-3");
    zkv__range_status_from(&st[1], NULL); /* no answer */
    CU_ASSERT_FALSE(st[1].answered);

    char *json = zkv__describe_json("default", &info, m, st);
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    cJSON *root = cJSON_Parse(json);
    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    cJSON *ranges = cJSON_GetObjectItem(root, "ranges");
    cJSON *r0 = cJSON_GetArrayItem(ranges, 0), *r1 = cJSON_GetArrayItem(ranges, 1);
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(r0, "seq")->valuedouble, 1042);
    cJSON *lag = cJSON_GetObjectItem(r0, "lag");
    CU_ASSERT_PTR_NOT_NULL_FATAL(lag);
    cJSON *l2 = cJSON_GetObjectItem(lag, "node-2"), *l3 = cJSON_GetObjectItem(lag, "node-3");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l3);
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(l2, "seq_behind")->valuedouble, 0);
    CU_ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(l2, "connected")));
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(l3, "seq_behind")->valuedouble, 12);
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(l3, "lag_ms")->valuedouble, 2500);
    CU_ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItem(l3, "connected")));
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(r1, "seq"));
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(r1, "lag"));
    cJSON_Delete(root);
    zkv_free(json);

    /* a node that answers but is not (or no longer) the serving owner: seq, no lag */
    r.owner = false;
    zkv__range_status_from(&st[0], &r);
    CU_ASSERT_TRUE(st[0].answered);
    CU_ASSERT_EQUAL(st[0].n_replicas, 0);
    /* an acked seq ahead of the owner's (a stale answer) is not negative */
    r.owner = true;
    a.acked_seq = 2000;
    zkv__range_status_from(&st[0], &r);
    json = zkv__describe_json("default", &info, m, st);
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"node-2\":{\"seq_behind\":0,"));
    zkv_free(json);
    /* an error status counts as no answer */
    r.status = ZKV__STATUS__BAD_REQUEST;
    zkv__range_status_from(&st[0], &r);
    CU_ASSERT_FALSE(st[0].answered);
    zkv_rangemap_free(m);
}

static void test_value_position(void)
{
    zkv_version ver = {2, 17}, pos = {3, 1042};
    zkv_value *v = zkv__value_new("abc", 3, ver, pos, 1, "node-2");
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_EQUAL(zkv_value_version(v).seq, 17);
    CU_ASSERT_EQUAL(zkv_value_position(v).epoch, 3);
    CU_ASSERT_EQUAL(zkv_value_position(v).seq, 1042);
    CU_ASSERT_EQUAL(zkv_value_stale(v), 1);
    CU_ASSERT_STRING_EQUAL(zkv_value_node(v), "node-2");
    zkv_value_free(v);
    CU_ASSERT_EQUAL(zkv_value_position(NULL).seq, 0);
}

/* A GET answer as the blocking client decodes it: a large value keeps the decoded block
 * (not copied), a small one is copied and the answer stays the caller's. */
static void check_take(size_t len, bool kept)
{
    uint8_t *val = malloc(len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(val);
    for (size_t i = 0; i < len; i++)
        val[i] = (uint8_t)('a' + i % 26);
    Zkv__Response r = ZKV__RESPONSE__INIT;
    r.status = ZKV__STATUS__OK;
    r.seq = 9;
    r.value.data = val;
    r.value.len = len;
    zkv_buf b;
    zkv_buf_init(&b);
    CU_ASSERT_EQUAL_FATAL(zkv_frame_append_response(&b, &r), 0);
    Zkv__Response *d =
        zkv__response_decode(b.data + ZKV_FRAME_HEADER_LEN, b.len - ZKV_FRAME_HEADER_LEN);
    zkv_buf_free(&b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_TRUE(zkv__response_is_block(d));
    zkv_value *v = zkv__value_take(&d, 0, "node-1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_EQUAL(d == NULL, kept);
    CU_ASSERT_EQUAL_FATAL(zkv_value_len(v), len);
    CU_ASSERT_EQUAL(memcmp(zkv_value_data(v), val, len), 0);
    CU_ASSERT_EQUAL(((const char *)zkv_value_data(v))[len], '\0');
    CU_ASSERT_EQUAL(zkv_value_version(v).seq, 9);
    CU_ASSERT_STRING_EQUAL(zkv_value_node(v), "node-1");
    zkv__response_free(d);
    zkv_value_free(v); /* ASan: the kept block is freed with the value, once */
    free(val);
}

static void test_value_take(void)
{
    check_take(10, false);
    check_take(ZKV__VALUE_TAKE_MIN, true);
    check_take(100000, true);
}

/* A loopback port nothing listens on: bind one, note it, close it. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    close(fd);
    return ntohs(a.sin_port);
}

static void test_create_without_zookeeper(void)
{
    int port = closed_port();
    CU_ASSERT_FATAL(port > 0);
    char zk[64];
    snprintf(zk, sizeof zk, "127.0.0.1:%d", port);
    zkv_options *o = zkv_options_create();
    CU_ASSERT_EQUAL_FATAL(zkv_options_set_zk(o, zk), ZKV_OK);
    CU_ASSERT_EQUAL_FATAL(zkv_options_set_connect_timeout(o, 300), ZKV_OK);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    zkv_client *c = (zkv_client *)o; /* must be overwritten with NULL */
    int rc = zkv_client_create(o, &c);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CU_ASSERT_EQUAL(rc, ZKV_EZOOKEEPER);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_PTR_NOT_NULL(strstr(zkv_last_error(), zk));
    CU_ASSERT(took < 3.0); /* bounded by the connect timeout, not a hang */
    zkv_options_free(o);
    CU_ASSERT_EQUAL(zkv_client_create(NULL, NULL), ZKV_EINVAL);
    zkv_client_free(NULL);
}

static void test_null_arguments(void)
{
    zkv_value *v = (zkv_value *)1;
    CU_ASSERT_EQUAL(zkv_get(NULL, "k", 1, 0, 0, &v), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_put(NULL, "k", 1, "v", 1, 0, 0, NULL), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_del(NULL, "k", 1, 0, 0, NULL), ZKV_EINVAL);
    zkv_scan *s = NULL;
    CU_ASSERT_EQUAL(zkv_scan_range(NULL, NULL, 0, NULL, 0, 0, 0, 0, &s), ZKV_EINVAL);
    char *json = NULL;
    CU_ASSERT_EQUAL(zkv_describe(NULL, &json), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_client_map_version(NULL), -1);
    CU_ASSERT_PTR_NULL(zkv_value_data(NULL));
    CU_ASSERT_EQUAL(zkv_value_len(NULL), 0);
    CU_ASSERT_EQUAL(zkv_value_stale(NULL), 0);
    CU_ASSERT_EQUAL(zkv_scan_count(NULL), 0);
    CU_ASSERT_PTR_NULL(zkv_scan_key(NULL, 0, NULL));
    zkv_value_free(NULL);
    zkv_scan_free(NULL);
}

/* A scan page as a node would send it: keys given as C strings. */
typedef struct page {
    Zkv__Response r;
    Zkv__KeyValue kv[8];
    Zkv__KeyValue *ptrs[8];
} page;

static void make_page(page *p, const char *const *keys, size_t n, bool more, const char *next)
{
    Zkv__Response init = ZKV__RESPONSE__INIT;
    p->r = init;
    for (size_t i = 0; i < n; i++) {
        Zkv__KeyValue kvinit = ZKV__KEY_VALUE__INIT;
        p->kv[i] = kvinit;
        p->kv[i].key.data = (uint8_t *)keys[i];
        p->kv[i].key.len = strlen(keys[i]);
        p->kv[i].value.data = (uint8_t *)"v";
        p->kv[i].value.len = 1;
        p->ptrs[i] = &p->kv[i];
    }
    p->r.n_items = n;
    p->r.items = n ? p->ptrs : NULL;
    p->r.more = more;
    p->r.next_key.data = (uint8_t *)next;
    p->r.next_key.len = next ? strlen(next) : 0;
}

static void check_keys(const zkv_scan *s, const char *const *want, size_t n)
{
    CU_ASSERT_EQUAL_FATAL(zkv_scan_count(s), n);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const void *k = zkv_scan_key(s, i, &len);
        CU_ASSERT_EQUAL(len, strlen(want[i]));
        CU_ASSERT_EQUAL(memcmp(k, want[i], len), 0);
        const void *v = zkv_scan_value(s, i, &len);
        CU_ASSERT_EQUAL(len, 1);
        CU_ASSERT_EQUAL(memcmp(v, "v", 1), 0);
    }
}

static void test_scan_pages(void)
{
    zkv_scan *s = zkv__scan_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char err[256] = "";
    bool go_on = false;
    page p;
    /* first range: stops at its end "m", node says go on from there */
    const char *k1[] = {"b", "c", "d"};
    make_page(&p, k1, 3, true, "m");
    CU_ASSERT_EQUAL(zkv__scan_page(s, &p.r, false, (const uint8_t *)"b", 1, false,
                                   (const uint8_t *)"b", 1, (const uint8_t *)"x", 1, 100, "n1",
                                   &go_on, err, sizeof err),
                    ZKV_OK);
    CU_ASSERT_TRUE(go_on);
    /* second range repeats "d" and strays outside [b, x): both dropped */
    const char *k2[] = {"a", "d", "m", "q", "x", "y"};
    make_page(&p, k2, 6, false, NULL);
    CU_ASSERT_EQUAL(zkv__scan_page(s, &p.r, false, (const uint8_t *)"m", 1, false,
                                   (const uint8_t *)"b", 1, (const uint8_t *)"x", 1, 100, "n2",
                                   &go_on, err, sizeof err),
                    ZKV_OK);
    CU_ASSERT_FALSE(go_on);
    const char *want[] = {"b", "c", "d", "m", "q"};
    check_keys(s, want, 5);
    CU_ASSERT_EQUAL(zkv_scan_more(s), 0);
    CU_ASSERT_PTR_NULL(zkv_scan_key(s, 5, NULL));
    zkv_scan_free(s);

    /* the limit cuts a page short: more is set */
    s = zkv__scan_new();
    make_page(&p, k1, 3, false, NULL);
    CU_ASSERT_EQUAL(zkv__scan_page(s, &p.r, false, NULL, 0, false, NULL, 0, NULL, 0, 2, "n1",
                                   &go_on, err, sizeof err),
                    ZKV_OK);
    CU_ASSERT_EQUAL(zkv_scan_count(s), 2);
    CU_ASSERT_EQUAL(zkv_scan_more(s), 1);
    zkv_scan_free(s);

    /* protocol violations: more without next key, next key not advancing */
    s = zkv__scan_new();
    make_page(&p, k1, 3, true, NULL);
    CU_ASSERT_EQUAL(zkv__scan_page(s, &p.r, false, (const uint8_t *)"b", 1, false, NULL, 0, NULL, 0,
                                   100, "n1", &go_on, err, sizeof err),
                    ZKV_EPROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "n1"));
    make_page(&p, k1, 0, true, "b");
    CU_ASSERT_EQUAL(zkv__scan_page(s, &p.r, false, (const uint8_t *)"c", 1, false, NULL, 0, NULL, 0,
                                   100, "n1", &go_on, err, sizeof err),
                    ZKV_EPROTOCOL);
    CU_ASSERT_FALSE(go_on);
    zkv_scan_free(s);

    /* the empty key and binary keys survive intact */
    s = zkv__scan_new();
    Zkv__Response r = ZKV__RESPONSE__INIT;
    Zkv__KeyValue a = ZKV__KEY_VALUE__INIT, b = ZKV__KEY_VALUE__INIT;
    uint8_t bin[3] = {0x00, 0xff, 0x00};
    b.key.data = bin;
    b.key.len = 3;
    Zkv__KeyValue *items[2] = {&a, &b};
    r.items = items;
    r.n_items = 2;
    CU_ASSERT_EQUAL(zkv__scan_page(s, &r, false, NULL, 0, false, NULL, 0, NULL, 0, 100, "n1",
                                   &go_on, err, sizeof err),
                    ZKV_OK);
    CU_ASSERT_EQUAL_FATAL(zkv_scan_count(s), 2);
    size_t len = 9;
    CU_ASSERT_PTR_NOT_NULL(zkv_scan_key(s, 0, &len));
    CU_ASSERT_EQUAL(len, 0);
    const uint8_t *k = zkv_scan_key(s, 1, &len);
    CU_ASSERT_EQUAL(len, 3);
    CU_ASSERT_EQUAL(memcmp(k, bin, 3), 0);
    zkv_scan_free(s);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("client_api", NULL, NULL);
    CU_add_test(s, "status names", test_strerror);
    CU_add_test(s, "last error is per thread", test_last_error_thread_local);
    CU_add_test(s, "options defaults and environment", test_options_defaults_and_env);
    CU_add_test(s, "options validation", test_options_validation);
    CU_add_test(s, "batch queueing", test_batch_queue);
    CU_add_test(s, "batch grouping by node", test_batch_order);
    CU_add_test(s, "describe JSON", test_describe_json);
    CU_add_test(s, "describe seq and lag (RANGE_STATUS)", test_describe_status);
    CU_add_test(s, "value position", test_value_position);
    CU_add_test(s, "a large value keeps its decoded answer", test_value_take);
    CU_add_test(s, "scan pages across ranges", test_scan_pages);
    CU_add_test(s, "create fails fast without ZooKeeper", test_create_without_zookeeper);
    CU_add_test(s, "NULL arguments", test_null_arguments);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
