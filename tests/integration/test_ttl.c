/* test_ttl.c: expiry (docs/api.md, "Expiry") on three servers and a coordinator, 2 ranges
 * with 3 copies each.
 *  - A key put with a TTL reads with its time left, then as missing once (and not before)
 *    its time is up: on the owner and, reading replicas on purpose, on every copy.
 *  - expire sets a key's expiry anew, 0 takes it away (persist); a missing key is
 *    ZKV_ENOTFOUND.
 *  - An expired key is absent for put-if-absent, and scans leave it out.
 *  - Keys nobody reads are deleted in the background: the owner's log grows by their
 *    deletes.
 *  - A failover does not bring back a key that had expired. */
#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "it_repl.h"
#include "it_wire.h"
#include "zkt/zkt.h"
#include "it_uv.h"
#include "zkv/zkv.h"
#include "zkv/zkv_async.h"

#define WAIT_MS 30000

static zkt_cluster g_cl;
static zkv_client *g_client;

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "ttl") != 0)
        return -1;
    g_cl.ranges = 2;
    g_cl.replicas = 3;
    return it_cluster_up(&g_cl, 3, 10000, 2000, &g_client);
}

static int suite_cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

typedef struct probe {
    const char *key;
    unsigned flags;
} probe;

static bool missing(void *arg)
{
    const probe *p = arg;
    zkv_value *v = NULL;
    int rc = zkv_get(g_client, p->key, strlen(p->key), 0, p->flags, &v);
    zkv_value_free(v);
    return rc == ZKV_ENOTFOUND;
}

/* A GET of key sent to server s directly with FLAG_ALLOW_STALE, so that each copy answers
 * from its own data: the status, and *ttl_ms the time it says is left. */
static int copy_get(int s, const char *key, uint64_t *ttl_ms)
{
    char cid[128];
    CU_ASSERT_FATAL(zkt_cluster_id(&g_cl, cid, sizeof cid) == 0);
    conn c;
    conn_open_hello(&c, g_cl.servers[s].port, cid);
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.id = 2;
    req.op = ZKV__OP__GET;
    req.key.data = (uint8_t *)key;
    req.key.len = strlen(key);
    req.flags = ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE;
    Zkv__Response *r = call(&c, &req);
    conn_close(&c);
    int status = r ? (int)r->status : -1;
    *ttl_ms = r ? r->ttl_ms : 0;
    if (r)
        zkv__response__free_unpacked(r, NULL);
    return status;
}

static void test_expires(void)
{
    uint64_t t0 = zkt_now_ms();
    CU_ASSERT_EQUAL_FATAL(zkv_put_ttl(g_client, "s:1", 3, "session", 7, 1500, 0, 0, NULL), ZKV_OK);
    zkv_value *v = NULL;
    int rc = zkv_get(g_client, "s:1", 3, 0, 0, &v);
    if (rc != ZKV_OK)
        zkt_log("get s:1: %s: %s", zkv_strerror(rc), zkv_last_error());
    CU_ASSERT_EQUAL_FATAL(rc, ZKV_OK);
    int64_t left = zkv_value_ttl(v);
    CU_ASSERT(left > 0 && left <= 1500);
    zkv_value_free(v);
    /* every copy holds it with its expiry (replicas apply a write before it is acked) */
    for (int s = 0; s < g_cl.n_servers; s++) {
        uint64_t ttl = 0;
        CU_ASSERT_EQUAL(copy_get(s, "s:1", &ttl), ZKV__STATUS__OK);
        CU_ASSERT(ttl > 0 && ttl <= 1500);
    }
    probe p = {.key = "s:1"};
    CU_ASSERT_FATAL(zkt_wait_for(missing, &p, WAIT_MS));
    uint64_t gone = zkt_now_ms() - t0;
    zkt_log("a key with a TTL of 1500 ms read as missing after %llu ms", (unsigned long long)gone);
    CU_ASSERT(gone >= 1400); /* not before its time (same machine, one clock) */
    /* every copy agrees, each asked on its own */
    for (int s = 0; s < g_cl.n_servers; s++) {
        uint64_t ttl = 0;
        CU_ASSERT_EQUAL(copy_get(s, "s:1", &ttl), ZKV__STATUS__NOT_FOUND);
    }
    p.flags = ZKV_FLAG_READ_REPLICA; /* and through libzkv's replica reads */
    for (int i = 0; i < 6; i++)
        CU_ASSERT(missing(&p));
    /* a key without a TTL */
    CU_ASSERT_EQUAL(zkv_put(g_client, "s:2", 3, "x", 1, 0, 0, NULL), ZKV_OK);
    CU_ASSERT_EQUAL_FATAL(zkv_get(g_client, "s:2", 3, 0, 0, &v), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_value_ttl(v), -1);
    zkv_value_free(v);
}

