/* test_common_tls.c: the TLS filter (common/tls.c) with a client and a server session
 * driven against each other in memory, over certificates scripts/test-ca.sh makes at suite
 * init: the handshake with data sent before it and 1 MiB each way, the names a server's
 * certificate must carry, untrusted and expired certificates, client certificates and the
 * common name they give, a peer that does not speak TLS, the context errors, and sessions
 * outliving their context (a reload). */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/tls.h"

#ifndef ZKV_TEST_CA_SCRIPT /* tests/unit/common.cmake gives its absolute path */
#define ZKV_TEST_CA_SCRIPT "scripts/test-ca.sh"
#endif

static char dir[64];
static char err[512];

static int setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/zkv-test-tls-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s' '%s' >/dev/null", ZKV_TEST_CA_SCRIPT, dir);
    if (system(cmd) == 0)
        return 0;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    (void)system(cmd);
    return -1;
}

static int teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* DIR/name; a few results may be alive at once. */
static const char *file(const char *name)
{
    static char paths[8][128];
    static unsigned next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof(paths[0]), "%s/%s", dir, name);
    return p;
}

/* A context from files of the test CA (NULL: not given); NULL with err when refused. */
static zkv_tls_ctx *ctx(bool server, const char *cert, const char *key, const char *ca,
                        const char *client_ca)
{
    zkv_tls_files f = {
        .cert = cert ? file(cert) : NULL,
        .key = key ? file(key) : NULL,
        .ca = ca ? file(ca) : NULL,
        .client_ca = client_ca ? file(client_ca) : NULL,
    };
    zkv_tls_ctx *c = NULL;
    err[0] = '\0';
    if (zkv_tls_ctx_new(&c, server, &f, err, sizeof err) != 0) {
        CU_ASSERT_PTR_NULL(c);
        return NULL;
    }
    return c;
}

/* One side of a connection: its session, the plaintext it received, how it ended. */
typedef struct side {
    zkv_tls *t;
    zkv_buf got;
    int rc; /* the first result other than ZKV_TLS_OK, or ZKV_TLS_OK */
} side;

/* Moves from's outbox into to's session; whether anything moved. */
static bool move(side *from, side *to)
{
    zkv_buf *out = zkv_tls_outbox(from->t);
    size_t n = zkv_buf_unread(out);
    if (n == 0)
        return false;
    if (to->rc == ZKV_TLS_OK) {
        int rc = zkv_tls_recv(to->t, zkv_buf_head(out), n, &to->got);
        if (rc != ZKV_TLS_OK)
            to->rc = rc;
    }
    zkv_buf_consume(out, n); /* a side that ended drops what reaches it */
    return true;
}

/* Moves bytes both ways until nothing moves (bounded). */
static void pump(side *c, side *s)
{
    for (int i = 0; i < 64; i++) {
        bool moved = move(c, s);
        moved |= move(s, c);
        if (!moved)
            return;
    }
    CU_FAIL("the sessions still talk after 64 rounds");
}

static void side_init(side *x, zkv_tls *t)
{
    x->t = t;
    zkv_buf_init(&x->got);
    x->rc = ZKV_TLS_OK;
}

/* A client session of cc for host and a server session of sc: whether both were made. */
static bool sides(const zkv_tls_ctx *cc, const char *host, const zkv_tls_ctx *sc, side *c, side *s)
{
    side_init(c, zkv_tls_new(cc, host));
    side_init(s, zkv_tls_new(sc, NULL));
    return c->t && s->t;
}

static void side_free(side *x)
{
    zkv_tls_free(x->t);
    zkv_buf_free(&x->got);
}

/* A handshake between a client of cc expecting host and a server of sc: c and s are left
 * for the caller to check and free. */
static void connect_sides(side *c, side *s, const zkv_tls_ctx *cc, const zkv_tls_ctx *sc,
                          const char *host)
{
    side_init(c, zkv_tls_new(cc, host));
    side_init(s, zkv_tls_new(sc, NULL));
    CU_ASSERT_PTR_NOT_NULL_FATAL(c->t);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s->t);
    CU_ASSERT_FALSE(zkv_tls_established(c->t));
    CU_ASSERT_FALSE(zkv_tls_established(s->t));
    c->rc = zkv_tls_start(c->t);
    CU_ASSERT_EQUAL(c->rc, ZKV_TLS_OK);
    CU_ASSERT(zkv_buf_unread(zkv_tls_outbox(c->t)) > 0); /* the ClientHello */
    pump(c, s);
}

