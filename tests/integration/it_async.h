/* it_async.h: what the integration tests of the asynchronous client (test_async.c,
 * test_async_adapters.c) share: one event loop behind the loop_ops interface, chosen at
 * build time (IT_LOOP_LIBUV, IT_LOOP_LIBEVENT, else libev: one loop per program, as
 * libev's library exports libevent compatibility functions that would take the place of
 * libevent's own in a program linked with both), and the driver of runs of many requests
 * (at most IT_ASYNC_IN_FLIGHT outstanding, new ones queued from inside the callbacks, every
 * callback counted, values checked), the test of zkv_async_free inside a callback, and
 * the tests of zkv_async_scan_range (it_scan_*: keys spread over every range, scans
 * checked against the keys put and against the blocking zkv_scan_range).
 * Every loop run is bounded by a watchdog timer.
 *
 * The including file may define IT_ASYNC_N (the most requests in one run, 3,000),
 * IT_ASYNC_IN_FLIGHT (500) and IT_ASYNC_WATCHDOG_MS (a run's bound, 30 s). The suite's
 * cluster, g_cl, and client, g_client, are defined here; the including file brings them
 * up, and registers the shared tests with it_async_add_tests. */
#ifndef ZKV_IT_ASYNC_H
#define ZKV_IT_ASYNC_H
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(IT_LOOP_LIBUV)
#include "zkv/adapters/libuv.h"
#elif defined(IT_LOOP_LIBEVENT)
#include "zkv/adapters/libevent.h"
#else
#include "zkv/adapters/libev.h"
#endif
#include "it_common.h"
#include "zkt/zkt.h"
#include "zkv/zkv_async.h"

#ifndef IT_ASYNC_N
#define IT_ASYNC_N 3000
#endif
#ifndef IT_ASYNC_IN_FLIGHT
#define IT_ASYNC_IN_FLIGHT 500
#endif
#ifndef IT_ASYNC_WATCHDOG_MS
#define IT_ASYNC_WATCHDOG_MS 30000
#endif

/* The suite's cluster (the killed node of a run is one of its servers) and its client. */
static zkt_cluster g_cl;
static zkv_client *g_client;

/* --- the loop behind one interface ------------------------------------------------------- */

typedef struct loop_ops {
    const char *name;
    void *(*create)(void);
    int (*attach)(zkv_async *a, void *loop);
    /* Runs the loop until stop() or the watchdog (ms): returns false on the watchdog. */
    bool (*run)(void *loop, int ms);
    void (*stop)(void *loop);
    /* True when nothing is registered with the loop (it would return at once). */
    bool (*idle)(void *loop);
    void (*destroy)(void *loop);
} loop_ops;

static bool g_dog_fired;

#if defined(IT_LOOP_LIBUV)
static void *luv_create(void)
{
    uv_loop_t *loop = (uv_loop_t *)malloc(sizeof *loop);
    if (loop && uv_loop_init(loop) != 0) {
        free(loop);
        return NULL;
    }
    return loop;
}
static int luv_attach(zkv_async *a, void *loop)
{
    return zkv_async_libuv_attach(a, (uv_loop_t *)loop);
}
static void luv_on_dog(uv_timer_t *t)
{
    zkt_log("libuv: loop run did not finish in time");
    g_dog_fired = true;
    uv_stop(t->loop);
}
static bool luv_run(void *loop, int ms)
{
    uv_timer_t dog;
    uv_timer_init((uv_loop_t *)loop, &dog);
    uv_timer_start(&dog, luv_on_dog, (uint64_t)ms, 0);
    g_dog_fired = false;
    uv_run((uv_loop_t *)loop, UV_RUN_DEFAULT);
    uv_timer_stop(&dog);
    uv_close((uv_handle_t *)&dog, NULL);
    uv_run((uv_loop_t *)loop, UV_RUN_NOWAIT); /* the watchdog's handle closes */
    return !g_dog_fired;
}
static void luv_stop(void *loop)
{
    uv_stop((uv_loop_t *)loop);
}
static bool luv_idle(void *loop)
{
    /* 0: nothing active or closing is left (the handles closed meanwhile are freed) */
    return uv_run((uv_loop_t *)loop, UV_RUN_NOWAIT) == 0;
}
static void luv_destroy(void *loop)
{
    CU_ASSERT_EQUAL(uv_loop_close((uv_loop_t *)loop), 0);
    free(loop);
}
static const loop_ops g_loop = {"libuv",  luv_create, luv_attach, luv_run,
                                luv_stop, luv_idle,   luv_destroy};
