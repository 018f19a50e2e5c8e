/* test_restart.c: (b) a server restarted with the same data dir and id keeps its data.
 * Round 1 stops it with SIGTERM (exit 0), round 2 with kill -9 (its ephemeral znode is
 * still there when it comes back: it must replace it, its incarnation being higher). Each
 * time: it registers again with a higher incarnation, its node_id file is unchanged, its
 * incarnation file grew, every range has a live owner again, and every key reads back
 * with its latest value; keys written between the rounds too. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_KEYS 2000
#define N_SERVERS 3
#define VICTIM 1

static zkt_cluster g_cl;
static zkv_client *g_client;
static int g_gen[N_KEYS]; /* value generation last written for each key */

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "restart") != 0)
        return -1;
    return it_cluster_up(&g_cl, N_SERVERS, 10000, 0, &g_client);
}

static int suite_cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

static int put_range(int from, int to, int gen)
{
    return it_put_keys(g_client, from, to, gen, g_gen);
}

static int read_all(void)
{
    return it_read_keys(g_client, N_KEYS, g_gen);
}

static char *read_dir_file(const char *name)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", g_cl.servers[VICTIM].dir, name);
    char *s = zkt_read_file(path, NULL);
    if (s) /* trailing newline or not */
        s[strcspn(s, "\r\n")] = '\0';
    return s;
}

static void restart_round(int sig, int gen)
{
    zkt_server *s = &g_cl.servers[VICTIM];
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    const zkt_map_node *n = zkt_map_node_by_id(m, s->id);
    CU_ASSERT_FATAL(n != NULL);
    uint64_t old_inc = n->incarnation;
    zkt_log("restart round (%s): %s owns %d ranges, incarnation %llu",
            sig == SIGKILL ? "kill -9" : "SIGTERM", s->id, zkt_map_owned_by(m, s->id),
            (unsigned long long)old_inc);
    /* Round 1 restarts an owner. Since issue 3 its ranges fail over while it is down and
     * it returns as a replica, so in round 2 it may own nothing: not asserted. */
    if (sig == SIGTERM)
        CU_ASSERT(zkt_map_owned_by(m, s->id) > 0);
    zkt_map_free(m);
    char *id_before = read_dir_file("node_id");
    char *inc_before = read_dir_file("incarnation");
    CU_ASSERT_FATAL(id_before != NULL);
    CU_ASSERT_FATAL(inc_before != NULL);
    CU_ASSERT_STRING_EQUAL(id_before, s->id);

    int code = zkt_server_stop(&g_cl, VICTIM, sig);
    CU_ASSERT(code == (sig == SIGTERM ? 0 : -SIGKILL));
    if (sig == SIGKILL) {
        /* The killed process's session outlives it (2 s): the new process meets its
         * ephemeral nodes/<id> and must replace it (higher incarnation). */
        zkt_map *left = zkt_cluster_map(&g_cl);
        CU_ASSERT(left && zkt_map_node_by_id(left, s->id) != NULL);
        zkt_map_free(left);
    }
    CU_ASSERT_FATAL(zkt_server_start(&g_cl, VICTIM) == 0);
    uint64_t new_inc = 0;
    CU_ASSERT_FATAL(zkt_cluster_wait_registered(&g_cl, VICTIM, old_inc, 30000, &new_inc));
    CU_ASSERT(new_inc > old_inc);
    CU_ASSERT_FATAL(zkt_cluster_wait_ready(&g_cl, 30000));

    char *id_after = read_dir_file("node_id");
    char *inc_after = read_dir_file("incarnation");
    CU_ASSERT(id_after && strcmp(id_after, id_before) == 0);
    CU_ASSERT(inc_after && strtoull(inc_after, NULL, 10) > strtoull(inc_before, NULL, 10));
    CU_ASSERT(inc_after && strtoull(inc_after, NULL, 10) == new_inc);
    free(id_before);
    free(inc_before);
    free(id_after);
    free(inc_after);

    CU_ASSERT(read_all() == 0);
    /* Writes keep working after the restart, overwrites included. */
    CU_ASSERT(put_range(0, N_KEYS / 2, gen) == 0);
    CU_ASSERT(read_all() == 0);
}

static void test_sigterm_restart(void)
{
    CU_ASSERT_FATAL(put_range(0, N_KEYS, 1) == 0);
    CU_ASSERT_FATAL(read_all() == 0);
    restart_round(SIGTERM, 2);
}

static void test_kill9_restart(void)
{
    restart_round(SIGKILL, 3);
}

static void test_id_mismatch_refused(void)
{
    const char *bin = zkt_bin("ZKV_SERVER_BIN");
    CU_ASSERT_FATAL(bin != NULL);
    zkt_server *s = &g_cl.servers[VICTIM];
    CU_ASSERT(zkt_server_stop(&g_cl, VICTIM, SIGTERM) == 0);
    char session[16];
    snprintf(session, sizeof session, "%d", g_cl.session_timeout_ms);
    /* The data dir belongs to node-1: another --id is an error (exit 2), not a new node. */
    const char *argv[] = {bin,       "--zk",     g_cl.zk.connect, "--cluster",
                          g_cl.name, "--listen", s->addr,         "--data-dir",
                          s->dir,    "--id",     "node-other",    "--session-timeout",
                          session,   NULL};
    zkt_run_result r;
    CU_ASSERT_FATAL(zkt_run(argv, NULL, 0, 20000, &r) == 0);
    zkt_log("zkv-server --id node-other on %s's data dir: exit %d; stderr: %.400s", s->id, r.code,
            r.err);
    CU_ASSERT(r.code == 2);
    CU_ASSERT(strstr(r.err, "node-other") != NULL || strstr(r.err, s->id) != NULL);
    zkt_run_result_free(&r);
    char *id = read_dir_file("node_id");
    CU_ASSERT(id && strcmp(id, s->id) == 0);
    free(id);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("restart: a server keeps its data", suite_init, suite_cleanup);
    CU_add_test(s, "SIGTERM, restart, read everything back", test_sigterm_restart);
    CU_add_test(s, "kill -9, restart at once, read everything back", test_kill9_restart);
    CU_add_test(s, "another --id on the data dir: exit 2", test_id_mismatch_refused);
    return zkt_run_all();
}
