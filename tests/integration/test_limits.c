/* test_limits.c: the node's limits on hostile or broken clients (server/connlimits.h,
 * docs/operations.md "Limits"), against a real zkv-server through raw wire connections.
 *
 * 1. --max-conns 100 (--request-timeout-ms 5000): of 1,000 connections saying HELLO one
 *    after the other, 100 are served and 900 are answered UNAVAILABLE "too many
 *    connections (max 100)" with their request id, then closed; a HELLO naming a live node
 *    is admitted over the limit (the peers' reserve); connections that send nothing fill
 *    the reserve's probation slots, the next one is refused at once (an answer with id 0),
 *    as is each of a burst of 150 made while the node is stopped (it stops accepting while
 *    64 are being refused, and goes on as they close: its debug log says so), the silent ones are
 * refused at their HELLO, and one that stays silent is closed with TIMEOUT; once a client leaves, a
 * new one is served; the refusals are counted in /metrics. A node whose hard open-file limit is too
 * small says so and serves fewer.
 * 2. Timeouts (--request-timeout-ms 1500, --idle-timeout-ms 2500): a client sending a
 *    request one byte a second is answered TIMEOUT and closed after the request timeout; an
 *    idle client is closed after the idle timeout while one that pings and a peer (HELLO
 *    with a node id) stay open.
 * 3. Backpressure at default --max-conns, the node started with a soft open-file limit of
 *    1,024 (it raises it): 1,100 idle connections are all served; then six clients each
 *    pipeline 100,000 GETs of a 4 KiB value and never read (--max-conn-output-mb 8,
 *    --max-output-mb 16): every one is paused, the queued bytes stay under the caps and the
 *    node's RSS under a bound derived from them, while another client's GET latency stays
 *    within max(10x its baseline p99, 200 ms); one of them then reads and gets all its
 *    100,000 answers in order (reading resumes). */
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "it_wire.h"
#include "zkt/zkt.h"
#include "zkv.pb-c.h"

#define KIB 1024LL
#define MIB (1024LL * 1024LL)

/* ---- helpers: one cluster per suite, metrics, RSS ---- */

typedef struct lim_cluster {
    zkt_cluster cl;
    char cluster_id[ZKT_ID_MAX];
    int metrics_port;
    int port; /* the server's */
} lim_cluster;

/* One server (owning every range) and a coordinator, the server given flags (pairs,
 * NULL-terminated) and its own --metrics. */
static int lim_up(lim_cluster *lc, const char *name, const char *const *flags)
{
    if (zkt_cluster_init(&lc->cl, name) != 0)
        return -1;
    lc->cl.replicas = 1;
    lc->metrics_port = zkt_free_port();
    char maddr[64];
    snprintf(maddr, sizeof maddr, "127.0.0.1:%d", lc->metrics_port);
    if (lc->metrics_port <= 0 || zkt_cluster_server_flag(&lc->cl, "--metrics", maddr) != 0)
        return -1;
    for (int i = 0; flags && flags[i]; i += 2)
        if (zkt_cluster_server_flag(&lc->cl, flags[i], flags[i + 1]) != 0)
            return -1;
    if (zkt_cluster_add_server(&lc->cl) < 0 || zkt_cluster_add_coordinator(&lc->cl, 1) < 0 ||
        !zkt_cluster_wait_ready(&lc->cl, 60000) ||
        zkt_cluster_id(&lc->cl, lc->cluster_id, sizeof lc->cluster_id) != 0)
        return -1;
    lc->port = lc->cl.servers[0].port;
    return 0;
}

