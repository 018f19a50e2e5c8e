/* test_readpolicy.c: replica-read policies (issue 12, item 6; docs/api.md, "Replica
 * reads"). Three servers in zones z0, z1, z2, every range on all three.
 * - Nearest: a client in a node's zone reads from that node (stale-flagged unless it is the
 *   owner); a client in no node's zone reads from the owner.
 * - Bounded staleness: with the owner up, a replica within the bound answers (its lag in
 *   the answer); on the wire, a GET with a bound gets the replica's lag.
 * - The owner stopped (SIGSTOP; sessions outlive the stop, so nothing fails over): a
 *   replica that heard nothing from its owner for longer than the bound refuses with
 *   TOO_STALE (on the wire, through libzkv and on the command line), while a read with no
 *   bound still answers, flagged stale with its lag; a hedged read (10 ms) is answered by
 *   a replica, stale-flagged, through libzkv and the command line.
 * - The owner resumed: the answers it owed to abandoned hedges are dropped, and every
 *   read of the cluster works on the same client.
 * The asynchronous client (libuv) is checked alongside: nearest reads, hedged gets with
 * the owner stopped, a bounded read refused. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "it_repl.h"
#include "it_wire.h"
#include "zkt/zkt.h"
#include "it_uv.h"
#include "zkv/zkv.h"
#include "zkv/zkv_async.h"

#define N_SERVERS 3
#define N_KEYS 20
#define WAIT_MS 30000
#define BOUND_MS 400 /* the bound the stopped owner's replicas exceed */

static zkt_cluster g_cl;
static zkv_client *g_client;
static char g_cluster_id[128];
static uint8_t g_prefix[ZKT_KEY_MAX];
static size_t g_plen;
static zkt_map_range g_range; /* the range under test (json not kept) */
static int g_owner;           /* its owner's server index */
static int g_gens[64];        /* it_put_keys' keys over every range */

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "readpolicy") != 0)
        return -1;
    g_cl.session_timeout_ms = 30000; /* a stopped owner keeps its session: no failover */
    for (int i = 0; i < N_SERVERS; i++) {
        char zone[16];
        snprintf(zone, sizeof zone, "z%d", i);
        if (zkt_cluster_add_server_with(&g_cl, "--zone", zone) < 0)
            return -1;
    }
    if (it_cluster_up(&g_cl, N_SERVERS, 10000, 1000, &g_client) != 0)
        return -1;
    return zkt_cluster_id(&g_cl, g_cluster_id, sizeof g_cluster_id);
}

static int suite_cleanup(void)
{
    if (g_owner >= 0 && g_cl.servers[g_owner].pid > 0)
        kill(g_cl.servers[g_owner].pid, SIGCONT);
    return it_cluster_down(&g_cl, &g_client);
}

static size_t rp_key(int i, char *out)
{
    memcpy(out, g_prefix, g_plen);
    size_t n = g_plen + (size_t)snprintf(out + g_plen, 32, "rp-%02d", i);
    out[n] = '\0';
    return n;
}

static size_t rp_value(int i, char *out)
{
    return (size_t)snprintf(out, 64, "value-%02d", i);
}

static const char *zone_of(const char *node_id, char *buf, size_t n)
{
    int i = zkt_cluster_server_index(&g_cl, node_id);
    snprintf(buf, n, "z%d", i);
    return buf;
}

/* A client of the cluster with a zone, a staleness bound and a hedge delay (-1: default). */
static zkv_client *policy_client(const char *zone, uint64_t max_ms, uint64_t max_entries,
                                 int hedge_ms, int timeout_ms)
{
    zkv_options *o = it_options(&g_cl, timeout_ms);
    zkv_client *c = NULL;
    if (o && zkv_options_set_zone(o, zone) == ZKV_OK &&
        zkv_options_set_max_staleness(o, max_ms, max_entries) == ZKV_OK &&
        (hedge_ms < 0 || zkv_options_set_hedge_delay(o, hedge_ms) == ZKV_OK) &&
        zkv_client_create(o, &c) != ZKV_OK)
        zkt_log("client: %s", zkv_last_error());
    zkv_options_free(o);
    return c;
}