static bool says(const char *msg, const char *what)
{
    if (strstr(msg, what))
        return true;
    fprintf(stderr, "\n  expected \"%s\" in \"%s\"\n", what, msg);
    return false;
}

/* A client of cc expecting host fails to verify a server of sc, saying what. */
static void client_refuses(const zkv_tls_ctx *cc, const zkv_tls_ctx *sc, const char *host,
                           const char *what)
{
    side c, s;
    connect_sides(&c, &s, cc, sc, host);
    CU_ASSERT_EQUAL(c.rc, ZKV_TLS_FAILED);
    CU_ASSERT_FALSE(zkv_tls_established(c.t));
    CU_ASSERT(says(zkv_tls_error(c.t), what));
    CU_ASSERT_NOT_EQUAL(s.rc, ZKV_TLS_OK); /* told by the client's alert */
    CU_ASSERT_FALSE(zkv_tls_established(s.t));
    side_free(&c);
    side_free(&s);
}

static void test_handshake_and_data(void)
{
    zkv_tls_ctx *sc = ctx(true, "node.pem", "node.key", NULL, NULL);
    zkv_tls_ctx *cc = ctx(false, NULL, NULL, "ca.pem", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cc);
    side c, s;
    CU_ASSERT_FATAL(sides(cc, "127.0.0.1", sc, &c, &s));
    CU_ASSERT_EQUAL(zkv_tls_start(c.t), ZKV_TLS_OK);

    /* plaintext sent before the handshake waits inside, and counts as held */
    static const char early[] = "HELLO before the handshake";
    zkv_buf b;
    zkv_buf_init(&b);
    CU_ASSERT_EQUAL(zkv_buf_append(&b, early, sizeof early), 0);
    size_t hello = zkv_buf_unread(zkv_tls_outbox(c.t));
    CU_ASSERT(hello > 0);
    CU_ASSERT_EQUAL(zkv_tls_send(c.t, &b), ZKV_TLS_OK);
    CU_ASSERT_EQUAL(zkv_buf_unread(&b), 0);
    CU_ASSERT_EQUAL(zkv_tls_held(c.t), hello + sizeof early);

    pump(&c, &s);
    CU_ASSERT_EQUAL(c.rc, ZKV_TLS_OK);
    CU_ASSERT_EQUAL(s.rc, ZKV_TLS_OK);
    CU_ASSERT_TRUE(zkv_tls_established(c.t));
    CU_ASSERT_TRUE(zkv_tls_established(s.t));
    CU_ASSERT_EQUAL(zkv_tls_held(c.t), 0);
    CU_ASSERT_EQUAL(zkv_tls_held(s.t), 0);
    CU_ASSERT_EQUAL_FATAL(zkv_buf_unread(&s.got), sizeof early);
    CU_ASSERT_EQUAL(memcmp(zkv_buf_head(&s.got), early, sizeof early), 0);
    CU_ASSERT_EQUAL(zkv_buf_unread(&c.got), 0);
    char cn[64];
    CU_ASSERT_FALSE(zkv_tls_peer_cn(s.t, cn, sizeof cn)); /* no client certificate */
    CU_ASSERT_TRUE(zkv_tls_peer_cn(c.t, cn, sizeof cn));
    CU_ASSERT_STRING_EQUAL(cn, ZKV_TLS_NODE_CN);
    zkv_buf_consume(&s.got, zkv_buf_unread(&s.got));

    /* 1 MiB each way, byte-exact */
    size_t big = (size_t)1 << 20;
    uint8_t *up = malloc(big), *down = malloc(big);
    if (!up || !down) {
        free(up);
        free(down);
        CU_FAIL_FATAL("out of memory");
        return;
    }
    for (size_t i = 0; i < big; i++) {
        up[i] = (uint8_t)(i * 7 + (i >> 11));
        down[i] = (uint8_t)(i * 13 + (i >> 9) + 1);
    }
    CU_ASSERT_EQUAL(zkv_buf_append(&b, up, big), 0);
    CU_ASSERT_EQUAL(zkv_tls_send(c.t, &b), ZKV_TLS_OK);
    CU_ASSERT_EQUAL(zkv_buf_unread(&b), 0);
    CU_ASSERT(zkv_tls_held(c.t) > big); /* ciphertext, with record overhead */
    CU_ASSERT_EQUAL(zkv_buf_append(&b, down, big), 0);
    CU_ASSERT_EQUAL(zkv_tls_send(s.t, &b), ZKV_TLS_OK);
    CU_ASSERT_EQUAL(zkv_buf_unread(&b), 0);
    pump(&c, &s);
    CU_ASSERT_EQUAL(c.rc, ZKV_TLS_OK);
    CU_ASSERT_EQUAL(s.rc, ZKV_TLS_OK);
    CU_ASSERT_EQUAL_FATAL(zkv_buf_unread(&s.got), big);
    CU_ASSERT_EQUAL(memcmp(zkv_buf_head(&s.got), up, big), 0);
    CU_ASSERT_EQUAL_FATAL(zkv_buf_unread(&c.got), big);
    CU_ASSERT_EQUAL(memcmp(zkv_buf_head(&c.got), down, big), 0);
    CU_ASSERT_EQUAL(zkv_tls_held(c.t), 0);
    CU_ASSERT_EQUAL(zkv_tls_held(s.t), 0);
    free(up);
    free(down);
    zkv_buf_free(&b);
    side_free(&c);
    side_free(&s);
    zkv_tls_ctx_free(cc);
    zkv_tls_ctx_free(sc);
}