/* GET /metrics: the body (malloc'd) or NULL. */
static char *metrics_text(int port)
{
    conn c;
    if (conn_open(&c, port) != 0) {
        conn_close(&c);
        return NULL;
    }
    static const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    char *body = NULL;
    if (send_all(&c, req, sizeof req - 1) == 0) {
        zkv_buf b;
        zkv_buf_init(&b);
        uint64_t deadline = zkt_now_ms() + 5000;
        while (zkt_now_ms() < deadline) {
            struct pollfd pf = {.fd = c.fd, .events = POLLIN};
            if (poll(&pf, 1, 100) <= 0)
                continue;
            if (zkv_buf_reserve(&b, 65536) != 0)
                break;
            ssize_t n = recv(c.fd, b.data + b.len, 65536, 0);
            if (n <= 0)
                break;
            b.len += (size_t)n;
        }
        if (zkv_buf_reserve(&b, 1) == 0) {
            b.data[b.len] = '\0';
            char *end = strstr((char *)b.data, "\r\n\r\n");
            if (end && strncmp((char *)b.data, "HTTP/1.", 7) == 0 &&
                strstr((char *)b.data, " 200 "))
                body = strdup(end + 4);
        }
        zkv_buf_free(&b);
    }
    conn_close(&c);
    return body;
}

/* The value of the sample whose line starts with prefix ("name{labels} "), or -1. */
static long long sample_of(const char *body, const char *prefix)
{
    size_t pl = strlen(prefix);
    for (const char *p = body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, prefix, pl) == 0)
            return strtoll(p + pl, NULL, 10);
    return -1;
}

typedef struct metric_at_least {
    int port;
    const char *prefix;
    long long min;
    long long seen;
} metric_at_least;

static bool metric_reached(void *arg)
{
    metric_at_least *m = arg;
    char *body = metrics_text(m->port);
    m->seen = body ? sample_of(body, m->prefix) : -1;
    free(body);
    return m->seen >= m->min;
}

/* VmRSS of pid in bytes, or -1. */
static long long rss_bytes(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    char *s = zkt_read_file(path, NULL);
    const char *p = s ? strstr(s, "\nVmRSS:") : NULL;
    long long kb = p ? strtoll(p + 7, NULL, 10) : -1;
    free(s);
    return kb < 0 ? -1 : kb * KIB;
}

static Zkv__Response *hello_as(conn *c, const char *cluster_id, uint64_t id, const char *node_id)
{
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.id = id;
    req.op = ZKV__OP__HELLO;
    req.cluster_id = (char *)cluster_id;
    req.protocol = 1;
    req.client_name = "zkv-limits-test";
    req.node_id = (char *)(node_id ? node_id : "");
    return call(c, &req);
}

static bool is_too_many(const Zkv__Response *r, uint64_t id, const char *max)
{
    char want[64];
    snprintf(want, sizeof want, "too many connections (max %s)", max);
    return r && r->status == ZKV__STATUS__UNAVAILABLE && r->id == id && r->message &&
           strstr(r->message, want) != NULL;
}

static bool ping_ok(conn *c, uint64_t id)
{
    Zkv__Response *r = simple(c, ZKV__OP__PING, id, NULL, 0, NULL, 0);
    bool ok = r && r->status == ZKV__STATUS__OK && r->id == id;
    if (r)
        zkv__response__free_unpacked(r, NULL);
    return ok;
}

typedef struct log_has {
    const char *path;
    const char *what;
} log_has;

static bool log_contains(void *arg)
{
    log_has *l = arg;
    char *s = zkt_read_file(l->path, NULL);
    bool ok = s && strstr(s, l->what);
    free(s);
    return ok;
}

/* ---- 1. --max-conns ---- */

#define MC_MAX 100
#define MC_TRIES 1000
#define MC_REQ_MS 5000
#define MC_BURST 150

static lim_cluster g_mc;

static int mc_init(void)
{
    char req[16];
    snprintf(req, sizeof req, "%d", MC_REQ_MS);
    const char *const flags[] = {"--max-conns", "100", "--request-timeout-ms", req, "--log-level",
                                 "debug",       NULL};
    return lim_up(&g_mc, "lim-max", flags);
}

static int mc_cleanup(void)
{
    zkt_cluster_destroy(&g_mc.cl);
    return 0;
}

typedef struct admit_try {
    int port;
    const char *cluster_id;
    conn *c; /* left open when served */
} admit_try;

static bool served(void *arg)
{
    admit_try *t = arg;
    if (conn_open(t->c, t->port) != 0) {
        conn_close(t->c);
        return false;
    }
    Zkv__Response *r = hello(t->c, t->cluster_id, 1);
    bool ok = r && r->status == ZKV__STATUS__OK;
    if (r)
        zkv__response__free_unpacked(r, NULL);
    if (!ok)
        conn_close(t->c);
    return ok;
}

