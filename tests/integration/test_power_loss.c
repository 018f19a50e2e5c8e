/* test_power_loss.c: a node's machine loses power (issue 14). Without --sync the kernel
 * writes the page cache back in its own order: LevelDB's records may reach the disk while
 * the value-log bytes they point at do not. The test plays that on one of three nodes: it
 * kills the node with SIGKILL while writes reach it, zeroes every value-log byte beyond
 * the node's last durability mark (what the disk would not have), and gives the data dir
 * another boot id (the machine restarted). Restarted, the node must wait for its ranges to
 * pass to in-sync replicas (it comes back owning none), find the lost values, forget the
 * ranges that lost one (logged), be given them back, and end with every key on
 * every copy, read back from each node's files (LevelDB and the value log, by the
 * harness's own reader). Without the check the victim's copy answers read errors: its log
 * says it has the lost writes, so nothing sends them again. */
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

#define N_KEYS 600
#define N_SERVERS 3
#define VICTIM 1
#define ATTEMPTS 8
#define N_MORE 100 /* keys written after the victim's return (every range has some) */

static zkt_cluster g_cl;
static zkv_client *g_client;
static int g_gen[N_KEYS + N_MORE];

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "powerloss") != 0 ||
        zkt_cluster_server_flag(&g_cl, "--inline-max-bytes", "8") != 0)
        return -1;
    return it_cluster_up(&g_cl, N_SERVERS, 10000, 0, &g_client);
}

static int suite_cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

/* The victim's durability mark (file, offset) as its LevelDB holds it (0, 0: none). */
static void read_mark(uint32_t *file, uint64_t *off)
{
    *file = 0;
    *off = 0;
    zkt_ldb *db = zkt_ldb_open(g_cl.servers[VICTIM].dir);
    CU_ASSERT_FATAL(db != NULL);
    uint8_t *v = NULL;
    size_t n = 0;
    if (zkt_ldb_get_raw(db, "vsynced", 7, &v, &n) == 1 && n == 8) {
        uint64_t m = 0;
        for (int i = 0; i < 8; i++)
            m = m << 8 | v[i];
        *file = (uint32_t)(m >> 40);
        *off = m & ((1ull << 40) - 1);
    }
    free(v);
    zkt_ldb_close(db);
}

/* Zeroes every value-log byte at or beyond (file, off); returns how many there were. */
static long lose_beyond(uint32_t file, uint64_t off)
{
    char vdir[PATH_MAX + 16];
    snprintf(vdir, sizeof vdir, "%s/db/vlog", g_cl.servers[VICTIM].dir);
    DIR *d = opendir(vdir);
    CU_ASSERT_FATAL(d != NULL);
    if (!d)
        return 0;
    long lost = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned num;
        char tail[8];
        if (sscanf(e->d_name, "%8u.%7s", &num, tail) != 2 || strcmp(tail, "vlog") != 0 ||
            num < file)
            continue;
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", vdir, e->d_name);
        FILE *f = fopen(path, "r+b");
        CU_ASSERT_FATAL(f != NULL);
        long from = num == file ? (long)off : 0;
        CU_ASSERT_FATAL(fseek(f, 0, SEEK_END) == 0);
        long end = ftell(f);
        if (end > from) {
            CU_ASSERT_FATAL(fseek(f, from, SEEK_SET) == 0);
            for (long i = from; i < end; i++)
                fputc(0, f);
            lost += end - from;
        }
        fclose(f);
    }
    closedir(d);
    return lost;
}

static void test_power_loss(void)
{
    CU_ASSERT_EQUAL_FATAL(it_put_keys(g_client, 0, N_KEYS, 1, g_gen), 0);
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, 60000));
    /* a clean stop marks all of it durable: the loss below is of what comes after */
    CU_ASSERT(zkt_server_stop(&g_cl, VICTIM, SIGTERM) == 0);
    CU_ASSERT_EQUAL_FATAL(zkt_server_start(&g_cl, VICTIM), 0);
    CU_ASSERT_FATAL(zkt_cluster_wait_registered(&g_cl, VICTIM, 1, 60000, NULL));
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, 60000));
    /* Writes reach the victim, then it dies. Its mark follows its writes within a second;
     * until it is behind when it dies, try again. */
    long lost = 0;
    uint64_t incarnation = 0;
    for (int a = 0; a < ATTEMPTS && lost == 0; a++) {
        CU_ASSERT_EQUAL_FATAL(it_put_keys(g_client, 0, N_KEYS, 2 + a, g_gen), 0);
        zkt_map *m = zkt_cluster_map(&g_cl);
        CU_ASSERT_FATAL(m != NULL);
        const zkt_map_node *n = zkt_map_node_by_id(m, g_cl.servers[VICTIM].id);
        CU_ASSERT_FATAL(n != NULL);
        if (!n)
            return;
        incarnation = n->incarnation;
        zkt_map_free(m);
        CU_ASSERT(zkt_server_stop(&g_cl, VICTIM, SIGKILL) == -SIGKILL);
        uint32_t file;
        uint64_t off;
        read_mark(&file, &off);
        zkt_log("attempt %d: the victim's mark is file %u offset %llu", a, file,
                (unsigned long long)off);
        CU_ASSERT(file > 0);
        lost = lose_beyond(file, off);
        if (lost == 0) {
            CU_ASSERT_EQUAL_FATAL(zkt_server_start(&g_cl, VICTIM), 0);
            CU_ASSERT_FATAL(zkt_cluster_wait_registered(&g_cl, VICTIM, incarnation, 60000, NULL));
            CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, 60000));
        }
    }
    CU_ASSERT_FATAL(lost > 0);
    zkt_log("the victim lost %ld value-log bytes", lost);
    /* the machine restarted: another boot id than the one the node noted */
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/boot_id", g_cl.servers[VICTIM].dir);
    CU_ASSERT_EQUAL_FATAL(zkt_write_file(path, "00000000-dead-beef\n", 19), 0);
    CU_ASSERT_EQUAL_FATAL(zkt_server_start(&g_cl, VICTIM), 0);
    CU_ASSERT_FATAL(zkt_cluster_wait_registered(&g_cl, VICTIM, incarnation, 60000, NULL));
    /* it came back as a replica: its ranges passed to in-sync replicas first */
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT_EQUAL(zkt_map_owned_by(m, g_cl.servers[VICTIM].id), 0);
    zkt_map_free(m);
    /* in_sync may still list it from before it died: writes to other keys of every range,
     * acknowledged once every in-sync copy applied them, and in order, make sure it has
     * caught up with what came before them */
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, 60000));
    CU_ASSERT_EQUAL(it_put_keys(g_client, N_KEYS, N_KEYS + N_MORE, 1, g_gen), 0);
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, 60000));
    CU_ASSERT(it_log_count(g_cl.servers[VICTIM].log, "did not read back") == 1);
    CU_ASSERT(it_log_count(g_cl.servers[VICTIM].log, "were forgotten and are rebuilt") == 1);
    CU_ASSERT_EQUAL(it_read_keys(g_client, N_KEYS, g_gen), 0);
    /* every copy, the victim's included, holds every key's last value */
    it_check_all_copies(&g_cl, N_KEYS, g_gen);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s =
        CU_add_suite("power loss: a node's value log loses its tail", suite_init, suite_cleanup);
    CU_add_test(s, "lost values are found and their ranges rebuilt", test_power_loss);
    return zkt_run_all();
}
