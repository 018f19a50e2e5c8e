/* test_cas.c: conditional writes (docs/api.md, "Conditional writes") on three servers and a
 * coordinator, 2 ranges with 3 copies each.
 *  - put-if-absent: the first wins, the second fails with ZKV_ECONDITION and the key's
 *    version; put and delete if the version matches, and fail when it does not (the
 *    failure says the version now, 0:0 for a missing key); binary keys with NUL bytes.
 *  - A race: each round, eight threads read the key's version and all try a put with it;
 *    exactly one wins each round, and a counter incremented by compare-and-set loops from
 *    four threads ends exactly at the number of increments.
 *  - A lost answer: the same conditional request (client id and number) sent again on a
 *    new connection gets the first attempt's outcome (OK, its version) instead of a failed
 *    condition; after the owner is killed and the range failed over, the new owner (a
 *    replica, which learnt the request from the log) answers the same.
 *  - The async client: put-if-absent and compare-and-set through libuv, versions in v. */
#include <CUnit/CUnit.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "it_common.h"
#include "it_repl.h"
#include "it_wire.h"
#include "zkt/zkt.h"
#include "it_uv.h"
#include "zkv/zkv.h"
#include "zkv/zkv_async.h"

#define WAIT_MS 30000
#define RACERS 8
#define ROUNDS 20
#define COUNTERS 4
#define INCREMENTS 50

static zkt_cluster g_cl;
static zkv_client *g_client;
static char g_cid[64];

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "cas") != 0)
        return -1;
    g_cl.ranges = 2;
    g_cl.replicas = 3;
    if (it_cluster_up(&g_cl, 3, 10000, 0, &g_client) != 0)
        return -1;
    return zkt_cluster_id(&g_cl, g_cid, sizeof(g_cid));
}

static int suite_cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

static bool same(zkv_version a, zkv_version b)
{
    return a.epoch == b.epoch && a.seq == b.seq;
}

static void test_conditions(void)
{
    static const uint8_t key[] = {'c', 0x00, 'a', 0xff, 's'};
    zkv_version v1 = {0, 0}, v2 = {0, 0}, now = {9, 9}, none = {0, 0};
    CU_ASSERT_EQUAL(zkv_put_if(g_client, key, sizeof key, "one", 3, ZKV_IF_ABSENT, none, 0, 0, &v1),
                    ZKV_OK);
    CU_ASSERT(v1.seq > 0);
    /* the second put-if-absent fails and says the version now */
    CU_ASSERT_EQUAL(
        zkv_put_if(g_client, key, sizeof key, "two", 3, ZKV_IF_ABSENT, none, 0, 0, &now),
        ZKV_ECONDITION);
    CU_ASSERT(same(now, v1));
    CU_ASSERT_PTR_NOT_NULL(strstr(zkv_last_error(), "version"));
    /* compare-and-set with the right version, then with the old one */
    CU_ASSERT_EQUAL(zkv_put_if(g_client, key, sizeof key, "two", 3, ZKV_IF_VERSION, v1, 0, 0, &v2),
                    ZKV_OK);
    CU_ASSERT(v2.seq > v1.seq);
    CU_ASSERT_EQUAL(
        zkv_put_if(g_client, key, sizeof key, "three", 5, ZKV_IF_VERSION, v1, 0, 0, &now),
        ZKV_ECONDITION);
    CU_ASSERT(same(now, v2));
    zkv_value *v = NULL;
    CU_ASSERT_EQUAL_FATAL(zkv_get(g_client, key, sizeof key, 0, 0, &v), ZKV_OK);
    CU_ASSERT(zkv_value_len(v) == 3 && memcmp(zkv_value_data(v), "two", 3) == 0);
    CU_ASSERT(same(zkv_value_version(v), v2));
    zkv_value_free(v);
    /* delete only at the right version */
    CU_ASSERT_EQUAL(zkv_del_if(g_client, key, sizeof key, v1, 0, 0, &now), ZKV_ECONDITION);
    CU_ASSERT(same(now, v2));
    CU_ASSERT_EQUAL(zkv_del_if(g_client, key, sizeof key, v2, 0, 0, NULL), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_get(g_client, key, sizeof key, 0, 0, &v), ZKV_ENOTFOUND);
    /* a missing key: version 0:0 */
    CU_ASSERT_EQUAL(zkv_put_if(g_client, key, sizeof key, "x", 1, ZKV_IF_VERSION, v2, 0, 0, &now),
                    ZKV_ECONDITION);
    CU_ASSERT(same(now, none));
    CU_ASSERT_EQUAL(zkv_del_if(g_client, key, sizeof key, none, 0, 0, NULL), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_put_if(g_client, key, sizeof key, "", 0, ZKV_IF_VERSION, none, 0, 0, &v1),
                    ZKV_OK);
    /* a bad condition is refused before anything is sent */
    CU_ASSERT_EQUAL(zkv_put_if(g_client, key, sizeof key, "x", 1, 7, none, 0, 0, NULL), ZKV_EINVAL);
}

