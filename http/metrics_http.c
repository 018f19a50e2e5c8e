/* metrics_http.c: the libmicrohttpd shell of --metrics (see metrics_http.h). The listening
 * socket is made here (getaddrinfo, SO_REUSEADDR, bind, listen) and kept for the life of
 * the endpoint; each daemon is handed a dup of it, so a failure to bind comes back with
 * its errno ("Address already in use") instead of libmicrohttpd's bare NULL, and a reload
 * starts the new daemon on the same socket before the old one stops: no moment without a
 * listener, no rebinding that could fail. Requests are answered on the daemon's internal
 * thread from a copy of the published text taken under the mutex; nothing here prints.
 *
 * HTTPS is libmicrohttpd's, over GnuTLS. The PEM files are read here and loaded into a
 * throwaway GnuTLS credential first, the way libmicrohttpd will load them, only to name
 * the file that is wrong (libmicrohttpd just fails). With a client CA, libmicrohttpd 0.9.75
 * makes GnuTLS request a client certificate but not require or check it (it sets
 * GNUTLS_CERT_REQUEST and nothing else), so every request first verifies the peer's
 * certificate against that CA (gnutls_certificate_verify_peers, for client use, as
 * OpenSSL checks the node's clients) and gets 403 without one that passes. */
#include "metrics_http.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/util.h"

/* TLS 1.2 or later, as the node's own connections (common/tls.c). */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* One libmicrohttpd daemon and what it was started with (its requests' closure). */
typedef struct daemon_run {
    zkv_metrics_http *h;
    struct MHD_Daemon *daemon;
    bool verify_clients; /* HTTPS with a client CA: every request checks the certificate */
    char *trust;         /* the client CA's PEM text: libmicrohttpd keeps the pointer */
} daemon_run;

struct zkv_metrics_http {
    int listen_fd; /* ours; each daemon serves (and closes) a dup of it */
    bool ipv6;
    char where[300]; /* "host:port", for messages */
    daemon_run *run; /* the daemon serving now (touched by the caller's thread only) */
    pthread_mutex_t mu;
    zkv_buf text;        /* the latest rendering (guarded by mu) */
    zkv_buf status;      /* the latest /status page (guarded by mu) */
    bool ready;          /* /ready answers 200 (guarded by mu) */
    char not_ready[256]; /* why not, for the 503's body (guarded by mu) */
};

static enum MHD_Result queue_typed(struct MHD_Connection *conn, unsigned int code, const char *body,
                                   size_t len, enum MHD_ResponseMemoryMode mode, const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free((void *)body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result rc = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result queue_text(struct MHD_Connection *conn, unsigned int code, const char *body,
                                  size_t len, enum MHD_ResponseMemoryMode mode)
{
    return queue_typed(conn, code, body, len, mode, ZKV_METRICS_CONTENT_TYPE);
}

/* Whether the client of conn presented a certificate the client CA signed, for client
 * use, valid now; false with the reason in why. */
static bool client_verified(struct MHD_Connection *conn, char *why, size_t whylen)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t session = ci ? (gnutls_session_t)ci->tls_session : NULL;
    if (!session) {
        snprintf(why, whylen, "not a TLS connection");
        return false;
    }
    gnutls_typed_vdata_st purpose = {.type = GNUTLS_DT_KEY_PURPOSE_OID,
                                     .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT};
    unsigned int status = 0;
    int rc = gnutls_certificate_verify_peers(session, &purpose, 1, &status);
    if (rc == GNUTLS_E_NO_CERTIFICATE_FOUND) {
        snprintf(why, whylen, "no client certificate presented");
        return false;
    }
    if (rc < 0) {
        snprintf(why, whylen, "%s", gnutls_strerror(rc));
        return false;
    }
    if (status == 0)
        return true;
    gnutls_datum_t text = {NULL, 0};
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) == 0 &&
        text.data)
        snprintf(why, whylen, "%s", (const char *)text.data);
    else
        snprintf(why, whylen, "the client certificate is not trusted");
    gnutls_free(text.data);
    return false;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    daemon_run *run = cls;
    zkv_metrics_http *h = run->h;
    static const char NOT_FOUND[] =
        "not found: the metrics are at /metrics, a status page at /status, readiness at /ready\n";
    static const char BAD_METHOD[] = "method not allowed\n";
    if (run->verify_clients) {
        char why[256], body[400];
        if (!client_verified(conn, why, sizeof(why))) {
            int n = snprintf(body, sizeof(body),
                             "forbidden: a client certificate signed by the node's "
                             "--tls-client-ca is required (%s)\n",
                             why);
            size_t len = n < 0 ? 0 : (size_t)n < sizeof(body) ? (size_t)n : sizeof(body) - 1;
            return queue_text(conn, MHD_HTTP_FORBIDDEN, body, len, MHD_RESPMEM_MUST_COPY);
        }
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return queue_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, BAD_METHOD, sizeof(BAD_METHOD) - 1,
                          MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/ready") == 0) { /* a readiness probe: 200 while serving, else 503 */
        char body[300];
        pthread_mutex_lock(&h->mu);
        bool ready = h->ready;
        snprintf(body, sizeof body, "%s\n", ready ? "ready" : h->not_ready);
        pthread_mutex_unlock(&h->mu);
        return queue_typed(conn, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body,
                           strlen(body), MHD_RESPMEM_MUST_COPY, "text/plain; charset=utf-8");
    }
    bool status = strcmp(url, "/status") == 0;
    if (!status && strcmp(url, "/metrics") != 0)
        return queue_text(conn, MHD_HTTP_NOT_FOUND, NOT_FOUND, sizeof(NOT_FOUND) - 1,
                          MHD_RESPMEM_PERSISTENT);
    pthread_mutex_lock(&h->mu);
    const zkv_buf *page = status ? &h->status : &h->text;
    size_t len = zkv_buf_unread(page);
    char *copy = malloc(len ? len : 1);
    if (copy && len)
        memcpy(copy, zkv_buf_head(page), len);
    pthread_mutex_unlock(&h->mu);
    if (!copy)
        return MHD_NO;
    return queue_typed(conn, MHD_HTTP_OK, copy, len, MHD_RESPMEM_MUST_FREE,
                       status ? ZKV_STATUS_CONTENT_TYPE : ZKV_METRICS_CONTENT_TYPE);
}

