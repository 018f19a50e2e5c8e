/* test_async_adapters.c: the asynchronous client (zkv_async.h) through its libev or (built
 * a second time) its libevent adapter, against three zkv-servers and a coordinator.
 * The same tests for both loops: 3,000 puts and gets (values checked) with up to 500
 * requests in flight, new requests queued from inside the callbacks, then gets of missing
 * keys (ZKV_ENOTFOUND); zkv_async_free inside a callback (deferred, the others fail once);
 * a stopped node (SIGSTOP) whose requests only the adapter's timer can complete; a node
 * killed (SIGKILL) with requests in flight, whose callbacks fail (ZKV_ECONNECT). Every callback
 * must run exactly once, and once its zkv_async is freed the adapter must leave nothing in the
 * loop. Every loop run is bounded by a watchdog timer. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* One loop per program, IT_LOOP_LIBEVENT or else libev: libev's library also exports
 * libevent compatibility functions (event_add, event_del, ...) that would take the place
 * of libevent's own in a program linked with both. */
#if defined(IT_LOOP_LIBEVENT)
#include "zkv/adapters/libevent.h"
#else
#include "zkv/adapters/libev.h"
#endif
#include "it_common.h"
#include "zkt/zkt.h"
#include "zkv/zkv_async.h"

#define N_KEYS 3000
#define N_MISSING 200
#define IN_FLIGHT 500
#define N_SERVERS 3
#define WATCHDOG_MS 30000
#define SHORT_TIMEOUT_MS 800 /* request budget of the client of the SIGSTOP test */

/* --- the two loops behind one interface ------------------------------------------------- */

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

#if !defined(IT_LOOP_LIBEVENT)
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
#else
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
#endif

/* --- the suite's cluster and loop ---------------------------------------------------------- */

static zkt_cluster g_cl;
static zkv_client *g_client;
static const loop_ops *g_ops = &g_loop;

static int suite_init(void)
{
    char name[64];
    snprintf(name, sizeof name, "adapters-%s", g_ops->name);
    if (zkt_cluster_init(&g_cl, name) != 0)
        return -1;
    return it_cluster_up(&g_cl, N_SERVERS, 10000, 0, &g_client);
}
static int suite_cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

