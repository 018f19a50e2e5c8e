/* gateway.c: zkv-http-gateway, a web server that embeds libzkv (README.md): a REST API over
 * one shared zkv_client, served by libmicrohttpd's thread pool (each request's libzkv call
 * blocks its pool thread, as a web server's handler would). The API's rules are gw_api.c's;
 * this file is the HTTP shell: flags, the daemon, reading bodies, answering. */
#include <microhttpd.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zkv/zkv.h>

#include "gw_api.h"

#define MAX_KEY 4096

typedef struct gateway {
    zkv_client *c;
    size_t max_body;
} gateway;

/* A request being read: its body (PUT). */
typedef struct req_ctx {
    char *body;
    size_t len, cap;
    bool too_large;
} req_ctx;

static enum MHD_Result answer(struct MHD_Connection *conn, int status, const char *type,
                              const void *body, size_t len, const char *etag,
                              const char *extra_name, const char *extra_value)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (etag)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
    if (extra_name && extra_value)
        MHD_add_response_header(r, extra_name, extra_value);
    if (status == 503)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result answer_json(struct MHD_Connection *conn, int status, const char *json,
                                   const char *etag)
{
    return answer(conn, status, "application/json", json, strlen(json), etag, NULL, NULL);
}

/* The JSON error of a libzkv failure (code, its reason), with the key's version when a
 * condition failed. */
static enum MHD_Result answer_error(struct MHD_Connection *conn, int code, const char *why,
                                    const zkv_version *version)
{
    char *json = gw_json_error(code, why && why[0] ? why : NULL, version);
    if (!json)
        return MHD_NO;
    char etag[64];
    if (version)
        gw_etag(*version, etag, sizeof etag);
    enum MHD_Result rc = answer_json(conn, gw_http_status(code), json, version ? etag : NULL);
    free(json);
    return rc;
}

static enum MHD_Result bad_request(struct MHD_Connection *conn, const char *why)
{
    return answer_error(conn, ZKV_EINVAL, why, NULL);
}

static enum MHD_Result on_get(gateway *g, struct MHD_Connection *conn, const uint8_t *key,
                              size_t klen)
{
    zkv_value *v = NULL;
    int rc = zkv_get(g->c, key, klen, 0, 0, &v);
    if (rc != ZKV_OK)
        return answer_error(conn, rc, zkv_last_error(), NULL);
    char etag[64], stale[200] = "";
    gw_etag(zkv_value_version(v), etag, sizeof etag);
    if (zkv_value_stale(v)) { /* a replica answered: the owner is down (docs/api.md) */
        zkv_version pos = zkv_value_position(v);
        snprintf(stale, sizeof stale, "replica %s at %" PRIu64 ":%" PRIu64, zkv_value_node(v),
                 pos.epoch, pos.seq);
    }
    enum MHD_Result res =
        answer(conn, 200, "application/octet-stream", zkv_value_data(v), zkv_value_len(v), etag,
               stale[0] ? "Zkv-Stale" : NULL, stale[0] ? stale : NULL);
    zkv_value_free(v);
    return res;
}

/* A write's answer: {"version":"E:S"} and its ETag. */
static enum MHD_Result answer_written(struct MHD_Connection *conn, int status, zkv_version v)
{
    char etag[64], json[96];
    gw_etag(v, etag, sizeof etag);
    snprintf(json, sizeof json, "{\"version\":\"%" PRIu64 ":%" PRIu64 "\"}\n", v.epoch, v.seq);
    return answer_json(conn, status, json, etag);
}

/* The condition of If-Match / If-None-Match: ZKV_IF_VERSION with *v, ZKV_IF_ABSENT, or 0;
 * -1 for a value that is not an ETag (a 400). */
static int condition_of(struct MHD_Connection *conn, zkv_version *v)
{
    const char *m = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MATCH);
    const char *nm =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    bool any;
    if (nm)
        return gw_etag_parse(nm, &any, v) == 0 && any ? ZKV_IF_ABSENT : -1;
    if (!m)
        return 0;
    if (gw_etag_parse(m, &any, v) != 0 || any)
        return -1; /* (If-Match: * would be "exists": not a condition zkv has) */
    return ZKV_IF_VERSION;
}

