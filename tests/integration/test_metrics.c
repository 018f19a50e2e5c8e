/* test_metrics.c: zkv-server --metrics. One server (owning every range) and a coordinator,
 * the server started with `--metrics 127.0.0.1:PORT`. After puts and gets through libzkv
 * (one of a missing key), GET /metrics over a plain socket: 200, the exposition content
 * type, # TYPE lines, the put and not_found counters (polled: the text is refreshed once a
 * second), one line per owned range; any other path is 404. A second server given the
 * same --metrics address exits 1 naming the address; a malformed --metrics exits 2; the
 * server exits 0 on SIGTERM. The server runs with --sync: its figures say so, and strace
 * sees it fdatasync while it takes writes. Then three servers, each with its own --metrics: after
 * replicated puts, each node's text shows, for every range it owns, both replicas in
 * in_sync with a lag of 0 once caught up, and acknowledged APPENDs; and after a pipelined
 * batch of 12 values of 600 KB, LevelDB writes made ahead of commits are counted and every
 * value reads back from its owner and from a replica. */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "it_common.h"
#include "it_http.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_PUTS 50

static zkt_cluster g_cl;
static zkv_client *g_client;
static int g_metrics_port;
static char g_metrics_addr[64];
static int g_coord_port; /* the coordinator's --metrics */

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "metrics") != 0)
        return -1;
    g_cl.replicas = 1;
    g_metrics_port = zkt_free_port();
    snprintf(g_metrics_addr, sizeof g_metrics_addr, "127.0.0.1:%d", g_metrics_port);
    if (g_metrics_port <= 0 || zkt_cluster_server_flag(&g_cl, "--metrics", g_metrics_addr) != 0 ||
        zkt_cluster_server_flag(&g_cl, "--sync", NULL) != 0)
        return -1;
    char coord_addr[64];
    g_coord_port = zkt_free_port();
    snprintf(coord_addr, sizeof coord_addr, "127.0.0.1:%d", g_coord_port);
    if (g_coord_port <= 0 || zkt_cluster_coord_flag(&g_cl, "--metrics", coord_addr) != 0)
        return -1;
    return it_cluster_up(&g_cl, 1, 10000, 0, &g_client);
}

static int suite_cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

static it_http_answer http_get(const char *path)
{
    return it_http_get(g_metrics_port, path);
}

static char *g_last_body; /* the last /metrics body the poll saw */

static bool counters_show_requests(void *arg)
{
    (void)arg;
    it_http_answer a = http_get("/metrics");
    if (a.code != 200 || !a.body) {
        free(a.body);
        return false;
    }
    free(g_last_body);
    g_last_body = a.body;
    return it_sample_value(a.body, "zkv_requests_total{op=\"put\",status=\"ok\"} ") >= N_PUTS &&
           it_sample_value(a.body, "zkv_requests_total{op=\"get\",status=\"not_found\"} ") >= 1;
}

/* N_PUTS puts of tag-000.. through c, each read back when get is set. */
static void put_keys(zkv_client *c, char tag, bool get)
{
    char key[32], val[32];
    for (int i = 0; i < N_PUTS; i++) {
        int kl = snprintf(key, sizeof key, "%c-%03d", tag, i),
            vl = snprintf(val, sizeof val, "v%d", i);
        CU_ASSERT_EQUAL_FATAL(zkv_put(c, key, (size_t)kl, val, (size_t)vl, 5000, 0, NULL), ZKV_OK);
        zkv_value *v = NULL;
        if (get)
            CU_ASSERT_EQUAL(zkv_get(c, key, (size_t)kl, 5000, 0, &v), ZKV_OK);
        zkv_value_free(v);
    }
}

/* `promtool check metrics` (Prometheus's linter of the exposition format and its naming
 * rules) on a scrape, when promtool is installed (scripts/install-deps.sh installs it). */
static void check_promtool(const char *body)
{
    if (access("/usr/bin/promtool", X_OK) != 0) {
        zkt_log("SKIPPED: promtool is not installed: /metrics was not linted");
        return;
    }
    const char *argv[] = {"/usr/bin/promtool", "check", "metrics", NULL};
    zkt_run_result r;
    CU_ASSERT_FATAL(zkt_run(argv, body, strlen(body), 30000, &r) == 0);
    zkt_log("promtool check metrics: exit %d; %.500s%.500s", r.code, r.out ? r.out : "",
            r.err ? r.err : "");
    CU_ASSERT_EQUAL(r.code, 0);
    zkt_run_result_free(&r);
}