/* --- the race ---------------------------------------------------------------------------- */

typedef struct racer {
    zkv_client *c;
    pthread_barrier_t *start;
    zkv_version seen;
    int wins;
    int lost;
    int errors;
} racer;

static void *race_main(void *p)
{
    racer *r = p;
    char val[32];
    for (int round = 0; round < ROUNDS; round++) {
        zkv_value *v = NULL;
        pthread_barrier_wait(r->start); /* everybody reads the same version */
        int rc = zkv_get(r->c, "race", 4, 0, 0, &v);
        zkv_version ver = rc == ZKV_OK ? zkv_value_version(v) : (zkv_version){0, 0};
        zkv_value_free(v);
        pthread_barrier_wait(r->start); /* ... before anybody writes */
        snprintf(val, sizeof val, "round %d", round);
        rc = zkv_put_if(r->c, "race", 4, val, strlen(val), ZKV_IF_VERSION, ver, 0, 0, NULL);
        r->wins += rc == ZKV_OK;
        r->lost += rc == ZKV_ECONDITION;
        r->errors += rc != ZKV_OK && rc != ZKV_ECONDITION;
        pthread_barrier_wait(r->start); /* the round is over */
    }
    return NULL;
}

static void test_race_one_winner(void)
{
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, RACERS);
    racer rs[RACERS];
    pthread_t th[RACERS];
    for (int i = 0; i < RACERS; i++) {
        rs[i] = (racer){.start = &b};
        CU_ASSERT_FATAL(it_client(&g_cl, 5000, &rs[i].c) == ZKV_OK);
    }
    for (int i = 0; i < RACERS; i++)
        pthread_create(&th[i], NULL, race_main, &rs[i]);
    int wins = 0, lost = 0, errors = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        wins += rs[i].wins;
        lost += rs[i].lost;
        errors += rs[i].errors;
        zkv_client_free(rs[i].c);
    }
    pthread_barrier_destroy(&b);
    zkt_log("race: %d wins, %d failed conditions, %d errors in %d rounds of %d", wins, lost, errors,
            ROUNDS, RACERS);
    CU_ASSERT_EQUAL(wins, ROUNDS); /* exactly one a round */
    CU_ASSERT_EQUAL(lost, ROUNDS * (RACERS - 1));
    CU_ASSERT_EQUAL(errors, 0);
}

typedef struct counter {
    zkv_client *c;
    int retries;
    int errors;
} counter;

/* INCREMENTS compare-and-set increments of "counter" (a decimal number). */
static void *count_main(void *p)
{
    counter *k = p;
    for (int i = 0; i < INCREMENTS; i++) {
        for (;;) {
            zkv_value *v = NULL;
            int rc = zkv_get(k->c, "counter", 7, 0, 0, &v);
            long n = 0;
            zkv_version ver = {0, 0};
            if (rc == ZKV_OK) {
                char buf[32] = "";
                size_t len = zkv_value_len(v) < sizeof buf - 1 ? zkv_value_len(v) : sizeof buf - 1;
                memcpy(buf, zkv_value_data(v), len);
                n = strtol(buf, NULL, 10);
                ver = zkv_value_version(v);
            }
            zkv_value_free(v);
            char next[32];
            int len = snprintf(next, sizeof next, "%ld", n + 1);
            rc = zkv_put_if(k->c, "counter", 7, next, (size_t)len, ZKV_IF_VERSION, ver, 0, 0, NULL);
            if (rc == ZKV_OK)
                break;
            if (rc != ZKV_ECONDITION && ++k->errors > 10)
                return NULL;
            k->retries++;
        }
    }
    return NULL;
}

