/* test_metrics_tls.c: zkv-server --metrics on a node with TLS (docs/security.md, "TLS").
 * One server (owning every range) and a coordinator, both with the test CA's node
 * certificate, the server also with --tls-client-ca and `--metrics 127.0.0.1:PORT`; the
 * libzkv client uses TLS with the client certificate. Scrapes with the curl command line
 * (to 127.0.0.1 only, each bounded by --max-time 5):
 *  - https trusting the test CA with the client certificate: 200 and the zkv_ metrics;
 *  - refused, without metrics: no client certificate (403), one of another CA (403),
 *    plain http:// (no TLS handshake, no answer), trusting another CA (curl refuses the
 *    node's certificate);
 *  - a node.pem that does not load and SIGHUP: the endpoint keeps its certificate;
 *  - the node's files replaced by other-node's (signed by other-ca) and SIGHUP: scrapes
 *    trusting other-ca work (the client CA is still the test CA), ones trusting the test
 *    CA are refused; the originals back and SIGHUP: the test CA works again;
 *  - SIGTERM: the server exits 0 (the HTTPS daemon stopped cleanly). */
#include <CUnit/CUnit.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "it_tls.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define WAIT_MS 30000
#define CURL_EXIT_PEER_FAILED_VERIFICATION 60 /* curl's "SSL certificate problem" */

static zkt_cluster g_cl;
static zkv_client *g_client;
static int g_port;

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "metricstls") != 0 || it_tls_setup(&g_cl, true) != 0)
        return -1;
    g_cl.replicas = 1;
    char metrics[64];
    g_port = zkt_free_port();
    snprintf(metrics, sizeof(metrics), "127.0.0.1:%d", g_port);
    if (g_port <= 0 || zkt_cluster_server_flag(&g_cl, "--metrics", metrics) != 0)
        return -1;
    return it_cluster_up(&g_cl, 1, 10000, 0, &g_client);
}

static int suite_cleanup(void)
{
    it_tls_env_clear();
    return it_cluster_down(&g_cl, &g_client);
}

/* One curl run: its exit code (-1: it could not run), the HTTP status (0: no answer), the
 * body and curl's error text (malloc'd; free with scrape_free). */
typedef struct scrape {
    int code;
    int http;
    char *body;
    char *err;
} scrape;

static void scrape_free(scrape *s)
{
    free(s->body);
    free(s->err);
    s->body = s->err = NULL;
}

/* GET scheme://127.0.0.1:PORT/metrics with curl, trusting cacert (NULL: none given),
 * presenting cert and key (NULL: none). */
static scrape curl_get(const char *scheme, const char *cacert, const char *cert, const char *key)
{
    char url[64];
    snprintf(url, sizeof(url), "%s://127.0.0.1:%d/metrics", scheme, g_port);
    /* -q first: no ~/.curlrc; --noproxy: straight to 127.0.0.1 whatever the environment;
     * the status goes to stderr so that stdout is the body alone */
    const char *argv[24] = {
        "curl", "-q",        "--silent", "--show-error", "--max-time",
        "5",    "--noproxy", "*",        "--write-out",  "%{stderr}HTTP %{http_code}\n"};
    int n = 10;
    if (cacert) {
        argv[n++] = "--cacert";
        argv[n++] = cacert;
    }
    if (cert) {
        argv[n++] = "--cert";
        argv[n++] = cert;
        argv[n++] = "--key";
        argv[n++] = key;
    }
    argv[n++] = url;
    argv[n] = NULL;
    scrape s = {.code = -1};
    zkt_run_result r;
    if (zkt_run(argv, NULL, 0, 10000, &r) != 0)
        return s;
    s.code = r.code;
    s.body = r.out;
    s.err = r.err;
    const char *status = s.err ? strstr(s.err, "HTTP ") : NULL;
    s.http = status ? atoi(status + 5) : 0;
    return s;
}

/* Whether the body is the node's metrics. */
static bool has_metrics(const scrape *s)
{
    char line[128];
    snprintf(line, sizeof(line), "zkv_node_info{node=\"%s\"} 1\n", g_cl.servers[0].id);
    return s->body && strstr(s->body, "# TYPE zkv_") && strstr(s->body, line);
}