/* Every family of a scrape is a row of docs/metrics.md's table. */
static void check_documented(const char *body)
{
    static char doc[1 << 17];
    CU_ASSERT_FATAL(it_read_file(ZKV_TEST_SOURCE_DIR, "docs/metrics.md", doc, sizeof doc) > 0);
    int families = 0;
    for (const char *p = strstr(body, "# TYPE "); p; p = strstr(p + 1, "# TYPE ")) {
        char name[128], row[160];
        if (sscanf(p + 7, "%127s", name) != 1)
            continue;
        snprintf(row, sizeof row, "| `%s` |", name);
        families++;
        if (!strstr(doc, row))
            zkt_log("docs/metrics.md does not list %s", name);
        CU_ASSERT_PTR_NOT_NULL(strstr(doc, row));
    }
    CU_ASSERT(families > 10);
}

static void test_scrape(void)
{
    put_keys(g_client, 'm', true);
    zkv_value *v = NULL;
    CU_ASSERT_EQUAL(zkv_get(g_client, "no-such-key", 11, 5000, 0, &v), ZKV_ENOTFOUND);

    it_http_answer a = http_get("/metrics");
    CU_ASSERT_EQUAL(a.code, 200);
    CU_ASSERT_STRING_EQUAL(a.ctype, "text/plain; version=0.0.4");
    free(a.body);
    bool seen = zkt_wait_for(counters_show_requests, NULL, 5000);
    if (!seen)
        zkt_log("last /metrics body:\n%s", g_last_body ? g_last_body : "(none)");
    CU_ASSERT_FATAL(seen && g_last_body);
    const char *body = g_last_body;
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "# TYPE zkv_requests_total counter\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "# TYPE zkv_connections_open gauge\n"));
    CU_ASSERT(it_sample_value(body, "zkv_requests_total{op=\"get\",status=\"ok\"} ") >= N_PUTS);
    CU_ASSERT(it_sample_value(body, "zkv_connections_open ") >= 1);
    CU_ASSERT(it_sample_value(body, "zkv_store_commits_total ") >= 1);
    char line[128];
    snprintf(line, sizeof line, "zkv_node_info{node=\"%s\"} 1\n", g_cl.servers[0].id);
    CU_ASSERT_PTR_NOT_NULL(strstr(body, line));
    /* every range of the map is owned by the one server: one line each */
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT_EQUAL(it_sample_value(body, "zkv_owned_ranges "), m->n_ranges);
    for (int i = 0; i < m->n_ranges; i++) {
        snprintf(line, sizeof line, "zkv_range_committed_seq{range=\"%s\"} ", m->ranges[i].id);
        CU_ASSERT(it_sample_value(body, line) >= 0);
        snprintf(line, sizeof line, "zkv_range_epoch{range=\"%s\"} ", m->ranges[i].id);
        CU_ASSERT_EQUAL(it_sample_value(body, line), (long long)m->ranges[i].epoch);
    }
    zkt_map_free(m);
    /* what people alert on: latency histograms, the build, the process, ZooKeeper, LevelDB */
    CU_ASSERT(it_sample_value(body, "zkv_request_duration_seconds_count{op=\"put\"} ") >= N_PUTS);
    CU_ASSERT(it_sample_value(
                  body, "zkv_request_duration_seconds_bucket{op=\"put\",le=\"+Inf\"} ") >= N_PUTS);
    CU_ASSERT(it_sample_value(body, "zkv_request_duration_seconds_count{op=\"get\"} ") >= N_PUTS);
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "zkv_build_info{version=\"0.1.0\"} 1\n"));
    CU_ASSERT_EQUAL(it_sample_value(body, "zkv_zookeeper_session_ok "), 1);
    CU_ASSERT(it_sample_value(body, "process_resident_memory_bytes ") > 1000000);
    CU_ASSERT(it_sample_value(body, "process_open_fds ") > 5);
    CU_ASSERT(it_sample_value(body, "process_max_fds ") >= 1024);
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "process_cpu_seconds_total "));
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "zkv_leveldb_files{level=\"0\"} "));
    CU_ASSERT(it_sample_value(body, "zkv_leveldb_size_bytes ") >= 0);
    check_promtool(body);
    check_documented(body);

    a = http_get("/other");
    CU_ASSERT_EQUAL(a.code, 404);
    free(a.body);
}