static void test_expire_and_persist(void)
{
    CU_ASSERT_EQUAL(zkv_put(g_client, "e:1", 3, "x", 1, 0, 0, NULL), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_expire(g_client, "e:1", 3, 60000, 0, 0, NULL), ZKV_OK);
    zkv_value *v = NULL;
    CU_ASSERT_EQUAL_FATAL(zkv_get(g_client, "e:1", 3, 0, 0, &v), ZKV_OK);
    CU_ASSERT(zkv_value_ttl(v) > 50000 && zkv_value_ttl(v) <= 60000);
    CU_ASSERT(zkv_value_len(v) == 1); /* the value kept */
    zkv_value_free(v);
    CU_ASSERT_EQUAL(zkv_expire(g_client, "e:1", 3, 0, 0, 0, NULL), ZKV_OK); /* persist */
    CU_ASSERT_EQUAL_FATAL(zkv_get(g_client, "e:1", 3, 0, 0, &v), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_value_ttl(v), -1);
    zkv_value_free(v);
    CU_ASSERT_EQUAL(zkv_expire(g_client, "e:none", 6, 1000, 0, 0, NULL), ZKV_ENOTFOUND);
    /* a short one: gone after it */
    CU_ASSERT_EQUAL(zkv_expire(g_client, "e:1", 3, 300, 0, 0, NULL), ZKV_OK);
    probe p = {.key = "e:1"};
    CU_ASSERT(zkt_wait_for(missing, &p, WAIT_MS));
}

/* --- the async client -------------------------------------------------------------------- */

static int64_t ttl_of(const char *key)
{
    zkv_value *v = NULL;
    int64_t t = zkv_get(g_client, key, strlen(key), 0, 0, &v) == ZKV_OK ? zkv_value_ttl(v) : -2;
    zkv_value_free(v);
    return t;
}

static void test_async(void)
{
    it_uv u;
    CU_ASSERT_FATAL(it_uv_open(&u, g_client) == ZKV_OK);
    zkv_async *a = u.a;
    zkv_version none = {0, 0};
    /* a lock taken once for a minute (SET NX EX), then refused */
    it_awrite w1 = {0}, w2 = {0}, w3 = {0}, w4 = {0}, w5 = {0};
    CU_ASSERT_EQUAL(
        zkv_async_put_ex(a, "as:lock", 7, "me", 2, ZKV_IF_ABSENT, none, 60000, 0, it_on_write, &w1),
        ZKV_OK);
    CU_ASSERT(it_uv_run_until(&u, &w1.done));
    CU_ASSERT(w1.status == ZKV_OK && w1.ver.seq > 0);
    int64_t t = ttl_of("as:lock");
    CU_ASSERT(t > 50000 && t <= 60000);
    CU_ASSERT_EQUAL(zkv_async_put_ex(a, "as:lock", 7, "you", 3, ZKV_IF_ABSENT, none, 60000, 0,
                                     it_on_write, &w2),
                    ZKV_OK);
    CU_ASSERT(it_uv_run_until(&u, &w2.done));
    CU_ASSERT(w2.status == ZKV_ECONDITION && w2.ver.seq == w1.ver.seq);
    /* persist, then a short expiry: gone after it; a missing key: not found */
    CU_ASSERT_EQUAL(zkv_async_expire(a, "as:lock", 7, 0, 0, it_on_write, &w3), ZKV_OK);
    CU_ASSERT(it_uv_run_until(&u, &w3.done));
    CU_ASSERT(w3.status == ZKV_OK && w3.ver.seq > w1.ver.seq);
    CU_ASSERT_EQUAL(ttl_of("as:lock"), -1);
    CU_ASSERT_EQUAL(zkv_async_expire(a, "as:lock", 7, 300, 0, it_on_write, &w4), ZKV_OK);
    CU_ASSERT(it_uv_run_until(&u, &w4.done));
    CU_ASSERT_EQUAL(w4.status, ZKV_OK);
    probe p = {.key = "as:lock"};
    CU_ASSERT(zkt_wait_for(missing, &p, WAIT_MS));
    CU_ASSERT_EQUAL(zkv_async_expire(a, "as:none", 7, 300, 0, it_on_write, &w5), ZKV_OK);
    CU_ASSERT(it_uv_run_until(&u, &w5.done));
    CU_ASSERT_EQUAL(w5.status, ZKV_ENOTFOUND);
    CU_ASSERT_EQUAL(zkv_async_put_if(a, "k", 1, "v", 1, 0, none, 0, it_on_write, &w5), ZKV_EINVAL);
    it_uv_close(&u);
}