#elif defined(IT_LOOP_LIBEVENT)
static void *levt_create(void)
{
    return event_base_new();
}
static int levt_attach(zkv_async *a, void *loop)
{
    return zkv_async_libevent_attach(a, (struct event_base *)loop);
}
static void levt_on_dog(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    zkt_log("libevent: loop run did not finish in time");
    g_dog_fired = true;
    event_base_loopbreak((struct event_base *)arg);
}
static bool levt_run(void *loop, int ms)
{
    struct event_base *base = loop;
    struct event *dog = evtimer_new(base, levt_on_dog, base);
    CU_ASSERT_FATAL(dog != NULL);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000L};
    evtimer_add(dog, &tv);
    g_dog_fired = false;
    event_base_dispatch(base);
    event_free(dog);
    return !g_dog_fired;
}
static void levt_stop(void *loop)
{
    event_base_loopbreak((struct event_base *)loop);
}
static bool levt_idle(void *loop)
{
    /* 1: returned because no event was pending or active */
    return event_base_loop((struct event_base *)loop, EVLOOP_NONBLOCK) == 1;
}
static void levt_destroy(void *loop)
{
    event_base_free((struct event_base *)loop);
}
static const loop_ops g_loop = {"libevent", levt_create, levt_attach, levt_run,
                                levt_stop,  levt_idle,   levt_destroy};
#else
static void *lev_create(void)
{
    return ev_loop_new(EVFLAG_AUTO);
}
static int lev_attach(zkv_async *a, void *loop)
{
    return zkv_async_libev_attach(a, (struct ev_loop *)loop);
}
static void lev_on_dog(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)t;
    (void)revents;
    zkt_log("libev: loop run did not finish in time");
    g_dog_fired = true;
    ev_break(loop, EVBREAK_ALL);
}
static bool lev_run(void *loop, int ms)
{
    ev_timer dog;
    ev_timer_init(&dog, lev_on_dog, ms / 1000.0, 0.0);
    ev_now_update((struct ev_loop *)loop);
    ev_timer_start((struct ev_loop *)loop, &dog);
    g_dog_fired = false;
    ev_run((struct ev_loop *)loop, 0);
    ev_timer_stop((struct ev_loop *)loop, &dog);
    return !g_dog_fired;
}
static void lev_stop(void *loop)
{
    ev_break((struct ev_loop *)loop, EVBREAK_ALL);
}
static bool lev_idle(void *loop)
{
    return ev_run((struct ev_loop *)loop, EVRUN_NOWAIT) == 0; /* no active watcher */
}
static void lev_destroy(void *loop)
{
    ev_loop_destroy((struct ev_loop *)loop);
}
static const loop_ops g_loop = {"libev",  lev_create, lev_attach, lev_run,
                                lev_stop, lev_idle,   lev_destroy};
#endif

static const loop_ops *g_ops = &g_loop;

static void on_done(zkv_async *a, int status, const zkv_value *v, void *priv);

/* A loop and a zkv_async of client c attached to it (fatal on failure). */
static void *open_loop(zkv_client *c, zkv_async **a)
{
    void *loop = g_ops->create();
    CU_ASSERT_FATAL(loop != NULL);
    CU_ASSERT_FATAL(zkv_async_create(c, a) == ZKV_OK);
    CU_ASSERT_FATAL(g_ops->attach(*a, loop) == ZKV_OK);
    return loop;
}

/* open_loop, checking on the way that a request is refused (its callback never runs) while
 * no loop is attached, that attach refuses NULL and a second attach, and that nothing is
 * registered with the loop before the first request. */
static void *open_loop_checked(zkv_client *c, zkv_async **a)
{
    void *loop = g_ops->create();
    CU_ASSERT_FATAL(loop != NULL);
    CU_ASSERT_FATAL(zkv_async_create(c, a) == ZKV_OK);
    CU_ASSERT_EQUAL(zkv_async_get(*a, "k", 1, 0, on_done, NULL), ZKV_EINVAL);
    CU_ASSERT_EQUAL(g_ops->attach(*a, NULL), ZKV_EINVAL);
    CU_ASSERT_EQUAL(g_ops->attach(NULL, loop), ZKV_EINVAL);
    CU_ASSERT_FATAL(g_ops->attach(*a, loop) == ZKV_OK);
    CU_ASSERT_EQUAL(g_ops->attach(*a, loop), ZKV_EINVAL);
    CU_ASSERT(g_ops->idle(loop));
    return loop;
}

