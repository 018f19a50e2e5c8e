/* test_async.c: the asynchronous client (zkv_async.h) through its libuv adapter against
 * three zkv-servers and a coordinator. 10,000 puts, then 10,000 gets (values checked),
 * then 1,000 deletes and gets (NOT_FOUND), each with up to 1,000 requests in flight,
 * new requests queued from inside the callbacks; every callback must run exactly once.
 * zkv_async_free from inside a callback is deferred and fails the others exactly once.
 * Finally a node is killed (SIGKILL) with requests in flight: their callbacks run with a
 * failure (ZKV_ECONNECT), the others complete, still each exactly once. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "it_common.h"
#include "zkt/zkt.h"
#include "zkv/adapters/libuv.h"
#include "zkv/zkv_async.h"

#define N_KEYS 10000
#define IN_FLIGHT 1000
#define N_SERVERS 3

static zkt_cluster g_cl;
static zkv_client *g_client;

typedef enum { OP_PUT, OP_GET, OP_DEL } op_t;

/* One run of n requests with at most IN_FLIGHT outstanding. */
typedef struct run {
    uv_loop_t *loop;
    zkv_async *a;
    op_t op;
    int n, next, inflight, finished;
    int expect;         /* status each callback must have (-100: any, see below) */
    int calls[N_KEYS];  /* callbacks per request */
    int status[N_KEYS]; /* status of each callback */
    bool bad_value[N_KEYS];
    int rejected; /* requests whose call returned an error (no callback expected) */
    bool rejected_i[N_KEYS];
    int kill_after; /* kill server kill_server after this many callbacks (0: never) */
    int kill_server;
    bool killed;
    int inflight_at_kill;
} run;

typedef struct slot {
    run *r;
    int i;
} slot;

static slot g_slots[N_KEYS];

static void on_done(zkv_async *a, int status, const zkv_value *v, void *priv);

/* Queues request i. */
static void submit(run *r, int i)
{
    uint8_t key[IT_KEY_MAX];
    static uint8_t val[IT_VAL_MAX];
    size_t klen = it_key(i, key);
    g_slots[i] = (slot){r, i};
    int rc;
    if (r->op == OP_PUT) {
        size_t vlen = it_value(i, 1, val);
        rc = zkv_async_put(r->a, key, klen, val, vlen, 0, on_done, &g_slots[i]);
    } else if (r->op == OP_GET) {
        rc = zkv_async_get(r->a, key, klen, 0, on_done, &g_slots[i]);
    } else {
        rc = zkv_async_del(r->a, key, klen, 0, on_done, &g_slots[i]);
    }
    if (rc != ZKV_OK) {
        if (!r->killed)
            zkt_log("request %d refused: %s: %s", i, zkv_strerror(rc), zkv_last_error());
        r->rejected++;
        r->rejected_i[i] = true;
        r->finished++;
        return;
    }
    r->inflight++;
}

static void pump(run *r)
{
    while (r->inflight < IN_FLIGHT && r->next < r->n)
        submit(r, r->next++);
    if (r->finished == r->n)
        uv_stop(r->loop);
}

static void on_done(zkv_async *a, int status, const zkv_value *v, void *priv)
{
    slot *s = priv;
    run *r = s->r;
    CU_ASSERT_PTR_EQUAL(a, r->a);
    r->calls[s->i]++;
    r->status[s->i] = status;
    r->inflight--;
    r->finished++;
    if (r->expect != -100 && status != r->expect)
        zkt_log("request %d: %s: %s", s->i, zkv_strerror(status), zkv_last_error());
    if (r->op == OP_GET && status == ZKV_OK) {
        static uint8_t want[IT_VAL_MAX];
        size_t wlen = it_value(s->i, 1, want);
        r->bad_value[s->i] =
            !v || zkv_value_len(v) != wlen || memcmp(zkv_value_data(v), want, wlen) != 0;
    } else if (v) {
        r->bad_value[s->i] = true; /* a value only comes with a successful get */
    }
    if (r->kill_after && !r->killed && r->finished >= r->kill_after) {
        r->killed = true;
        r->inflight_at_kill = r->inflight;
        zkt_log("killing %s with %d requests in flight", g_cl.servers[r->kill_server].id,
                r->inflight);
        zkt_server_stop(&g_cl, r->kill_server, SIGKILL);
    }
    pump(r);
}

