/* test_auth.c: authentication at HELLO (docs/security.md, "Authentication"). Three
 * servers and a coordinator share an --auth-file (mode 600) with the cluster secret and a
 * client token; 2 ranges, 3 copies each.
 *  - A client with the token (ZKV_AUTH_TOKEN) writes and reads; every replica is in sync
 *    (the nodes authenticate to each other with the cluster secret).
 *  - A client without a token, or with a wrong one, gets ZKV_EAUTH with a clear message
 *    and no data.
 *  - A raw connection that claims a node id with a client token, or with no credential,
 *    is refused; with the cluster secret it is a node.
 *  - The owner of a range killed: the coordinator (which presents the secret to ask the
 *    replicas' positions) fails the range over and every key reads back.
 *  - The file rewritten with a new client token and SIGHUP sent to the servers: the new
 *    token works, the old one is refused on new connections.
 *  - A TLS client (the test CA of scripts/test-ca.sh) against these plain nodes: ZKV_EAUTH
 *    saying the node is without TLS; the node logs why it closed the connection. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "it_common.h"
#include "it_tls.h"
#include "it_repl.h"
#include "it_wire.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_KEYS 200
#define WAIT_MS 30000
#define SECRET "cluster-secret-of-the-test-0123"
#define TOKEN "client-token-of-the-app-0123"

static zkt_cluster g_cl;
static zkv_client *g_client;
static int g_gens[N_KEYS];
static char g_file[PATH_MAX];
static char g_cid[64];

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "auth") != 0)
        return -1;
    if (it_secret_file("auth-credentials", "cluster " SECRET "\nclient app " TOKEN "\n", g_file,
                       sizeof(g_file)) != 0)
        return -1;
    g_cl.ranges = 2;
    g_cl.replicas = 3;
    if (zkt_cluster_server_flag(&g_cl, "--auth-file", g_file) != 0 ||
        zkt_cluster_coord_flag(&g_cl, "--auth-file", g_file) != 0)
        return -1;
    setenv("ZKV_AUTH_TOKEN", TOKEN, 1);
    if (it_cluster_up(&g_cl, 3, 10000, 0, &g_client) != 0 ||
        zkt_cluster_id(&g_cl, g_cid, sizeof(g_cid)) != 0)
        return -1;
    return 0;
}

static int suite_cleanup(void)
{
    unsetenv("ZKV_AUTH_TOKEN");
    return it_cluster_down(&g_cl, &g_client);
}

static void test_with_token(void)
{
    CU_ASSERT_EQUAL(it_put_keys(g_client, 0, N_KEYS, 1, g_gens), 0);
    CU_ASSERT_EQUAL(it_read_keys(g_client, N_KEYS, g_gens), 0);
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
}

/* A new client presenting token (NULL: none); NULL when it could not be made. */
static zkv_client *client_with(const char *token)
{
    zkv_options *o = it_options(&g_cl, 3000);
    zkv_client *c = NULL;
    if (o && zkv_options_set_auth(o, token) == ZKV_OK && zkv_client_create(o, &c) != ZKV_OK)
        c = NULL;
    zkv_options_free(o);
    return c;
}

/* A client with token (NULL: none): a put must fail with ZKV_EAUTH saying why. */
static void expect_refused(const char *token, const char *says)
{
    zkv_client *c = client_with(token);
    CU_ASSERT_FATAL(c != NULL);
    int rc = zkv_put(c, "k", 1, "v", 1, 0, 0, NULL);
    zkt_log("client with %s: %s: %s", token ? token : "no token", zkv_strerror(rc),
            zkv_last_error());
    CU_ASSERT_EQUAL(rc, ZKV_EAUTH);
    CU_ASSERT_PTR_NOT_NULL(strstr(zkv_last_error(), says));
    zkv_value *v = NULL;
    uint8_t key[IT_KEY_MAX];
    size_t kl = it_key(0, key);
    CU_ASSERT_EQUAL(zkv_get(c, key, kl, 0, 0, &v), ZKV_EAUTH); /* and no data */
    CU_ASSERT_PTR_NULL(v);
    zkv_client_free(c);
}

static void test_without_token(void)
{
    unsetenv("ZKV_AUTH_TOKEN");
    expect_refused(NULL, "authentication required");
    expect_refused("client-token-of-the-app-0124", "not accepted");
    setenv("ZKV_AUTH_TOKEN", TOKEN, 1);
}