/* Frees a (if not NULL): the adapter must then leave nothing in the loop. */
static void close_loop(void *loop, zkv_async *a)
{
    zkv_async_free(a);
    CU_ASSERT(g_ops->idle(loop));
    g_ops->destroy(loop);
}

/* --- runs of many requests ----------------------------------------------------------------- */

typedef enum { OP_PUT, OP_GET, OP_DEL, OP_GET_MISSING } op_t;

#define ANY_STATUS (-100)

/* One run of n requests with at most IT_ASYNC_IN_FLIGHT outstanding. */
typedef struct run {
    void *loop;
    zkv_async *a;
    op_t op;
    int n, next, inflight, finished;
    int expect;             /* status each callback must have (ANY_STATUS: any) */
    int calls[IT_ASYNC_N];  /* callbacks per request */
    int status[IT_ASYNC_N]; /* status of each callback */
    bool bad_value[IT_ASYNC_N];
    int rejected; /* requests whose call returned an error (no callback expected) */
    bool rejected_i[IT_ASYNC_N];
    int kill_after; /* SIGKILL server kill_server after this many callbacks (0: never) */
    int kill_server;
    bool killed;
    int inflight_at_kill;
} run;

typedef struct slot {
    run *r;
    int i;
} slot;

static slot g_slots[IT_ASYNC_N];

static size_t missing_key(int i, uint8_t *out)
{
    return (size_t)snprintf((char *)out, IT_KEY_MAX, "adapters-missing-%05d", i);
}

/* Queues request i. */
static void submit(run *r, int i)
{
    uint8_t key[IT_KEY_MAX];
    g_slots[i] = (slot){r, i};
    int rc;
    if (r->op == OP_PUT) {
        static uint8_t val[IT_VAL_MAX];
        size_t klen = it_key(i, key), vlen = it_value(i, 1, val);
        rc = zkv_async_put(r->a, key, klen, val, vlen, 0, on_done, &g_slots[i]);
    } else if (r->op == OP_GET) {
        rc = zkv_async_get(r->a, key, it_key(i, key), 0, on_done, &g_slots[i]);
    } else if (r->op == OP_DEL) {
        rc = zkv_async_del(r->a, key, it_key(i, key), 0, on_done, &g_slots[i]);
    } else {
        rc = zkv_async_get(r->a, key, missing_key(i, key), 0, on_done, &g_slots[i]);
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
    while (r->inflight < IT_ASYNC_IN_FLIGHT && r->next < r->n)
        submit(r, r->next++);
    if (r->finished == r->n)
        g_ops->stop(r->loop);
}

static void on_done(zkv_async *a, int status, const zkv_value *v, void *priv)
{
    slot *s = (slot *)priv;
    run *r = s->r;
    CU_ASSERT_PTR_EQUAL(a, r->a);
    r->calls[s->i]++;
    r->status[s->i] = status;
    r->inflight--;
    r->finished++;
    if (r->expect != ANY_STATUS && status != r->expect)
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
        zkt_log("%s: killing %s with %d requests in flight", g_ops->name,
                g_cl.servers[r->kill_server].id, r->inflight);
        zkt_server_stop(&g_cl, r->kill_server, SIGKILL);
    }
    pump(r);
}