static void test_server_names(void)
{
    zkv_tls_ctx *sc = ctx(true, "node.pem", "node.key", NULL, NULL);
    zkv_tls_ctx *cc = ctx(false, NULL, NULL, "ca.pem", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cc);
    static const char *const good[] = {"127.0.0.1", "localhost", "::1"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        side c, s;
        connect_sides(&c, &s, cc, sc, good[i]);
        if (c.rc != ZKV_TLS_OK)
            fprintf(stderr, "\n  %s: %s\n", good[i], zkv_tls_error(c.t));
        CU_ASSERT_EQUAL(c.rc, ZKV_TLS_OK);
        CU_ASSERT_EQUAL(s.rc, ZKV_TLS_OK);
        CU_ASSERT_TRUE(zkv_tls_established(c.t));
        CU_ASSERT_TRUE(zkv_tls_established(s.t));
        side_free(&c);
        side_free(&s);
    }
    client_refuses(cc, sc, "10.1.2.3", "certificate verify failed");
    client_refuses(cc, sc, "example.com", "certificate verify failed");
    client_refuses(cc, sc, "::2", "certificate verify failed");
    zkv_tls_ctx_free(cc);
    zkv_tls_ctx_free(sc);
}

static void test_untrusted_and_expired(void)
{
    zkv_tls_ctx *sc = ctx(true, "node.pem", "node.key", NULL, NULL);
    zkv_tls_ctx *other = ctx(false, NULL, NULL, "other-ca.pem", NULL);
    zkv_tls_ctx *expired = ctx(true, "expired.pem", "expired.key", NULL, NULL);
    zkv_tls_ctx *cc = ctx(false, NULL, NULL, "ca.pem", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(other);
    CU_ASSERT_PTR_NOT_NULL_FATAL(expired);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cc);
    client_refuses(other, sc, "127.0.0.1", "certificate verify failed");
    client_refuses(cc, expired, "127.0.0.1", "certificate verify failed");
    client_refuses(cc, expired, "127.0.0.1", "expired");
    zkv_tls_ctx_free(cc);
    zkv_tls_ctx_free(expired);
    zkv_tls_ctx_free(other);
    zkv_tls_ctx_free(sc);
}

/* A client of cc against a server of sc that requires client certificates: the server
 * refuses it, saying what. */
static void server_refuses(const zkv_tls_ctx *cc, const zkv_tls_ctx *sc, const char *what)
{
    side c, s;
    connect_sides(&c, &s, cc, sc, "127.0.0.1");
    CU_ASSERT_EQUAL(s.rc, ZKV_TLS_FAILED);
    CU_ASSERT_FALSE(zkv_tls_established(s.t));
    CU_ASSERT(says(zkv_tls_error(s.t), what));
    char cn[64];
    CU_ASSERT_FALSE(zkv_tls_peer_cn(s.t, cn, sizeof cn));
    /* TLS 1.3: the client may have finished its part; the server's alert ends it */
    CU_ASSERT_NOT_EQUAL(c.rc, ZKV_TLS_OK);
    side_free(&c);
    side_free(&s);
}