/* A listening socket on host:port; -1 with the reason in err. *ipv6 says its family. */
static int listen_on(const char *host, int port, bool *ipv6, char *err, size_t errlen)
{
    char ports[16];
    snprintf(ports, sizeof(ports), "%d", port);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int grc = getaddrinfo(host, ports, &hints, &res);
    if (grc != 0) {
        snprintf(err, errlen, "cannot resolve %s:%d: %s", host, port, gai_strerror(grc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    *ipv6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return fd;
}

static bool given(const char *s)
{
    return s && *s;
}

/* The PEM text of the files of one HTTPS daemon. */
typedef struct pems {
    char *cert, *key, *trust; /* trust NULL: no client CA */
} pems;

static void pems_free(pems *p)
{
    free(p->cert);
    if (p->key) {
        explicit_bzero(p->key, strlen(p->key));
        free(p->key);
    }
    free(p->trust);
    *p = (pems){NULL, NULL, NULL};
}

static char *read_pem(const char *what, const char *path, char *err, size_t errlen)
{
    char *text = zkv_read_file(path, NULL);
    if (!text)
        snprintf(err, errlen, "TLS: cannot read %s %s: %s", what, path, strerror(errno));
    return text;
}

/* Reads tls's files and loads them into a GnuTLS credential as libmicrohttpd will, to
 * name what is wrong. 0 with p filled, or -1 with err (and p empty). */
static int load_pems(const zkv_tls_files *tls, pems *p, char *err, size_t errlen)
{
    *p = (pems){NULL, NULL, NULL};
    if (!given(tls->key)) {
        snprintf(err, errlen, "TLS: --tls-cert and --tls-key go together");
        return -1;
    }
    if (!(p->cert = read_pem("certificate", tls->cert, err, errlen)) ||
        !(p->key = read_pem("key", tls->key, err, errlen)) ||
        (given(tls->client_ca) &&
         !(p->trust = read_pem("client CA", tls->client_ca, err, errlen)))) {
        pems_free(p);
        return -1;
    }
    gnutls_certificate_credentials_t cred;
    if (gnutls_certificate_allocate_credentials(&cred) != GNUTLS_E_SUCCESS) {
        snprintf(err, errlen, "TLS: out of memory");
        pems_free(p);
        return -1;
    }
    gnutls_datum_t cert = {(unsigned char *)p->cert, (unsigned int)strlen(p->cert)};
    gnutls_datum_t key = {(unsigned char *)p->key, (unsigned int)strlen(p->key)};
    int rc = gnutls_certificate_set_x509_key_mem(cred, &cert, &key, GNUTLS_X509_FMT_PEM);
    if (rc < 0)
        snprintf(err, errlen, "TLS: cannot load certificate %s with key %s: %s", tls->cert,
                 tls->key, gnutls_strerror(rc));
    if (rc >= 0 && p->trust) {
        gnutls_datum_t ca = {(unsigned char *)p->trust, (unsigned int)strlen(p->trust)};
        rc = gnutls_certificate_set_x509_trust_mem(cred, &ca, GNUTLS_X509_FMT_PEM);
        if (rc <= 0)
            snprintf(err, errlen, "TLS: cannot load client CA %s: %s", tls->client_ca,
                     rc < 0 ? gnutls_strerror(rc) : "no certificate in it");
        rc = rc <= 0 ? -1 : 0;
    }
    gnutls_certificate_free_credentials(cred);
    if (rc < 0) {
        pems_free(p);
        return -1;
    }
    return 0;
}

/* Starts a daemon of h on a dup of its socket: plain, or HTTPS with tls's files. 0 with
 * *out, or -1 with err. */
static int run_start(zkv_metrics_http *h, const zkv_tls_files *tls, daemon_run **out, char *err,
                     size_t errlen)
{
    *out = NULL;
    bool https = tls && given(tls->cert);
    pems p = {NULL, NULL, NULL};
    if (https && load_pems(tls, &p, err, errlen) != 0)
        return -1;
    daemon_run *run = calloc(1, sizeof(*run));
    int fd = run ? fcntl(h->listen_fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (fd < 0) {
        snprintf(err, errlen, "cannot start the HTTP%s server on %s: %s", https ? "S" : "",
                 h->where, run ? strerror(errno) : "out of memory");
        free(run);
        pems_free(&p);
        return -1;
    }
    run->h = h;
    run->verify_clients = p.trust != NULL;
    run->trust = p.trust;
    p.trust = NULL;
    /* epoll (or poll), never select: a node with over 1,024 connections has descriptors
     * beyond FD_SETSIZE, and MHD's select loop cannot serve those. ITC: the daemon's
     * thread is woken to stop through its own pipe, never by shutdown(2) of the listening
     * socket, which the next daemon of a reload shares. */
    unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | (h->ipv6 ? MHD_USE_IPv6 : 0);
    if (https)
        run->daemon = MHD_start_daemon(
            flags | MHD_USE_TLS, 0, NULL, NULL, on_request, run, MHD_OPTION_LISTEN_SOCKET,
            (MHD_socket)fd, MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_HTTPS_MEM_CERT, p.cert,
            MHD_OPTION_HTTPS_MEM_KEY, p.key, MHD_OPTION_HTTPS_MEM_TRUST, run->trust,
            MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES, MHD_OPTION_END);
    else
        run->daemon =
            MHD_start_daemon(flags, 0, NULL, NULL, on_request, run, MHD_OPTION_LISTEN_SOCKET,
                             (MHD_socket)fd, MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    pems_free(&p); /* the certificate and key are GnuTLS's now; only the trust pointer stays */
    if (!run->daemon) {
        /* fd is not closed here: libmicrohttpd closes a socket it was given on nearly
         * every failure, and closing a number another thread may have reused since would
         * be worse than the rare descriptor leaked. */
        snprintf(err, errlen, "cannot start the HTTP%s server on %s", https ? "S" : "", h->where);
        free(run->trust);
        free(run);
        return -1;
    }
    *out = run;
    return 0;
}

/* Stops run's daemon and frees it. handover: its socket is shared with a successor, so
 * it stops accepting first and its dup is closed here, after its thread is gone. */
static void run_stop(daemon_run *run, bool handover)
{
    if (!run)
        return;
    MHD_socket fd = handover ? MHD_quiesce_daemon(run->daemon) : MHD_INVALID_SOCKET;
    MHD_stop_daemon(run->daemon); /* joins its thread; closes its socket unless quiesced */
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    free(run->trust);
    free(run);
}

int zkv_metrics_http_start(const char *host, int port, const zkv_tls_files *tls,
                           zkv_metrics_http **out, char *err, size_t errlen)
{
    *out = NULL;
    zkv_metrics_http *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    h->listen_fd = listen_on(host, port, &h->ipv6, err, errlen);
    if (h->listen_fd < 0) {
        free(h);
        return -1;
    }
    snprintf(h->where, sizeof(h->where), "%s:%d", host, port);
    pthread_mutex_init(&h->mu, NULL);
    zkv_buf_init(&h->text);
    zkv_buf_init(&h->status);
    snprintf(h->not_ready, sizeof h->not_ready, "not ready: starting");
    if (run_start(h, tls, &h->run, err, errlen) != 0) {
        close(h->listen_fd);
        pthread_mutex_destroy(&h->mu);
        free(h);
        return -1;
    }
    *out = h;
    return 0;
}

int zkv_metrics_http_reload(zkv_metrics_http *h, const zkv_tls_files *tls, char *err, size_t errlen)
{
    daemon_run *next = NULL;
    if (run_start(h, tls, &next, err, errlen) != 0)
        return -1; /* the running daemon goes on */
    daemon_run *old = h->run;
    h->run = next;
    run_stop(old, true);
    return 0;
}

/* Swaps *slot (guarded by mu) with *text and empties what text gets back. */
static void swap_in(zkv_metrics_http *h, zkv_buf *slot, zkv_buf *text)
{
    pthread_mutex_lock(&h->mu);
    zkv_buf old = *slot;
    *slot = *text;
    pthread_mutex_unlock(&h->mu);
    *text = old;
    text->len = text->off = 0;
}

void zkv_metrics_http_publish(zkv_metrics_http *h, zkv_buf *text)
{
    swap_in(h, &h->text, text);
}

void zkv_metrics_http_publish_status(zkv_metrics_http *h, zkv_buf *html)
{
    swap_in(h, &h->status, html);
}

void zkv_metrics_http_set_ready(zkv_metrics_http *h, bool ready, const char *why)
{
    pthread_mutex_lock(&h->mu);
    h->ready = ready;
    snprintf(h->not_ready, sizeof h->not_ready, "not ready: %s", why ? why : "starting");
    pthread_mutex_unlock(&h->mu);
}

void zkv_metrics_http_stop(zkv_metrics_http *h)
{
    if (!h)
        return;
    run_stop(h->run, false);
    close(h->listen_fd);
    zkv_buf_free(&h->text);
    zkv_buf_free(&h->status);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
