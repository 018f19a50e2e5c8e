/* test_atomic.c: atomic batches (docs/api.md, "Atomic batches") on three servers and a
 * coordinator, 2 ranges split at the key byte 0x80, 3 copies each.
 *  - Puts and deletes of keys of one range: all applied, at consecutive versions.
 *  - A condition that fails: nothing of the batch is written; the failed write is marked
 *    and every write carries its key's version.
 *  - Refused before anything is sent: keys of two ranges (both named), a get, an empty
 *    batch.
 *  - A failover under a stream of batches: a writer rewrites ten keys of one range
 *    together, batch after batch, while the range's owner is killed; once it failed over
 *    the ten keys hold the same generation on the new owner and, read from each replica,
 *    on every copy (never part of a batch). */
#include <CUnit/CUnit.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "it_repl.h"
#include "zkt/zkt.h"
#include "it_uv.h"
#include "zkv/zkv.h"
#include "zkv/zkv_async.h"

#define WAIT_MS 30000
#define KEYS 10

static zkt_cluster g_cl;
static zkv_client *g_client;

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "atomic") != 0)
        return -1;
    g_cl.ranges = 2;
    g_cl.replicas = 3;
    return it_cluster_up(&g_cl, 3, 10000, 2000, &g_client);
}

static int suite_cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

/* A value of key, or "" when missing, into out. */
static void value_of(zkv_client *c, const char *key, unsigned flags, char *out, size_t n)
{
    zkv_value *v = NULL;
    out[0] = '\0';
    if (zkv_get(c, key, strlen(key), 0, flags, &v) == ZKV_OK) {
        size_t len = zkv_value_len(v) < n - 1 ? zkv_value_len(v) : n - 1;
        memcpy(out, zkv_value_data(v), len);
        out[len] = '\0';
    }
    zkv_value_free(v);
}