static void test_max_conns(void)
{
    static conn clients[MC_TRIES];
    int n_ok = 0, n_refused = 0, n_closed = 0;
    for (int i = 0; i < MC_TRIES; i++) {
        conn *c = &clients[i];
        CU_ASSERT_FATAL(conn_open(c, g_mc.port) == 0);
        Zkv__Response *r = hello(c, g_mc.cluster_id, 1);
        if (r && r->status == ZKV__STATUS__OK) {
            n_ok++;
        } else if (is_too_many(r, 1, "100")) {
            n_refused++;
            int answers = 0, bad = 0;
            n_closed += closed_by_peer(c, 5000, &answers, &bad);
            conn_close(c);
        } else {
            log_resp("unexpected answer to HELLO", r);
            conn_close(c);
        }
        if (r)
            zkv__response__free_unpacked(r, NULL);
    }
    zkt_log("%d connections served, %d refused (%d then closed by the node)", n_ok, n_refused,
            n_closed);
    CU_ASSERT_EQUAL(n_ok, MC_MAX);
    CU_ASSERT_EQUAL(n_refused, MC_TRIES - MC_MAX);
    CU_ASSERT_EQUAL(n_closed, n_refused);
    /* the first 100 are served throughout */
    for (int i = 0; i < MC_MAX; i += 9)
        CU_ASSERT(ping_ok(&clients[i], 2));

    /* a node of the cluster (here: a live node's id) is admitted over the limit */
    conn peer;
    CU_ASSERT_FATAL(conn_open(&peer, g_mc.port) == 0);
    Zkv__Response *r = hello_as(&peer, g_mc.cluster_id, 5, g_mc.cl.servers[0].id);
    log_resp("HELLO as a node over the limit", r);
    CU_ASSERT(r && r->status == ZKV__STATUS__OK && r->id == 5);
    if (r)
        zkv__response__free_unpacked(r, NULL);
    CU_ASSERT(ping_ok(&peer, 6));

    /* Silent connections wait on probation in the reserve (256, one taken by the peer);
     * the one after them is refused at once, before it sends anything. */
    enum { SILENT = 255 };
    static conn silent[SILENT];
    for (int i = 0; i < SILENT; i++)
        CU_ASSERT_FATAL(conn_open(&silent[i], g_mc.port) == 0);
    conn late;
    CU_ASSERT_FATAL(conn_open(&late, g_mc.port) == 0);
    r = recv_resp(&late, 5000);
    log_resp("a connection with the reserve full", r);
    CU_ASSERT(is_too_many(r, 0, "100"));
    if (r)
        zkv__response__free_unpacked(r, NULL);
    int answers = 0, bad = 0;
    CU_ASSERT(closed_by_peer(&late, 5000, &answers, &bad));
    conn_close(&late);
    /* a burst that reaches the node at once (it was stopped): refused at once, each, though
     * only 64 may be on their way out at a time */
    static conn burst[MC_BURST];
    pid_t pid = g_mc.cl.servers[0].pid;
    CU_ASSERT_FATAL(zkt_proc_signal(pid, SIGSTOP) == 0);
    for (int i = 0; i < MC_BURST; i++)
        CU_ASSERT_FATAL(conn_open(&burst[i], g_mc.port) == 0);
    CU_ASSERT_FATAL(zkt_proc_signal(pid, SIGCONT) == 0);
    int burst_refused = 0;
    for (int i = 0; i < MC_BURST; i++) {
        Zkv__Response *b = recv_resp(&burst[i], 10000);
        burst_refused +=
            is_too_many(b, 0, "100") && closed_by_peer(&burst[i], 5000, &answers, &bad);
        if (b)
            zkv__response__free_unpacked(b, NULL);
        conn_close(&burst[i]);
    }
    zkt_log("%d of a burst of %d refused at once", burst_refused, MC_BURST);
    CU_ASSERT_EQUAL(burst_refused, MC_BURST);
    log_has paused_accepting = {g_mc.cl.servers[0].log, "420 connections open: accepting again"};
    CU_ASSERT(log_contains(&paused_accepting)); /* 100 + 256 + 64: it did stop accepting */
    /* each silent one, once it speaks, is refused with its own request id */
    int refused_later = 0;
    for (int i = 0; i < SILENT; i++) {
        Zkv__Response *s = hello(&silent[i], g_mc.cluster_id, 100 + (uint64_t)i);
        refused_later += is_too_many(s, 100 + (uint64_t)i, "100");
        if (s)
            zkv__response__free_unpacked(s, NULL);
        conn_close(&silent[i]);
    }
    CU_ASSERT_EQUAL(refused_later, SILENT);

    /* one that stays silent is closed after --request-timeout-ms with TIMEOUT */
    conn mute;
    CU_ASSERT_FATAL(conn_open(&mute, g_mc.port) == 0);
    uint64_t t0 = zkt_now_ms();
    r = recv_resp(&mute, MC_REQ_MS + 5000);
    uint64_t waited = zkt_now_ms() - t0;
    log_resp("a silent connection on probation", r);
    zkt_log("answered after %llu ms", (unsigned long long)waited);
    CU_ASSERT(r && r->status == ZKV__STATUS__TIMEOUT && r->message &&
              strstr(r->message, "no request within"));
    CU_ASSERT(waited + 100 >= MC_REQ_MS);
    if (r)
        zkv__response__free_unpacked(r, NULL);
    CU_ASSERT(closed_by_peer(&mute, 5000, &answers, &bad));
    conn_close(&mute);

    /* a client leaves: a new one is served (as soon as the node has seen the close) */
    conn_close(&clients[0]);
    conn again;
    admit_try t = {g_mc.port, g_mc.cluster_id, &again};
    CU_ASSERT(zkt_wait_for(served, &t, 10000));
    CU_ASSERT(ping_ok(&again, 7));
    conn_close(&again);

    /* counted in /metrics */
    metric_at_least m = {g_mc.metrics_port, "zkv_connections_refused_total ",
                         MC_TRIES - MC_MAX + SILENT + 1 + MC_BURST, -1};
    CU_ASSERT(zkt_wait_for(metric_reached, &m, 10000));
    zkt_log("zkv_connections_refused_total %lld", m.seen);
    metric_at_least mx = {g_mc.metrics_port, "zkv_connections_max ", MC_MAX, -1};
    CU_ASSERT(zkt_wait_for(metric_reached, &mx, 5000) && mx.seen == MC_MAX);
    metric_at_least mt = {g_mc.metrics_port,
                          "zkv_connections_timed_out_total{timeout=\"request\"} ", 1, -1};
    CU_ASSERT(zkt_wait_for(metric_reached, &mt, 5000));

    conn_close(&peer);
    for (int i = 1; i < MC_MAX; i++)
        conn_close(&clients[i]);
    CU_ASSERT(zkt_proc_alive(g_mc.cl.servers[0].pid));
}

