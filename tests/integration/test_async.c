/* test_async.c: the asynchronous client (zkv_async.h) through its libuv adapter against
 * three zkv-servers and a coordinator. 10,000 puts, then 10,000 gets (values checked),
 * then a zkv_async_batch_run of 500 gets and 100 puts (one callback, every status and
 * value), then 1,000 deletes and gets (NOT_FOUND), each with up to 1,000 requests in flight,
 * new requests queued from inside the callbacks; every callback must run exactly once.
 * zkv_async_free from inside a callback is deferred and fails the others exactly once.
 * The owner of one range is killed (SIGKILL) with the coordinator stopped: async reads
 * fall back to a replica (stale, its node and position), owner-only reads and writes fail
 * after the failfast with ZKV_EUNAVAILABLE naming range and owner; writes through a
 * client with a long failfast wait until the restarted coordinator promotes a replica
 * and then succeed at the new epoch. Finally a node is killed with requests in flight:
 * their writes wait the failfast for a new owner and fail (ZKV_EUNAVAILABLE) or succeed
 * on it, the others complete, still each exactly once. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "it_common.h"
#include "it_repl.h"
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

/* zkv_async_batch_run: 500 gets of keys put above and 100 puts of new keys in one batch;
 * one callback; every status and value right; the puts read back. */
static int g_batch_calls;

static void on_batch(zkv_async *a, zkv_batch *b, int status, void *priv)
{
    (void)a;
    (void)b;
    g_batch_calls++;
    CU_ASSERT_EQUAL(status, ZKV_OK);
    uv_stop(priv);
}

