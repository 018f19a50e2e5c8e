/* test_http_gateway.c: zkv-http-gateway end to end with curl against a live 3-node cluster
 * (issue 13, item 6; client/examples/http-gateway/README.md): GET, PUT and DELETE of keys
 * (binary ones percent-encoded, checked against libzkv), versions as ETags with
 * compare-and-set through If-Match and put-if-absent through If-None-Match, expiry by the
 * Zkv-TTL header, scans paged by their token, the errors as statuses with JSON bodies, and
 * an owner killed while clients read and write: reads keep answering (flagged stale until a
 * new owner serves), writes answer 503 and then 200 again. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

static zkt_cluster g_cl;
static zkv_client *g_client;
static int g_port;
static pid_t g_gw;

typedef struct http {
    int code;
    char *text; /* headers and body as curl -i printed them */
    const char *body;
} http;

/* curl -i -X method URL (path and query as given) with up to two headers and a body file. */
static http curl(const char *method, const char *path, const char *h1, const char *h2,
                 const char *body_file)
{
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", g_port, path);
    const char *argv[16] = {"curl", "-s", "-i", "-X", method, "--max-time", "30"};
    int n = 7;
    if (h1) {
        argv[n++] = "-H";
        argv[n++] = h1;
    }
    if (h2) {
        argv[n++] = "-H";
        argv[n++] = h2;
    }
    char data[600];
    if (body_file) {
        snprintf(data, sizeof data, "@%s", body_file);
        argv[n++] = "--data-binary";
        argv[n++] = data;
    }
    argv[n++] = url;
    argv[n] = NULL;
    zkt_run_result r;
    http h = {0};
    if (zkt_run(argv, NULL, 0, 40000, &r) != 0)
        return h;
    h.text = r.out;
    r.out = NULL;
    zkt_run_result_free(&r);
    /* the final answer: past any interim "100 Continue" (curl asks for one on large bodies) */
    const char *at = h.text;
    while (at && sscanf(at, "HTTP/1.1 %d", &h.code) == 1) {
        const char *b = strstr(at, "\r\n\r\n");
        h.body = b ? b + 4 : "";
        if (h.code != 100 || !b)
            break;
        at = b + 4;
    }
    return h;
}

/* A header's value in h ("" when absent), into out. */
static const char *header(const http *h, const char *name, char *out, size_t n)
{
    out[0] = '\0';
    char want[128];
    snprintf(want, sizeof want, "\r\n%s: ", name);
    const char *p = h->text ? strcasestr(h->text, want) : NULL;
    if (p) {
        p += strlen(want);
        size_t len = strcspn(p, "\r\n");
        snprintf(out, n, "%.*s", (int)(len < n ? len : n - 1), p);
    }
    return out;
}

static const char *file_with(const char *name, const void *data, size_t len)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", zkt_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
    return path;
}

static bool gateway_up(void *arg)
{
    (void)arg;
    http h = curl("GET", "/kv/up-probe", NULL, NULL, NULL);
    free(h.text);
    return h.code == 404;
}

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "gateway") != 0 ||
        it_cluster_up(&g_cl, 3, 10000, 1000, &g_client) != 0)
        return -1;
    const char *bin = zkt_bin("ZKV_GATEWAY_BIN");
    if (!bin)
        return -1;
    g_port = zkt_free_port();
    char port[16], log[512];
    snprintf(port, sizeof port, "%d", g_port);
    zkt_path(log, sizeof log, "gateway.log");
    const char *argv[] = {
        bin, "--zk", g_cl.zk.connect, "--cluster", g_cl.name, "--listen-port", port, "--threads",
        "4", NULL};
    g_gw = zkt_spawn("gateway", argv, log);
    return g_gw > 0 && zkt_wait_for(gateway_up, NULL, 20000) ? 0 : -1;
}

static int suite_cleanup(void)
{
    if (g_gw > 0)
        zkt_proc_stop(g_gw, 10000);
    return it_cluster_down(&g_cl, &g_client);
}