/* A hard open-file limit of 2,048 cannot fit --max-conns 10000: the node says so and serves
 * at most 1,024 clients (half the limit; the reserve and LevelDB's files would not fit). */
static void test_nofile_too_low(void)
{
    const char *bin = zkt_bin("ZKV_SERVER_BIN");
    CU_ASSERT_FATAL(bin != NULL);
    char dir[PATH_MAX], logp[PATH_MAX], listen[64];
    snprintf(dir, sizeof dir, "%s/lim-nofile", zkt_tmpdir());
    snprintf(logp, sizeof logp, "%s/lim-nofile.log", zkt_tmpdir());
    snprintf(listen, sizeof listen, "127.0.0.1:%d", zkt_free_port());
    const char *const argv[] = {
        "prlimit",   "--nofile=1024:2048", bin,        "--zk", g_mc.cl.zk.connect,
        "--cluster", "lim-nofile",         "--listen", listen, "--data-dir",
        dir,         "--max-conns",        "10000",    NULL};
    pid_t pid = zkt_spawn("lim-nofile", argv, logp);
    CU_ASSERT_FATAL(pid > 0);
    log_has raised = {logp, "open-file limit raised from 1024 to 2048"};
    log_has low = {logp, "hard limit 2048 is below the 11448 descriptors --max-conns 10000 needs; "
                         "serving at most 1024 client connections"};
    log_has limits = {logp, "limits: 1024 client connections"};
    CU_ASSERT(zkt_wait_for(log_contains, &raised, 20000));
    CU_ASSERT(zkt_wait_for(log_contains, &low, 5000));
    CU_ASSERT(zkt_wait_for(log_contains, &limits, 5000));
    zkt_proc_kill(pid);
}