static void test_absent_for_conditions_and_scans(void)
{
    zkv_version none = {0, 0};
    CU_ASSERT_EQUAL(zkv_put_ttl(g_client, "c:lock", 6, "a", 1, 300, 0, 0, NULL), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_put_if(g_client, "c:lock", 6, "b", 1, ZKV_IF_ABSENT, none, 0, 0, NULL),
                    ZKV_ECONDITION); /* still held */
    probe p = {.key = "c:lock"};
    CU_ASSERT_FATAL(zkt_wait_for(missing, &p, WAIT_MS));
    CU_ASSERT_EQUAL(zkv_put_if(g_client, "c:lock", 6, "b", 1, ZKV_IF_ABSENT, none, 0, 0, NULL),
                    ZKV_OK); /* the lock expired: taken again */
    /* scans leave expired keys out */
    for (int i = 0; i < 5; i++) {
        char k[16];
        snprintf(k, sizeof k, "c:scan:%d", i);
        CU_ASSERT_EQUAL(zkv_put_ttl(g_client, k, strlen(k), "v", 1, i % 2 ? 200 : 0, 0, 0, NULL),
                        ZKV_OK);
    }
    p.key = "c:scan:3";
    CU_ASSERT_FATAL(zkt_wait_for(missing, &p, WAIT_MS));
    p.key = "c:scan:1";
    CU_ASSERT_FATAL(zkt_wait_for(missing, &p, WAIT_MS));
    zkv_scan_args a = {.prefix = "c:scan:", .plen = 7};
    zkv_scan *s = NULL;
    CU_ASSERT_EQUAL_FATAL(zkv_scan_run(g_client, &a, 0, 0, &s), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_scan_count(s), 3);
    zkv_scan_free(s);
}

/* The owners' positions summed over every range (zkv_describe's "seq"); -1 if unknown. */
static long long seq_sum(void)
{
    char *json = NULL;
    if (zkv_describe(g_client, &json) != ZKV_OK)
        return -1;
    cJSON *d = cJSON_Parse(json);
    zkv_free(json);
    long long sum = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(d, "ranges"))
    {
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(r, "seq");
        if (!cJSON_IsNumber(seq))
            sum = -1;
        else if (sum >= 0)
            sum += (long long)seq->valuedouble;
    }
    cJSON_Delete(d);
    return sum;
}

static long long g_target;

static bool purged(void *arg)
{
    (void)arg;
    return seq_sum() >= g_target;
}

static void test_purged_in_background(void)
{
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof k, "p:%03d", i);
        CU_ASSERT_EQUAL_FATAL(zkv_put_ttl(g_client, k, strlen(k), "v", 1, 200, 0, 0, NULL), ZKV_OK);
    }
    long long before = seq_sum();
    CU_ASSERT_FATAL(before >= 0);
    g_target = before + 100; /* one delete each, nobody reading them */
    CU_ASSERT(zkt_wait_for(purged, NULL, WAIT_MS));
    zkt_log("background purge: log positions %lld -> %lld", before, seq_sum());
}

static void test_failover_keeps_it_gone(void)
{
    CU_ASSERT_EQUAL_FATAL(zkv_put_ttl(g_client, "f:1", 3, "v", 1, 500, 0, 0, NULL), ZKV_OK);
    probe p = {.key = "f:1"};
    CU_ASSERT_FATAL(zkt_wait_for(missing, &p, WAIT_MS)); /* expired (and purged) */
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
    CU_ASSERT_FATAL(it_kill_first_owner(&g_cl, WAIT_MS) >= 0); /* f:1 is in the first range */
    CU_ASSERT(missing(&p));
    p.flags = ZKV_FLAG_READ_REPLICA;
    for (int i = 0; i < 4; i++)
        CU_ASSERT(missing(&p));
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("ttl", suite_init, suite_cleanup);
    CU_add_test(s, "a key expires on time, on every copy", test_expires);
    CU_add_test(s, "expire and persist", test_expire_and_persist);
    CU_add_test(s, "the async client: put with expiry and condition, expire", test_async);
    CU_add_test(s, "expired keys are absent for conditions and scans",
                test_absent_for_conditions_and_scans);
    CU_add_test(s, "keys nobody reads are deleted in the background", test_purged_in_background);
    CU_add_test(s, "a failover does not bring an expired key back", test_failover_keeps_it_gone);
    return zkt_run_all();
}