static enum MHD_Result on_put(gateway *g, struct MHD_Connection *conn, const uint8_t *key,
                              size_t klen, const req_ctx *rq)
{
    if (rq->too_large)
        return answer_error(conn, ZKV_ETOOLARGE, "the body is larger than the gateway's --max-body",
                            NULL);
    zkv_version expected = {0, 0}, ver = {0, 0};
    int cond = condition_of(conn, &expected);
    if (cond < 0)
        return bad_request(conn, "If-Match wants one \"EPOCH:SEQ\" ETag, If-None-Match only *");
    uint64_t ttl = 0;
    const char *t = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Zkv-TTL");
    if (t && gw_ttl_parse(t, &ttl) != 0)
        return bad_request(conn, "Zkv-TTL is whole seconds, 1 to 315360000");
    int rc = zkv_put_ex(g->c, key, klen, rq->body ? rq->body : "", rq->len, cond, expected, ttl, 0,
                        0, &ver);
    if (rc == ZKV_ECONDITION)
        return answer_error(conn, rc, "condition failed: the key's version is another", &ver);
    if (rc != ZKV_OK)
        return answer_error(conn, rc, zkv_last_error(), NULL);
    return answer_written(conn, cond == ZKV_IF_ABSENT ? 201 : 200, ver);
}

static enum MHD_Result on_delete(gateway *g, struct MHD_Connection *conn, const uint8_t *key,
                                 size_t klen)
{
    zkv_version expected = {0, 0}, ver = {0, 0};
    int cond = condition_of(conn, &expected);
    if (cond < 0 || cond == ZKV_IF_ABSENT)
        return bad_request(conn, "a delete takes If-Match with one \"EPOCH:SEQ\" ETag");
    int rc = cond ? zkv_del_if(g->c, key, klen, expected, 0, 0, &ver)
                  : zkv_del(g->c, key, klen, 0, 0, &ver);
    if (rc == ZKV_ECONDITION)
        return answer_error(conn, rc, "condition failed: the key's version is another", &ver);
    if (rc != ZKV_OK)
        return answer_error(conn, rc, zkv_last_error(), NULL);
    return answer_written(conn, 200, ver);
}

/* A query argument, percent-decoded into out (NUL-terminated); its length, or -1 when it
 * is absent or malformed. */
static long query_arg(struct MHD_Connection *conn, const char *name, uint8_t *out, size_t cap)
{
    const char *raw = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
    if (!raw)
        return -1;
    long n = gw_percent_decode(raw, strlen(raw), out, cap - 1);
    if (n >= 0)
        out[n] = '\0';
    return n;
}