static void test_counter(void)
{
    counter ks[COUNTERS];
    pthread_t th[COUNTERS];
    for (int i = 0; i < COUNTERS; i++) {
        ks[i] = (counter){.retries = 0};
        CU_ASSERT_FATAL(it_client(&g_cl, 5000, &ks[i].c) == ZKV_OK);
        pthread_create(&th[i], NULL, count_main, &ks[i]);
    }
    int retries = 0, errors = 0;
    for (int i = 0; i < COUNTERS; i++) {
        pthread_join(th[i], NULL);
        retries += ks[i].retries;
        errors += ks[i].errors;
        zkv_client_free(ks[i].c);
    }
    zkv_value *v = NULL;
    CU_ASSERT_EQUAL_FATAL(zkv_get(g_client, "counter", 7, 0, 0, &v), ZKV_OK);
    char buf[32] = "";
    memcpy(buf, zkv_value_data(v), zkv_value_len(v) < 31 ? zkv_value_len(v) : 31);
    zkv_value_free(v);
    zkt_log("counter: %s after %d increments, %d retries, %d errors", buf, COUNTERS * INCREMENTS,
            retries, errors);
    CU_ASSERT_EQUAL(strtol(buf, NULL, 10), COUNTERS * INCREMENTS);
    CU_ASSERT_EQUAL(errors, 0);
}

/* --- a lost answer ------------------------------------------------------------------------ */

/* Byte-wise order of two keys (shorter first on a common prefix). */
static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

static bool key_in(const zkt_map_range *r, const void *key, size_t klen)
{
    return (!r->start_len || key_cmp(r->start, r->start_len, key, klen) <= 0) &&
           (!r->end_len || key_cmp(key, klen, r->end, r->end_len) < 0);
}

/* The owner of key's range: its server index (-1: none). */
static int owner_of(const void *key, size_t klen)
{
    zkt_map *m = zkt_cluster_map(&g_cl);
    int idx = -1;
    for (int i = 0; m && i < m->n_ranges; i++)
        if (key_in(&m->ranges[i], key, klen))
            idx = zkt_cluster_server_index(&g_cl, m->ranges[i].owner);
    zkt_map_free(m);
    return idx;
}

/* The conditional request every attempt sends: put-if-absent of key, client 4242, number 7. */
static Zkv__Response *send_cas(int server, uint64_t id, const char *key)
{
    conn c;
    if (conn_open(&c, g_cl.servers[server].port) != 0)
        return NULL;
    Zkv__Response *h = hello(&c, g_cid, 1);
    bool ok = h && h->status == ZKV__STATUS__OK;
    if (h)
        zkv__response__free_unpacked(h, NULL);
    Zkv__Response *r = NULL;
    if (ok) {
        Zkv__Request req = ZKV__REQUEST__INIT;
        req.id = id;
        req.op = ZKV__OP__PUT;
        req.key.data = (uint8_t *)key;
        req.key.len = strlen(key);
        req.value.data = (uint8_t *)"first";
        req.value.len = 5;
        req.condition = ZKV__CONDITION__IF_ABSENT;
        req.client_id = 4242;
        req.client_seq = 7;
        r = call(&c, &req);
    }
    conn_close(&c);
    return r;
}

typedef struct answered {
    const char *key;
    uint64_t epoch, seq;
} answered;