static void log_scrape(const char *what, const scrape *s)
{
    zkt_log("curl %s: exit %d, HTTP %d, stderr: %s, body: %.200s", what, s->code, s->http,
            s->err ? s->err : "", s->body ? s->body : "");
}

/* A scrape trusting *(const char **)arg as the CA, with the client certificate, answered
 * 200 with the metrics. */
static bool scrape_works(void *arg)
{
    scrape s = curl_get("https", *(const char **)arg, it_tls_file("client.pem"),
                        it_tls_file("client.key"));
    bool ok = s.code == 0 && s.http == 200 && has_metrics(&s);
    scrape_free(&s);
    return ok;
}

static void test_scrape(void)
{
    const char *version[] = {"curl", "-q", "--version", NULL};
    zkt_run_result r;
    bool have_curl = zkt_run(version, NULL, 0, 10000, &r) == 0 && r.code == 0;
    zkt_run_result_free(&r);
    if (!have_curl)
        zkt_log("no curl command line (Debian package curl, scripts/install-deps.sh)");
    CU_ASSERT_FATAL(have_curl);
    /* libzkv over TLS works too */
    CU_ASSERT_EQUAL(zkv_put(g_client, "k", 1, "v", 1, 5000, 0, NULL), ZKV_OK);
    char ca_path[PATH_MAX];
    snprintf(ca_path, sizeof(ca_path), "%s", it_tls_file("ca.pem"));
    const char *ca = ca_path;
    bool ok = zkt_wait_for(scrape_works, &ca, WAIT_MS);
    scrape s = curl_get("https", ca, it_tls_file("client.pem"), it_tls_file("client.key"));
    if (!ok)
        log_scrape("with the client certificate", &s);
    CU_ASSERT(ok);
    CU_ASSERT_EQUAL(s.http, 200);
    CU_ASSERT_PTR_NOT_NULL(s.body && strstr(s.body, "# TYPE zkv_requests_total counter\n"));
    scrape_free(&s);
}

/* A scrape that must get no metrics; returns it for the caller's checks. */
static scrape expect_refused(const char *what, const char *scheme, const char *cacert,
                             const char *cert, const char *key)
{
    scrape s = curl_get(scheme, cacert, cert, key);
    log_scrape(what, &s);
    CU_ASSERT(s.code != -1);
    CU_ASSERT(s.http != 200);
    CU_ASSERT_FALSE(has_metrics(&s));
    CU_ASSERT_PTR_NULL(s.body ? strstr(s.body, "zkv_") : NULL);
    return s;
}

static void test_refusals(void)
{
    /* no client certificate: the handshake completes (GnuTLS only asks for one) and the
     * request gets 403 saying why */
    scrape s =
        expect_refused("without a client certificate", "https", it_tls_file("ca.pem"), NULL, NULL);
    CU_ASSERT(s.code != 0 || s.http == 403);
    if (s.http == 403)
        CU_ASSERT_PTR_NOT_NULL(s.body && strstr(s.body, "client certificate"));
    scrape_free(&s);
    /* a client certificate of another CA */
    s = expect_refused("with a certificate of another CA", "https", it_tls_file("ca.pem"),
                       it_tls_file("other-node.pem"), it_tls_file("other-node.key"));
    CU_ASSERT(s.code != 0 || s.http == 403);
    scrape_free(&s);
    /* plain HTTP to the HTTPS endpoint: no answer */
    s = expect_refused("in plain HTTP", "http", NULL, NULL, NULL);
    CU_ASSERT(s.code != 0);
    CU_ASSERT_EQUAL(s.http, 0);
    scrape_free(&s);
    /* trusting another CA: curl refuses the node's certificate */
    s = expect_refused("trusting another CA", "https", it_tls_file("other-ca.pem"),
                       it_tls_file("client.pem"), it_tls_file("client.key"));
    CU_ASSERT_EQUAL(s.code, CURL_EXIT_PEER_FAILED_VERIFICATION);
    scrape_free(&s);
}

