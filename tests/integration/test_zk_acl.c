/* test_zk_acl.c: ZooKeeper ACLs on what zkv creates (docs/security.md, "ZooKeeper").
 * Three servers and a coordinator started with --zk-auth (digest USER:PASSWORD, mode
 * 600) create the cluster; then:
 *  - a ZooKeeper session without credentials (what zkCli.sh is before addauth) reads the
 *    map, the ranges and the nodes, but its writes are refused (ZNOAUTH): changing the
 *    map or a range, deleting a range, creating an operation;
 *  - the cluster serves: puts and gets through libzkv (reads of ZooKeeper need nothing);
 *  - `zkv admin` without the credentials is refused with a clear error; with them
 *    (zkv_options_set_zk_auth) a split is recorded and carried out, and the ranges it
 *    made are closed to anonymous writes as well. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "it_admin.h"
#include "it_common.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_KEYS 100
#define CRED "zkv-admin:a-password-for-tests"

static zkt_cluster g_cl;
static zkv_client *g_client;
static int g_gens[N_KEYS];
static char g_file[PATH_MAX];

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "zkacl") != 0)
        return -1;
    if (it_secret_file("zk-credentials", CRED "\n", g_file, sizeof(g_file)) != 0)
        return -1;
    g_cl.ranges = 2;
    g_cl.replicas = 3;
    if (zkt_cluster_server_flag(&g_cl, "--zk-auth", g_file) != 0 ||
        zkt_cluster_coord_flag(&g_cl, "--zk-auth", g_file) != 0)
        return -1;
    return it_cluster_up(&g_cl, 3, 10000, 0, &g_client);
}

static int suite_cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

static void path_of(char *out, size_t n, const char *rest)
{
    snprintf(out, n, "/zkv/%s/%s", g_cl.name, rest);
}

static void test_anonymous_reads_not_writes(void)
{
    zhandle_t *zh = zkt_zkc_handle(g_cl.zc);
    char map[256], range[256], ops[256];
    path_of(map, sizeof(map), "map");
    path_of(range, sizeof(range), "ranges/r0000");
    path_of(ops, sizeof(ops), "ops/op-");
    char buf[4096];
    int len = sizeof(buf);
    CU_ASSERT_EQUAL(zoo_get(zh, map, 0, buf, &len, NULL), ZOK);
    len = sizeof(buf);
    CU_ASSERT_EQUAL(zoo_get(zh, range, 0, buf, &len, NULL), ZOK);
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT(m != NULL && m->n_nodes == 3);
    zkt_map_free(m);
    CU_ASSERT_EQUAL(zoo_set(zh, map, "7", 1, -1), ZNOAUTH);
    CU_ASSERT_EQUAL(zoo_set(zh, range, "{}", 2, -1), ZNOAUTH);
    CU_ASSERT_EQUAL(zoo_delete(zh, range, -1), ZNOAUTH);
    char made[256];
    CU_ASSERT_EQUAL(
        zoo_create(zh, ops, "{}", 2, &ZOO_OPEN_ACL_UNSAFE, ZOO_SEQUENCE, made, sizeof(made)),
        ZNOAUTH);
    /* the data path needs no ZooKeeper credentials */
    CU_ASSERT_EQUAL(it_put_keys(g_client, 0, N_KEYS, 1, g_gens), 0);
    CU_ASSERT_EQUAL(it_read_keys(g_client, N_KEYS, g_gens), 0);
}

static zkv_client *client_with(const char *zk_auth)
{
    zkv_options *o = it_options(&g_cl, 5000);
    CU_ASSERT_FATAL(o != NULL);
    CU_ASSERT_EQUAL(zkv_options_set_zk_auth(o, zk_auth), ZKV_OK);
    zkv_client *c = NULL;
    CU_ASSERT_EQUAL(zkv_client_create(o, &c), ZKV_OK);
    zkv_options_free(o);
    return c;
}

static void test_admin(void)
{
    const char *node = g_cl.servers[2].id;
    zkv_client *anon = client_with(NULL);
    CU_ASSERT_FATAL(anon != NULL);
    const char *args[1] = {node};
    char *op = NULL;
    int rc = zkv_admin_submit(anon, "drain", args, 1, &op);
    zkt_log("admin drain without ZooKeeper credentials: %s: %s", zkv_strerror(rc),
            zkv_last_error());
    CU_ASSERT_NOT_EQUAL(rc, ZKV_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(zkv_last_error(), "not authenticated"));
    zkv_free(op);
    zkv_client_free(anon);
    zkv_client *admin = client_with(CRED);
    CU_ASSERT_FATAL(admin != NULL);
    /* a split: the owner writes the new ranges (creates under the ACL) */
    char id[64];
    CU_ASSERT_FATAL(it_admin_submit(admin, "split", "r0000", NULL, id, sizeof(id)));
    CU_ASSERT(it_wait_op(admin, id, 30000));
    zkv_client_free(admin);
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT(m != NULL && m->n_ranges == 3);
    zkt_map_free(m);
    CU_ASSERT_EQUAL(it_read_keys(g_client, N_KEYS, g_gens), 0);
    /* and what the split made is closed to anonymous writes too */
    zhandle_t *zh = zkt_zkc_handle(g_cl.zc);
    char kids[256];
    path_of(kids, sizeof(kids), "ranges/r0a"); /* op-0000000000 made r0a, r0b */
    CU_ASSERT_EQUAL(zoo_set(zh, kids, "{}", 2, -1), ZNOAUTH);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("zk_acl", suite_init, suite_cleanup);
    CU_add_test(s, "a session without credentials reads, cannot write",
                test_anonymous_reads_not_writes);
    CU_add_test(s, "admin needs the ZooKeeper credentials", test_admin);
    return zkt_run_all();
}
