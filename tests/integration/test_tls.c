/* test_tls.c: TLS and mutual TLS end to end (docs/security.md, "TLS"). A test CA from
 * scripts/test-ca.sh; three servers and a coordinator with the node certificate, the CA
 * to trust, and --tls-client-ca (mutual TLS); 2 ranges, 3 copies each.
 *  - A client with the CA and a client certificate writes and reads; every replica is in
 *    sync (replication runs over TLS, nodes authenticated by their node certificates).
 *  - Refused, each with a clear error and no data: a client without a certificate, one
 *    that trusts another CA, one with an expired certificate, one in plain TCP, and a
 *    client certificate that claims a node id.
 *  - The owner of a range killed: the coordinator asks the replicas' positions over TLS
 *    and fails the range over; every key reads back.
 *  - A node's certificate replaced by one of another CA and SIGHUP: new connections get
 *    the new one (a client trusting the test CA is refused), the open ones stay up; the
 *    old files back and SIGHUP: new clients work again. A file that does not load keeps
 *    the certificate in force. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "it_common.h"
#include "it_tls.h"
#include "it_repl.h"
#include "it_wire.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_KEYS 200
#define WAIT_MS 30000

static zkt_cluster g_cl;
static zkv_client *g_client;
static int g_gens[N_KEYS];

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "tls") != 0 || it_tls_setup(&g_cl, true) != 0)
        return -1;
    g_cl.ranges = 2;
    g_cl.replicas = 3;
    return it_cluster_up(&g_cl, 3, 10000, 0, &g_client);
}

static int suite_cleanup(void)
{
    it_tls_env_clear();
    return it_cluster_down(&g_cl, &g_client);
}

static void test_mutual_tls(void)
{
    CU_ASSERT_EQUAL(it_put_keys(g_client, 0, N_KEYS, 1, g_gens), 0);
    CU_ASSERT_EQUAL(it_read_keys(g_client, N_KEYS, g_gens), 0);
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
}

/* A client with these files: a put fails saying `says`, a get too, and no data comes. */
static void expect_refused(const char *what, const char *ca, const char *cert, const char *key,
                           const char *says)
{
    CU_ASSERT_EQUAL(it_tls_put(&g_cl, what, ca, cert, key), ZKV_EAUTH);
    CU_ASSERT_PTR_NOT_NULL(strstr(zkv_last_error(), says));
    zkv_client *c = it_tls_client(&g_cl, ca, cert, key);
    CU_ASSERT_FATAL(c != NULL);
    zkv_value *v = NULL;
    uint8_t key_bytes[IT_KEY_MAX];
    size_t kl = it_key(0, key_bytes);
    CU_ASSERT_EQUAL(zkv_get(c, key_bytes, kl, 0, 0, &v), ZKV_EAUTH);
    CU_ASSERT_PTR_NULL(v);
    zkv_client_free(c);
}

static void test_refusals(void)
{
    expect_refused("without a certificate", it_tls_file("ca.pem"), NULL, NULL,
                   "certificate required");
    expect_refused("trusting another CA", it_tls_file("other-ca.pem"), it_tls_file("client.pem"),
                   it_tls_file("client.key"), "certificate verify failed");
    expect_refused("with an expired certificate", it_tls_file("ca.pem"), it_tls_file("expired.pem"),
                   it_tls_file("expired.key"), "expired");
    expect_refused("with a certificate of another CA", it_tls_file("ca.pem"),
                   it_tls_file("other-node.pem"), it_tls_file("other-node.key"), "unknown ca");
    /* plain TCP: the node answers the HELLO that it requires TLS */
    CU_ASSERT_EQUAL(it_tls_put(&g_cl, "in plain TCP", NULL, NULL, NULL), ZKV_EBADREQUEST);
    CU_ASSERT_PTR_NOT_NULL(strstr(zkv_last_error(), "requires TLS"));
    /* a file that does not load: zkv_client_create says which */
    CU_ASSERT_PTR_NULL(it_tls_client(&g_cl, it_tls_file("missing.pem"), NULL, NULL));
    CU_ASSERT_PTR_NOT_NULL(strstr(zkv_last_error(), "missing.pem"));
}

