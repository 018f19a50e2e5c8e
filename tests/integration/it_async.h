/* it_async.h: what the integration tests of the asynchronous client (test_async.c,
 * test_async_adapters.c) share: one event loop behind the loop_ops interface, chosen at
 * build time (IT_LOOP_LIBUV, IT_LOOP_LIBEVENT, else libev: one loop per program, as
 * libev's library exports libevent compatibility functions that would take the place of
 * libevent's own in a program linked with both), and the driver of runs of many requests
 * (at most IT_ASYNC_IN_FLIGHT outstanding, new ones queued from inside the callbacks, every
 * callback counted, values checked) and the test of zkv_async_free inside a callback.
 * Every loop run is bounded by a watchdog timer.
 *
 * The including file may define IT_ASYNC_N (the most requests in one run, 3,000),
 * IT_ASYNC_IN_FLIGHT (500) and IT_ASYNC_WATCHDOG_MS (a run's bound, 30 s). The suite's
 * cluster, g_cl, is defined here; the including file brings it up. */
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

/* The suite's cluster (the killed node of a run is one of its servers). */
static zkt_cluster g_cl;

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

#endif