/* ---- 2. timeouts ---- */

#define TO_REQ_MS 1500
#define TO_IDLE_MS 2500

static lim_cluster g_to;

static int to_init(void)
{
    char req[16], idle[16];
    snprintf(req, sizeof req, "%d", TO_REQ_MS);
    snprintf(idle, sizeof idle, "%d", TO_IDLE_MS);
    const char *const flags[] = {"--request-timeout-ms", req, "--idle-timeout-ms", idle, NULL};
    return lim_up(&g_to, "lim-time", flags);
}

static int to_cleanup(void)
{
    zkt_cluster_destroy(&g_to.cl);
    return 0;
}

/* Whether the node closed c (end of stream or reset), without waiting. */
static bool eof_now(conn *c)
{
    uint8_t b[256];
    ssize_t n = recv(c->fd, b, sizeof b, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static void test_one_byte_a_second(void)
{
    conn c;
    conn_open_hello(&c, g_to.port, g_to.cluster_id);
    zkv_buf frame;
    zkv_buf_init(&frame);
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.id = 77;
    req.op = ZKV__OP__GET;
    req.key.data = (uint8_t *)"slowloris";
    req.key.len = 9;
    CU_ASSERT_FATAL(zkv_frame_append_request(&frame, &req) == 0);
    uint64_t t0 = zkt_now_ms(), closed_at = 0;
    Zkv__Response *answer = NULL;
    size_t sent = 0;
    /* one byte a second, reading meanwhile, until the node closes (bounded) */
    while (zkt_now_ms() - t0 < TO_REQ_MS + 10000) {
        if (sent < zkv_buf_unread(&frame) && zkt_now_ms() >= t0 + sent * 1000) {
            if (send(c.fd, zkv_buf_head(&frame) + sent, 1, MSG_NOSIGNAL) == 1)
                sent++;
        }
        Zkv__Response *r = recv_resp(&c, 50);
        if (r && !answer)
            answer = r;
        else if (r)
            zkv__response__free_unpacked(r, NULL);
        if (c.eof) {
            closed_at = zkt_now_ms();
            break;
        }
    }
    zkt_log("slow client: %zu of %zu bytes sent, closed after %llu ms", sent,
            zkv_buf_unread(&frame), (unsigned long long)(closed_at - t0));
    log_resp("slow client's answer", answer);
    CU_ASSERT(closed_at != 0);
    CU_ASSERT(sent < zkv_buf_unread(&frame));
    CU_ASSERT(closed_at - t0 + 100 >= TO_REQ_MS);
    CU_ASSERT(answer && answer->status == ZKV__STATUS__TIMEOUT && answer->message &&
              strstr(answer->message, "request not received whole within 1500 ms"));
    if (answer)
        zkv__response__free_unpacked(answer, NULL);
    zkv_buf_free(&frame);
    conn_close(&c);
    metric_at_least m = {g_to.metrics_port, "zkv_connections_timed_out_total{timeout=\"request\"} ",
                         1, -1};
    CU_ASSERT(zkt_wait_for(metric_reached, &m, 5000));
}

static void test_idle(void)
{
    conn idle, busy, peer;
    conn_open_hello(&idle, g_to.port, g_to.cluster_id);
    conn_open_hello(&busy, g_to.port, g_to.cluster_id);
    CU_ASSERT_FATAL(conn_open(&peer, g_to.port) == 0);
    Zkv__Response *r = hello_as(&peer, g_to.cluster_id, 1, g_to.cl.servers[0].id);
    CU_ASSERT_FATAL(r && r->status == ZKV__STATUS__OK);
    zkv__response__free_unpacked(r, NULL);
    uint64_t t0 = zkt_now_ms(), closed_at = 0;
    uint64_t id = 10;
    bool busy_ok = true;
    /* the busy client pings every 400 ms until twice the idle timeout has passed */
    while (zkt_now_ms() - t0 < 2ull * TO_IDLE_MS) {
        busy_ok = busy_ok && ping_ok(&busy, id++);
        if (!closed_at && eof_now(&idle))
            closed_at = zkt_now_ms();
        zkt_pause_ms(400); /* pacing of the pings */
    }
    zkt_log("idle connection closed after %llu ms", (unsigned long long)(closed_at - t0));
    CU_ASSERT(closed_at != 0);
    CU_ASSERT(closed_at - t0 + 100 >= TO_IDLE_MS);
    CU_ASSERT(busy_ok);
    CU_ASSERT(ping_ok(&peer, 2)); /* peers are never closed for idling */
    conn_close(&idle);
    conn_close(&busy);
    conn_close(&peer);
    metric_at_least m = {g_to.metrics_port, "zkv_connections_timed_out_total{timeout=\"idle\"} ", 1,
                         -1};
    CU_ASSERT(zkt_wait_for(metric_reached, &m, 5000));
}

/* ---- 3. backpressure at default --max-conns ---- */

#define BP_IDLE 1100
#define BP_PIPELINERS 6
#define BP_REQUESTS 100000
#define BP_VALUE 4096
#define BP_CONN_MB 8
#define BP_NODE_MB 16
#define BP_SAMPLES 200

static lim_cluster g_bp;
static conn g_idle[BP_IDLE];
static int g_n_idle;

static int bp_init(void)
{
    char conn_mb[16], node_mb[16];
    snprintf(conn_mb, sizeof conn_mb, "%d", BP_CONN_MB);
    snprintf(node_mb, sizeof node_mb, "%d", BP_NODE_MB);
    const char *const flags[] = {"--max-conn-output-mb", conn_mb, "--max-output-mb", node_mb, NULL};
    /* the node starts with the soft open-file limit of many hosts, 1,024, and raises it */
    struct rlimit rl, low;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    low = rl;
    low.rlim_cur = 1024;
    if (setrlimit(RLIMIT_NOFILE, &low) != 0)
        return -1;
    int rc = lim_up(&g_bp, "lim-bp", flags);
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    return rc;
}

static int bp_cleanup(void)
{
    for (int i = 0; i < g_n_idle; i++)
        conn_close(&g_idle[i]);
    zkt_cluster_destroy(&g_bp.cl);
    return 0;
}

static void test_idle_connections(void)
{
    log_has raised = {g_bp.cl.servers[0].log, "open-file limit raised from 1024"};
    CU_ASSERT(log_contains(&raised));
    int ok = 0;
    for (g_n_idle = 0; g_n_idle < BP_IDLE; g_n_idle++) {
        conn *c = &g_idle[g_n_idle];
        CU_ASSERT_FATAL(conn_open(c, g_bp.port) == 0);
        Zkv__Response *r = hello(c, g_bp.cluster_id, 1);
        ok += r && r->status == ZKV__STATUS__OK;
        if (r)
            zkv__response__free_unpacked(r, NULL);
    }
    zkt_log("%d of %d idle connections served", ok, BP_IDLE);
    CU_ASSERT_EQUAL(ok, BP_IDLE);
    /* all still there, and a normal client is served */
    int alive = 0;
    for (int i = 0; i < BP_IDLE; i += 10)
        alive += ping_ok(&g_idle[i], 2);
    CU_ASSERT_EQUAL(alive, BP_IDLE / 10);
    conn c;
    conn_open_hello(&c, g_bp.port, g_bp.cluster_id);
    Zkv__Response *p = simple(&c, ZKV__OP__PUT, 3, "normal", 6, "client", 6);
    CU_ASSERT(p && p->status == ZKV__STATUS__OK);
    if (p)
        zkv__response__free_unpacked(p, NULL);
    Zkv__Response *g = simple(&c, ZKV__OP__GET, 4, "normal", 6, NULL, 0);
    CU_ASSERT(g && g->status == ZKV__STATUS__OK && g->value.len == 6);
    if (g)
        zkv__response__free_unpacked(g, NULL);
    conn_close(&c);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* p99 of BP_SAMPLES sequential GETs on c, in microseconds; every one must be OK. */
static uint64_t get_p99_us(conn *c, uint64_t *id, bool *all_ok)
{
    uint64_t us[BP_SAMPLES];
    *all_ok = true;
    for (int i = 0; i < BP_SAMPLES; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        Zkv__Response *r = simple(c, ZKV__OP__GET, (*id)++, "normal", 6, NULL, 0);
        clock_gettime(CLOCK_MONOTONIC, &b);
        *all_ok = *all_ok && r && r->status == ZKV__STATUS__OK;
        if (r)
            zkv__response__free_unpacked(r, NULL);
        us[i] =
            (uint64_t)(b.tv_sec - a.tv_sec) * 1000000u + (uint64_t)(b.tv_nsec - a.tv_nsec) / 1000;
    }
    qsort(us, BP_SAMPLES, sizeof us[0], cmp_u64);
    return us[BP_SAMPLES * 99 / 100];
}

typedef struct pipeliner {
    conn c;
    zkv_buf frames; /* BP_REQUESTS GET frames, ids 1..BP_REQUESTS */
    size_t sent;
} pipeliner;

static pipeliner g_pipe[BP_PIPELINERS];

/* Pushes what each socket takes now, never reading. */
static void pipeliners_push(void)
{
    for (int i = 0; i < BP_PIPELINERS; i++) {
        pipeliner *p = &g_pipe[i];
        while (p->sent < zkv_buf_unread(&p->frames)) {
            ssize_t n = send(p->c.fd, zkv_buf_head(&p->frames) + p->sent,
                             zkv_buf_unread(&p->frames) - p->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n <= 0)
                break;
            p->sent += (size_t)n;
        }
    }
}

typedef struct paused_check {
    int port;
    long long paused, queued;
} paused_check;

static bool all_paused(void *arg)
{
    paused_check *pc = arg;
    pipeliners_push();
    char *body = metrics_text(pc->port);
    pc->paused = body ? sample_of(body, "zkv_connections_paused ") : -1;
    pc->queued = body ? sample_of(body, "zkv_output_queued_bytes ") : -1;
    free(body);
    return pc->paused >= BP_PIPELINERS;
}

static void test_pipeliners_never_read(void)
{
    pid_t pid = g_bp.cl.servers[0].pid;
    conn c;
    conn_open_hello(&c, g_bp.port, g_bp.cluster_id);
    static uint8_t value[BP_VALUE];
    memset(value, 'v', sizeof value);
    Zkv__Response *r = simple(&c, ZKV__OP__PUT, 1, "big", 3, value, sizeof value);
    CU_ASSERT_FATAL(r && r->status == ZKV__STATUS__OK);
    zkv__response__free_unpacked(r, NULL);
    uint64_t id = 100;
    bool ok;
    get_p99_us(&c, &id, &ok); /* warm-up */
    uint64_t base_p99 = get_p99_us(&c, &id, &ok);
    CU_ASSERT(ok);
    long long rss0 = rss_bytes(pid);
    CU_ASSERT_FATAL(rss0 > 0);
    zkt_log("baseline: GET p99 %llu us, node RSS %lld MiB", (unsigned long long)base_p99,
            rss0 / MIB);

    for (int i = 0; i < BP_PIPELINERS; i++) {
        pipeliner *p = &g_pipe[i];
        conn_open_hello(&p->c, g_bp.port, g_bp.cluster_id);
        zkv_buf_init(&p->frames);
        Zkv__Request req = ZKV__REQUEST__INIT;
        req.op = ZKV__OP__GET;
        req.key.data = (uint8_t *)"big";
        req.key.len = 3;
        for (uint64_t k = 1; k <= BP_REQUESTS; k++) {
            req.id = k;
            CU_ASSERT_FATAL(zkv_frame_append_request(&p->frames, &req) == 0);
        }
    }
    paused_check pc = {g_bp.metrics_port, -1, -1};
    CU_ASSERT(zkt_wait_for(all_paused, &pc, 30000));
    size_t sent = 0;
    for (int i = 0; i < BP_PIPELINERS; i++)
        sent += g_pipe[i].sent;
    zkt_log("%lld connections paused, %lld bytes queued; %zu request bytes of %zu sent", pc.paused,
            pc.queued, sent, BP_PIPELINERS * zkv_buf_unread(&g_pipe[0].frames));

    /* the queue: the node's cap, plus at most a small queue and an answer per connection */
    long long answer = BP_VALUE + 64;
    long long queue_bound = BP_NODE_MB * MIB + BP_PIPELINERS * (64 * KIB + answer);
    CU_ASSERT(pc.queued > 0 && pc.queued <= queue_bound);
    /* RSS: that queue, buffers up to twice as large while they grow, and 32 MiB of slack
     * (allocator and sanitizer); without the caps it would be ~2.4 GB */
    long long rss_bound = 2 * queue_bound + 32 * MIB;

    /* another client's latency, measured while the pipeliners are stuck */
    pipeliners_push();
    uint64_t p99 = get_p99_us(&c, &id, &ok);
    CU_ASSERT(ok);
    long long rss = rss_bytes(pid);
    zkt_log("node RSS %lld MiB (+%lld MiB over the baseline; bound +%lld MiB)", rss / MIB,
            (rss - rss0) / MIB, rss_bound / MIB);
    CU_ASSERT(rss - rss0 <= rss_bound);
    uint64_t bound = 10 * base_p99 > 200000 ? 10 * base_p99 : 200000;
    zkt_log("GET p99 with %d clients not reading: %llu us (baseline %llu us, bound %llu us)",
            BP_PIPELINERS, (unsigned long long)p99, (unsigned long long)base_p99,
            (unsigned long long)bound);
    CU_ASSERT(p99 <= bound);

    /* one pipeliner starts reading: it is resumed and gets every answer, in order */
    pipeliner *p = &g_pipe[0];
    uint64_t next = 1, t0 = zkt_now_ms();
    bool in_order = true;
    while (next <= BP_REQUESTS && zkt_now_ms() - t0 < 60000) {
        pipeliners_push();
        Zkv__Response *a = recv_resp(&p->c, 100);
        if (!a) {
            if (p->c.eof)
                break;
            continue;
        }
        in_order =
            in_order && a->id == next && a->status == ZKV__STATUS__OK && a->value.len == BP_VALUE;
        next++;
        zkv__response__free_unpacked(a, NULL);
    }
    zkt_log("the reading pipeliner got %llu answers in %llu ms", (unsigned long long)(next - 1),
            (unsigned long long)(zkt_now_ms() - t0));
    CU_ASSERT_EQUAL(next - 1, BP_REQUESTS);
    CU_ASSERT(in_order);

    for (int i = 0; i < BP_PIPELINERS; i++) {
        conn_close(&g_pipe[i].c);
        zkv_buf_free(&g_pipe[i].frames);
    }
    conn_close(&c);
    metric_at_least m = {g_bp.metrics_port, "zkv_connection_pauses_total ", BP_PIPELINERS, -1};
    CU_ASSERT(zkt_wait_for(metric_reached, &m, 5000));
    CU_ASSERT(zkt_proc_alive(pid));
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("--max-conns", mc_init, mc_cleanup);
    CU_add_test(s, "1,000 connections: 100 served, the rest refused clearly; peers, probation",
                test_max_conns);
    CU_add_test(s, "a hard open-file limit too small: a clear line, fewer connections",
                test_nofile_too_low);
    s = CU_add_suite("timeouts", to_init, to_cleanup);
    CU_add_test(s, "a client sending one byte a second is closed", test_one_byte_a_second);
    CU_add_test(s, "an idle client is closed; a busy one and a peer are not", test_idle);
    s = CU_add_suite("backpressure", bp_init, bp_cleanup);
    CU_add_test(s, "1,100 idle connections at default limits, a normal client served",
                test_idle_connections);
    CU_add_test(s, "clients pipelining 100,000 GETs that never read: bounded memory, latency",
                test_pipeliners_never_read);
    return zkt_run_all();
}
