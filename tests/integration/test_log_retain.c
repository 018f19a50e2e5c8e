/* test_log_retain.c: --log-retain-mb bounds a range's log in bytes (docs/replication.md,
 * "Log truncation"). A 1-node cluster (--replicas 1, so only the retention keeps log
 * entries) takes 120 values of 64 KiB (7.5 MiB) for keys of one range, one at a time; the
 * node started with --log-retain-mb 1 truncates its log as it goes: once stopped, its
 * LevelDB holds at most about 1 MiB of that range's log (plus a mark's step). Truncation
 * runs on the node's tick, after the writes: the test waits (bounded) until the node's
 * zkv_range_log_first_seq says it has cut the log before it stops it. Started with
 * --log-retain-mb 0 (no bound in bytes; --log-retain's 100,000 entries), it keeps every
 * entry. Every value reads back before the stop either way. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "it_http.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_VALUES 120
#define VALUE_LEN (64 * 1024)

typedef struct first_seq_arg {
    int port;
    char prefix[128]; /* the sample line's start (a range id is < 64 bytes) */
    long long want, seen;
} first_seq_arg;

static bool log_cut(void *p)
{
    first_seq_arg *a = p;
    it_http_answer h = it_http_get(a->port, "/metrics");
    a->seen = h.body ? it_sample_value(h.body, a->prefix) : -1;
    free(h.body);
    return a->seen >= a->want;
}

/* Writes the values, reads them back, stops the node (with --log-retain-mb 1: once it has
 * cut the log) and counts the range's log records in its LevelDB. Returns the count, or
 * -1. */
static int log_records_after_writes(const char *name, const char *retain_mb)
{
    zkt_cluster cl;
    zkv_client *client = NULL;
    int count = -1;
    if (zkt_cluster_init(&cl, name) != 0)
        return -1;
    cl.replicas = 1;
    int mport = zkt_free_port();
    char maddr[32];
    snprintf(maddr, sizeof maddr, "127.0.0.1:%d", mport);
    if (zkt_cluster_server_flag(&cl, "--log-retain-mb", retain_mb) != 0 ||
        zkt_cluster_server_flag(&cl, "--metrics", maddr) != 0 ||
        it_cluster_up(&cl, 1, 10000, 0, &client) != 0) {
        it_cluster_down(&cl, &client);
        return -1;
    }
    static char val[VALUE_LEN];
    char key[32];
    int failed = 0;
    for (int i = 0; i < N_VALUES; i++) {
        memset(val, 'a' + i % 26, sizeof val);
        int kl = snprintf(key, sizeof key, "a-%03d", i); /* first byte 'a': one range */
        if (zkv_put(client, key, (size_t)kl, val, sizeof val, 10000, 0, NULL) != ZKV_OK)
            failed++;
    }
    CU_ASSERT_EQUAL(failed, 0);
    for (int i = 0; i < N_VALUES; i++) {
        int kl = snprintf(key, sizeof key, "a-%03d", i);
        zkv_value *v = NULL;
        CU_ASSERT_EQUAL(zkv_get(client, key, (size_t)kl, 10000, 0, &v), ZKV_OK);
        CU_ASSERT(v && zkv_value_len(v) == VALUE_LEN &&
                  ((const char *)zkv_value_data(v))[0] == 'a' + i % 26);
        zkv_value_free(v);
    }
    zkt_map *m = zkt_cluster_map(&cl);
    const zkt_map_range *r = m ? zkt_map_find(m, "a-000", 5) : NULL;
    CU_ASSERT_FATAL(r != NULL);
    uint8_t prefix[ZKT_ID_MAX + 2];
    size_t idl = strlen(r->id);
    prefix[0] = 'l';
    memcpy(prefix + 1, r->id, idl);
    prefix[idl + 1] = 0;
    if (strcmp(retain_mb, "0") != 0) {
        /* 1 MiB holds 16 of the values: the log starts past the 100th entry once cut */
        first_seq_arg a = {.port = mport, .want = N_VALUES - 20};
        snprintf(a.prefix, sizeof a.prefix, "zkv_range_log_first_seq{range=\"%s\"} ", r->id);
        CU_ASSERT(zkt_wait_for(log_cut, &a, 10000));
        zkt_log("log of range %s starts at %lld", r->id, a.seen);
    }
    CU_ASSERT(zkt_server_stop(&cl, 0, SIGTERM) == 0);
    zkt_ldb *db = zkt_ldb_open(cl.servers[0].dir);
    CU_ASSERT_FATAL(db != NULL);
    count = (int)zkt_ldb_count_prefix(db, prefix, idl + 2);
    zkt_log("--log-retain-mb %s: %d log records of range %s after %d writes of %d bytes", retain_mb,
            count, r->id, N_VALUES, VALUE_LEN);
    zkt_ldb_close(db);
    zkt_map_free(m);
    it_cluster_down(&cl, &client);
    return count;
}

static void test_bounded(void)
{
    int n = log_records_after_writes("retain1", "1");
    /* 1 MiB holds 16 values of 64 KiB; a mark's step (1 MiB) more at most, and the write
     * being committed when truncation last ran */
    CU_ASSERT(n >= 1 && n <= 40);
}

static void test_unbounded(void)
{
    int n = log_records_after_writes("retain0", "0");
    CU_ASSERT(n >= N_VALUES);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("log retention in bytes", NULL, NULL);
    CU_add_test(s, "--log-retain-mb 1: the log stays about 1 MiB", test_bounded);
    CU_add_test(s, "--log-retain-mb 0: every entry stays", test_unbounded);
    return zkt_run_all();
}