static void test_basics(void)
{
    http h = curl("PUT", "/kv/user%3A1", NULL, NULL, file_with("v1", "alice", 5));
    char etag[64], again[64];
    CU_ASSERT_EQUAL(h.code, 200);
    header(&h, "ETag", etag, sizeof etag);
    CU_ASSERT(etag[0] == '"' && strchr(etag, ':'));
    CU_ASSERT(h.body && strstr(h.body, "{\"version\":\""));
    free(h.text);
    h = curl("GET", "/kv/user%3A1", NULL, NULL, NULL);
    CU_ASSERT_EQUAL(h.code, 200);
    CU_ASSERT(h.body && strcmp(h.body, "alice") == 0);
    CU_ASSERT_STRING_EQUAL(header(&h, "ETag", again, sizeof again), etag);
    free(h.text);
    /* the same key through libzkv */
    zkv_value *v = NULL;
    CU_ASSERT_EQUAL(zkv_get(g_client, "user:1", 6, 0, 0, &v), ZKV_OK);
    CU_ASSERT(v && zkv_value_len(v) == 5 && memcmp(zkv_value_data(v), "alice", 5) == 0);
    zkv_value_free(v);
    h = curl("DELETE", "/kv/user%3A1", NULL, NULL, NULL);
    CU_ASSERT_EQUAL(h.code, 200);
    free(h.text);
    h = curl("GET", "/kv/user%3A1", NULL, NULL, NULL);
    CU_ASSERT_EQUAL(h.code, 404);
    CU_ASSERT(h.body && strstr(h.body, "\"code\":\"ZKV_ENOTFOUND\""));
    free(h.text);
    /* a binary key and value, as libzkv sees them */
    static const char bin_val[] = {'x', 0, (char)0xff, 'y'};
    h = curl("PUT", "/kv/b%00%FFk", NULL, NULL, file_with("v2", bin_val, sizeof bin_val));
    CU_ASSERT_EQUAL(h.code, 200);
    free(h.text);
    CU_ASSERT_EQUAL(zkv_get(g_client, "b\0\xffk", 4, 0, 0, &v), ZKV_OK);
    CU_ASSERT(v && zkv_value_len(v) == 4 && memcmp(zkv_value_data(v), bin_val, 4) == 0);
    zkv_value_free(v);
    h = curl("GET", "/kv/b%00%FFk", NULL, NULL, NULL);
    CU_ASSERT(h.code == 200 && h.body && memcmp(h.body, bin_val, 4) == 0);
    free(h.text);
}

static void test_conditions_and_ttl(void)
{
    const char *one = file_with("one", "1", 1), *two = file_with("two", "2", 1);
    http h = curl("PUT", "/kv/cas", "If-None-Match: *", NULL, one);
    CU_ASSERT_EQUAL(h.code, 201);
    char etag[64], cur[64], hdr[100];
    header(&h, "ETag", etag, sizeof etag);
    free(h.text);
    h = curl("PUT", "/kv/cas", "If-None-Match: *", NULL, two);
    CU_ASSERT_EQUAL(h.code, 412);
    CU_ASSERT_STRING_EQUAL(header(&h, "ETag", cur, sizeof cur), etag);
    CU_ASSERT(h.body && strstr(h.body, "\"code\":\"ZKV_ECONDITION\""));
    free(h.text);
    snprintf(hdr, sizeof hdr, "If-Match: %s", etag);
    h = curl("PUT", "/kv/cas", hdr, NULL, two); /* compare-and-set */
    CU_ASSERT_EQUAL(h.code, 200);
    header(&h, "ETag", cur, sizeof cur);
    CU_ASSERT_STRING_NOT_EQUAL(cur, etag);
    free(h.text);
    h = curl("PUT", "/kv/cas", hdr, NULL, one); /* the old version: refused */
    CU_ASSERT_EQUAL(h.code, 412);
    free(h.text);
    h = curl("DELETE", "/kv/cas", hdr, NULL, NULL);
    CU_ASSERT_EQUAL(h.code, 412);
    free(h.text);
    h = curl("PUT", "/kv/cas", "If-Match: nonsense", NULL, one);
    CU_ASSERT_EQUAL(h.code, 400);
    free(h.text);
    /* expiry by header */
    h = curl("PUT", "/kv/session", "Zkv-TTL: 1", NULL, one);
    CU_ASSERT_EQUAL(h.code, 200);
    free(h.text);
    h = curl("GET", "/kv/session", NULL, NULL, NULL);
    CU_ASSERT_EQUAL(h.code, 200);
    free(h.text);
    int code = 0;
    for (uint64_t t0 = zkt_now_ms(); zkt_now_ms() - t0 < 10000 && code != 404;) {
        h = curl("GET", "/kv/session", NULL, NULL, NULL);
        code = h.code;
        free(h.text);
    }
    CU_ASSERT_EQUAL(code, 404);
    h = curl("PUT", "/kv/session", "Zkv-TTL: soon", NULL, one);
    CU_ASSERT_EQUAL(h.code, 400);
    free(h.text);
}

static void test_scan_pages(void)
{
    for (int i = 0; i < 25; i++) {
        char k[16];
        snprintf(k, sizeof k, "page:%02d", i);
        CU_ASSERT_EQUAL(zkv_put(g_client, k, strlen(k), "v", 1, 0, 0, NULL), ZKV_OK);
    }
    char path[600] = "/kv?prefix=page%3A&limit=10";
    int seen = 0, pages = 0;
    for (;;) {
        http h = curl("GET", path, NULL, NULL, NULL);
        CU_ASSERT_EQUAL_FATAL(h.code, 200);
        for (const char *p = h.body; (p = strstr(p, "{\"key\":\"page:")) != NULL; p++) {
            int n = atoi(p + 13);
            CU_ASSERT_EQUAL(n, seen); /* in key order, none twice or missing */
            seen++;
        }
        pages++;
        const char *t = strstr(h.body, "\"token\":\"");
        bool more = strstr(h.body, "\"more\":true") != NULL;
        if (t)
            snprintf(path, sizeof path, "/kv?prefix=page%%3A&limit=10&token=%.*s",
                     (int)strcspn(t + 9, "\""), t + 9);
        free(h.text);
        if (!more || !t || pages > 10)
            break;
    }
    CU_ASSERT_EQUAL(seen, 25);
    CU_ASSERT_EQUAL(pages, 3);
}

