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
 * and then succeed at the new epoch; meanwhile async scans of the range come from a
 * replica, flagged stale, with every value (as the blocking scan's), and owner-only scans
 * fail with ZKV_EUNAVAILABLE. Scans over several ranges, paged, empty, beside a batch in
 * flight, and pending when their zkv_async is freed (it_async.h's it_scan_*).
 * Finally a node is killed with requests in flight:
 * their writes wait the failfast for a new owner and fail (ZKV_EUNAVAILABLE) or succeed
 * on it, the others complete, still each exactly once. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define N_KEYS 10000
#define IN_FLIGHT 1000
#define N_SERVERS 3

/* The libuv loop (behind it_async.h's loop_ops) and the driver of the runs of requests. */
#define IT_LOOP_LIBUV
#define IT_ASYNC_N N_KEYS
#define IT_ASYNC_IN_FLIGHT IN_FLIGHT
#define IT_ASYNC_WATCHDOG_MS 120000
#include "it_async.h"
#include "it_common.h"
#include "it_repl.h"
#include "zkt/zkt.h"
#include "zkv/adapters/libuv.h"
#include "zkv/zkv_async.h"

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
    g_ops->stop(priv);
}

static void check_batch(void *loop, zkv_async *a)
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
    CU_ASSERT(g_ops->run(loop, 60000));
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
    zkv_async *a = NULL;
    void *loop = open_loop_checked(g_client, &a); /* no loop yet: refused; attached once */
    CU_ASSERT_EQUAL(
        zkv_async_get(a, "k", 1, ZKV_FLAG_READ_REPLICA | ZKV_FLAG_OWNER_ONLY, on_done, NULL),
        ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_async_pending(a), 0);

    put_get_all(&r, loop, a, N_KEYS, g_client, 4321);
    check_batch(loop, a);
    drive(&r, loop, a, OP_DEL, 1000, ZKV_OK, 0);
    check_all(&r, ZKV_OK);
    drive(&r, loop, a, OP_GET, 1000, ZKV_ENOTFOUND, 0);
    check_all(&r, ZKV_ENOTFOUND);
    close_loop(loop, a);
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
static void *g_fb_loop;

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
        g_ops->stop(g_fb_loop);
}

/* Runs the loop until n callbacks of on_fb ran (or the watchdog, 60 s). */
static void fb_run(void *loop, int n)
{
    g_fb_loop = loop;
    g_fb_done = FB_KEYS - n;
    if (g_fb_done == FB_KEYS)
        return;
    CU_ASSERT(g_ops->run(loop, 60000));
}

static size_t fb_key(const uint8_t *prefix, size_t plen, int i, char *out)
{
    memcpy(out, prefix, plen);
    return plen + (size_t)snprintf(out + plen, 32, "afb-%02d", i);
}

/* An async scan of the FB_KEYS keys of the range (prefix) with flags: status, and on
 * ZKV_OK every key in order with its value "fb-value-NN", stale as said, the same as the
 * blocking scan's. */
