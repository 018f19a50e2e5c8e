/* tls.c: TLS sessions over memory BIOs (tls.h). The session never touches a socket: what
 * arrives is written into the read BIO, OpenSSL's output is drained from the write BIO
 * into the outbox after every call. Plaintext sent before the handshake completes waits
 * in `pending` and goes out when it does. Contexts require TLS 1.2 or later, verify the
 * peer always (servers only when a client CA is set), and issue no session tickets: zkv's
 * connections live long, resumption would buy nothing. */
#include "common/tls.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define READ_ROOM ((size_t)16 * 1024)

struct zkv_tls_ctx {
    SSL_CTX *ctx;
};

struct zkv_tls {
    SSL *ssl;
    BIO *rb, *wb;
    zkv_buf outbox;  /* ciphertext to send */
    zkv_buf pending; /* plaintext sent before the handshake completed */
    bool got_bytes;  /* anything arrived yet (to tell a peer that does not speak TLS) */
    bool failed;
    char err[256];
};

static bool given(const char *s)
{
    return s && *s;
}

bool zkv_tls_wanted(const zkv_tls_files *f)
{
    return f && (given(f->cert) || given(f->ca));
}

/* OpenSSL's last queued reason, or fallback; clears the queue. A failed system call (a
 * file that is missing or may not be read) says what the system said: OpenSSL's own
 * entries call that only "system lib". */
static const char *ssl_reason(const char *fallback)
{
    unsigned long e, last = 0, sys = 0;
    while ((e = ERR_get_error()) != 0) {
        if (ERR_SYSTEM_ERROR(e) && !sys)
            sys = e;
        last = e;
    }
    if (sys)
        return strerror(ERR_GET_REASON(sys));
    const char *r = last ? ERR_reason_error_string(last) : NULL;
    return r ? r : fallback;
}

static int ctx_fail(SSL_CTX *ctx, char *err, size_t errlen, const char *what, const char *file)
{
    snprintf(err, errlen, "TLS: cannot load %s %s: %s", what, file,
             ssl_reason("not a PEM file of that kind"));
    SSL_CTX_free(ctx);
    return -1;
}

static int load_own(SSL_CTX *ctx, const zkv_tls_files *f, char *err, size_t errlen)
{
    if (given(f->cert) != given(f->key)) {
        snprintf(err, errlen, "TLS: --tls-cert and --tls-key go together");
        SSL_CTX_free(ctx);
        return -1;
    }
    if (!given(f->cert))
        return 0;
    if (SSL_CTX_use_certificate_chain_file(ctx, f->cert) != 1)
        return ctx_fail(ctx, err, errlen, "certificate", f->cert);
    if (SSL_CTX_use_PrivateKey_file(ctx, f->key, SSL_FILETYPE_PEM) != 1)
        return ctx_fail(ctx, err, errlen, "private key", f->key);
    if (SSL_CTX_check_private_key(ctx) != 1)
        return ctx_fail(ctx, err, errlen, "private key (it does not match the certificate)",
                        f->key);
    return 0;
}

int zkv_tls_ctx_new(zkv_tls_ctx **out, bool server, const zkv_tls_files *f, char *err,
                    size_t errlen)
{
    *out = NULL;
    if (server && !given(f->cert)) {
        snprintf(err, errlen, "TLS: a node needs --tls-cert and --tls-key");
        return -1;
    }
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) {
        snprintf(err, errlen, "TLS: %s", ssl_reason("cannot make a context"));
        return -1;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS); /* idle connections hold no buffers */
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (load_own(ctx, f, err, errlen) != 0)
        return -1;
    if (server) {
        if (given(f->client_ca)) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(f->client_ca);
            if (!names || SSL_CTX_load_verify_locations(ctx, f->client_ca, NULL) != 1) {
                sk_X509_NAME_pop_free(names, X509_NAME_free);
                return ctx_fail(ctx, err, errlen, "client CA", f->client_ca);
            }
            SSL_CTX_set_client_CA_list(ctx, names);
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        }
    } else {
        if (given(f->ca) ? SSL_CTX_load_verify_locations(ctx, f->ca, NULL) != 1
                         : SSL_CTX_set_default_verify_paths(ctx) != 1)
            return ctx_fail(ctx, err, errlen, "CA", given(f->ca) ? f->ca : "(system default)");
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    zkv_tls_ctx *c = malloc(sizeof *c);
    if (!c) {
        SSL_CTX_free(ctx);
        snprintf(err, errlen, "TLS: out of memory");
        return -1;
    }
    c->ctx = ctx;
    *out = c;
    return 0;
}