static bool reload_refused(void *arg)
{
    (void)arg;
    return it_log_count(g_cl.servers[0].log, "the TLS files in force stay") >= 1;
}

static bool scrape_fails(void *arg)
{
    return !scrape_works(arg);
}

static void sighup(void)
{
    CU_ASSERT_EQUAL(kill(g_cl.servers[0].pid, SIGHUP), 0);
}

static void test_reload(void)
{
    /* copies: it_tls_file's paths are reused after 8 calls */
    char ca_path[PATH_MAX], other_ca_path[PATH_MAX];
    snprintf(ca_path, sizeof(ca_path), "%s", it_tls_file("ca.pem"));
    snprintf(other_ca_path, sizeof(other_ca_path), "%s", it_tls_file("other-ca.pem"));
    const char *ca = ca_path, *other_ca = other_ca_path;
    CU_ASSERT_FATAL(it_tls_copy(it_tls_file("node.pem"), it_tls_file("node.pem.orig")) == 0);
    CU_ASSERT_FATAL(it_tls_copy(it_tls_file("node.key"), it_tls_file("node.key.orig")) == 0);
    /* a certificate that does not load: the reload is refused, the endpoint goes on */
    CU_ASSERT_FATAL(zkt_write_file(it_tls_file("node.pem"), "not a certificate\n", 18) == 0);
    sighup();
    CU_ASSERT(zkt_wait_for(reload_refused, NULL, WAIT_MS));
    CU_ASSERT(scrape_works(&ca));
    /* another CA's node certificate: scrapes trusting it work, client certificates of the
     * test CA still accepted */
    CU_ASSERT_FATAL(it_tls_copy(it_tls_file("other-node.pem"), it_tls_file("node.pem")) == 0);
    CU_ASSERT_FATAL(it_tls_copy(it_tls_file("other-node.key"), it_tls_file("node.key")) == 0);
    sighup();
    bool ok = zkt_wait_for(scrape_works, &other_ca, WAIT_MS);
    if (!ok) {
        scrape s =
            curl_get("https", other_ca, it_tls_file("client.pem"), it_tls_file("client.key"));
        log_scrape("trusting other-ca after the reload", &s);
        scrape_free(&s);
    }
    CU_ASSERT(ok);
    scrape s = expect_refused("trusting the test CA after the reload", "https", ca,
                              it_tls_file("client.pem"), it_tls_file("client.key"));
    CU_ASSERT_EQUAL(s.code, CURL_EXIT_PEER_FAILED_VERIFICATION);
    scrape_free(&s);
    s = expect_refused("without a client certificate after the reload", "https", other_ca, NULL,
                       NULL);
    CU_ASSERT(s.code != 0 || s.http == 403);
    scrape_free(&s);
    CU_ASSERT_EQUAL(it_log_count(g_cl.servers[0].log, "--metrics:"), 0);
    /* the originals back */
    CU_ASSERT_FATAL(it_tls_copy(it_tls_file("node.pem.orig"), it_tls_file("node.pem")) == 0);
    CU_ASSERT_FATAL(it_tls_copy(it_tls_file("node.key.orig"), it_tls_file("node.key")) == 0);
    sighup();
    CU_ASSERT(zkt_wait_for(scrape_works, &ca, WAIT_MS));
    CU_ASSERT(zkt_wait_for(scrape_fails, &other_ca, WAIT_MS));
}

/* A clean shutdown stops the HTTPS daemon before its buffers go (ASan checks the frees). */
static void test_sigterm(void)
{
    CU_ASSERT_EQUAL(zkt_server_stop(&g_cl, 0, SIGTERM), 0);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("metrics over TLS", suite_init, suite_cleanup);
    CU_add_test(s, "https with the CA and a client certificate: 200 and the metrics", test_scrape);
    CU_add_test(s, "no client certificate, another CA's, plain http, another CA: refused",
                test_refusals);
    CU_add_test(s, "certificate and key read again on SIGHUP; a broken file changes nothing",
                test_reload);
    CU_add_test(s, "SIGTERM with --metrics over TLS exits 0", test_sigterm);
    return zkt_run_all();
}
