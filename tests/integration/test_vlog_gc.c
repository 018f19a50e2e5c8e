/* test_vlog_gc.c: the value log's garbage collection on a replicated cluster (issue 14).
 * Every value goes to the value log (--inline-max-bytes 8) in files of 1 MiB, and keys are
 * written again and again, so the owners' GC finds files the writes killed while one
 * replica is down. That replica then catches up from its owners' logs (they keep 1,000
 * entries a range, four writes of every key), whose values the GC must not delete however
 * dead their keys' records are. More writes cut the logs, and in the end every node must
 * have deleted its oldest files, and every copy must hold every key's last value, read
 * back from each node's files (LevelDB and the value log, by the harness's own reader). */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "it_repl.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_KEYS 2000
#define N_SERVERS 3
#define DOWN 2      /* the replica stopped while the others write */
#define DOWN_GENS 3 /* generations written while the replica is down */
#define MORE_GENS 8 /* after its return: 2,000 entries a range, beyond what the logs keep */

static zkt_cluster g_cl;
static zkv_client *g_client;
static int g_gen[N_KEYS];

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "vloggc") != 0 ||
        zkt_cluster_server_flag(&g_cl, "--inline-max-bytes", "8") != 0 ||
        zkt_cluster_server_flag(&g_cl, "--value-log-file-mb", "1") != 0 ||
        zkt_cluster_server_flag(&g_cl, "--log-retain", "1000") != 0 ||
        zkt_cluster_server_flag(&g_cl, "--log-retain-mb", "64") != 0)
        return -1;
    return it_cluster_up(&g_cl, N_SERVERS, 10000, 0, &g_client);
}

static int suite_cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

/* The lowest number of server i's value-log files (NNNNNNNN.vlog; spares aside), 0: none. */
static unsigned oldest_file(int i)
{
    char vdir[PATH_MAX + 16];
    snprintf(vdir, sizeof vdir, "%s/db/vlog", g_cl.servers[i].dir);
    DIR *d = opendir(vdir);
    if (!d)
        return 0;
    unsigned oldest = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned num;
        char tail[8];
        if (sscanf(e->d_name, "%8u.%7s", &num, tail) == 2 && strcmp(tail, "vlog") == 0 &&
            (oldest == 0 || num < oldest))
            oldest = num;
    }
    closedir(d);
    return oldest;
}

/* Every server deleted its first files (polled: an idle node's GC goes on a few MiB a
 * second). */
static bool first_files_gone(void *arg)
{
    (void)arg;
    for (int i = 0; i < N_SERVERS; i++)
        if (oldest_file(i) <= 1)
            return false;
    return true;
}

static void test_gc_while_replica_catches_up(void)
{
    CU_ASSERT_EQUAL_FATAL(it_put_keys(g_client, 0, N_KEYS, 1, g_gen), 0);
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, 60000));
    /* a replica goes down; the others write every key again and again */
    CU_ASSERT(zkt_server_stop(&g_cl, DOWN, SIGTERM) == 0);
    int gen = 2;
    for (; gen < 2 + DOWN_GENS; gen++)
        CU_ASSERT_EQUAL_FATAL(it_put_keys(g_client, 0, N_KEYS, gen, g_gen), 0);
    /* it comes back and catches up from the logs */
    CU_ASSERT_EQUAL_FATAL(zkt_server_start(&g_cl, DOWN), 0);
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, 60000));
    CU_ASSERT_EQUAL(it_read_keys(g_client, N_KEYS, g_gen), 0);
    /* more writes cut the logs: a file a range's log held is read again after a file's
     * worth of them */
    for (int end = gen + MORE_GENS; gen < end; gen++)
        CU_ASSERT_EQUAL(it_put_keys(g_client, 0, N_KEYS, gen, g_gen), 0);
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, 60000));
    bool gone = zkt_wait_for(first_files_gone, NULL, 60000);
    for (int i = 0; i < N_SERVERS; i++)
        zkt_log("%s: oldest value-log file %u", g_cl.servers[i].id, oldest_file(i));
    CU_ASSERT(gone);
    CU_ASSERT_EQUAL(it_read_keys(g_client, N_KEYS, g_gen), 0);
    /* every copy holds every key's last value */
    it_check_all_copies(&g_cl, N_KEYS, g_gen);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("value-log GC on a replicated cluster", suite_init, suite_cleanup);
    CU_add_test(s, "files deleted while a replica catches up; every copy intact",
                test_gc_while_replica_catches_up);
    return zkt_run_all();
}