void zkv_tls_ctx_free(zkv_tls_ctx *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ctx); /* sessions hold their own references */
    free(ctx);
}

int zkv_tls_node_ctxs(const zkv_tls_files *f, zkv_tls_ctx **accept, zkv_tls_ctx **connect,
                      char *err, size_t errlen)
{
    *accept = *connect = NULL;
    if (!given(f->cert)) {
        if (!given(f->ca) && !given(f->client_ca) && !given(f->key))
            return 0;
        snprintf(err, errlen,
                 "TLS: a node with --tls-ca, --tls-client-ca or --tls-key needs "
                 "--tls-cert too (its TLS is on or off for clients and nodes alike)");
        return -1;
    }
    if (zkv_tls_ctx_new(accept, true, f, err, errlen) != 0)
        return -1;
    if (zkv_tls_ctx_new(connect, false, f, err, errlen) != 0) {
        zkv_tls_ctx_free(*accept);
        *accept = NULL;
        return -1;
    }
    return 0;
}

/* A client verifies that the server's certificate names the host it connected to. */
static int expect_host(SSL *ssl, const char *host)
{
    unsigned char addr[sizeof(struct in6_addr)];
    bool ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    if (ip)
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 ? 0 : -1;
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, host) != 1)
        return -1;
    return SSL_set_tlsext_host_name(ssl, host) == 1 ? 0 : -1;
}

zkv_tls *zkv_tls_new(const zkv_tls_ctx *ctx, const char *peer_host)
{
    zkv_tls *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ssl = SSL_new(ctx->ctx);
    t->rb = BIO_new(BIO_s_mem());
    t->wb = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rb || !t->wb) {
        BIO_free(t->rb);
        BIO_free(t->wb);
        SSL_free(t->ssl);
        free(t);
        return NULL;
    }
    BIO_set_mem_eof_return(t->rb, -1); /* an empty read BIO means "wait for more" */
    SSL_set_bio(t->ssl, t->rb, t->wb);
    if (peer_host) {
        SSL_set_connect_state(t->ssl);
        if (expect_host(t->ssl, peer_host) != 0) {
            zkv_tls_free(t);
            return NULL;
        }
    } else {
        SSL_set_accept_state(t->ssl);
    }
    return t;
}

void zkv_tls_free(zkv_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl); /* frees both BIOs */
    zkv_buf_free(&t->outbox);
    zkv_buf_free(&t->pending);
    free(t);
}

static int fail(zkv_tls *t, const char *fmt, const char *what)
{
    t->failed = true;
    snprintf(t->err, sizeof t->err, fmt, what);
    ERR_clear_error();
    return ZKV_TLS_FAILED;
}

/* The reason of a failed call: a certificate that did not verify says why. */
static int fail_ssl(zkv_tls *t)
{
    long vr = SSL_get_verify_result(t->ssl);
    if (vr != X509_V_OK)
        return fail(t, "TLS: certificate verify failed: %s", X509_verify_cert_error_string(vr));
    return fail(t, "TLS: %s", ssl_reason("the session failed"));
}

/* Moves OpenSSL's output to the outbox. */
static int drain(zkv_tls *t)
{
    size_t n;
    while ((n = BIO_ctrl_pending(t->wb)) > 0) {
        if (zkv_buf_reserve(&t->outbox, n) != 0)
            return fail(t, "TLS: %s", "out of memory");
        int got = BIO_read(t->wb, t->outbox.data + t->outbox.len, (int)(n > INT_MAX ? INT_MAX : n));
        if (got <= 0)
            break;
        t->outbox.len += (size_t)got;
    }
    return ZKV_TLS_OK;
}