static void test_failover(void)
{
    int victim = it_kill_first_owner(&g_cl, WAIT_MS);
    CU_ASSERT_FATAL(victim >= 0);
    CU_ASSERT_EQUAL(it_read_keys(g_client, N_KEYS, g_gens), 0);
    /* the coordinator had every live replica's position, over TLS */
    CU_ASSERT_EQUAL(it_log_count(g_cl.coords[0].log, "no position from"), 0);
    /* the victim back: it catches up over TLS */
    CU_ASSERT_EQUAL_FATAL(zkt_server_start(&g_cl, victim), 0);
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
}

/* Whether a new client trusting the test CA can put through server 0 (it owns ranges or
 * not: the put goes to an owner, so every server carries the reloaded files). */
static bool new_client_works(void *arg)
{
    (void)arg;
    zkv_client *c = it_tls_client(&g_cl, it_tls_file("ca.pem"), it_tls_file("client.pem"),
                                  it_tls_file("client.key"));
    int rc = c ? zkv_put(c, "reload", 6, "v", 1, 0, 0, NULL) : ZKV_ENOMEM;
    zkv_client_free(c);
    return rc == ZKV_OK;
}

static bool new_client_refused(void *arg)
{
    return !new_client_works(arg);
}

static void sighup_all(void)
{
    for (int i = 0; i < g_cl.n_servers; i++)
        CU_ASSERT_EQUAL(kill(g_cl.servers[i].pid, SIGHUP), 0);
}

/* Every server logged that a reload was refused. */
static bool reload_refused(void *arg)
{
    (void)arg;
    for (int i = 0; i < g_cl.n_servers; i++)
        if (it_log_count(g_cl.servers[i].log, "the TLS files in force stay") < 1)
            return false;
    return true;
}

/* The servers read the node files of the test CA: replace them and SIGHUP. */
static void test_reload(void)
{
    /* keep the files the servers were started with aside */
    CU_ASSERT_FATAL(it_tls_copy(it_tls_file("node.pem"), it_tls_file("node.pem.orig")) == 0);
    CU_ASSERT_FATAL(it_tls_copy(it_tls_file("node.key"), it_tls_file("node.key.orig")) == 0);
    /* a broken file: the reload is refused, the certificate in force stays */
    FILE *f = fopen(it_tls_file("node.pem"), "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs("not a certificate\n", f);
    fclose(f);
    sighup_all();
    CU_ASSERT(zkt_wait_for(reload_refused, NULL, WAIT_MS));
    CU_ASSERT(new_client_works(NULL));
    /* a certificate of another CA: new connections are refused, the open client works */
    CU_ASSERT_FATAL(it_tls_copy(it_tls_file("other-node.pem"), it_tls_file("node.pem")) == 0);
    CU_ASSERT_FATAL(it_tls_copy(it_tls_file("other-node.key"), it_tls_file("node.key")) == 0);
    sighup_all();
    CU_ASSERT(zkt_wait_for(new_client_refused, NULL, WAIT_MS));
    CU_ASSERT_EQUAL(it_read_keys(g_client, N_KEYS, g_gens), 0); /* no connection dropped */
    /* the originals back */
    CU_ASSERT_FATAL(it_tls_copy(it_tls_file("node.pem.orig"), it_tls_file("node.pem")) == 0);
    CU_ASSERT_FATAL(it_tls_copy(it_tls_file("node.key.orig"), it_tls_file("node.key")) == 0);
    sighup_all();
    CU_ASSERT(zkt_wait_for(new_client_works, NULL, WAIT_MS));
    CU_ASSERT_EQUAL(it_put_keys(g_client, 0, N_KEYS, 2, g_gens), 0);
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("tls", suite_init, suite_cleanup);
    CU_add_test(s, "a client with the CA and a client certificate; replication in sync",
                test_mutual_tls);
    CU_add_test(s, "no certificate, another CA, expired, plain TCP: refused clearly",
                test_refusals);
    CU_add_test(s, "failover and catch-up over TLS", test_failover);
    CU_add_test(s, "certificates read again on SIGHUP, open connections kept", test_reload);
    return zkt_run_all();
}