/* Stops a loop that does not finish: the test then fails on its counts. */
static void on_watchdog(uv_timer_t *t)
{
    zkt_log("async run did not finish in time");
    uv_stop(t->loop);
}

static void drive(run *r, uv_loop_t *loop, zkv_async *a, op_t op, int n, int expect)
{
    memset(r, 0, sizeof *r);
    r->loop = loop;
    r->a = a;
    r->op = op;
    r->n = n;
    r->expect = expect;
    uv_timer_t dog;
    uv_timer_init(loop, &dog);
    uv_timer_start(&dog, on_watchdog, 120000, 0);
    pump(r);
    if (r->finished < r->n)
        uv_run(loop, UV_RUN_DEFAULT);
    uv_timer_stop(&dog);
    uv_close((uv_handle_t *)&dog, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

/* Every accepted request called back once, every refused one never. */
static void check_once(const run *r)
{
    int bad = 0;
    for (int i = 0; i < r->n; i++)
        if (r->calls[i] != (r->rejected_i[i] ? 0 : 1) && bad++ < 5)
            zkt_log("request %d: %d callbacks", i, r->calls[i]);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(r->finished, r->n);
    CU_ASSERT_EQUAL(zkv_async_pending(r->a), 0);
}

static void check_all(const run *r, int status)
{
    check_once(r);
    CU_ASSERT_EQUAL(r->rejected, 0);
    int bad = 0;
    for (int i = 0; i < r->n; i++)
        if ((r->status[i] != status || r->bad_value[i]) && bad++ < 5)
            zkt_log("request %d: %s%s", i, zkv_strerror(r->status[i]),
                    r->bad_value[i] ? " (wrong value)" : "");
    CU_ASSERT_EQUAL(bad, 0);
}

static void finish_loop(uv_loop_t *loop, zkv_async *a)
{
    zkv_async_free(a);
    uv_run(loop, UV_RUN_DEFAULT); /* the adapter's handles close */
    CU_ASSERT_EQUAL(uv_loop_close(loop), 0);
}

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "async") != 0)
        return -1;
    return it_cluster_up(&g_cl, N_SERVERS, 10000, 0, &g_client);
}

static int suite_cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

static void test_put_get_del(void)
{
    static run r;
    uv_loop_t loop;
    CU_ASSERT_FATAL(uv_loop_init(&loop) == 0);
    zkv_async *a = NULL;
    CU_ASSERT_FATAL(zkv_async_create(g_client, &a) == ZKV_OK);
    /* no loop attached yet: refused, and the callback never runs */
    CU_ASSERT_EQUAL(zkv_async_get(a, "k", 1, 0, on_done, NULL), ZKV_EINVAL);
    CU_ASSERT_FATAL(zkv_async_libuv_attach(a, &loop) == ZKV_OK);
    CU_ASSERT_EQUAL(zkv_async_libuv_attach(a, &loop), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_async_get(a, "k", 1, ZKV_FLAG_READ_REPLICA, on_done, NULL), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_async_pending(a), 0);

    drive(&r, &loop, a, OP_PUT, N_KEYS, ZKV_OK);
    check_all(&r, ZKV_OK);
    drive(&r, &loop, a, OP_GET, N_KEYS, ZKV_OK);
    check_all(&r, ZKV_OK);
    /* the values are there for the blocking API too */
    uint8_t key[IT_KEY_MAX];
    zkv_value *v = NULL;
    CU_ASSERT_EQUAL(zkv_get(g_client, key, it_key(4321, key), 0, 0, &v), ZKV_OK);
    zkv_value_free(v);
    drive(&r, &loop, a, OP_DEL, 1000, ZKV_OK);
    check_all(&r, ZKV_OK);
    drive(&r, &loop, a, OP_GET, 1000, ZKV_ENOTFOUND);
    check_all(&r, ZKV_ENOTFOUND);
    finish_loop(&loop, a);
}