static void test_errors(void)
{
    http h = curl("POST", "/kv/x", NULL, NULL, file_with("p", "x", 1));
    char allow[64];
    CU_ASSERT_EQUAL(h.code, 405);
    CU_ASSERT_STRING_EQUAL(header(&h, "Allow", allow, sizeof allow), "GET, PUT, DELETE");
    free(h.text);
    h = curl("GET", "/other", NULL, NULL, NULL);
    CU_ASSERT_EQUAL(h.code, 404);
    CU_ASSERT(h.body && strstr(h.body, "\"error\":"));
    free(h.text);
    h = curl("GET", "/kv/bad%zz", NULL, NULL, NULL);
    CU_ASSERT_EQUAL(h.code, 404);
    free(h.text);
    static char big[(1 << 20) + 10];
    memset(big, 'b', sizeof big);
    h = curl("PUT", "/kv/big", NULL, NULL, file_with("big", big, sizeof big));
    if (h.code != 413)
        zkt_log("a body past the limit: %d %.300s", h.code, h.text ? h.text : "");
    CU_ASSERT_EQUAL(h.code, 413);
    free(h.text);
    h = curl("GET", "/kv?limit=0", NULL, NULL, NULL);
    CU_ASSERT_EQUAL(h.code, 400);
    free(h.text);
}

/* The server index of the owner of key's range now. */
static int owner_of(const char *key)
{
    zkt_map *m = zkt_cluster_map(&g_cl);
    int idx = -1;
    for (int i = 0; m && i < m->n_ranges && idx < 0; i++) {
        const zkt_map_range *r = &m->ranges[i];
        size_t kl = strlen(key);
        bool after_start = r->start_len == 0 ||
                           memcmp(key, r->start, kl < r->start_len ? kl : r->start_len) > 0 ||
                           (memcmp(key, r->start, kl < r->start_len ? kl : r->start_len) == 0 &&
                            kl >= r->start_len);
        bool before_end =
            r->end_len == 0 || memcmp(key, r->end, kl < r->end_len ? kl : r->end_len) < 0 ||
            (memcmp(key, r->end, kl < r->end_len ? kl : r->end_len) == 0 && kl < r->end_len);
        if (after_start && before_end)
            idx = zkt_cluster_server_index(&g_cl, r->owner);
    }
    zkt_map_free(m);
    return idx;
}

static void test_failover(void)
{
    http h = curl("PUT", "/kv/fo%3A1", NULL, NULL, file_with("fo", "before", 6));
    CU_ASSERT_EQUAL_FATAL(h.code, 200);
    free(h.text);
    int victim = owner_of("fo:1");
    CU_ASSERT_FATAL(victim >= 0);
    zkt_log("killing %s, the owner of fo:1", g_cl.servers[victim].id);
    zkt_server_stop(&g_cl, victim, SIGKILL);
    int reads = 0, stale = 0, writes_ok = 0, unavailable = 0, other = 0;
    for (uint64_t t0 = zkt_now_ms(); zkt_now_ms() - t0 < 30000 && writes_ok < 3;) {
        char st[200];
        h = curl("GET", "/kv/fo%3A1", NULL, NULL, NULL);
        if (h.code == 200 && h.body &&
            (strcmp(h.body, "before") == 0 || strcmp(h.body, "after") == 0))
            reads++;
        else
            other++;
        stale += header(&h, "Zkv-Stale", st, sizeof st)[0] != '\0';
        free(h.text);
        h = curl("PUT", "/kv/fo%3A1", NULL, NULL, file_with("fo2", "after", 5));
        if (h.code == 200)
            writes_ok++;
        else if (h.code == 503)
            unavailable++;
        else
            other++;
        free(h.text);
    }
    zkt_log("during the failover: %d good reads (%d stale), %d writes ok, %d 503, %d other", reads,
            stale, writes_ok, unavailable, other);
    CU_ASSERT_EQUAL(other, 0);
    CU_ASSERT(reads > 0);
    CU_ASSERT_EQUAL(writes_ok, 3);
    h = curl("GET", "/kv/fo%3A1", NULL, NULL, NULL);
    CU_ASSERT(h.code == 200 && h.body && strcmp(h.body, "after") == 0);
    free(h.text);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("http gateway", suite_init, suite_cleanup);
    CU_add_test(s, "GET, PUT, DELETE; binary keys", test_basics);
    CU_add_test(s, "If-Match, If-None-Match, Zkv-TTL", test_conditions_and_ttl);
    CU_add_test(s, "scans paged by token", test_scan_pages);
    CU_add_test(s, "errors as statuses with JSON bodies", test_errors);
    CU_add_test(s, "an owner fails over under reads and writes", test_failover);
    return zkt_run_all();
}