/* A loop and a zkv_async of client c attached to it (fatal on failure). */
static void *open_loop(zkv_client *c, zkv_async **a)
{
    void *loop = g_ops->create();
    CU_ASSERT_FATAL(loop != NULL);
    CU_ASSERT_FATAL(zkv_async_create(c, a) == ZKV_OK);
    CU_ASSERT_FATAL(g_ops->attach(*a, loop) == ZKV_OK);
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

typedef enum { OP_PUT, OP_GET, OP_GET_MISSING } op_t;

#define ANY_STATUS (-100)

/* One run of n requests with at most IN_FLIGHT outstanding. */
typedef struct run {
    void *loop;
    zkv_async *a;
    op_t op;
    int n, next, inflight, finished;
    int expect;         /* status each callback must have (ANY_STATUS: any) */
    int calls[N_KEYS];  /* callbacks per request */
    int status[N_KEYS]; /* status of each callback */
    bool bad_value[N_KEYS];
    int rejected; /* requests whose call returned an error (no callback expected) */
    bool rejected_i[N_KEYS];
    int kill_after; /* SIGKILL server kill_server after this many callbacks (0: never) */
    int kill_server;
    bool killed;
} run;

typedef struct slot {
    run *r;
    int i;
} slot;

static slot g_slots[N_KEYS];

static size_t missing_key(int i, uint8_t *out)
{
    return (size_t)snprintf((char *)out, IT_KEY_MAX, "adapters-missing-%05d", i);
}

static void on_done(zkv_async *a, int status, const zkv_value *v, void *priv);

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
    while (r->inflight < IN_FLIGHT && r->next < r->n)
        submit(r, r->next++);
    if (r->finished == r->n)
        g_ops->stop(r->loop);
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
        CU_ASSERT(g_ops->run(loop, WATCHDOG_MS));
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

/* --- the tests ------------------------------------------------------------------------------- */

static void test_put_get(void)
{
    static run r;
    void *loop = g_ops->create();
    CU_ASSERT_FATAL(loop != NULL);
    zkv_async *a = NULL;
    CU_ASSERT_FATAL(zkv_async_create(g_client, &a) == ZKV_OK);
    /* no loop attached yet: refused, and the callback never runs */
    CU_ASSERT_EQUAL(zkv_async_get(a, "k", 1, 0, on_done, NULL), ZKV_EINVAL);
    CU_ASSERT_EQUAL(g_ops->attach(a, NULL), ZKV_EINVAL);
    CU_ASSERT_EQUAL(g_ops->attach(NULL, loop), ZKV_EINVAL);
    CU_ASSERT_FATAL(g_ops->attach(a, loop) == ZKV_OK);
    CU_ASSERT_EQUAL(g_ops->attach(a, loop), ZKV_EINVAL);
    CU_ASSERT(g_ops->idle(loop)); /* nothing registered before the first request */

    drive(&r, loop, a, OP_PUT, N_KEYS, ZKV_OK, 0);
    check_all(&r, ZKV_OK);
    drive(&r, loop, a, OP_GET, N_KEYS, ZKV_OK, 0);
    check_all(&r, ZKV_OK);
    drive(&r, loop, a, OP_GET_MISSING, N_MISSING, ZKV_ENOTFOUND, 0);
    check_all(&r, ZKV_ENOTFOUND);
    /* the values are there for the blocking API too */
    uint8_t key[IT_KEY_MAX];
    zkv_value *v = NULL;
    CU_ASSERT_EQUAL(zkv_get(g_client, key, it_key(1234, key), 0, 0, &v), ZKV_OK);
    zkv_value_free(v);
    close_loop(loop, a);
}

/* zkv_async_free inside the first callback: deferred; the rest fail once each. */
#define N_FREE 300
static int g_free_calls, g_free_failed, g_free_once[N_FREE];
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
    if (g_free_calls == N_FREE)
        g_ops->stop(g_free_loop);
}

static void test_free_in_callback(void)
{
    zkv_async *a = NULL;
    void *loop = open_loop(g_client, &a);
    g_free_a = a;
    g_free_loop = loop;
    g_free_calls = g_free_failed = 0;
    memset(g_free_once, 0, sizeof g_free_once);
    int accepted = 0;
    for (int i = 0; i < N_FREE; i++) {
        uint8_t key[IT_KEY_MAX];
        if (zkv_async_get(a, key, it_key(i, key), 0, on_free_cb, &g_free_once[i]) == ZKV_OK)
            accepted++;
    }
    CU_ASSERT_EQUAL_FATAL(accepted, N_FREE);
    CU_ASSERT(g_ops->run(loop, WATCHDOG_MS));
    CU_ASSERT_EQUAL(g_free_calls, N_FREE);
    int bad = 0;
    for (int i = 0; i < N_FREE; i++)
        if (g_free_once[i] != 1 && bad++ < 5)
            zkt_log("request %d: %d callbacks", i, g_free_once[i]);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(g_free_failed > 0); /* those still pending when the context went */
    close_loop(loop, NULL);       /* the freed context left nothing in the loop */
}

/* Counts the statuses of r's accepted requests by code into count[-code] and logs them. */
#define N_CODES 32
static void count_status(const run *r, const char *what, int count[N_CODES])
{
    memset(count, 0, N_CODES * sizeof *count);
    for (int i = 0; i < r->n; i++)
        if (!r->rejected_i[i] && -r->status[i] >= 0 && -r->status[i] < N_CODES)
            count[-r->status[i]]++;
    char line[512];
    size_t o = (size_t)snprintf(line, sizeof line, "%s: %s:", g_ops->name, what);
    for (int c = 0; c < N_CODES; c++)
        if (count[c] && o < sizeof line)
            o += (size_t)snprintf(line + o, sizeof line - o, " %d %s,", count[c], zkv_strerror(-c));
    zkt_log("%s %d refused at once", line, r->rejected);
}

/* How many of count have one of the n codes. */
static int with_status(const int count[N_CODES], int n, const int *codes)
{
    int sum = 0;
    for (int k = 0; k < n; k++)
        sum += count[-codes[k]];
    return sum;
}