/* Starts r (reset) and runs the loop until every request finished (or the watchdog). */
static void drive(run *r, void *loop, zkv_async *a, op_t op, int n, int expect, int kill_after)
{
    memset(r, 0, sizeof *r);
    r->loop = loop;
    r->a = a;
    r->op = op;
    r->n = n;
    r->expect = expect;
    r->kill_after = kill_after;
    pump(r);
    if (r->finished < r->n)
        CU_ASSERT(g_ops->run(loop, IT_ASYNC_WATCHDOG_MS));
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

/* check_once, none refused, and every callback with status (and the right value). */
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

/* n puts, then n gets of them (values checked) through a, each callback once; then the
 * value of key i read through client c's blocking API. */
static void put_get_all(run *r, void *loop, zkv_async *a, int n, zkv_client *c, int i)
{
    drive(r, loop, a, OP_PUT, n, ZKV_OK, 0);
    check_all(r, ZKV_OK);
    drive(r, loop, a, OP_GET, n, ZKV_OK, 0);
    check_all(r, ZKV_OK);
    /* the values are there for the blocking API too */
    uint8_t key[IT_KEY_MAX];
    zkv_value *v = NULL;
    CU_ASSERT_EQUAL(zkv_get(c, key, it_key(i, key), 0, 0, &v), ZKV_OK);
    zkv_value_free(v);
}

/* --- zkv_async_free inside the first callback: deferred; the rest fail once each ---------- */

#define IT_N_FREE 300
static int g_free_calls, g_free_failed, g_free_once[IT_N_FREE];
static zkv_async *g_free_a;
static void *g_free_loop;

static void on_free_cb(zkv_async *a, int status, const zkv_value *v, void *priv)
{
    (void)v;
    CU_ASSERT_PTR_EQUAL(a, g_free_a);
    g_free_once[(int *)priv - g_free_once]++;
    g_free_calls++;
    if (status == ZKV_ECONNECT)
        g_free_failed++;
    if (g_free_calls == 1) {
        zkv_async_free(a); /* deferred until this callback returns */
        CU_ASSERT_EQUAL(g_free_calls, 1);
        uint8_t k = 1;
        CU_ASSERT_EQUAL(zkv_async_get(a, &k, 1, 0, on_free_cb, g_free_once), ZKV_EINVAL);
    }
    if (g_free_calls == IT_N_FREE)
        g_ops->stop(g_free_loop);
}

/* IT_N_FREE gets through client c; the first callback frees the context. */
static void it_free_in_callback(zkv_client *c)
{
    zkv_async *a = NULL;
    void *loop = open_loop(c, &a);
    g_free_a = a;
    g_free_loop = loop;
    g_free_calls = g_free_failed = 0;
    memset(g_free_once, 0, sizeof g_free_once);
    int accepted = 0;
    for (int i = 0; i < IT_N_FREE; i++) {
        uint8_t key[IT_KEY_MAX];
        if (zkv_async_get(a, key, it_key(i, key), 0, on_free_cb, &g_free_once[i]) == ZKV_OK)
            accepted++;
    }
    CU_ASSERT_EQUAL_FATAL(accepted, IT_N_FREE);
    CU_ASSERT(g_ops->run(loop, IT_ASYNC_WATCHDOG_MS));
    CU_ASSERT_EQUAL(g_free_calls, IT_N_FREE);
    int bad = 0;
    for (int i = 0; i < IT_N_FREE; i++)
        if (g_free_once[i] != 1 && bad++ < 5)
            zkt_log("request %d: %d callbacks", i, g_free_once[i]);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(g_free_failed > 0); /* those still pending when the context went */
    close_loop(loop, NULL);       /* the freed context left nothing in the loop */
}

/* --- zkv_async_scan_range ------------------------------------------------------------------ */

/* Scan key i: its first byte spreads the keys over every range (in order of i), then
 * "ascan-%03d". Other tests' keys lie between them, so checks look at these only (and
 * compare everything else with the blocking scan). */
#define IT_SCAN_KEYS 240
#define IT_SCAN_KLEN 10

static size_t it_scan_key(int i, uint8_t *out)
{
    out[0] = (uint8_t)(i * 256 / IT_SCAN_KEYS);
    snprintf((char *)out + 1, IT_KEY_MAX - 1, "ascan-%03d", i);
    return IT_SCAN_KLEN;
}

static size_t it_scan_value(int i, char *out)
{
    return (size_t)snprintf(out, 128, "scan-value-%03d-%.*s", i, i % 60,
                            "............................................................");
}

/* Index of scan key k, or -1 for another key. */
static int it_scan_index(const void *k, size_t len)
{
    const uint8_t *b = (const uint8_t *)k;
    if (len != IT_SCAN_KLEN || memcmp(b + 1, "ascan-", 6) != 0)
        return -1;
    int i = (b[7] - '0') * 100 + (b[8] - '0') * 10 + (b[9] - '0');
    return i >= 0 && i < IT_SCAN_KEYS && b[0] == (uint8_t)(i * 256 / IT_SCAN_KEYS) ? i : -1;
}

/* One scan's outcome, filled by on_scan (which owns the result until it_scan_clear). */
typedef struct it_scan_res {
    int calls, status;
    zkv_scan *s;
    char err[512];
} it_scan_res;

static int g_scan_left; /* callbacks (scans, batches) the loop still waits for */
static void *g_scan_loop;

static void it_scan_clear(it_scan_res *r)
{
    zkv_scan_free(r->s);
    memset(r, 0, sizeof *r);
}

static void on_scan(zkv_async *a, int status, zkv_scan *s, void *priv)
{
    (void)a;
    it_scan_res *r = (it_scan_res *)priv;
    r->calls++;
    r->status = status;
    CU_ASSERT((status == ZKV_OK) == (s != NULL));
    zkv_scan_free(r->s); /* a second call would be a bug, counted above */
    r->s = s;
    snprintf(r->err, sizeof r->err, "%s", zkv_last_error());
    if (--g_scan_left == 0 && g_scan_loop)
        g_ops->stop(g_scan_loop);
}

/* Runs loop until n more callbacks counted in g_scan_left ran (or the watchdog). */
static void it_scan_wait(void *loop, int n)
{
    g_scan_loop = loop;
    g_scan_left += n;
    if (g_scan_left > 0)
        CU_ASSERT(g_ops->run(loop, IT_ASYNC_WATCHDOG_MS));
    CU_ASSERT_EQUAL(g_scan_left, 0);
    g_scan_loop = NULL;
}

/* One asynchronous scan through a, waited for: *r is its outcome (called back once). */
static void it_scan_run(void *loop, zkv_async *a, const void *start, size_t slen, const void *end,
                        size_t elen, size_t limit, unsigned flags, it_scan_res *r)
{
    it_scan_clear(r);
    CU_ASSERT_EQUAL_FATAL(zkv_async_scan_range(a, start, slen, end, elen, limit, flags, on_scan, r),
                          ZKV_OK);
    CU_ASSERT_EQUAL(r->calls, 0); /* never from the call that queued it */
    it_scan_wait(loop, 1);
    CU_ASSERT_EQUAL(r->calls, 1);
    if (r->status != ZKV_OK)
        zkt_log("scan: %s: %s", zkv_strerror(r->status), r->err);
}

/* Bad result lines of s (logged, first 5): keys not strictly increasing or outside
 * [lo, hi) (one byte each, hi 0: unbounded), and the scan keys in it not exactly keys
 * from..to-1 with their values. */
static int it_scan_check(const zkv_scan *s, uint8_t lo, uint8_t hi, int from, int to)
{
    int bad = 0, want = from;
    const uint8_t *prev = NULL;
    size_t plen = 0;
    for (size_t k = 0; k < zkv_scan_count(s); k++) {
        size_t kl, vl;
        const uint8_t *key = (const uint8_t *)zkv_scan_key(s, k, &kl);
        const void *val = zkv_scan_value(s, k, &vl);
        bool ok = kl > 0 && key[0] >= lo && (hi == 0 || key[0] < hi);
        if (prev) {
            int c = memcmp(prev, key, plen < kl ? plen : kl);
            ok = ok && (c < 0 || (c == 0 && plen < kl));
        }
        int i = it_scan_index(key, kl);
        if (i >= 0) {
            char v[128];
            size_t wl = it_scan_value(i, v);
            ok = ok && i == want && vl == wl && memcmp(val, v, wl) == 0;
            want = i + 1;
        }
        if (!ok && bad++ < 5)
            zkt_log("scan item %zu: key %d (expected %d) wrong, out of order or out of bounds", k,
                    i, want);
        prev = key;
        plen = kl;
    }
    if (want != to && bad++ < 5)
        zkt_log("scan keys up to %d, expected up to %d", want, to);
    return bad;
}

/* 1 when s and the blocking scan of the same bounds list the same pairs. */
static bool it_scan_same(const zkv_scan *s, const zkv_scan *b)
{
    if (zkv_scan_count(s) != zkv_scan_count(b) || zkv_scan_more(s) != zkv_scan_more(b))
        return false;
    for (size_t k = 0; k < zkv_scan_count(s); k++) {
        size_t l1, l2, v1, v2;
        const void *k1 = zkv_scan_key(s, k, &l1), *k2 = zkv_scan_key(b, k, &l2);
        const void *x1 = zkv_scan_value(s, k, &v1), *x2 = zkv_scan_value(b, k, &v2);
        if (l1 != l2 || v1 != v2 || memcmp(k1, k2, l1) != 0 || memcmp(x1, x2, v1) != 0)
            return false;
    }
    return true;
}

/* First scan key at or past first byte b. */
static int it_scan_first(int b)
{
    int i = 0;
    while (i < IT_SCAN_KEYS && (int)(i * 256 / IT_SCAN_KEYS) < b)
        i++;
    return i;
}

/* Puts the scan keys through client c (blocking). */
static void it_scan_put_all(zkv_client *c)
{
    for (int i = 0; i < IT_SCAN_KEYS; i++) {
        uint8_t key[IT_KEY_MAX];
        char val[128];
        size_t kl = it_scan_key(i, key), vl = it_scan_value(i, val);
        CU_ASSERT_EQUAL_FATAL(zkv_put(c, key, kl, val, vl, 0, 0, NULL), ZKV_OK);
    }
}

/* A scan over several ranges: keys in order with exact values, the same as the blocking
 * scan's; a limit stops it (more), and pages of 7 continued past the last key walk it
 * all; empty scans (nothing there; end before start: no page asked at all) still call
 * back once; bad arguments are refused without a callback. */
static void it_scan_ranges(zkv_client *c, zkt_cluster *cl)
{
    it_scan_put_all(c);
    zkv_async *a = NULL;
    void *loop = open_loop(c, &a);
    static it_scan_res r;
    const uint8_t lo = 0x20, hi = 0xe0;
    int from = it_scan_first(lo), to = it_scan_first(hi);

    /* the whole of [lo, hi) */
    it_scan_run(loop, a, &lo, 1, &hi, 1, 100000, 0, &r);
    CU_ASSERT_FATAL(r.status == ZKV_OK);
    CU_ASSERT_EQUAL(it_scan_check(r.s, lo, hi, from, to), 0);
    CU_ASSERT_EQUAL(zkv_scan_more(r.s), 0);
    CU_ASSERT_EQUAL(zkv_scan_stale(r.s), 0);
    zkv_scan *b = NULL;
    CU_ASSERT_EQUAL(zkv_scan_range(c, &lo, 1, &hi, 1, 100000, 0, 0, &b), ZKV_OK);
    CU_ASSERT(it_scan_same(r.s, b));
    zkv_scan_free(b);
    /* it crossed ranges: the ranges of its scan keys */
    zkt_map *m = zkt_cluster_map(cl);
    CU_ASSERT_FATAL(m != NULL);
    const zkt_map_range *last = NULL;
    int crossed = 0;
    for (size_t k = 0; k < zkv_scan_count(r.s); k++) {
        size_t kl;
        const void *key = zkv_scan_key(r.s, k, &kl);
        const zkt_map_range *rg = zkt_map_find(m, key, kl);
        if (it_scan_index(key, kl) >= 0 && rg != last) {
            crossed++;
            last = rg;
        }
    }
    zkt_map_free(m);
    zkt_log("%s: async scan of %zu items over %d ranges", g_ops->name, zkv_scan_count(r.s),
            crossed);
    CU_ASSERT(crossed >= 3);

    /* unbounded, with a limit: the first 10 keys, more */
    it_scan_run(loop, a, NULL, 0, NULL, 0, 10, 0, &r);
    CU_ASSERT(r.status == ZKV_OK && zkv_scan_count(r.s) == 10 && zkv_scan_more(r.s) == 1);
    CU_ASSERT_EQUAL(zkv_scan_range(c, NULL, 0, NULL, 0, 10, 0, 0, &b), ZKV_OK);
    CU_ASSERT(it_scan_same(r.s, b));
    zkv_scan_free(b);

    /* pages of 7 over [lo, hi), each from just past the last key: every key once */
    uint8_t cur[IT_KEY_MAX + 1];
    size_t clen = 1;
    cur[0] = lo;
    int want = from, pages = 0, bad = 0;
    for (bool more = true; more && pages < 1000; pages++) {
        it_scan_run(loop, a, cur, clen, &hi, 1, 7, 0, &r);
        CU_ASSERT_FATAL(r.status == ZKV_OK);
        CU_ASSERT(zkv_scan_count(r.s) <= 7);
        more = zkv_scan_more(r.s) != 0;
        CU_ASSERT(!more || zkv_scan_count(r.s) == 7);
        for (size_t k = 0; k < zkv_scan_count(r.s); k++) {
            size_t kl;
            const void *key = zkv_scan_key(r.s, k, &kl);
            int i = it_scan_index(key, kl);
            if (i >= 0 && i != want++ && bad++ < 5)
                zkt_log("page %d: key %d, expected %d", pages, i, want - 1);
            if (k + 1 == zkv_scan_count(r.s) && kl < IT_KEY_MAX) {
                memcpy(cur, key, kl);
                cur[kl] = 0; /* just past it */
                clen = kl + 1;
            }
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(want, to);
    zkt_log("%s: %d pages of 7", g_ops->name, pages);

    /* nothing there; end before start (no page asked) */
    it_scan_run(loop, a, "zzz-empty-a", 11, "zzz-empty-b", 11, 0, 0, &r);
    CU_ASSERT(r.status == ZKV_OK && zkv_scan_count(r.s) == 0 && zkv_scan_more(r.s) == 0);
    it_scan_run(loop, a, "b", 1, "a", 1, 0, 0, &r);
    CU_ASSERT(r.status == ZKV_OK && zkv_scan_count(r.s) == 0 && zkv_scan_more(r.s) == 0);
    CU_ASSERT_EQUAL(zkv_async_pending(a), 0);

    /* refused at once, no callback */
    it_scan_clear(&r);
    static uint8_t big[5000];
    CU_ASSERT_EQUAL(zkv_async_scan_range(a, NULL, 0, NULL, 0, 0, 0, NULL, &r), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_async_scan_range(NULL, NULL, 0, NULL, 0, 0, 0, on_scan, &r), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_async_scan_range(a, NULL, 3, NULL, 0, 0, 0, on_scan, &r), ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_async_scan_range(a, NULL, 0, NULL, 0, 0,
                                         ZKV_FLAG_READ_REPLICA | ZKV_FLAG_OWNER_ONLY, on_scan, &r),
                    ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_async_scan_range(a, big, sizeof big, NULL, 0, 0, 0, on_scan, &r),
                    ZKV_ETOOLARGE);
    CU_ASSERT(strstr(zkv_last_error(), "key limit") != NULL);
    CU_ASSERT_EQUAL(zkv_async_pending(a), 0);
    CU_ASSERT_EQUAL(r.calls, 0);
    it_scan_clear(&r);
    close_loop(loop, a);
}

/* A scan and a batch of gets and puts in flight together on one zkv_async, and gets
 * queued while the scan walks: each ends once, with the right contents. */
static void on_scan_batch(zkv_async *a, zkv_batch *b, int status, void *priv)
{
    (void)a;
    (void)b;
    CU_ASSERT_EQUAL(status, ZKV_OK);
    ++*(int *)priv;
    if (--g_scan_left == 0 && g_scan_loop)
        g_ops->stop(g_scan_loop);
}

static void it_scan_with_batch(zkv_client *c)
{
    zkv_async *a = NULL;
    void *loop = open_loop(c, &a);
    zkv_batch *b = zkv_batch_create();
    CU_ASSERT_FATAL(b != NULL);
    uint8_t key[IT_KEY_MAX];
    char val[128];
    for (int i = 0; i < IT_SCAN_KEYS; i += 3)
        CU_ASSERT(zkv_batch_get(b, key, it_scan_key(i, key)) == ZKV_OK);
    for (int i = 0; i < 50; i++) {
        int n = snprintf(val, sizeof val, "scan-batch-%02d", i);
        CU_ASSERT(zkv_batch_put(b, val, (size_t)n, val, (size_t)n) == ZKV_OK);
    }
    static it_scan_res r[2];
    it_scan_clear(&r[0]);
    it_scan_clear(&r[1]);
    int batch_calls = 0;
    CU_ASSERT_FATAL(zkv_async_batch_run(a, b, 0, on_scan_batch, &batch_calls) == ZKV_OK);
    CU_ASSERT_FATAL(zkv_async_scan_range(a, NULL, 0, NULL, 0, 100000, 0, on_scan, &r[0]) == ZKV_OK);
    const uint8_t lo = 0x40, hi = 0xc0;
    CU_ASSERT_FATAL(zkv_async_scan_range(a, &lo, 1, &hi, 1, 100000, 0, on_scan, &r[1]) == ZKV_OK);
    CU_ASSERT(zkv_async_pending(a) >= 3);
    it_scan_wait(loop, 3);
    CU_ASSERT_EQUAL(batch_calls, 1);
    int bad = 0;
    for (size_t k = 0; k < zkv_batch_count(b); k++) {
        bool ok = zkv_batch_status(b, k) == ZKV_OK;
        if (ok && k < (size_t)(IT_SCAN_KEYS + 2) / 3) {
            size_t len, wl = it_scan_value((int)k * 3, val);
            const void *v = zkv_batch_value(b, k, &len);
            ok = v && len == wl && memcmp(v, val, wl) == 0;
        }
        if (!ok && bad++ < 5)
            zkt_log("batch operation %zu: %s", k, zkv_strerror(zkv_batch_status(b, k)));
    }
    CU_ASSERT_EQUAL(bad, 0);
    zkv_batch_free(b);
    CU_ASSERT(r[0].calls == 1 && r[0].status == ZKV_OK);
    CU_ASSERT(r[1].calls == 1 && r[1].status == ZKV_OK);
    if (r[0].s)
        CU_ASSERT_EQUAL(it_scan_check(r[0].s, 0, 0, 0, IT_SCAN_KEYS), 0);
    if (r[1].s)
        CU_ASSERT_EQUAL(it_scan_check(r[1].s, lo, hi, it_scan_first(lo), it_scan_first(hi)), 0);
    CU_ASSERT_EQUAL(zkv_async_pending(a), 0);
    it_scan_clear(&r[0]);
    it_scan_clear(&r[1]);
    close_loop(loop, a);
}

/* A get whose callback frees its zkv_async (deferred until it returns). */
static void on_get_free(zkv_async *a, int status, const zkv_value *v, void *priv)
{
    (void)status;
    (void)v;
    ++*(int *)priv;
    zkv_async_free(a);
    if (--g_scan_left == 0 && g_scan_loop)
        g_ops->stop(g_scan_loop);
}

/* zkv_async_free with scans pending runs their callbacks once each: with ZKV_ECONNECT for
 * one that never sent a byte, and for one in its walk over every range when a get's
 * callback frees the context (unless the walk ended first: then its result); a scan
 * whose walk was over (nothing to ask) keeps its result. */
static void it_scan_free_pending(zkv_client *c)
{
    zkv_async *a = NULL;
    void *loop = open_loop(c, &a);
    static it_scan_res r[2];
    it_scan_clear(&r[0]);
    it_scan_clear(&r[1]);
    CU_ASSERT_FATAL(zkv_async_scan_range(a, NULL, 0, NULL, 0, 0, 0, on_scan, &r[0]) == ZKV_OK);
    CU_ASSERT_FATAL(zkv_async_scan_range(a, "b", 1, "a", 1, 0, 0, on_scan, &r[1]) == ZKV_OK);
    CU_ASSERT_EQUAL(zkv_async_pending(a), 3); /* two scans and the first's page */
    g_scan_left = 2;
    zkv_async_free(a);
    CU_ASSERT_EQUAL(g_scan_left, 0);
    CU_ASSERT(r[0].calls == 1 && r[0].status == ZKV_ECONNECT && r[0].s == NULL);
    CU_ASSERT(strstr(r[0].err, "freed") != NULL);
    /* a scan whose walk was over (nothing to ask) keeps its result */
    CU_ASSERT(r[1].calls == 1 && r[1].status == ZKV_OK);
    it_scan_clear(&r[0]);
    it_scan_clear(&r[1]);
    close_loop(loop, NULL);

    loop = open_loop(c, &a);
    int got = 0;
    uint8_t key[IT_KEY_MAX];
    CU_ASSERT_FATAL(zkv_async_scan_range(a, NULL, 0, NULL, 0, 100000, 0, on_scan, &r[0]) == ZKV_OK);
    CU_ASSERT_FATAL(zkv_async_get(a, key, it_scan_key(7, key), 0, on_get_free, &got) == ZKV_OK);
    it_scan_wait(loop, 2);
    CU_ASSERT_EQUAL(got, 1);
    CU_ASSERT(r[0].calls == 1 && (r[0].status == ZKV_ECONNECT || r[0].status == ZKV_OK));
    zkt_log("%s: a scan pending when its context was freed: %s (%s)", g_ops->name,
            zkv_strerror(r[0].status), r[0].err);
    it_scan_clear(&r[0]);
    close_loop(loop, NULL);
}

/* --- the tests both programs run, on g_client --------------------------------------------- */

static void test_free_in_callback(void)
{
    it_free_in_callback(g_client);
}

static void test_scan_ranges(void)
{
    it_scan_ranges(g_client, &g_cl);
}

static void test_scan_with_batch(void)
{
    it_scan_with_batch(g_client);
}

static void test_scan_free_pending(void)
{
    it_scan_free_pending(g_client);
}

/* Registers them with s. */
static void it_async_add_tests(CU_pSuite s)
{
    CU_add_test(s, "zkv_async_free inside a callback is deferred", test_free_in_callback);
    CU_add_test(s, "scans over several ranges: order, contents, limit, pages, empty",
                test_scan_ranges);
    CU_add_test(s, "a scan beside a batch of gets and puts in flight", test_scan_with_batch);
    CU_add_test(s, "zkv_async_free with scans pending", test_scan_free_pending);
}
#endif