/* HELLO on a raw connection to server 0 claiming node_id with cred: the status. */
static int raw_hello(const char *node_id, const char *cred)
{
    conn c;
    CU_ASSERT_FATAL(conn_open(&c, g_cl.servers[0].port) == 0);
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.id = 1;
    req.op = ZKV__OP__HELLO;
    req.cluster_id = g_cid;
    req.node_id = (char *)node_id;
    req.auth = (char *)cred;
    req.protocol = 1;
    Zkv__Response *r = call(&c, &req);
    int st = r ? (int)r->status : -1;
    if (r) {
        zkt_log("HELLO as %s with %s: %s %s", node_id, cred[0] ? cred : "nothing",
                zkv_status_name(r->status), r->message ? r->message : "");
        zkv__response__free_unpacked(r, NULL);
    }
    conn_close(&c);
    return st;
}

static void test_raw_hellos(void)
{
    CU_ASSERT_EQUAL(raw_hello("node-1", ""), ZKV__STATUS__AUTH_FAILED);
    CU_ASSERT_EQUAL(raw_hello("node-1", TOKEN), ZKV__STATUS__AUTH_FAILED);
    CU_ASSERT_EQUAL(raw_hello("node-1", SECRET), ZKV__STATUS__OK);
    CU_ASSERT_EQUAL(raw_hello("", TOKEN), ZKV__STATUS__OK);
}

static void test_failover(void)
{
    CU_ASSERT_FATAL(it_kill_first_owner(&g_cl, WAIT_MS) >= 0);
    CU_ASSERT_EQUAL(it_read_keys(g_client, N_KEYS, g_gens), 0);
    /* the replicas answered the coordinator's position queries (a refused HELLO is
     * logged "failover: no position from ...: hello refused") */
    CU_ASSERT_EQUAL(it_log_count(g_cl.coords[0].log, "hello refused"), 0);
}

/* A put through a new client presenting token: its result. */
static int put_with(const char *token)
{
    zkv_client *c = client_with(token);
    int rc = c ? zkv_put(c, "reload", 6, "v", 1, 0, 0, NULL) : ZKV_ENOMEM;
    zkv_client_free(c);
    return rc;
}

static bool new_token_works(void *arg)
{
    return put_with(arg) == ZKV_OK;
}

static bool coord_reloaded(void *arg)
{
    (void)arg;
    return it_log_count(g_cl.coords[0].log, "SIGHUP: credentials read again") > 0;
}

/* SIGHUP reads --auth-file again: a new token works, the old one is refused on new
 * connections (connections made before keep their session). */
static void test_reload_on_sighup(void)
{
    const char *text = "cluster " SECRET "\nclient app client-token-rotated-4567\n";
    CU_ASSERT_FATAL(it_secret_file("auth-credentials", text, g_file, sizeof(g_file)) == 0);
    CU_ASSERT_EQUAL(put_with("client-token-rotated-4567"), ZKV_EAUTH); /* not read yet */
    for (int i = 0; i < g_cl.n_servers; i++)
        if (g_cl.servers[i].pid > 0)
            CU_ASSERT_EQUAL(kill(g_cl.servers[i].pid, SIGHUP), 0);
    CU_ASSERT(zkt_wait_for(new_token_works, "client-token-rotated-4567", WAIT_MS));
    /* the coordinator reads its files again too */
    CU_ASSERT_EQUAL(kill(g_cl.coords[0].pid, SIGHUP), 0);
    CU_ASSERT(zkt_wait_for(coord_reloaded, NULL, WAIT_MS));
    CU_ASSERT_EQUAL(put_with(TOKEN), ZKV_EAUTH);
    CU_ASSERT_EQUAL(it_read_keys(g_client, N_KEYS, g_gens), 0); /* made before: still in */
}

/* TLS to a plain node: the node closes at the first bytes, the client says why. */
static void test_tls_client_on_plain_node(void)
{
    CU_ASSERT_FATAL(it_tls_make_ca() == 0);
    CU_ASSERT_EQUAL(
        it_tls_put(&g_cl, "with TLS on a plain node", it_tls_file("ca.pem"), NULL, NULL),
        ZKV_EAUTH);
    CU_ASSERT_PTR_NOT_NULL(strstr(zkv_last_error(), "without TLS"));
    int logged = 0;
    for (int i = 0; i < g_cl.n_servers; i++)
        logged += it_log_count(g_cl.servers[i].log, "speaks TLS, but this node has no --tls-cert");
    CU_ASSERT(logged > 0);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("auth", suite_init, suite_cleanup);
    CU_add_test(s, "a client with the token; nodes with the secret", test_with_token);
    CU_add_test(s, "a client without a token, or a wrong one", test_without_token);
    CU_add_test(s, "node ids only with the cluster secret", test_raw_hellos);
    CU_add_test(s, "failover: the coordinator presents the secret", test_failover);
    CU_add_test(s, "SIGHUP reads the credentials again", test_reload_on_sighup);
    CU_add_test(s, "a TLS client on a plain node", test_tls_client_on_plain_node);
    return zkt_run_all();
}