static void test_all_applied(void)
{
    zkv_version none = {0, 0};
    CU_ASSERT_EQUAL(zkv_put(g_client, "a:gone", 6, "x", 1, 0, 0, NULL), ZKV_OK);
    zkv_batch *b = zkv_batch_create();
    CU_ASSERT_FATAL(b != NULL);
    CU_ASSERT_EQUAL(zkv_batch_put(b, "a:1", 3, "one", 3), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_batch_put_if(b, "a:2", 3, "two", 3, ZKV_IF_ABSENT, none), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_batch_del(b, "a:gone", 6), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_batch_put(b, "a:\x00\xff", 4, "", 0), ZKV_OK);
    CU_ASSERT_EQUAL_FATAL(zkv_batch_atomic(g_client, b, 0, 0), ZKV_OK);
    for (size_t i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(zkv_batch_status(b, i), ZKV_OK);
    zkv_version v0 = zkv_batch_version(b, 0);
    for (size_t i = 1; i < 4; i++) { /* consecutive positions of one epoch */
        CU_ASSERT_EQUAL(zkv_batch_version(b, i).epoch, v0.epoch);
        CU_ASSERT_EQUAL(zkv_batch_version(b, i).seq, v0.seq + i);
    }
    char got[32];
    value_of(g_client, "a:1", 0, got, sizeof got);
    CU_ASSERT_STRING_EQUAL(got, "one");
    value_of(g_client, "a:2", 0, got, sizeof got);
    CU_ASSERT_STRING_EQUAL(got, "two");
    zkv_value *v = NULL;
    CU_ASSERT_EQUAL(zkv_get(g_client, "a:gone", 6, 0, 0, &v), ZKV_ENOTFOUND);
    CU_ASSERT_EQUAL(zkv_get(g_client, "a:\x00\xff", 4, 0, 0, &v), ZKV_OK);
    CU_ASSERT(v && zkv_value_len(v) == 0);
    zkv_value_free(v);
    zkv_batch_free(b);
}

static void test_condition_fails(void)
{
    zkv_version v1;
    CU_ASSERT_EQUAL_FATAL(zkv_put(g_client, "c:1", 3, "old", 3, 0, 0, &v1), ZKV_OK);
    zkv_version stale = {v1.epoch, v1.seq - 1}, none = {0, 0};
    zkv_batch *b = zkv_batch_create();
    zkv_batch_put(b, "c:0", 3, "new", 3);
    zkv_batch_put_if(b, "c:1", 3, "new", 3, ZKV_IF_VERSION, stale);
    zkv_batch_put_if(b, "c:2", 3, "new", 3, ZKV_IF_ABSENT, none);
    CU_ASSERT_EQUAL(zkv_batch_atomic(g_client, b, 0, 0), ZKV_ECONDITION);
    zkt_log("a failed batch: %s", zkv_last_error());
    CU_ASSERT_EQUAL(zkv_batch_status(b, 0), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_batch_status(b, 1), ZKV_ECONDITION);
    CU_ASSERT_EQUAL(zkv_batch_status(b, 2), ZKV_OK);
    CU_ASSERT(zkv_batch_version(b, 1).epoch == v1.epoch && zkv_batch_version(b, 1).seq == v1.seq);
    char got[32];
    value_of(g_client, "c:0", 0, got, sizeof got);
    CU_ASSERT_STRING_EQUAL(got, ""); /* nothing written */
    value_of(g_client, "c:1", 0, got, sizeof got);
    CU_ASSERT_STRING_EQUAL(got, "old");
    /* with the right version the same batch goes through */
    zkv_batch_clear(b);
    zkv_batch_put(b, "c:0", 3, "new", 3);
    zkv_batch_put_if(b, "c:1", 3, "new", 3, ZKV_IF_VERSION, v1);
    CU_ASSERT_EQUAL(zkv_batch_atomic(g_client, b, 0, 0), ZKV_OK);
    value_of(g_client, "c:1", 0, got, sizeof got);
    CU_ASSERT_STRING_EQUAL(got, "new");
    zkv_batch_free(b);
}

static void test_refused(void)
{
    zkv_batch *b = zkv_batch_create();
    CU_ASSERT_EQUAL(zkv_batch_atomic(g_client, b, 0, 0), ZKV_EINVAL); /* empty */
    zkv_batch_put(b, "a:1", 3, "x", 1);
    zkv_batch_put(b, "\xf0:1", 3, "x", 1); /* the other range */
    CU_ASSERT_EQUAL(zkv_batch_atomic(g_client, b, 0, 0), ZKV_EINVAL);
    zkt_log("two ranges: %s", zkv_last_error());
    CU_ASSERT_PTR_NOT_NULL(strstr(zkv_last_error(), "r0000"));
    CU_ASSERT_PTR_NOT_NULL(strstr(zkv_last_error(), "r0001"));
    zkv_batch_clear(b);
    zkv_batch_get(b, "a:1", 3);
    CU_ASSERT_EQUAL(zkv_batch_atomic(g_client, b, 0, 0), ZKV_EINVAL);
    /* and a conditional write is not for zkv_batch_run */
    zkv_batch_clear(b);
    zkv_version none = {0, 0};
    zkv_batch_put_if(b, "a:1", 3, "x", 1, ZKV_IF_ABSENT, none);
    CU_ASSERT_EQUAL(zkv_batch_run(g_client, b, 0, 0), ZKV_EINVAL);
    zkv_batch_free(b);
    char got[8];
    value_of(g_client, "\xf0:1", 0, got, sizeof got);
    CU_ASSERT_STRING_EQUAL(got, "");
}

/* --- the async client -------------------------------------------------------------------- */

typedef struct abatch {
    bool done;
    int status;
    char why[512];
} abatch;

static void on_batch(zkv_async *a, zkv_batch *b, int status, void *priv)
{
    (void)a;
    (void)b;
    abatch *r = priv;
    r->status = status;
    snprintf(r->why, sizeof r->why, "%s", zkv_last_error());
    r->done = true;
}

/* zkv_async_batch_atomic of b run to its callback on a libuv loop (bounded); -1 when the
 * call refused it at once (its status then in r->status). */
static int run_atomic(zkv_batch *b, abatch *r)
{
    it_uv u;
    memset(r, 0, sizeof *r);
    int rc = it_uv_open(&u, g_client);
    if (rc == ZKV_OK)
        rc = zkv_async_batch_atomic(u.a, b, 0, on_batch, r);
    if (rc != ZKV_OK) {
        r->status = rc;
        snprintf(r->why, sizeof r->why, "%s", zkv_last_error());
    } else {
        it_uv_run_until(&u, &r->done);
    }
    it_uv_close(&u);
    return rc == ZKV_OK ? 0 : -1;
}

static void test_async(void)
{
    zkv_version none = {0, 0};
    zkv_batch *b = zkv_batch_create();
    CU_ASSERT_FATAL(b != NULL);
    zkv_batch_put(b, "as:1", 4, "one", 3);
    zkv_batch_put_if(b, "as:2", 4, "two", 3, ZKV_IF_ABSENT, none);
    abatch r;
    CU_ASSERT_EQUAL(run_atomic(b, &r), 0);
    CU_ASSERT(r.done && r.status == ZKV_OK);
    zkv_version v0 = zkv_batch_version(b, 0);
    CU_ASSERT(v0.seq > 0 && zkv_batch_version(b, 1).seq == v0.seq + 1);
    char got[32];
    value_of(g_client, "as:2", 0, got, sizeof got);
    CU_ASSERT_STRING_EQUAL(got, "two");
    /* the same again: as:2 exists, nothing is written, the versions say why */
    zkv_batch_clear(b);
    zkv_batch_put(b, "as:1", 4, "uno", 3);
    zkv_batch_put_if(b, "as:2", 4, "dos", 3, ZKV_IF_ABSENT, none);
    CU_ASSERT_EQUAL(run_atomic(b, &r), 0);
    zkt_log("async atomic, condition failed: %s", r.why);
    CU_ASSERT_EQUAL(r.status, ZKV_ECONDITION);
    CU_ASSERT_EQUAL(zkv_batch_status(b, 0), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_batch_status(b, 1), ZKV_ECONDITION);
    CU_ASSERT_EQUAL(zkv_batch_version(b, 1).seq, v0.seq + 1);
    value_of(g_client, "as:1", 0, got, sizeof got);
    CU_ASSERT_STRING_EQUAL(got, "one");
    /* two ranges: refused by the call, the callback never runs */
    zkv_batch_clear(b);
    zkv_batch_put(b, "as:3", 4, "x", 1);
    zkv_batch_put(b, "\xf0:3", 3, "x", 1);
    CU_ASSERT_EQUAL(run_atomic(b, &r), -1);
    CU_ASSERT_EQUAL(r.status, ZKV_EINVAL);
    CU_ASSERT_FALSE(r.done);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.why, "one range"));
    zkv_batch_free(b);
}