/* zkv_async_free inside the first callback: deferred; the rest fail once each. */
static int g_free_calls, g_free_status_ok, g_free_failed;
static zkv_async *g_free_a;

static void on_free_cb(zkv_async *a, int status, const zkv_value *v, void *priv)
{
    (void)v;
    (void)priv;
    CU_ASSERT_PTR_EQUAL(a, g_free_a);
    g_free_calls++;
    if (status == ZKV_ECONNECT)
        g_free_failed++;
    else
        g_free_status_ok++;
    if (g_free_calls == 1) {
        zkv_async_free(a); /* deferred until this callback returns */
        CU_ASSERT_EQUAL(g_free_calls, 1);
        uint8_t k = 1;
        CU_ASSERT_EQUAL(zkv_async_get(a, &k, 1, 0, on_free_cb, NULL), ZKV_EINVAL);
    }
}

static void test_free_in_callback(void)
{
    uv_loop_t loop;
    CU_ASSERT_FATAL(uv_loop_init(&loop) == 0);
    zkv_async *a = NULL;
    CU_ASSERT_FATAL(zkv_async_create(g_client, &a) == ZKV_OK);
    CU_ASSERT_FATAL(zkv_async_libuv_attach(a, &loop) == ZKV_OK);
    g_free_a = a;
    int accepted = 0;
    for (int i = 0; i < 300; i++) {
        uint8_t key[IT_KEY_MAX];
        if (zkv_async_get(a, key, it_key(i, key), 0, on_free_cb, NULL) == ZKV_OK)
            accepted++;
    }
    CU_ASSERT_EQUAL(accepted, 300);
    uv_run(&loop, UV_RUN_DEFAULT); /* returns once the freed context closed its handles */
    CU_ASSERT_EQUAL(g_free_calls, 300);
    CU_ASSERT(g_free_failed > 0); /* those still pending when the context went */
    CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
}

/* A node killed with requests in flight: their callbacks fail, each runs once. */
static void test_kill_node(void)
{
    static run r;
    uv_loop_t loop;
    CU_ASSERT_FATAL(uv_loop_init(&loop) == 0);
    zkv_async *a = NULL;
    CU_ASSERT_FATAL(zkv_async_create(g_client, &a) == ZKV_OK);
    CU_ASSERT_FATAL(zkv_async_libuv_attach(a, &loop) == ZKV_OK);
    memset(&r, 0, sizeof r);
    run *rp = &r;
    rp->loop = &loop;
    rp->a = a;
    rp->op = OP_PUT;
    rp->n = 5000;
    rp->expect = -100;
    rp->kill_after = 200;
    rp->kill_server = 0;
    uv_timer_t dog;
    uv_timer_init(&loop, &dog);
    uv_timer_start(&dog, on_watchdog, 120000, 0);
    pump(rp);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_timer_stop(&dog);
    uv_close((uv_handle_t *)&dog, NULL);
    CU_ASSERT(rp->killed);
    check_once(rp);
    int ok = 0, econnect = 0, other = 0;
    for (int i = 0; i < rp->n; i++) {
        if (rp->rejected_i[i])
            continue;
        if (rp->status[i] == ZKV_OK)
            ok++;
        else if (rp->status[i] == ZKV_ECONNECT)
            econnect++;
        else
            other++;
    }
    zkt_log("after the kill: %d ok, %d ECONNECT, %d other failures, %d refused at once", ok,
            econnect, other, rp->rejected);
    CU_ASSERT(econnect > 0); /* the in-flight requests of the killed node */
    CU_ASSERT(ok > 0);       /* the other nodes kept answering */
    finish_loop(&loop, a);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("async: 3 servers, libuv", suite_init, suite_cleanup);
    CU_add_test(s, "10,000 puts and gets, 1,000 deletes, 1,000 in flight", test_put_get_del);
    CU_add_test(s, "zkv_async_free inside a callback is deferred", test_free_in_callback);
    CU_add_test(s, "a node killed with requests in flight", test_kill_node);
    return zkt_run_all();
}