/* it_log_count(arg[0], arg[1]) > 0: the file arg[0] has a line with arg[1]. */
static bool file_has(void *arg)
{
    const char *const *a = arg;
    return it_log_count(a[0], a[1]) > 0;
}

/* --sync (this suite's server runs with it): the figures say so and count the commits'
 * LevelDB writes, and strace sees the node fdatasync while it takes writes (skipped
 * without strace, or where ptrace is not allowed). */
static void test_sync(void)
{
    it_http_answer a = http_get("/metrics");
    CU_ASSERT_FATAL(a.code == 200 && a.body);
    CU_ASSERT_EQUAL(it_sample_value(a.body, "zkv_leveldb_sync "), 1);
    CU_ASSERT(it_sample_value(a.body, "zkv_leveldb_write_duration_seconds_count ") >= 1);
    CU_ASSERT(it_sample_value(a.body, "zkv_leveldb_write_waits_total{cause=\"sync\"} ") >= 0);
    free(a.body);
    if (access("/usr/bin/strace", X_OK) != 0) {
        zkt_log("SKIPPED: strace is not installed: the fdatasync calls were not seen");
        return;
    }
    char out[600], log[600], pid[32];
    snprintf(out, sizeof out, "%s/strace-summary.txt", zkt_tmpdir());
    snprintf(log, sizeof log, "%s/strace.log", zkt_tmpdir());
    snprintf(pid, sizeof pid, "%d", (int)g_cl.servers[0].pid);
    const char *const argv[] = {"strace", "-f", "-c", "-e", "trace=fdatasync,fsync",
                                "-o",     out,  "-p", pid,  NULL};
    pid_t sp = zkt_spawn("strace", argv, log);
    CU_ASSERT_FATAL(sp > 0);
    const char *const attached[2] = {log, "attached"};
    if (!zkt_wait_for(file_has, (void *)attached, 10000)) {
        zkt_log("SKIPPED: strace did not attach to the server (%s)",
                it_log_count(log, "ptrace") > 0 ? "ptrace refused" : "no answer");
        zkt_proc_kill(sp);
        return;
    }
    put_keys(g_client, 's', false);
    CU_ASSERT_EQUAL(zkt_proc_signal(sp, SIGINT), 0); /* detach: the summary is written */
    CU_ASSERT_EQUAL(zkt_proc_wait_exit(sp, 10000, NULL), 0);
    const char *const synced[2] = {out, "fdatasync"};
    bool seen = zkt_wait_for(file_has, (void *)synced, 5000);
    if (!seen)
        zkt_log("strace's summary has no fdatasync: %s", out);
    CU_ASSERT(seen);
}

/* The coordinator's figures once it leads and a reconcile saw every range served (the
 * figures are the last reconcile's): true when they show it. */
static bool coordinator_reports(void *arg)
{
    char **body = arg;
    it_http_answer a = it_http_get(g_coord_port, "/metrics");
    bool ok = a.code == 200 && a.body && it_sample_value(a.body, "zkv_coordinator_leader ") == 1 &&
              it_sample_value(a.body, "zkv_cluster_ranges ") > 0 &&
              it_sample_value(a.body, "zkv_cluster_ranges_without_owner ") == 0;
    if (ok) {
        free(*body);
        *body = a.body;
    } else {
        free(a.body);
    }
    return ok;
}