/* Reads key i with flags: checks the value and returns the answering node ("" on error)
 * and whether it was stale. */
static bool read_one(zkv_client *c, int i, unsigned flags, char *node, size_t nlen, int *stale,
                     uint64_t *lag_ms)
{
    char key[64], val[64];
    size_t kl = rp_key(i, key), vl = rp_value(i, val);
    zkv_value *v = NULL;
    int rc = zkv_get(c, key, kl, 0, flags, &v);
    bool ok = rc == ZKV_OK && zkv_value_len(v) == vl && memcmp(zkv_value_data(v), val, vl) == 0;
    snprintf(node, nlen, "%s", ok ? zkv_value_node(v) : "");
    *stale = ok ? zkv_value_stale(v) : -1;
    if (lag_ms)
        zkv_value_lag(v, lag_ms, NULL);
    if (!ok)
        zkt_log("get %s (flags 0x%x): %s: %s", key, flags, zkv_strerror(rc), zkv_last_error());
    zkv_value_free(v);
    return ok;
}

/* One GET of key i with FLAG_ALLOW_STALE and a bound, sent to server s directly. */
static Zkv__Response *wire_get(int s, int i, uint64_t max_ms, uint64_t max_entries)
{
    conn c;
    conn_open_hello(&c, g_cl.servers[s].port, g_cluster_id);
    char key[64];
    size_t kl = rp_key(i, key);
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.id = 2;
    req.op = ZKV__OP__GET;
    req.key.data = (uint8_t *)key;
    req.key.len = kl;
    req.flags = ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE;
    req.max_lag_ms = max_ms;
    req.max_lag_entries = max_entries;
    Zkv__Response *r = call(&c, &req);
    conn_close(&c);
    return r;
}

/* --- the async client -------------------------------------------------------------------- */

typedef struct aget {
    int i;
    int status;
    bool done, value_ok;
    int stale;
    char node[64];
    char why[512];
} aget;

static void on_get(zkv_async *a, int status, const zkv_value *v, void *priv)
{
    (void)a;
    aget *g = priv;
    char val[64];
    size_t vl = rp_value(g->i, val);
    g->status = status;
    g->value_ok = v && zkv_value_len(v) == vl && memcmp(zkv_value_data(v), val, vl) == 0;
    g->stale = v ? zkv_value_stale(v) : -1;
    snprintf(g->node, sizeof g->node, "%s", v ? zkv_value_node(v) : "");
    snprintf(g->why, sizeof g->why, "%s", zkv_last_error());
    g->done = true;
}

/* Gets keys 0, step, 2*step... (n of them) through c's async client with flags, all at
 * once, into gs (bounded by WAIT_MS). Returns false when they did not all complete. */
static bool async_gets(zkv_client *c, unsigned flags, int step, int n, aget *gs)
{
    it_uv u;
    bool ok = it_uv_open(&u, c) == ZKV_OK;
    for (int k = 0; ok && k < n; k++) {
        memset(&gs[k], 0, sizeof gs[k]);
        gs[k].i = k * step;
        char key[64];
        size_t kl = rp_key(gs[k].i, key);
        ok = zkv_async_get(u.a, key, kl, flags, on_get, &gs[k]) == ZKV_OK;
    }
    for (int k = 0; ok && k < n; k++) /* (each wait is bounded; they overlap) */
        ok = it_uv_run_until(&u, &gs[k].done);
    it_uv_close(&u);
    return ok;
}

static int replica_index(void)
{
    for (int i = 0; i < N_SERVERS; i++)
        if (i != g_owner)
            return i;
    return -1;
}