static void test_client_certificates(void)
{
    zkv_tls_ctx *sc = ctx(true, "node.pem", "node.key", NULL, "ca.pem");
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    static const struct {
        const char *cert, *key, *cn;
    } good[] = {
        {"client.pem", "client.key", "app"},
        {"node.pem", "node.key", ZKV_TLS_NODE_CN},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        zkv_tls_ctx *cc = ctx(false, good[i].cert, good[i].key, "ca.pem", NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(cc);
        side c, s;
        connect_sides(&c, &s, cc, sc, "127.0.0.1");
        CU_ASSERT_EQUAL(c.rc, ZKV_TLS_OK);
        CU_ASSERT_EQUAL(s.rc, ZKV_TLS_OK);
        CU_ASSERT_TRUE(zkv_tls_established(c.t));
        CU_ASSERT_TRUE(zkv_tls_established(s.t));
        char cn[64] = "";
        CU_ASSERT_TRUE(zkv_tls_peer_cn(s.t, cn, sizeof cn));
        CU_ASSERT_STRING_EQUAL(cn, good[i].cn);
        side_free(&c);
        side_free(&s);
        zkv_tls_ctx_free(cc);
    }
    /* no certificate */
    zkv_tls_ctx *cc = ctx(false, NULL, NULL, "ca.pem", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cc);
    server_refuses(cc, sc, "TLS: ");
    zkv_tls_ctx_free(cc);
    /* a certificate of another CA */
    cc = ctx(false, "other-node.pem", "other-node.key", "ca.pem", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cc);
    server_refuses(cc, sc, "certificate verify failed");
    zkv_tls_ctx_free(cc);
    zkv_tls_ctx_free(sc);
}

static void test_not_tls(void)
{
    zkv_tls_ctx *sc = ctx(true, "node.pem", "node.key", NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    zkv_tls *t = zkv_tls_new(sc, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    static const uint8_t frame[] = {0x00, 0x00, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o'};
    zkv_buf got;
    zkv_buf_init(&got);
    CU_ASSERT_EQUAL(zkv_tls_recv(t, frame, sizeof frame, &got), ZKV_TLS_FAILED);
    CU_ASSERT(says(zkv_tls_error(t), "does not speak TLS"));
    CU_ASSERT_EQUAL(zkv_buf_unread(&got), 0);
    CU_ASSERT_FALSE(zkv_tls_established(t));
    /* and it stays failed */
    CU_ASSERT_EQUAL(zkv_tls_recv(t, frame, sizeof frame, &got), ZKV_TLS_FAILED);
    zkv_buf_free(&got);
    zkv_tls_free(t);
    zkv_tls_ctx_free(sc);

    static const uint8_t hs[] = {0x16, 0x03}, zero[] = {0x00, 0x00}, half[] = {0x16, 0x00};
    CU_ASSERT_TRUE(zkv_tls_looks_like_tls(hs, 2));
    CU_ASSERT_FALSE(zkv_tls_looks_like_tls(zero, 2));
    CU_ASSERT_FALSE(zkv_tls_looks_like_tls(half, 2));
}

static void test_ctx_errors(void)
{
    /* a server needs a certificate */
    CU_ASSERT_PTR_NULL(ctx(true, NULL, NULL, "ca.pem", NULL));
    CU_ASSERT(err[0] != '\0');
    CU_ASSERT_PTR_NULL(ctx(true, NULL, NULL, NULL, "ca.pem"));
    CU_ASSERT(err[0] != '\0');
    /* missing files are named, with what the system said */
    CU_ASSERT_PTR_NULL(ctx(true, "missing.pem", "node.key", NULL, NULL));
    CU_ASSERT(says(err, file("missing.pem")) && says(err, "No such file"));
    CU_ASSERT_PTR_NULL(ctx(true, "node.pem", "missing.key", NULL, NULL));
    CU_ASSERT(says(err, file("missing.key")) && says(err, "No such file"));
    CU_ASSERT_PTR_NULL(ctx(false, NULL, NULL, "missing-ca.pem", NULL));
    CU_ASSERT(says(err, file("missing-ca.pem")) && says(err, "No such file"));
    CU_ASSERT_PTR_NULL(ctx(true, "node.pem", "node.key", NULL, "missing-ca.pem"));
    CU_ASSERT(says(err, file("missing-ca.pem")) && says(err, "No such file"));
    /* a file of the wrong kind */
    CU_ASSERT_PTR_NULL(ctx(true, "node.key", "node.key", NULL, NULL));
    CU_ASSERT(says(err, file("node.key")));
    /* a certificate without its key, and a key without its certificate */
    CU_ASSERT_PTR_NULL(ctx(true, "node.pem", NULL, NULL, NULL));
    CU_ASSERT(err[0] != '\0');
    CU_ASSERT_PTR_NULL(ctx(false, "client.pem", NULL, "ca.pem", NULL));
    CU_ASSERT(err[0] != '\0');
    CU_ASSERT_PTR_NULL(ctx(false, NULL, "client.key", "ca.pem", NULL));
    CU_ASSERT(err[0] != '\0');
    /* a key that is not the certificate's */
    CU_ASSERT_PTR_NULL(ctx(true, "node.pem", "client.key", NULL, NULL));
    CU_ASSERT(says(err, file("client.key")) && says(err, "mismatch"));
    /* and the good ones */
    zkv_tls_ctx *c = ctx(true, "node.pem", "node.key", NULL, "ca.pem");
    CU_ASSERT_PTR_NOT_NULL(c);
    zkv_tls_ctx_free(c);
    zkv_tls_ctx_free(NULL);
    zkv_tls_files none = {0}, cert = {.cert = "x"}, ca = {.ca = "x"}, empty = {"", "", "", ""};
    CU_ASSERT_FALSE(zkv_tls_wanted(NULL));
    CU_ASSERT_FALSE(zkv_tls_wanted(&none));
    CU_ASSERT_FALSE(zkv_tls_wanted(&empty));
    CU_ASSERT_TRUE(zkv_tls_wanted(&cert));
    CU_ASSERT_TRUE(zkv_tls_wanted(&ca));
}

static void test_context_freed_under_session(void)
{
    zkv_tls_ctx *sc = ctx(true, "node.pem", "node.key", NULL, "ca.pem");
    zkv_tls_ctx *cc = ctx(false, "client.pem", "client.key", "ca.pem", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cc);
    side c, s;
    CU_ASSERT_FATAL(sides(cc, "localhost", sc, &c, &s));
    /* a reload: the contexts go, the sessions made from them stay */
    zkv_tls_ctx_free(cc);
    zkv_tls_ctx_free(sc);
    CU_ASSERT_EQUAL(zkv_tls_start(c.t), ZKV_TLS_OK);
    zkv_buf b;
    zkv_buf_init(&b);
    CU_ASSERT_EQUAL(zkv_buf_append(&b, "ping", 4), 0);
    CU_ASSERT_EQUAL(zkv_tls_send(c.t, &b), ZKV_TLS_OK);
    pump(&c, &s);
    CU_ASSERT_EQUAL(c.rc, ZKV_TLS_OK);
    CU_ASSERT_EQUAL(s.rc, ZKV_TLS_OK);
    CU_ASSERT_TRUE(zkv_tls_established(c.t));
    CU_ASSERT_TRUE(zkv_tls_established(s.t));
    char cn[64] = "";
    CU_ASSERT_TRUE(zkv_tls_peer_cn(s.t, cn, sizeof cn));
    CU_ASSERT_STRING_EQUAL(cn, "app");
    CU_ASSERT_EQUAL_FATAL(zkv_buf_unread(&s.got), 4);
    CU_ASSERT_EQUAL(memcmp(zkv_buf_head(&s.got), "ping", 4), 0);
    zkv_buf_free(&b);
    side_free(&c);
    side_free(&s);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("common_tls", setup, teardown);
    CU_add_test(s, "handshake, early data and 1 MiB each way", test_handshake_and_data);
    CU_add_test(s, "the server's certificate must name the host", test_server_names);
    CU_add_test(s, "untrusted and expired server certificates", test_untrusted_and_expired);
    CU_add_test(s, "client certificates and their common name", test_client_certificates);
    CU_add_test(s, "a peer that does not speak TLS", test_not_tls);
    CU_add_test(s, "context errors name the file", test_ctx_errors);
    CU_add_test(s, "sessions outlive their context", test_context_freed_under_session);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    /* a suite whose init failed ran nothing: that is a failure too */
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