static void check_batch(uv_loop_t *loop, zkv_async *a)
{
    zkv_batch *b = zkv_batch_create();
    CU_ASSERT_FATAL(b != NULL);
    static uint8_t val[IT_VAL_MAX];
    uint8_t key[IT_KEY_MAX];
    for (int i = 0; i < 500; i++)
        CU_ASSERT(zkv_batch_get(b, key, it_key(i * 7, key)) == ZKV_OK);
    for (int i = 0; i < 100; i++)
        CU_ASSERT(zkv_batch_put(b, key, it_key(N_KEYS + i, key), val,
                                it_value(N_KEYS + i, 1, val)) == ZKV_OK);
    g_batch_calls = 0;
    CU_ASSERT_FATAL(zkv_async_batch_run(a, b, 0, on_batch, loop) == ZKV_OK);
    uv_timer_t dog;
    uv_timer_init(loop, &dog);
    uv_timer_start(&dog, on_watchdog, 60000, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_timer_stop(&dog);
    uv_close((uv_handle_t *)&dog, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    CU_ASSERT_EQUAL(g_batch_calls, 1);
    int bad = 0;
    for (size_t i = 0; i < zkv_batch_count(b); i++) {
        int st = zkv_batch_status(b, i);
        bool ok = st == ZKV_OK;
        if (ok && i < 500) {
            size_t len = 0, wlen = it_value((int)i * 7, 1, val);
            const void *v = zkv_batch_value(b, i, &len);
            ok = v && len == wlen && memcmp(v, val, wlen) == 0;
        }
        if (!ok && bad++ < 5)
            zkt_log("batch operation %zu: %s", i, zkv_strerror(st));
    }
    CU_ASSERT_EQUAL(bad, 0);
    zkv_batch_free(b);
    zkv_value *v = NULL;
    CU_ASSERT_EQUAL(zkv_get(g_client, key, it_key(N_KEYS + 42, key), 0, 0, &v), ZKV_OK);
    zkv_value_free(v);
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
    CU_ASSERT_EQUAL(
        zkv_async_get(a, "k", 1, ZKV_FLAG_READ_REPLICA | ZKV_FLAG_OWNER_ONLY, on_done, NULL),
        ZKV_EINVAL);
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
    check_batch(&loop, a);
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

/* --- owner killed: replica fallback and failfast -------------------------------------- */

#define FB_KEYS 30

typedef struct fb_call {
    int calls, status;
    int stale;
    char node[64];
    char err[512];
    zkv_version ver, pos;
    size_t len;
    char val[64];
} fb_call;

static fb_call g_fb[FB_KEYS];
static int g_fb_done;
static uv_loop_t *g_fb_loop;

static void on_fb(zkv_async *a, int status, const zkv_value *v, void *priv)
{
    (void)a;
    fb_call *f = priv;
    f->calls++;
    f->status = status;
    f->stale = v ? zkv_value_stale(v) : -1;
    snprintf(f->node, sizeof f->node, "%s", v ? zkv_value_node(v) : "");
    snprintf(f->err, sizeof f->err, "%s", zkv_last_error());
    f->ver = zkv_value_version(v);
    f->pos = zkv_value_position(v);
    f->len = v ? zkv_value_len(v) : 0;
    if (v && f->len < sizeof f->val)
        memcpy(f->val, zkv_value_data(v), f->len);
    if (++g_fb_done == FB_KEYS)
        uv_stop(g_fb_loop);
}

/* Runs the loop until n callbacks of on_fb ran (or the watchdog, 60 s). */
static void fb_run(uv_loop_t *loop, int n)
{
    g_fb_loop = loop;
    g_fb_done = FB_KEYS - n;
    if (g_fb_done == FB_KEYS)
        return;
    uv_timer_t dog;
    uv_timer_init(loop, &dog);
    uv_timer_start(&dog, on_watchdog, 60000, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_timer_stop(&dog);
    uv_close((uv_handle_t *)&dog, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static size_t fb_key(const uint8_t *prefix, size_t plen, int i, char *out)
{
    memcpy(out, prefix, plen);
    return plen + (size_t)snprintf(out + plen, 32, "afb-%02d", i);
}

static bool is_replica(const zkt_map_range *r, const char *id)
{
    for (int i = 0; i < r->n_replicas; i++)
        if (strcmp(r->replicas[i], id) == 0)
            return true;
    return false;
}

/* The owner of a range is killed (kill -9) with the coordinator stopped, so no failover
 * happens: async reads are answered by a replica, flagged stale, with the position of
 * what they reflect; owner-only reads and writes fail after the failfast (1 s) with
 * ZKV_EUNAVAILABLE naming the range and owner. Writes queued through a client with a
 * long failfast wait instead; the coordinator comes back, promotes a replica, and those
 * writes succeed at the new epoch; reads are then not stale. The old owner returns. */
static void test_owner_killed(void)
{
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, 30000));
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    uint8_t prefix[ZKT_KEY_MAX];
    size_t plen = 0;
    int ri = -1;
    for (int i = 0; i < m->n_ranges && ri < 0; i++)
        if ((plen = it_range_prefix(m, &m->ranges[i], prefix, true)) > 0)
            ri = i;
    CU_ASSERT_FATAL(ri >= 0);
    zkt_map_range rg = m->ranges[ri];
    rg.json = NULL;
    zkt_map_free(m);
    int owner = zkt_cluster_server_index(&g_cl, rg.owner);
    CU_ASSERT_FATAL(owner >= 0);
    zkt_log("range %s, owner %s, epoch %llu", rg.id, rg.owner, (unsigned long long)rg.epoch);
    zkv_version acked[FB_KEYS];
    uint64_t max_seq = 0;
    for (int i = 0; i < FB_KEYS; i++) {
        char key[64], val[64];
        size_t kl = fb_key(prefix, plen, i, key);
        int vl = snprintf(val, sizeof val, "fb-value-%02d", i);
        CU_ASSERT_FATAL(zkv_put(g_client, key, kl, val, (size_t)vl, 0, 0, &acked[i]) == ZKV_OK);
        if (acked[i].seq > max_seq)
            max_seq = acked[i].seq;
    }

    uv_loop_t loop;
    CU_ASSERT_FATAL(uv_loop_init(&loop) == 0);
    zkv_async *a = NULL;
    CU_ASSERT_FATAL(zkv_async_create(g_client, &a) == ZKV_OK);
    CU_ASSERT_FATAL(zkv_async_libuv_attach(a, &loop) == ZKV_OK);
    zkv_client *patient = NULL; /* failfast 30 s: writes wait for the new owner */
    CU_ASSERT_FATAL(it_client_ff(&g_cl, 40000, 30000, &patient) == ZKV_OK);
    zkv_async *pa = NULL;
    CU_ASSERT_FATAL(zkv_async_create(patient, &pa) == ZKV_OK);
    CU_ASSERT_FATAL(zkv_async_libuv_attach(pa, &loop) == ZKV_OK);

    /* Owner up: ZKV_FLAG_READ_REPLICA reads a replica on purpose. */
    memset(g_fb, 0, sizeof g_fb);
    char key[64];
    size_t kl = fb_key(prefix, plen, 0, key);
    CU_ASSERT_EQUAL(zkv_async_get(a, key, kl, ZKV_FLAG_READ_REPLICA, on_fb, &g_fb[0]), ZKV_OK);
    fb_run(&loop, 1);
    CU_ASSERT(g_fb[0].status == ZKV_OK && g_fb[0].stale == 1 && is_replica(&rg, g_fb[0].node));

    CU_ASSERT(zkt_coord_stop(&g_cl, 0, SIGTERM) == 0);
    CU_ASSERT(zkt_server_stop(&g_cl, owner, SIGKILL) == -SIGKILL);

    /* Reads: every key from a replica, stale, the acknowledged value and version. */
    memset(g_fb, 0, sizeof g_fb);
    for (int i = 0; i < FB_KEYS; i++) {
        kl = fb_key(prefix, plen, i, key);
        CU_ASSERT_EQUAL(zkv_async_get(a, key, kl, 0, on_fb, &g_fb[i]), ZKV_OK);
    }
    fb_run(&loop, FB_KEYS);
    int bad = 0;
    for (int i = 0; i < FB_KEYS; i++) {
        char want[64];
        int wl = snprintf(want, sizeof want, "fb-value-%02d", i);
        fb_call *f = &g_fb[i];
        bool ok = f->calls == 1 && f->status == ZKV_OK && f->stale == 1 &&
                  is_replica(&rg, f->node) && f->len == (size_t)wl &&
                  memcmp(f->val, want, f->len) == 0 && f->ver.epoch == acked[i].epoch &&
                  f->ver.seq == acked[i].seq && f->pos.epoch == rg.epoch && f->pos.seq >= max_seq;
        if (!ok && bad++ < 5)
            zkt_log("stale read %d: %d calls, %s (%s), stale %d, node %s, position %llu:%llu", i,
                    f->calls, zkv_strerror(f->status), f->err, f->stale, f->node,
                    (unsigned long long)f->pos.epoch, (unsigned long long)f->pos.seq);
    }
    CU_ASSERT_EQUAL(bad, 0);

    /* Owner-only read and a write through the 1 s failfast client: ZKV_EUNAVAILABLE. */
    memset(g_fb, 0, sizeof g_fb);
    uint64_t t0 = zkt_now_ms();
    CU_ASSERT_EQUAL(zkv_async_get(a, key, kl, ZKV_FLAG_OWNER_ONLY, on_fb, &g_fb[0]), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_async_put(a, key, kl, "x", 1, 0, on_fb, &g_fb[1]), ZKV_OK);
    fb_run(&loop, 2);
    int el = (int)(zkt_now_ms() - t0);
    zkt_log("owner-only get: %s: %s; put: %s: %s; %d ms", zkv_strerror(g_fb[0].status), g_fb[0].err,
            zkv_strerror(g_fb[1].status), g_fb[1].err, el);
    CU_ASSERT(g_fb[0].calls == 1 && g_fb[0].status == ZKV_EUNAVAILABLE);
    CU_ASSERT(g_fb[1].calls == 1 && g_fb[1].status == ZKV_EUNAVAILABLE);
    CU_ASSERT(strstr(g_fb[1].err, rg.id) && strstr(g_fb[1].err, rg.owner));
    CU_ASSERT(el >= 900 && el < 5000); /* the failfast, not the 10 s timeout */

    /* Writes through the patient client wait; the coordinator returns and promotes. */
    memset(g_fb, 0, sizeof g_fb);
    for (int i = 0; i < FB_KEYS; i++) {
        char val[64];
        kl = fb_key(prefix, plen, i, key);
        int vl = snprintf(val, sizeof val, "fb-new-%02d", i);
        CU_ASSERT_EQUAL(zkv_async_put(pa, key, kl, val, (size_t)vl, 0, on_fb, &g_fb[i]), ZKV_OK);
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    CU_ASSERT_EQUAL(zkv_async_pending(pa), FB_KEYS); /* nobody can take them yet */
    t0 = zkt_now_ms();
    CU_ASSERT_FATAL(zkt_coord_start(&g_cl, 0) == 0);
    fb_run(&loop, FB_KEYS);
    zkt_log("queued writes done %d ms after the coordinator started", (int)(zkt_now_ms() - t0));
    it_owner_arg oa;
    CU_ASSERT_FATAL(it_wait_new_owner(&oa, &g_cl, rg.id, rg.owner, rg.epoch, 20000));
    bad = 0;
    for (int i = 0; i < FB_KEYS; i++) {
        fb_call *f = &g_fb[i];
        if ((f->calls != 1 || f->status != ZKV_OK) && bad++ < 5)
            zkt_log("queued write %d: %d calls, %s (%s)", i, f->calls, zkv_strerror(f->status),
                    f->err);
    }
    CU_ASSERT_EQUAL(bad, 0);
    /* Reads come from the new owner again, with the new values. */
    memset(g_fb, 0, sizeof g_fb);
    kl = fb_key(prefix, plen, 3, key);
    CU_ASSERT_EQUAL(zkv_async_get(pa, key, kl, 0, on_fb, &g_fb[0]), ZKV_OK);
    fb_run(&loop, 1);
    CU_ASSERT(g_fb[0].status == ZKV_OK && g_fb[0].stale == 0 &&
              strcmp(g_fb[0].node, oa.now.owner) == 0 && g_fb[0].ver.epoch == oa.now.epoch &&
              g_fb[0].len == 9 && memcmp(g_fb[0].val, "fb-new-03", 9) == 0);

    zkv_async_free(pa);
    finish_loop(&loop, a);
    zkv_client_free(patient);
    /* The old owner returns as a replica (the next test kills a node again). */
    CU_ASSERT_FATAL(zkt_server_start(&g_cl, owner) == 0);
    CU_ASSERT(it_wait_in_sync(&g_cl, g_cl.servers[owner].id, true, 30000));
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
    int ok = 0, unavailable = 0, other = 0;
    for (int i = 0; i < rp->n; i++) {
        if (rp->rejected_i[i])
            continue;
        if (rp->status[i] == ZKV_OK)
            ok++;
        else if (rp->status[i] == ZKV_EUNAVAILABLE || rp->status[i] == ZKV_ECONNECT)
            unavailable++;
        else
            other++;
    }
    zkt_log("after the kill: %d ok, %d EUNAVAILABLE/ECONNECT, %d other failures, %d refused", ok,
            unavailable, other, rp->rejected);
    /* the killed node's writes waited the failfast (1 s) for a new owner and then failed,
     * or were taken by one; the other nodes kept answering */
    CU_ASSERT(ok > 0);
    CU_ASSERT_EQUAL(other, 0);
    CU_ASSERT_EQUAL(rp->rejected, 0); /* writes are accepted and wait, not refused */
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
    CU_add_test(s,
                "owner killed: stale replica reads, failfast writes, writes wait for the new owner",
                test_owner_killed);
    CU_add_test(s, "a node killed with requests in flight", test_kill_node);
    return zkt_run_all();
}