/* --- under a failover ----------------------------------------------------------------------- */

typedef struct writer {
    zkv_client *c;
    atomic_bool stop;
    int batches, failed;
} writer;

static void key_name(int i, char *out, size_t n)
{
    snprintf(out, n, "g:%02d", i);
}

/* Values of 30,000 bytes: a batch of ten (300 KB) is more than a replication frame's
 * budget (256 KiB), so it goes whole only because frames never end inside a batch. */
#define VALUE_BYTES 30000

static void *writer_main(void *p)
{
    writer *w = p;
    zkv_batch *b = zkv_batch_create();
    static char val[VALUE_BYTES];
    memset(val, '.', sizeof val);
    for (int gen = 1; !atomic_load(&w->stop); gen++) {
        zkv_batch_clear(b);
        char key[16];
        snprintf(val, 32, "generation %d", gen); /* the rest stays dots */
        for (int i = 0; i < KEYS; i++) {
            key_name(i, key, sizeof key);
            zkv_batch_put(b, key, strlen(key), val, sizeof val);
        }
        if (zkv_batch_atomic(w->c, b, 2000, 0) == ZKV_OK)
            w->batches++;
        else
            w->failed++;
    }
    zkv_batch_free(b);
    return NULL;
}

/* The KEYS keys as node answers them (flags: ZKV_FLAG_READ_REPLICA for a replica), all the
 * same generation: true. */
static bool consistent(zkv_client *c, unsigned flags, const char *who)
{
    char first[32], got[32], key[16]; /* the generation at the start of the values */
    key_name(0, key, sizeof key);
    value_of(c, key, flags, first, sizeof first);
    bool ok = first[0] != '\0';
    for (int i = 1; i < KEYS && ok; i++) {
        key_name(i, key, sizeof key);
        value_of(c, key, flags, got, sizeof got);
        ok = strcmp(got, first) == 0;
    }
    zkt_log("%s: the ten keys %s (%s)", who, ok ? "agree" : "DISAGREE", first);
    return ok;
}

static void test_failover(void)
{
    writer w = {.stop = false};
    CU_ASSERT_FATAL(it_client_ff(&g_cl, 3000, 5000, &w.c) == ZKV_OK);
    pthread_t th;
    pthread_create(&th, NULL, writer_main, &w);
    /* some batches first, then the owner of the keys' range dies under the stream */
    while (w.batches < 50)
        zkt_pause_ms(ZKT_POLL_MS);
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS)); /* a replica can take over */
    int victim = it_kill_first_owner(&g_cl, WAIT_MS);
    CU_ASSERT_FATAL(victim >= 0);
    int at = w.batches;
    while (w.batches < at + 50 && w.failed < 10000)
        zkt_pause_ms(ZKT_POLL_MS);
    atomic_store(&w.stop, true);
    pthread_join(th, NULL);
    zkt_log("writer: %d batches applied, %d failed", w.batches, w.failed);
    CU_ASSERT(w.batches >= at + 50);
    CU_ASSERT(consistent(g_client, 0, "the new owner"));
    CU_ASSERT_EQUAL_FATAL(zkt_server_start(&g_cl, victim), 0);
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
    /* every copy: each server alone behind a client that reads its replicas */
    CU_ASSERT(consistent(g_client, ZKV_FLAG_READ_REPLICA, "a replica"));
    zkv_client_free(w.c);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("atomic", suite_init, suite_cleanup);
    CU_add_test(s, "puts and deletes of one range, all applied", test_all_applied);
    CU_add_test(s, "a failed condition: nothing written", test_condition_fails);
    CU_add_test(s, "two ranges, a get, an empty batch: refused", test_refused);
    CU_add_test(s, "the async client", test_async);
    CU_add_test(s, "a failover under a stream of batches", test_failover);
    return zkt_run_all();
}