/* Encrypts all of b (consuming it) once the handshake is done. */
static int write_all(zkv_tls *t, zkv_buf *b)
{
    while (zkv_buf_unread(b) > 0) {
        size_t n = zkv_buf_unread(b);
        int w = SSL_write(t->ssl, zkv_buf_head(b), (int)(n > INT_MAX ? INT_MAX : n));
        if (w <= 0) {
            if (SSL_get_error(t->ssl, w) == SSL_ERROR_WANT_READ)
                break; /* cannot happen once established without renegotiation; keep it */
            return fail_ssl(t);
        }
        zkv_buf_consume(b, (size_t)w);
        if (drain(t) != ZKV_TLS_OK)
            return ZKV_TLS_FAILED;
    }
    return drain(t);
}

int zkv_tls_start(zkv_tls *t)
{
    int r = SSL_do_handshake(t->ssl);
    if (r <= 0 && SSL_get_error(t->ssl, r) != SSL_ERROR_WANT_READ)
        return fail_ssl(t);
    return drain(t);
}

int zkv_tls_send(zkv_tls *t, zkv_buf *plain)
{
    if (t->failed)
        return ZKV_TLS_FAILED;
    if (!SSL_is_init_finished(t->ssl) || zkv_buf_unread(&t->pending) > 0) {
        if (zkv_buf_append(&t->pending, zkv_buf_head(plain), zkv_buf_unread(plain)) != 0)
            return fail(t, "TLS: %s", "out of memory");
        zkv_buf_consume(plain, zkv_buf_unread(plain));
        if (!SSL_is_init_finished(t->ssl))
            return ZKV_TLS_OK;
        plain = &t->pending;
    }
    return write_all(t, plain);
}

int zkv_tls_recv(zkv_tls *t, const void *cipher, size_t len, zkv_buf *plain)
{
    if (t->failed)
        return ZKV_TLS_FAILED;
    if (len > 0 && !t->got_bytes) {
        t->got_bytes = true;
        uint8_t b0 = *(const uint8_t *)cipher;
        if (b0 < 0x14 || b0 > 0x17) /* not a TLS record type */
            return fail(t, "TLS: %s",
                        "the peer does not speak TLS (a node started without --tls-cert?)");
    }
    if (len > INT_MAX || (len > 0 && BIO_write(t->rb, cipher, (int)len) != (int)len))
        return fail(t, "TLS: %s", "out of memory");
    for (;;) {
        if (zkv_buf_reserve(plain, READ_ROOM) != 0)
            return fail(t, "TLS: %s", "out of memory");
        size_t room = plain->cap - plain->len;
        int n = SSL_read(t->ssl, plain->data + plain->len, (int)(room > INT_MAX ? INT_MAX : room));
        if (n > 0) {
            plain->len += (size_t)n;
            continue;
        }
        int e = SSL_get_error(t->ssl, n);
        if (e == SSL_ERROR_WANT_READ)
            break;
        drain(t); /* an alert to tell the peer why */
        if (e == SSL_ERROR_ZERO_RETURN)
            return ZKV_TLS_CLOSED;
        return fail_ssl(t);
    }
    if (SSL_is_init_finished(t->ssl) && zkv_buf_unread(&t->pending) > 0)
        return write_all(t, &t->pending);
    return drain(t);
}

zkv_buf *zkv_tls_outbox(zkv_tls *t)
{
    return &t->outbox;
}

size_t zkv_tls_held(const zkv_tls *t)
{
    return zkv_buf_unread(&t->outbox) + zkv_buf_unread(&t->pending);
}

bool zkv_tls_established(const zkv_tls *t)
{
    return SSL_is_init_finished(t->ssl) == 1;
}

const char *zkv_tls_error(const zkv_tls *t)
{
    return t->err[0] ? t->err : "TLS: no error";
}

bool zkv_tls_peer_cn(const zkv_tls *t, char *out, size_t outlen)
{
    X509 *cert = SSL_get1_peer_certificate(t->ssl);
    if (!cert)
        return false;
    bool ok = SSL_get_verify_result(t->ssl) == X509_V_OK &&
              X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, out,
                                        (int)(outlen > INT_MAX ? INT_MAX : outlen)) > 0;
    X509_free(cert);
    return ok;
}

bool zkv_tls_looks_like_tls(const uint8_t *b, size_t len)
{
    return len >= 1 && b[0] == 0x16 && (len < 2 || b[1] == 0x03);
}
