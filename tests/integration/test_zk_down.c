/* test_zk_down.c: (e) clear, bounded failures when ZooKeeper cannot serve the client:
 * nothing listening at the address (zkv_client_create: ZKV_EZOOKEEPER within the connect
 * timeout, naming the address; `zkv get k`: exit 2 with a message on stderr), and a
 * ZooKeeper without the named cluster (ZKV_ENOCLUSTER; the command line exits 2). */
#include <CUnit/CUnit.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define CONNECT_TIMEOUT_MS 2000
#define MARGIN_MS 3000

static zkt_zkserver g_zk;
static bool g_zk_up;

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return true;
    }
    return false;
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static int create(const char *zk, const char *cluster, zkv_client **c, int *elapsed)
{
    zkv_options *o = zkv_options_create();
    CU_ASSERT_FATAL(o != NULL);
    CU_ASSERT(zkv_options_set_zk(o, zk) == ZKV_OK);
    CU_ASSERT(zkv_options_set_cluster(o, cluster) == ZKV_OK);
    CU_ASSERT(zkv_options_set_connect_timeout(o, CONNECT_TIMEOUT_MS) == ZKV_OK);
    *c = NULL;
    uint64_t t0 = zkt_now_ms();
    int rc = zkv_client_create(o, c);
    *elapsed = (int)(zkt_now_ms() - t0);
    zkv_options_free(o);
    zkt_log("zkv_client_create(%s, %s): %s in %d ms: %s", zk, cluster, zkv_strerror(rc), *elapsed,
            zkv_last_error());
    return rc;
}

static int cli(const char *zk, const char *cluster, zkt_run_result *r)
{
    const char *bin = zkt_bin("ZKV_CLI_BIN");
    CU_ASSERT_FATAL(bin != NULL);
    const char *argv[] = {bin, "--zk", zk, "--cluster", cluster, "get", "k", NULL};
    CU_ASSERT_FATAL(zkt_run(argv, NULL, 0, 30000, r) == 0);
    zkt_log("zkv --zk %s --cluster %s get k: exit %d in %d ms; stdout: %s; stderr: %s", zk, cluster,
            r->code, r->elapsed_ms, r->out, r->err);
    return r->code;
}

static void test_client_zookeeper_down(void)
{
    int port = zkt_free_port();
    CU_ASSERT_FATAL(port > 0);
    char zk[64];
    snprintf(zk, sizeof zk, "127.0.0.1:%d", port);
    zkv_client *c;
    int elapsed;
    int rc = create(zk, "default", &c, &elapsed);
    CU_ASSERT(rc == ZKV_EZOOKEEPER);
    CU_ASSERT(c == NULL);
    CU_ASSERT(elapsed <= CONNECT_TIMEOUT_MS + MARGIN_MS);
    CU_ASSERT(strstr(zkv_last_error(), zk) != NULL);
    zkv_client_free(c);
}

static void test_cli_zookeeper_down(void)
{
    if (!getenv("ZKV_CLI_BIN")) {
        zkt_log("SKIPPED: ZKV_CLI_BIN not set (the zkv target does not exist yet)");
        return;
    }
    int port = zkt_free_port();
    CU_ASSERT_FATAL(port > 0);
    char zk[64];
    snprintf(zk, sizeof zk, "127.0.0.1:%d", port);
    zkt_run_result r;
    CU_ASSERT(cli(zk, "default", &r) == 2);
    /* Bounded: the library's default connect timeout (5 s) plus start-up. */
    CU_ASSERT(r.elapsed_ms < 5000 + 5000);
    CU_ASSERT(r.out_len == 0);
    CU_ASSERT(r.err_len > 0);
    CU_ASSERT(strstr(r.err, zk) != NULL || contains_ci(r.err, "zookeeper"));
    CU_ASSERT(lines(r.err) <= 2); /* a message, not the ZooKeeper client's log */
    zkt_run_result_free(&r);
}

static int suite_zk_init(void)
{
    g_zk_up = zkt_zk_start(&g_zk, "zk") == 0;
    return g_zk_up ? 0 : -1;
}

static int suite_zk_cleanup(void)
{
    if (g_zk_up)
        zkt_zk_kill(&g_zk);
    g_zk_up = false;
    return 0;
}

static void test_client_no_cluster(void)
{
    zkv_client *c;
    int elapsed;
    int rc = create(g_zk.connect, "no-such-cluster", &c, &elapsed);
    CU_ASSERT(rc == ZKV_ENOCLUSTER);
    CU_ASSERT(c == NULL);
    CU_ASSERT(elapsed <= CONNECT_TIMEOUT_MS + MARGIN_MS);
    CU_ASSERT(strstr(zkv_last_error(), "no-such-cluster") != NULL);
    zkv_client_free(c);
}

static void test_cli_no_cluster(void)
{
    if (!getenv("ZKV_CLI_BIN")) {
        zkt_log("SKIPPED: ZKV_CLI_BIN not set (the zkv target does not exist yet)");
        return;
    }
    zkt_run_result r;
    CU_ASSERT(cli(g_zk.connect, "no-such-cluster", &r) == 2);
    CU_ASSERT(r.elapsed_ms < 10000);
    CU_ASSERT(r.err_len > 0);
    CU_ASSERT(strstr(r.err, "no-such-cluster") != NULL);
    zkt_run_result_free(&r);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("nothing listening at the ZooKeeper address", NULL, NULL);
    CU_add_test(s, "zkv_client_create: ZKV_EZOOKEEPER in bounded time", test_client_zookeeper_down);
    CU_add_test(s, "zkv get k: exit 2, message on stderr", test_cli_zookeeper_down);
    CU_pSuite s2 = CU_add_suite("ZooKeeper up, no such cluster", suite_zk_init, suite_zk_cleanup);
    CU_add_test(s2, "zkv_client_create: ZKV_ENOCLUSTER", test_client_no_cluster);
    CU_add_test(s2, "zkv get k: exit 2, message on stderr", test_cli_no_cluster);
    return zkt_run_all();
}
