/* test_async_adapters.c: the asynchronous client (zkv_async.h) through one of its adapters,
 * libev, libevent or libuv (built once per loop, see it_async.h), against three zkv-servers
 * and a coordinator. The same tests for every loop: 3,000 puts and gets (values checked)
 * with up to 500 requests in flight, new requests queued from inside the callbacks, then
 * gets of missing keys (ZKV_ENOTFOUND); zkv_async_free inside a callback (deferred, the
 * others fail once); a stopped node (SIGSTOP) whose requests only the adapter's timer can
 * complete; a node killed (SIGKILL) with requests in flight, whose callbacks fail
 * (ZKV_ECONNECT); scans (zkv_async_scan_range) over several ranges, paged, empty, beside
 * a batch in flight, and pending when their zkv_async is freed (it_async.h's it_scan_*).
 * Every callback must run exactly once, and once its zkv_async is freed the
 * adapter must leave nothing in the loop. Every loop run is bounded by a watchdog timer.
 * Built with IT_TLS (integration_async_tls, libuv), the cluster and the client run mutual
 * TLS (it_tls.h) and the same tests pass over it. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define N_KEYS 3000
#define N_MISSING 200
#define IN_FLIGHT 500
#define N_SERVERS 3
#define SHORT_TIMEOUT_MS 800 /* request budget of the client of the SIGSTOP test */

/* The loop (IT_LOOP_LIBUV, IT_LOOP_LIBEVENT or else libev: one per program) and the
 * driver of the runs of requests. */
#define IT_ASYNC_N N_KEYS
#define IT_ASYNC_IN_FLIGHT IN_FLIGHT
#include "it_async.h"
#include "it_common.h"
#include "it_tls.h"
#include "zkt/zkt.h"
#include "zkv/zkv_async.h"

/* --- the suite's cluster ------------------------------------------------------------------ */

static int suite_init(void)
{
    char name[64];
    snprintf(name, sizeof name, "adapters-%s", g_ops->name);
    if (zkt_cluster_init(&g_cl, name) != 0)
        return -1;
#ifdef IT_TLS
    if (it_tls_setup(&g_cl, true) != 0)
        return -1;
#endif
    return it_cluster_up(&g_cl, N_SERVERS, 10000, 0, &g_client);
}
static int suite_cleanup(void)
{
#ifdef IT_TLS
    it_tls_env_clear();
#endif
    return it_cluster_down(&g_cl, &g_client);
}

/* --- the tests ------------------------------------------------------------------------------- */

static void test_put_get(void)
{
    static run r;
    zkv_async *a = NULL;
    /* no loop attached yet: refused; attached once; nothing registered before a request */
    void *loop = open_loop_checked(g_client, &a);

    put_get_all(&r, loop, a, N_KEYS, g_client, 1234);
    drive(&r, loop, a, OP_GET_MISSING, N_MISSING, ZKV_ENOTFOUND, 0);
    check_all(&r, ZKV_ENOTFOUND);
    close_loop(loop, a);
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
    it_async_add_tests(s); /* free in a callback, scans */
    CU_add_test(s, "a stopped node: its requests end by the timer", test_stopped_node);
    CU_add_test(s, "a node killed with requests in flight", test_kill_node);
    return zkt_run_all();
}