static void test_setup(void)
{
    g_owner = -1;
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    int ri = -1;
    for (int i = 0; i < m->n_ranges && ri < 0; i++)
        if (m->ranges[i].n_replicas == 2 &&
            (g_plen = it_range_prefix(m, &m->ranges[i], g_prefix, true)) > 0)
            ri = i;
    if (ri >= 0) {
        g_range = m->ranges[ri];
        g_range.json = NULL;
    }
    zkt_map_free(m);
    CU_ASSERT_FATAL(ri >= 0);
    g_owner = zkt_cluster_server_index(&g_cl, g_range.owner);
    CU_ASSERT_FATAL(g_owner >= 0);
    for (int i = 0; i < N_KEYS; i++) {
        char key[64], val[64];
        size_t kl = rp_key(i, key), vl = rp_value(i, val);
        CU_ASSERT_FATAL(zkv_put(g_client, key, kl, val, vl, 0, 0, NULL) == ZKV_OK);
    }
    CU_ASSERT_FATAL(it_put_keys(g_client, 0, 64, 1, g_gens) == 0);
    zkt_log("range %s, owner %s (zone z%d), replicas %s %s", g_range.id, g_range.owner, g_owner,
            g_range.replicas[0], g_range.replicas[1]);
}

static void test_nearest(void)
{
    for (int s = 0; s < N_SERVERS; s++) {
        char zone[16], node[64];
        snprintf(zone, sizeof zone, "z%d", s);
        zkv_client *c = policy_client(zone, 0, 0, -1, 10000);
        CU_ASSERT_FATAL(c != NULL);
        for (int i = 0; i < N_KEYS; i += 5) {
            int stale;
            CU_ASSERT(read_one(c, i, ZKV_FLAG_READ_NEAREST, node, sizeof node, &stale, NULL));
            CU_ASSERT_STRING_EQUAL(node, g_cl.servers[s].id);
            CU_ASSERT(stale == (s != g_owner));
        }
        aget gs[4];
        CU_ASSERT(async_gets(c, ZKV_FLAG_READ_NEAREST, 5, 4, gs));
        for (int k = 0; k < 4; k++) {
            CU_ASSERT(gs[k].status == ZKV_OK && gs[k].value_ok);
            CU_ASSERT_STRING_EQUAL(gs[k].node, g_cl.servers[s].id);
            CU_ASSERT(gs[k].stale == (s != g_owner));
        }
        zkv_client_free(c);
    }
    zkv_client *c = policy_client("elsewhere", 0, 0, -1, 10000);
    CU_ASSERT_FATAL(c != NULL);
    char node[64];
    int stale;
    CU_ASSERT(read_one(c, 1, ZKV_FLAG_READ_NEAREST, node, sizeof node, &stale, NULL));
    CU_ASSERT_STRING_EQUAL(node, g_range.owner);
    CU_ASSERT(stale == 0);
    CU_ASSERT(zkv_get(c, "k", 1, 0, ZKV_FLAG_READ_NEAREST | ZKV_FLAG_READ_REPLICA, NULL) ==
              ZKV_EINVAL);
    zkv_client_free(c);
}

static void test_bounded_owner_up(void)
{
    /* heartbeats every 200 ms keep an idle replica within a few hundred ms */
    char zone[16], node[64];
    zkv_client *c =
        policy_client(zone_of(g_range.replicas[0], zone, sizeof zone), 5000, 0, -1, 10000);
    CU_ASSERT_FATAL(c != NULL);
    int stale;
    uint64_t lag = 0;
    CU_ASSERT(read_one(c, 2, ZKV_FLAG_READ_REPLICA, node, sizeof node, &stale, &lag));
    CU_ASSERT(stale == 1);
    CU_ASSERT_STRING_EQUAL(node, g_range.replicas[0]);
    CU_ASSERT(lag <= 5000);
    zkt_log("bounded replica read from %s: lag %llu ms", node, (unsigned long long)lag);
    zkv_client_free(c);

    Zkv__Response *r = wire_get(replica_index(), 2, 5000, 1000);
    CU_ASSERT_FATAL(r != NULL);
    log_resp("bounded GET on a replica", r);
    CU_ASSERT(r->status == ZKV__STATUS__OK && r->stale && r->lag_ms <= 5000);
    zkv__response__free_unpacked(r, NULL);
    /* the owner answers whatever the bound: it is not behind itself */
    r = wire_get(g_owner, 2, 1, 1);
    CU_ASSERT(r && r->status == ZKV__STATUS__OK && !r->stale);
    if (r)
        zkv__response__free_unpacked(r, NULL);
}