static void test_coordinator_and_status(void)
{
    char *body = NULL;
    CU_ASSERT_FATAL(zkt_wait_for(coordinator_reports, &body, 10000));
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT_EQUAL(it_sample_value(body, "zkv_cluster_ranges "), m->n_ranges);
    CU_ASSERT_EQUAL(it_sample_value(body, "zkv_cluster_nodes_live "), 1);
    CU_ASSERT_EQUAL(it_sample_value(body, "zkv_cluster_ranges_without_owner "), 0);
    CU_ASSERT_EQUAL(it_sample_value(body, "zkv_cluster_ranges_under_replicated "), 0);
    CU_ASSERT_EQUAL(it_sample_value(body, "zkv_cluster_replication_factor "), 1);
    CU_ASSERT(it_sample_value(body, "zkv_cluster_map_version ") > 0);
    CU_ASSERT_EQUAL(it_sample_value(body, "zkv_cluster_operations{kind=\"split\"} "), 0);
    CU_ASSERT_EQUAL(it_sample_value(body, "zkv_coordinator_zookeeper_connected "), 1);
    zkt_map_free(m);
    check_promtool(body);
    check_documented(body);
    free(body);
    /* /status of both, for people */
    it_http_answer a = it_http_get(g_coord_port, "/status");
    CU_ASSERT_EQUAL(a.code, 200);
    CU_ASSERT_STRING_EQUAL(a.ctype, "text/html; charset=utf-8");
    CU_ASSERT(a.body && strstr(a.body, "<th>role</th><td>leader</td>"));
    CU_ASSERT(a.body && strstr(a.body, "ranges without owner</th><td class=\"ok\">0"));
    free(a.body);
    a = http_get("/status");
    CU_ASSERT_EQUAL(a.code, 200);
    CU_ASSERT_STRING_EQUAL(a.ctype, "text/html; charset=utf-8");
    char want[128];
    snprintf(want, sizeof want, "<title>zkv-server %s</title>", g_cl.servers[0].id);
    CU_ASSERT(a.body && strstr(a.body, want) && strstr(a.body, "yes: ZooKeeper session confirmed"));
    CU_ASSERT(a.body && strstr(a.body, "<th>ranges owned</th><td>8</td>"));
    free(a.body);
    /* readiness probes */
    a = http_get("/ready");
    CU_ASSERT_EQUAL(a.code, 200);
    CU_ASSERT(a.body && strcmp(a.body, "ready\n") == 0);
    free(a.body);
    a = it_http_get(g_coord_port, "/ready");
    CU_ASSERT_EQUAL(a.code, 200);
    free(a.body);
}

/* argv of a zkv-server that is not part of the cluster (data dir named by tag), with a
 * --metrics value. */
static void lone_server_argv(const char *argv[16], const char *tag, char *listen, size_t ll,
                             char *dir, size_t dl, const char *metrics)
{
    snprintf(listen, ll, "127.0.0.1:%d", zkt_free_port());
    zkt_path(dir, dl, "metrics-lone-%s", tag);
    const char *args[] = {zkt_bin("ZKV_SERVER_BIN"),
                          "--zk",
                          g_cl.zk.connect,
                          "--cluster",
                          g_cl.name,
                          "--listen",
                          listen,
                          "--data-dir",
                          dir,
                          "--id",
                          "node-lone",
                          "--metrics",
                          metrics,
                          NULL};
    memcpy(argv, args, sizeof args);
}

static void test_address_in_use(void)
{
    const char *argv[16];
    char listen[64], dir[PATH_MAX], log[PATH_MAX];
    lone_server_argv(argv, "busy", listen, sizeof listen, dir, sizeof dir, g_metrics_addr);
    zkt_path(log, sizeof log, "metrics-lone-busy.log");
    pid_t pid = zkt_spawn("node-lone", argv, log);
    CU_ASSERT_FATAL(pid > 0);
    int status = 0;
    CU_ASSERT_EQUAL_FATAL(zkt_proc_wait_exit(pid, 30000, &status), 0);
    CU_ASSERT_EQUAL(zkt_exit_code(status), 1);
    char *text = zkt_read_file(log, NULL);
    CU_ASSERT_PTR_NOT_NULL(text && strstr(text, g_metrics_addr));
    CU_ASSERT_PTR_NOT_NULL(text && strstr(text, "in use"));
    free(text);
    /* the first server still serves its metrics */
    it_http_answer a = http_get("/metrics");
    CU_ASSERT_EQUAL(a.code, 200);
    free(a.body);
}

static void test_bad_flag(void)
{
    const char *argv[16];
    char listen[64], dir[PATH_MAX];
    lone_server_argv(argv, "bad", listen, sizeof listen, dir, sizeof dir, "no-port-here");
    zkt_run_result r;
    CU_ASSERT_EQUAL_FATAL(zkt_run(argv, NULL, 0, 10000, &r), 0);
    CU_ASSERT_EQUAL(r.code, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "--metrics"));
    zkt_run_result_free(&r);
}

/* A clean shutdown stops the HTTP daemon before its buffers go (ASan checks the frees). */
typedef struct ready_arg {
    int port;
    int code;
    char body[200];
} ready_arg;