static void fb_scan(void *loop, zkv_async *a, const uint8_t *prefix, size_t plen, unsigned flags,
                    int status, int stale)
{
    char lo[64], hi[64];
    size_t ll = fb_key(prefix, plen, 0, lo) - 2; /* the prefix and "afb-" */
    memcpy(hi, lo, ll);
    hi[ll - 1] = '.'; /* just past every "afb-NN" */
    static it_scan_res r;
    it_scan_run(loop, a, lo, ll, hi, ll, 0, flags, &r);
    CU_ASSERT_EQUAL(r.status, status);
    if (r.status != ZKV_OK || status != ZKV_OK) {
        it_scan_clear(&r);
        return;
    }
    CU_ASSERT_EQUAL(zkv_scan_count(r.s), FB_KEYS);
    CU_ASSERT_EQUAL(zkv_scan_stale(r.s), stale);
    int bad = 0;
    for (int i = 0; i < FB_KEYS && (size_t)i < zkv_scan_count(r.s); i++) {
        char key[64], val[64];
        size_t kl = fb_key(prefix, plen, i, key), gl, vl;
        int wl = snprintf(val, sizeof val, "fb-value-%02d", i);
        const void *k = zkv_scan_key(r.s, (size_t)i, &gl);
        const void *v = zkv_scan_value(r.s, (size_t)i, &vl);
        if ((gl != kl || memcmp(k, key, kl) != 0 || vl != (size_t)wl || memcmp(v, val, vl) != 0) &&
            bad++ < 5)
            zkt_log("scan item %d wrong", i);
    }
    CU_ASSERT_EQUAL(bad, 0);
    zkv_scan *b = NULL;
    CU_ASSERT_EQUAL(zkv_scan_range(g_client, lo, ll, hi, ll, 0, 0, flags, &b), ZKV_OK);
    CU_ASSERT(it_scan_same(r.s, b) && zkv_scan_stale(b) == stale);
    zkv_scan_free(b);
    it_scan_clear(&r);
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

    zkv_async *a = NULL;
    void *loop = open_loop(g_client, &a);
    zkv_client *patient = NULL; /* failfast 30 s: writes wait for the new owner */
    CU_ASSERT_FATAL(it_client_ff(&g_cl, 40000, 30000, &patient) == ZKV_OK);
    zkv_async *pa = NULL;
    CU_ASSERT_FATAL(zkv_async_create(patient, &pa) == ZKV_OK);
    CU_ASSERT_FATAL(g_ops->attach(pa, loop) == ZKV_OK);

    /* Owner up: ZKV_FLAG_READ_REPLICA reads a replica on purpose. */
    memset(g_fb, 0, sizeof g_fb);
    char key[64];
    size_t kl = fb_key(prefix, plen, 0, key);
    CU_ASSERT_EQUAL(zkv_async_get(a, key, kl, ZKV_FLAG_READ_REPLICA, on_fb, &g_fb[0]), ZKV_OK);
    fb_run(loop, 1);
    CU_ASSERT(g_fb[0].status == ZKV_OK && g_fb[0].stale == 1 && is_replica(&rg, g_fb[0].node));
    /* Scans too: from the owner, not stale; from a replica on purpose, stale. */
    fb_scan(loop, a, prefix, plen, 0, ZKV_OK, 0);
    fb_scan(loop, a, prefix, plen, ZKV_FLAG_READ_REPLICA, ZKV_OK, 1);

    CU_ASSERT(zkt_coord_stop(&g_cl, 0, SIGTERM) == 0);
    CU_ASSERT(zkt_server_stop(&g_cl, owner, SIGKILL) == -SIGKILL);

    /* Reads: every key from a replica, stale, the acknowledged value and version. */
    memset(g_fb, 0, sizeof g_fb);
    for (int i = 0; i < FB_KEYS; i++) {
        kl = fb_key(prefix, plen, i, key);
        CU_ASSERT_EQUAL(zkv_async_get(a, key, kl, 0, on_fb, &g_fb[i]), ZKV_OK);
    }
    fb_run(loop, FB_KEYS);
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
    /* A scan of the range: every key from a replica, stale; owner-only: ZKV_EUNAVAILABLE
     * after the failfast. */
    fb_scan(loop, a, prefix, plen, 0, ZKV_OK, 1);
    fb_scan(loop, a, prefix, plen, ZKV_FLAG_OWNER_ONLY, ZKV_EUNAVAILABLE, 0);

    /* Owner-only read and a write through the 1 s failfast client: ZKV_EUNAVAILABLE. */
    memset(g_fb, 0, sizeof g_fb);
    uint64_t t0 = zkt_now_ms();
    CU_ASSERT_EQUAL(zkv_async_get(a, key, kl, ZKV_FLAG_OWNER_ONLY, on_fb, &g_fb[0]), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_async_put(a, key, kl, "x", 1, 0, on_fb, &g_fb[1]), ZKV_OK);
    fb_run(loop, 2);
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
    uv_run((uv_loop_t *)loop, UV_RUN_NOWAIT);
    CU_ASSERT_EQUAL(zkv_async_pending(pa), FB_KEYS); /* nobody can take them yet */
    t0 = zkt_now_ms();
    CU_ASSERT_FATAL(zkt_coord_start(&g_cl, 0) == 0);
    fb_run(loop, FB_KEYS);
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
    fb_run(loop, 1);
    CU_ASSERT(g_fb[0].status == ZKV_OK && g_fb[0].stale == 0 &&
              strcmp(g_fb[0].node, oa.now.owner) == 0 && g_fb[0].ver.epoch == oa.now.epoch &&
              g_fb[0].len == 9 && memcmp(g_fb[0].val, "fb-new-03", 9) == 0);

    zkv_async_free(pa);
    close_loop(loop, a);
    zkv_client_free(patient);
    /* The old owner returns as a replica (the next test kills a node again). */
    CU_ASSERT_FATAL(zkt_server_start(&g_cl, owner) == 0);
    CU_ASSERT(it_wait_in_sync(&g_cl, g_cl.servers[owner].id, true, 30000));
}

/* A node killed with requests in flight: their callbacks fail, each runs once. */
static void test_kill_node(void)
{
    static run r;
    zkv_async *a = NULL;
    void *loop = open_loop(g_client, &a);
    run *rp = &r;
    drive(rp, loop, a, OP_PUT, 5000, ANY_STATUS, 200);
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
    close_loop(loop, a);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("async: 3 servers, libuv", suite_init, suite_cleanup);
    CU_add_test(s, "10,000 puts and gets, 1,000 deletes, 1,000 in flight", test_put_get_del);
    it_async_add_tests(s); /* free in a callback, scans */
    CU_add_test(s,
                "owner killed: stale replica reads, failfast writes, writes wait for the new owner",
                test_owner_killed);
    CU_add_test(s, "a node killed with requests in flight", test_kill_node);
    return zkt_run_all();
}