/* GET /kv?prefix=&start=&end=&limit=&reverse=1&keys_only=1&token=: one page of a scan. */
static enum MHD_Result on_scan(gateway *g, struct MHD_Connection *conn)
{
    static __thread uint8_t prefix[MAX_KEY + 1], start[MAX_KEY + 1], end[MAX_KEY + 1],
        token[4 * MAX_KEY + 64], num[32];
    (void)num;
    zkv_scan_args args;
    memset(&args, 0, sizeof args);
    long n;
    if ((n = query_arg(conn, "prefix", prefix, sizeof prefix)) >= 0) {
        args.prefix = prefix;
        args.plen = (size_t)n;
    }
    if ((n = query_arg(conn, "start", start, sizeof start)) >= 0) {
        args.start = start;
        args.slen = (size_t)n;
    }
    if ((n = query_arg(conn, "end", end, sizeof end)) >= 0) {
        args.end = end;
        args.elen = (size_t)n;
    }
    if (query_arg(conn, "limit", num, sizeof num) >= 0) {
        char *e;
        unsigned long lim = strtoul((const char *)num, &e, 10);
        if (*e || lim == 0 || lim > 10000)
            return bad_request(conn, "limit is 1 to 10000");
        args.limit = lim;
    } else {
        args.limit = 100;
    }
    args.reverse = query_arg(conn, "reverse", num, sizeof num) >= 0 && num[0] == '1';
    args.keys_only = query_arg(conn, "keys_only", num, sizeof num) >= 0 && num[0] == '1';
    const char *hex = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
    if (hex) {
        n = gw_hex_decode(hex, token, sizeof token);
        if (n <= 0)
            return bad_request(conn, "token is the hex text a page's \"token\" gave");
        args.token = token;
        args.tlen = (size_t)n;
    }
    zkv_scan *s = NULL;
    int rc = zkv_scan_run(g->c, &args, 0, 0, &s);
    if (rc != ZKV_OK)
        return answer_error(conn, rc, zkv_last_error(), NULL);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int err = gw_json_raw(&buf, &len, &cap, "{\"items\":[");
    for (size_t i = 0; !err && i < zkv_scan_count(s); i++) {
        size_t kl, vl;
        const void *k = zkv_scan_key(s, i, &kl), *v = zkv_scan_value(s, i, &vl);
        err |= gw_json_raw(&buf, &len, &cap, i ? ",{\"key\":" : "{\"key\":");
        err |= gw_json_bytes(&buf, &len, &cap, k, kl);
        if (!args.keys_only) {
            err |= gw_json_raw(&buf, &len, &cap, ",\"value\":");
            err |= gw_json_bytes(&buf, &len, &cap, v, vl);
        }
        err |= gw_json_raw(&buf, &len, &cap, "}");
    }
    size_t toklen = 0;
    const uint8_t *tok = zkv_scan_token(s, &toklen);
    char tail[128];
    snprintf(tail, sizeof tail,
             "],\"stale\":%s,\"more\":%s,\"token\":", zkv_scan_stale(s) ? "true" : "false",
             tok ? "true" : "false");
    err |= gw_json_raw(&buf, &len, &cap, tail);
    if (tok) {
        char *txt = malloc(2 * toklen + 1);
        err |= !txt;
        if (txt) {
            gw_hex_encode(tok, toklen, txt);
            err |= gw_json_raw(&buf, &len, &cap, "\"");
            err |= gw_json_raw(&buf, &len, &cap, txt);
            err |= gw_json_raw(&buf, &len, &cap, "\"}\n");
            free(txt);
        }
    } else {
        err |= gw_json_raw(&buf, &len, &cap, "null}\n");
    }
    zkv_scan_free(s);
    enum MHD_Result res = err ? MHD_NO : answer_json(conn, 200, buf, NULL);
    free(buf);
    return res;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    (void)version;
    gateway *g = cls;
    req_ctx *rq = *req_cls;
    if (!rq) { /* the headers: make the request's context, read the body next */
        rq = calloc(1, sizeof *rq);
        *req_cls = rq;
        return rq ? MHD_YES : MHD_NO;
    }
    if (*upload_size) { /* a piece of the body */
        if (rq->len + *upload_size > g->max_body) {
            rq->too_large = true;
        } else {
            if (rq->len + *upload_size > rq->cap) {
                size_t nc = rq->cap ? rq->cap * 2 : 4096;
                while (nc < rq->len + *upload_size)
                    nc *= 2;
                char *nb = realloc(rq->body, nc);
                if (!nb)
                    return MHD_NO;
                rq->body = nb;
                rq->cap = nc;
            }
            memcpy(rq->body + rq->len, upload, *upload_size);
            rq->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    static __thread uint8_t key[MAX_KEY + 1];
    long klen = gw_key_of_path(url, key, MAX_KEY + 1);
    if (klen < 0)
        return answer_error(conn, ZKV_ENOTFOUND,
                            strncmp(url, "/kv/", 4) == 0
                                ? "a key's bytes in a path are percent-encoded (%00 for NUL)"
                                : "not found: the API is at /kv/KEY and /kv (README.md)",
                            NULL);
    if (klen > MAX_KEY)
        return answer_error(conn, ZKV_ETOOLARGE, "a key is at most 4096 bytes", NULL);
    bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
    if (klen == 0) {
        if (get)
            return on_scan(g, conn);
        return answer(conn, 405, "application/json",
                      "{\"error\":\"/kv answers GET (a scan)\",\"code\":\"METHOD\"}\n", 52, NULL,
                      MHD_HTTP_HEADER_ALLOW, "GET");
    }
    if (get)
        return on_get(g, conn, key, (size_t)klen);
    if (strcmp(method, MHD_HTTP_METHOD_PUT) == 0)
        return on_put(g, conn, key, (size_t)klen, rq);
    if (strcmp(method, MHD_HTTP_METHOD_DELETE) == 0)
        return on_delete(g, conn, key, (size_t)klen);
    return answer(conn, 405, "application/json",
                  "{\"error\":\"a key answers GET, PUT and DELETE\",\"code\":\"METHOD\"}\n", 62,
                  NULL, MHD_HTTP_HEADER_ALLOW, "GET, PUT, DELETE");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    req_ctx *rq = *req_cls;
    if (rq) {
        free(rq->body);
        free(rq);
    }
    *req_cls = NULL;
}

/* Leaves the URL as the client sent it: the handler percent-decodes keys itself, with
 * their length (a key may hold NUL bytes). */
static size_t keep_escapes(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "Usage: %s [--zk CONNECT] [--cluster NAME] [--listen-port PORT] [--threads N] "
            "[--max-body BYTES]\n"
            "A REST gateway to a zkv cluster: GET/PUT/DELETE /kv/KEY, GET /kv?prefix=... "
            "(README.md).\n",
            prog);
}

int main(int argc, char **argv)
{
    const char *zk = getenv("ZKV_ZK"), *cluster = getenv("ZKV_CLUSTER");
    long port = 8080, threads = 8, max_body = 1 << 20;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage(argv[0]);
            return 2;
        }
        char *end = NULL;
        if (strcmp(a, "--zk") == 0)
            zk = v;
        else if (strcmp(a, "--cluster") == 0)
            cluster = v;
        else if (strcmp(a, "--listen-port") == 0)
            port = strtol(v, &end, 10);
        else if (strcmp(a, "--threads") == 0)
            threads = strtol(v, &end, 10);
        else if (strcmp(a, "--max-body") == 0)
            max_body = strtol(v, &end, 10);
        else {
            usage(argv[0]);
            return 2;
        }
        if ((end && *end) || port <= 0 || port > 65535 || threads < 1 || threads > 1024 ||
            max_body < 0) {
            fprintf(stderr, "zkv-http-gateway: bad value for %s: %s\n", a, v);
            return 2;
        }
        i++;
    }
    zkv_options *o = zkv_options_create();
    if (!o)
        return 1;
    if ((zk && zkv_options_set_zk(o, zk) != ZKV_OK) ||
        (cluster && zkv_options_set_cluster(o, cluster) != ZKV_OK) ||
        zkv_options_set_client_name(o, "zkv-http-gateway") != ZKV_OK ||
        zkv_options_set_max_value(o, (size_t)max_body) != ZKV_OK) {
        fprintf(stderr, "zkv-http-gateway: %s\n", zkv_last_error());
        zkv_options_free(o);
        return 2;
    }
    gateway g = {.max_body = (size_t)max_body};
    int rc = zkv_client_create(o, &g.c);
    zkv_options_free(o);
    if (rc != ZKV_OK) {
        fprintf(stderr, "zkv-http-gateway: %s: %s\n", zkv_strerror(rc), zkv_last_error());
        return 1;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, (uint16_t)port, NULL,
        NULL, on_request, &g, MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes,
        NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "zkv-http-gateway: cannot listen on port %ld\n", port);
        zkv_client_free(g.c);
        return 1;
    }
    fprintf(stderr, "zkv-http-gateway: serving on port %ld with %ld threads\n", port, threads);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    while (!g_stop)
        pause();
    MHD_stop_daemon(d);
    zkv_client_free(g.c);
    fprintf(stderr, "zkv-http-gateway: stopped\n");
    return 0;
}