static bool ready_answers(void *p)
{
    ready_arg *r = p;
    it_http_answer a = it_http_get(r->port, "/ready");
    r->code = a.code;
    snprintf(r->body, sizeof r->body, "%s", a.body ? a.body : "");
    free(a.body);
    return a.code > 0;
}

/* A node that cannot reach ZooKeeper is not ready: /ready answers 503 and why. */
static void test_not_ready(void)
{
    char metrics[64], listen[64], dir[PATH_MAX], log[PATH_MAX], dead_zk[64];
    int port = zkt_free_port();
    snprintf(metrics, sizeof metrics, "127.0.0.1:%d", port);
    snprintf(dead_zk, sizeof dead_zk, "127.0.0.1:%d", zkt_free_port());
    const char *argv[16];
    lone_server_argv(argv, "unready", listen, sizeof listen, dir, sizeof dir, metrics);
    argv[2] = dead_zk; /* --zk: nothing listens there */
    zkt_path(log, sizeof log, "metrics-lone-unready.log");
    pid_t pid = zkt_spawn("node-unready", argv, log);
    CU_ASSERT_FATAL(pid > 0);
    ready_arg r = {.port = port};
    CU_ASSERT(zkt_wait_for(ready_answers, &r, 20000));
    zkt_log("/ready of a node without ZooKeeper: %d %s", r.code, r.body);
    CU_ASSERT_EQUAL(r.code, 503);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "not ready: "));
    CU_ASSERT_EQUAL(zkt_proc_stop(pid, 10000), 0);
}

static void test_sigterm(void)
{
    CU_ASSERT_EQUAL(zkt_server_stop(&g_cl, 0, SIGTERM), 0);
}

/* --- three servers, each with its own --metrics ----------------------------------------- */

#define N3 3
static zkt_cluster g_cl3;
static zkv_client *g_client3;
static int g_ports3[N3];

static int suite3_init(void)
{
    if (zkt_cluster_init(&g_cl3, "metrics3") != 0)
        return -1;
    for (int i = 0; i < N3; i++) {
        char addr[64];
        g_ports3[i] = zkt_free_port();
        snprintf(addr, sizeof addr, "127.0.0.1:%d", g_ports3[i]);
        if (g_ports3[i] <= 0 || zkt_cluster_add_server_with(&g_cl3, "--metrics", addr) < 0)
            return -1;
    }
    return it_cluster_up(&g_cl3, N3, 10000, 0, &g_client3);
}

static int suite3_cleanup(void)
{
    return it_cluster_down(&g_cl3, &g_client3);
}

/* Whether every node's text shows each range it owns (by the map) with both replicas in
 * in_sync, caught up (lag 0), and APPENDs acknowledged. */
static bool replicas_shown(void *arg)
{
    const zkt_map *m = arg;
    char line[256];
    for (int n = 0; n < N3; n++) {
        it_http_answer a = it_http_get(g_ports3[n], "/metrics");
        bool ok = a.code == 200 && a.body;
        bool owns = false;
        for (int i = 0; ok && i < m->n_ranges; i++) {
            const zkt_map_range *r = &m->ranges[i];
            if (strcmp(r->owner, g_cl3.servers[n].id) != 0)
                continue;
            owns = true;
            snprintf(line, sizeof line, "zkv_range_in_sync_replicas{range=\"%s\"} ", r->id);
            ok = it_sample_value(a.body, line) == r->n_replicas;
            for (int k = 0; ok && k < r->n_replicas; k++) {
                snprintf(line, sizeof line, "zkv_replica_in_sync{range=\"%s\",replica=\"%s\"} ",
                         r->id, r->replicas[k]);
                ok = it_sample_value(a.body, line) == 1;
                snprintf(line, sizeof line, "zkv_replica_lag_entries{range=\"%s\",replica=\"%s\"} ",
                         r->id, r->replicas[k]);
                ok = ok && it_sample_value(a.body, line) == 0;
            }
        }
        ok = ok && (!owns || it_sample_value(a.body, "zkv_replication_appends_acked_total ") > 0);
        free(a.body);
        if (!ok)
            return false;
    }
    return true;
}