typedef struct refusal_arg {
    int server;
    uint64_t lag_ms;
} refusal_arg;

static bool replica_refuses(void *p)
{
    refusal_arg *a = p;
    Zkv__Response *r = wire_get(a->server, 3, BOUND_MS, 0);
    bool refused = r && r->status == ZKV__STATUS__TOO_STALE;
    if (refused) {
        log_resp("bounded GET on a replica of a stopped owner", r);
        CU_ASSERT(strstr(r->message, "behind its owner") != NULL);
        a->lag_ms = r->lag_ms;
    }
    if (r)
        zkv__response__free_unpacked(r, NULL);
    return refused;
}

static int cli(zkt_run_result *r, const char *const *args)
{
    const char *bin = zkt_bin("ZKV_CLI_BIN");
    if (!bin)
        return -1;
    const char *argv[16] = {bin, "--zk", g_cl.zk.connect, "--cluster", g_cl.name};
    int n = 5;
    while (*args && n < 15)
        argv[n++] = *args++;
    argv[n] = NULL;
    memset(r, 0, sizeof *r);
    if (zkt_run(argv, NULL, 0, 60000, r) != 0)
        return -1;
    zkt_log("zkv ... %s -> exit %d in %d ms; stdout: %.200s; stderr: %.300s", argv[n - 1], r->code,
            r->elapsed_ms, r->out ? r->out : "", r->err ? r->err : "");
    return 0;
}