/* The key's range has a live owner that answers the retry OK at the first version. */
static bool retry_answers_ok(void *arg)
{
    answered *a = arg;
    int s = owner_of(a->key, strlen(a->key));
    if (s < 0 || g_cl.servers[s].pid == 0)
        return false;
    Zkv__Response *r = send_cas(s, 3, a->key);
    bool ok = r && r->status == ZKV__STATUS__OK && r->epoch == a->epoch && r->seq == a->seq;
    if (r) {
        log_resp("retry at the new owner", r);
        zkv__response__free_unpacked(r, NULL);
    }
    return ok;
}

static void test_lost_answer(void)
{
    const char *key = "lost-answer";
    int s = owner_of(key, strlen(key));
    CU_ASSERT_FATAL(s >= 0);
    Zkv__Response *first = send_cas(s, 1, key); /* its answer "is lost": we send it again */
    CU_ASSERT_FATAL(first != NULL);
    CU_ASSERT_EQUAL_FATAL(first->status, ZKV__STATUS__OK);
    answered a = {.key = key, .epoch = first->epoch, .seq = first->seq};
    zkv__response__free_unpacked(first, NULL);
    Zkv__Response *again = send_cas(s, 2, key);
    CU_ASSERT_FATAL(again != NULL);
    log_resp("the same request again", again);
    CU_ASSERT_EQUAL(again->status, ZKV__STATUS__OK); /* not CONDITION_FAILED */
    CU_ASSERT(again->epoch == a.epoch && again->seq == a.seq);
    zkv__response__free_unpacked(again, NULL);
    /* another request (another number) of the same client is judged: the key exists */
    zkv_version none = {0, 0}, now;
    CU_ASSERT_EQUAL(zkv_put_if(g_client, key, strlen(key), "x", 1, ZKV_IF_ABSENT, none, 0, 0, &now),
                    ZKV_ECONDITION);
    CU_ASSERT(now.epoch == a.epoch && now.seq == a.seq);
    /* the owner dies: the replica that takes over learnt the request from the log */
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
    zkt_server_stop(&g_cl, s, SIGKILL);
    CU_ASSERT(zkt_wait_for(retry_answers_ok, &a, WAIT_MS));
    CU_ASSERT_EQUAL_FATAL(zkt_server_start(&g_cl, s), 0);
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
}

/* --- the async client --------------------------------------------------------------------- */

static void test_async(void)
{
    it_uv u;
    CU_ASSERT_FATAL(it_uv_open(&u, g_client) == ZKV_OK);
    zkv_async *a = u.a;
    zkv_version none = {0, 0};
    it_awrite r1 = {0}, r2 = {0}, r3 = {0};
    CU_ASSERT_EQUAL(
        zkv_async_put_if(a, "async-cas", 9, "1", 1, ZKV_IF_ABSENT, none, 0, it_on_write, &r1),
        ZKV_OK);
    CU_ASSERT(it_uv_run_until(&u, &r1.done));
    CU_ASSERT_EQUAL(r1.status, ZKV_OK);
    CU_ASSERT(r1.ver.seq > 0);
    CU_ASSERT_EQUAL(
        zkv_async_put_if(a, "async-cas", 9, "2", 1, ZKV_IF_ABSENT, none, 0, it_on_write, &r2),
        ZKV_OK);
    CU_ASSERT(it_uv_run_until(&u, &r2.done));
    CU_ASSERT_EQUAL(r2.status, ZKV_ECONDITION);
    CU_ASSERT(same(r2.ver, r1.ver));
    CU_ASSERT_EQUAL(zkv_async_del_if(a, "async-cas", 9, r1.ver, 0, it_on_write, &r3), ZKV_OK);
    CU_ASSERT(it_uv_run_until(&u, &r3.done));
    CU_ASSERT_EQUAL(r3.status, ZKV_OK);
    it_uv_close(&u);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("cas", suite_init, suite_cleanup);
    CU_add_test(s, "put-if-absent, compare-and-set, delete-if-version", test_conditions);
    CU_add_test(s, "eight clients race: one winner a round", test_race_one_winner);
    CU_add_test(s, "a counter of compare-and-set loops", test_counter);
    CU_add_test(s, "a lost answer: the retry gets the true outcome, after a failover too",
                test_lost_answer);
    CU_add_test(s, "the async client", test_async);
    return zkt_run_all();
}