static void test_replicas(void)
{
    put_keys(g_client3, 'r', false);
    zkt_map *m = zkt_cluster_map(&g_cl3);
    CU_ASSERT_FATAL(m != NULL);
    if (!m)
        return; /* (CU_ASSERT_FATAL has returned already; for the analysers) */
    bool shown = zkt_wait_for(replicas_shown, m, 10000);
    if (!shown)
        for (int n = 0; n < N3; n++) {
            it_http_answer a = it_http_get(g_ports3[n], "/metrics");
            zkt_log("%s /metrics:\n%s", g_cl3.servers[n].id, a.body ? a.body : "(none)");
            free(a.body);
        }
    CU_ASSERT(shown);
    zkt_map_free(m);
}

#define N_BIG 12
#define BIG_BYTES 600000 /* more than the value log hands its writer thread at once */

static void big_value(uint8_t *out, int k)
{
    for (size_t i = 0; i < BIG_BYTES; i++)
        out[i] = (uint8_t)(k * 13 + i * 7 + (i >> 9));
}

static long long early_writes_sum(void)
{
    long long sum = 0;
    for (int n = 0; n < N3; n++) {
        it_http_answer a = it_http_get(g_ports3[n], "/metrics");
        long long v =
            a.code == 200 && a.body ? it_sample_value(a.body, "zkv_store_early_writes_total ") : -1;
        free(a.body);
        if (v < 0)
            return -1;
        sum += v;
    }
    return sum;
}

static bool early_writes_counted(void *arg)
{
    return early_writes_sum() > *(long long *)arg;
}

/* 12 values of 600 KB in one pipelined batch: each alone is more than the value log hands
 * its writer thread at once (512 KiB), so whatever a turn of a node reads, records go to
 * LevelDB ahead of the commit (early_write.h), on owners and on replicas; every value reads
 * back from its owner and from a replica. */
static void test_large_batch(void)
{
    static uint8_t val[BIG_BYTES];
    long long before = early_writes_sum();
    CU_ASSERT_FATAL(before >= 0);
    zkv_batch *b = zkv_batch_create();
    CU_ASSERT_FATAL(b != NULL);
    char key[32];
    for (int k = 0; k < N_BIG; k++) {
        snprintf(key, sizeof key, "big-%03d", k);
        big_value(val, k);
        CU_ASSERT_EQUAL(zkv_batch_put(b, key, strlen(key), val, BIG_BYTES), ZKV_OK);
    }
    CU_ASSERT_EQUAL(zkv_batch_run(g_client3, b, 20000, 0), ZKV_OK);
    for (int k = 0; k < N_BIG; k++)
        CU_ASSERT_EQUAL(zkv_batch_status(b, (size_t)k), ZKV_OK);
    zkv_batch_free(b);
    for (int k = 0; k < N_BIG; k++) {
        snprintf(key, sizeof key, "big-%03d", k);
        big_value(val, k);
        for (int replica = 0; replica < 2; replica++) {
            zkv_value *v = NULL;
            int rc = zkv_get(g_client3, key, strlen(key), 10000,
                             replica ? ZKV_FLAG_READ_REPLICA : 0, &v);
            CU_ASSERT_EQUAL(rc, ZKV_OK);
            CU_ASSERT(v && zkv_value_len(v) == BIG_BYTES &&
                      memcmp(zkv_value_data(v), val, BIG_BYTES) == 0);
            zkv_value_free(v);
        }
    }
    CU_ASSERT(zkt_wait_for(early_writes_counted, &before, 10000));
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("metrics: 1 server with --metrics", suite_init, suite_cleanup);
    CU_add_test(s, "GET /metrics after puts and gets; other paths 404", test_scrape);
    CU_add_test(s, "the coordinator's figures; /status pages", test_coordinator_and_status);
    CU_add_test(s, "--sync: the figures, and fdatasync seen by strace", test_sync);
    CU_add_test(s, "--metrics address in use: exit 1 naming it", test_address_in_use);
    CU_add_test(s, "malformed --metrics: exit 2", test_bad_flag);
    CU_add_test(s, "/ready of a node that cannot reach ZooKeeper: 503", test_not_ready);
    CU_add_test(s, "SIGTERM with --metrics exits 0", test_sigterm);
    s = CU_add_suite("metrics: 3 servers, each with its own --metrics", suite3_init,
                     suite3_cleanup);
    CU_add_test(s, "owned ranges' replicas in_sync and caught up, APPENDs acknowledged",
                test_replicas);
    CU_add_test(s, "large values in one batch: records written ahead, every copy reads back",
                test_large_batch);
    int rc = zkt_run_all();
    free(g_last_body);
    return rc;
}