static void test_owner_stopped(void)
{
    CU_ASSERT_FATAL(kill(g_cl.servers[g_owner].pid, SIGSTOP) == 0);
    zkt_log("owner %s stopped", g_range.owner);

    /* a hedged read: the owner is silent, a replica answers after the hedge delay */
    zkv_client *hc = policy_client("", 0, 0, 10, 10000);
    CU_ASSERT_FATAL(hc != NULL);
    for (int i = 0; i < N_KEYS; i += 3) {
        char node[64];
        int stale;
        CU_ASSERT(read_one(hc, i, ZKV_FLAG_HEDGE, node, sizeof node, &stale, NULL));
        CU_ASSERT(stale == 1);
        CU_ASSERT(strcmp(node, g_range.replicas[0]) == 0 || strcmp(node, g_range.replicas[1]) == 0);
    }

    /* the same with the async client, all at once */
    aget gs[N_KEYS / 2];
    CU_ASSERT(async_gets(hc, ZKV_FLAG_HEDGE, 2, N_KEYS / 2, gs));
    for (int k = 0; k < N_KEYS / 2; k++) {
        if (gs[k].status != ZKV_OK)
            zkt_log("async hedged get %d: %s: %s", gs[k].i, zkv_strerror(gs[k].status), gs[k].why);
        CU_ASSERT(gs[k].status == ZKV_OK && gs[k].value_ok && gs[k].stale == 1);
        CU_ASSERT(strcmp(gs[k].node, g_range.replicas[0]) == 0 ||
                  strcmp(gs[k].node, g_range.replicas[1]) == 0);
    }

    /* its replicas soon exceed the bound: TOO_STALE on the wire */
    refusal_arg ra = {.server = replica_index()};
    CU_ASSERT_FATAL(zkt_wait_for(replica_refuses, &ra, 15000));
    CU_ASSERT(ra.lag_ms > BOUND_MS);

    /* through libzkv: every replica refuses, then the owner is silent: no answer */
    zkv_client *bc = policy_client("", BOUND_MS, 0, -1, 1500);
    CU_ASSERT_FATAL(bc != NULL);
    char key[64];
    size_t kl = rp_key(3, key);
    zkv_value *v = NULL;
    int rc = zkv_get(bc, key, kl, 0, ZKV_FLAG_READ_REPLICA, &v);
    zkt_log("bounded replica read, owner stopped: %s: %s", zkv_strerror(rc), zkv_last_error());
    CU_ASSERT(rc != ZKV_OK);
    CU_ASSERT(strstr(zkv_last_error(), "behind its owner") != NULL);
    zkv_value_free(v);
    v = NULL;
    CU_ASSERT(async_gets(bc, ZKV_FLAG_READ_REPLICA, 1, 1, gs));
    zkt_log("async bounded replica read, owner stopped: %s: %s", zkv_strerror(gs[0].status),
            gs[0].why);
    CU_ASSERT(gs[0].status != ZKV_OK && strstr(gs[0].why, "behind its owner") != NULL);
    /* without a bound the replica answers, stale, with its lag */
    rc = zkv_get(g_client, key, kl, 0, ZKV_FLAG_READ_REPLICA, &v);
    CU_ASSERT(rc == ZKV_OK);
    uint64_t lag_ms = 0;
    CU_ASSERT(zkv_value_lag(v, &lag_ms, NULL) == 1);
    CU_ASSERT(lag_ms > BOUND_MS);
    zkv_value_free(v);

    /* the command line: --max-lag-ms refuses, --hedge answers stale with the lag noted */
    char bound[16];
    snprintf(bound, sizeof bound, "%d", BOUND_MS);
    zkt_run_result r;
    const char *a1[] = {"--timeout", "1500", "--replica", "--max-lag-ms", bound, "get", key, NULL};
    CU_ASSERT_FATAL(cli(&r, a1) == 0);
    CU_ASSERT(r.code == 2);
    CU_ASSERT(r.err && strstr(r.err, "behind its owner") != NULL);
    zkt_run_result_free(&r);
    const char *a2[] = {"--hedge", "10", "get", key, NULL};
    CU_ASSERT_FATAL(cli(&r, a2) == 0);
    CU_ASSERT(r.code == 0);
    CU_ASSERT(r.out && strcmp(r.out, "value-03\n") == 0);
    CU_ASSERT(r.err && strstr(r.err, "(stale: replica ") && strstr(r.err, "(lag: "));
    zkt_run_result_free(&r);
    const char *a3[] = {"--json", "--hedge", "10", "get", key, NULL};
    CU_ASSERT_FATAL(cli(&r, a3) == 0);
    CU_ASSERT(r.code == 0);
    CU_ASSERT(r.out && strstr(r.out, "\"stale\":true") && strstr(r.out, "\"lag_ms\":"));
    zkt_run_result_free(&r);

    /* the owner resumes: it answers the hedges' abandoned requests late; those answers are
     * dropped, and every read works on the same client */
    CU_ASSERT_FATAL(kill(g_cl.servers[g_owner].pid, SIGCONT) == 0);
    CU_ASSERT(zkt_cluster_wait_ready(&g_cl, WAIT_MS));
    for (int i = 0; i < N_KEYS; i++) {
        char node[64];
        int stale;
        CU_ASSERT(read_one(hc, i, 0, node, sizeof node, &stale, NULL));
        CU_ASSERT(stale == 0);
    }
    CU_ASSERT(it_read_keys(hc, 64, g_gens) == 0);
    zkv_client_free(bc);
    zkv_client_free(hc);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("replica-read policies", suite_init, suite_cleanup);
    CU_add_test(s, "setup", test_setup);
    CU_add_test(s, "nearest copy by zone", test_nearest);
    CU_add_test(s, "bounded staleness, owner up", test_bounded_owner_up);
    CU_add_test(s, "owner stopped: bounds refuse, hedges answer", test_owner_stopped);
    return zkt_run_all();
}