/* A node stopped (SIGSTOP) with requests on its connection: nothing arrives on that fd,
 * so only the adapter's timer can complete them (with ZKV_ETIMEOUT when the budget runs
 * out, or with a replica's answer once the owner's share of the budget ran out). */
static void test_stopped_node(void)
{
    static run r;
    zkv_client *c = NULL;
    CU_ASSERT_FATAL(it_client(&g_cl, SHORT_TIMEOUT_MS, &c) == ZKV_OK);
    zkv_async *a = NULL;
    void *loop = open_loop(c, &a);
    /* a first round opens the connections (and shows what a round costs) */
    uint64_t t0 = zkt_now_ms();
    drive(&r, loop, a, OP_GET, 300, ZKV_OK, 0);
    uint64_t normal = zkt_now_ms() - t0;
    check_all(&r, ZKV_OK);
    pid_t pid = g_cl.servers[1].pid;
    CU_ASSERT_FATAL(zkt_proc_signal(pid, SIGSTOP) == 0);
    t0 = zkt_now_ms();
    drive(&r, loop, a, OP_GET, 300, ANY_STATUS, 0);
    uint64_t took = zkt_now_ms() - t0;
    CU_ASSERT(zkt_proc_signal(pid, SIGCONT) == 0);
    check_once(&r);
    int bad = 0;
    for (int i = 0; i < r.n; i++)
        bad += r.bad_value[i];
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(r.rejected, 0);
    int count[N_CODES];
    count_status(&r, "node-1 stopped", count);
    CU_ASSERT_EQUAL(with_status(count, 3, (int[]){ZKV_OK, ZKV_ETIMEOUT, ZKV_EUNAVAILABLE}), r.n);
    zkt_log("%s: a round took %llu ms, %llu ms with node-1 stopped", g_ops->name,
            (unsigned long long)normal, (unsigned long long)took);
    /* some requests waited on the stopped node until the timer decided */
    CU_ASSERT(took >= SHORT_TIMEOUT_MS / 4 && took < (uint64_t)5 * SHORT_TIMEOUT_MS);
    close_loop(loop, a);
    zkv_client_free(c);
}

/* A node killed with requests in flight: their callbacks fail, each runs once. A short
 * failfast (300 ms, far below the failover's session timeout) makes the writes that wait
 * for a new owner fail too. */
static void test_kill_node(void)
{
    static run r;
    zkv_client *c = NULL;
    CU_ASSERT_FATAL(it_client_ff(&g_cl, 10000, 300, &c) == ZKV_OK);
    zkv_async *a = NULL;
    void *loop = open_loop(c, &a);
    drive(&r, loop, a, OP_PUT, N_KEYS, ANY_STATUS, 200);
    CU_ASSERT(r.killed);
    check_once(&r);
    int count[N_CODES];
    count_status(&r, "after the kill", count);
    CU_ASSERT(count[-ZKV_OK] > 0); /* the other nodes answered */
    /* the killed node's: ZKV_ECONNECT as zkv_async.h says; ZKV_EUNAVAILABLE once the async
     * API waits the failfast for a new owner as the blocking API does */
    CU_ASSERT(with_status(count, 2, (int[]){ZKV_ECONNECT, ZKV_EUNAVAILABLE}) > 0);
    CU_ASSERT_EQUAL(with_status(count, 3, (int[]){ZKV_OK, ZKV_ECONNECT, ZKV_EUNAVAILABLE}),
                    r.n - r.rejected);
    close_loop(loop, a);
    zkv_client_free(c);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    char name[64];
    snprintf(name, sizeof name, "async adapters: 3 servers, %s", g_ops->name);
    CU_pSuite s = CU_add_suite(name, suite_init, suite_cleanup);
    CU_add_test(s, "3,000 puts and gets, 500 in flight; missing keys", test_put_get);
    CU_add_test(s, "zkv_async_free inside a callback is deferred", test_free_in_callback);
    CU_add_test(s, "a stopped node: its requests end by the timer", test_stopped_node);
    CU_add_test(s, "a node killed with requests in flight", test_kill_node);
    return zkt_run_all();
}
