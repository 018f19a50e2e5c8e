/* test_server_datadir.c: the data directory (FORMAT, node_id, incarnation, --id rules)
 * in a mkdtemp directory, the boot id that tells a machine restart, the pure parsers, and
 * zkv-server's flag validation. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "config.h"
#include "datadir.h"

static char dir[64];

static int setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/zkv-test-datadir-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    size_t len;
    return zkv_read_file(path, &len);
}

static void test_parsers(void)
{
    uint64_t v;
    char id[ZKV_ID_MAX];
    CU_ASSERT_EQUAL(zkv_datadir_parse_u64("12\n", &v), 0);
    CU_ASSERT_EQUAL(v, 12);
    CU_ASSERT_EQUAL(zkv_datadir_parse_u64("18446744073709551615", &v), 0);
    CU_ASSERT_EQUAL(v, UINT64_MAX);
    CU_ASSERT_EQUAL(zkv_datadir_parse_u64("18446744073709551616", &v), -1);
    CU_ASSERT_EQUAL(zkv_datadir_parse_u64("", &v), -1);
    CU_ASSERT_EQUAL(zkv_datadir_parse_u64("1x", &v), -1);
    CU_ASSERT_EQUAL(zkv_datadir_parse_u64("-1", &v), -1);
    CU_ASSERT_EQUAL(zkv_datadir_parse_id("node-1\n", id), 0);
    CU_ASSERT_STRING_EQUAL(id, "node-1");
    CU_ASSERT_EQUAL(zkv_datadir_parse_id("no/de", id), -1);
    CU_ASSERT_EQUAL(zkv_datadir_parse_id("\n", id), -1);
}

static void test_first_start_and_restart(void)
{
    char sub[128], db[256], err[256], id[ZKV_ID_MAX];
    uint64_t inc = 0;
    snprintf(sub, sizeof(sub), "%s/a/b", dir);
    CU_ASSERT_EQUAL_FATAL(zkv_datadir_init(sub, db, sizeof(db), err, sizeof(err)), 0);
    char want[300];
    snprintf(want, sizeof(want), "%s/db", sub);
    CU_ASSERT_STRING_EQUAL(db, want);
    CU_ASSERT_EQUAL(zkv_datadir_identity(sub, NULL, id, &inc, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(strncmp(id, "node-", 5), 0);
    CU_ASSERT_EQUAL(strlen(id), 13);
    CU_ASSERT_EQUAL(inc, 1);
    char first[ZKV_ID_MAX];
    strcpy(first, id);
    /* restart: same id, next incarnation; a matching --id is fine */
    CU_ASSERT_EQUAL(zkv_datadir_init(sub, db, sizeof(db), err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_datadir_check_id(sub, first, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_datadir_identity(sub, first, id, &inc, err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(id, first);
    CU_ASSERT_EQUAL(inc, 2);
    /* another --id is refused, and changes nothing */
    CU_ASSERT_EQUAL(zkv_datadir_check_id(sub, "node-x", err, sizeof(err)), ZKV_DATADIR_ID_MISMATCH);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "node-x"));
    CU_ASSERT_EQUAL(zkv_datadir_identity(sub, "node-x", id, &inc, err, sizeof(err)),
                    ZKV_DATADIR_ID_MISMATCH);
}

static void test_files(void)
{
    char sub[128], db[256], err[256], id[ZKV_ID_MAX];
    uint64_t inc = 0;
    snprintf(sub, sizeof(sub), "%s/c", dir);
    CU_ASSERT_EQUAL_FATAL(zkv_datadir_init(sub, db, sizeof(db), err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_datadir_identity(sub, "node-7", id, &inc, err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(id, "node-7");
    char *s = slurp("c/FORMAT");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s, "2\n");
    free(s);
    s = slurp("c/node_id");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s, "node-7\n");
    free(s);
    s = slurp("c/incarnation");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s, "1\n");
    free(s);
    /* a format-1 data dir is read, and marked 2 by the upgrade (a no-op after that) */
    char path[256];
    snprintf(path, sizeof(path), "%s/FORMAT", sub);
    CU_ASSERT_EQUAL(zkv_write_file_atomic(path, "1\n", 2), 0);
    CU_ASSERT_EQUAL(zkv_datadir_init(sub, db, sizeof(db), err, sizeof(err)), 0);
    s = slurp("c/FORMAT");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s, "1\n");
    free(s);
    CU_ASSERT_EQUAL(zkv_datadir_upgrade(sub, err, sizeof(err)), 0);
    s = slurp("c/FORMAT");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s, "2\n");
    free(s);
    CU_ASSERT_EQUAL(zkv_datadir_upgrade(sub, err, sizeof(err)), 0);
    /* a data dir of a newer format is refused */
    CU_ASSERT_EQUAL(zkv_write_file_atomic(path, "3\n", 2), 0);
    CU_ASSERT_EQUAL(zkv_datadir_init(sub, db, sizeof(db), err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "format"));
}

/* The boot id kept in the data dir tells a machine restart from a process restart. */
static void test_boot(void)
{
    char sub[128], db[256], err[256], src[160];
    snprintf(sub, sizeof(sub), "%s/b", dir);
    snprintf(src, sizeof(src), "%s/boot_id_source", dir);
    CU_ASSERT_EQUAL_FATAL(zkv_datadir_init(sub, db, sizeof(db), err, sizeof(err)), 0);
    CU_ASSERT_EQUAL_FATAL(zkv_write_file_atomic(src, "aaaa-1\n", 7), 0);
    bool restarted = true;
    /* a dir without one (first start, or kept by an older build): not a restart */
    CU_ASSERT_EQUAL(zkv_datadir_boot(sub, src, &restarted, err, sizeof(err)), 0);
    CU_ASSERT_FALSE(restarted);
    CU_ASSERT_EQUAL(zkv_datadir_boot_done(sub, src, err, sizeof(err)), 0);
    char *s = slurp("b/boot_id");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s, "aaaa-1");
    free(s);
    /* the same boot: a process restart */
    CU_ASSERT_EQUAL(zkv_datadir_boot(sub, src, &restarted, err, sizeof(err)), 0);
    CU_ASSERT_FALSE(restarted);
    /* another boot: a machine restart, until it is noted done */
    CU_ASSERT_EQUAL_FATAL(zkv_write_file_atomic(src, "bbbb-2\n", 7), 0);
    CU_ASSERT_EQUAL(zkv_datadir_boot(sub, src, &restarted, err, sizeof(err)), 0);
    CU_ASSERT_TRUE(restarted);
    CU_ASSERT_EQUAL(zkv_datadir_boot(sub, src, &restarted, err, sizeof(err)), 0);
    CU_ASSERT_TRUE(restarted); /* a crash before the check ended: checked again */
    CU_ASSERT_EQUAL(zkv_datadir_boot_done(sub, src, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkv_datadir_boot(sub, src, &restarted, err, sizeof(err)), 0);
    CU_ASSERT_FALSE(restarted);
    /* no boot id to read: assume the worst */
    snprintf(src, sizeof(src), "%s/no-such-file", dir);
    CU_ASSERT_EQUAL(zkv_datadir_boot(sub, src, &restarted, err, sizeof(err)), 0);
    CU_ASSERT_TRUE(restarted);
    /* the real one reads */
    CU_ASSERT_EQUAL(zkv_datadir_boot(sub, ZKV_DATADIR_BOOT_ID_SOURCE, &restarted, err, sizeof(err)),
                    0);
    CU_ASSERT_TRUE(restarted); /* it differs from bbbb-2 */
}

static zkv_config_result parse(zkv_server_config *cfg, int argc, const char **argv)
{
    return zkv_server_config_parse(cfg, argc, (char **)argv);
}

static void test_flags(void)
{
    zkv_server_config cfg;
    const char *a1[] = {"zkv-server", NULL};
    CU_ASSERT_EQUAL(parse(&cfg, 1, a1), ZKV_CONFIG_OK);
    CU_ASSERT_STRING_EQUAL(cfg.listen_host, "127.0.0.1");
    CU_ASSERT_EQUAL(cfg.listen_port, 7400);
    CU_ASSERT_STRING_EQUAL(cfg.advertise, "127.0.0.1:7400");
    CU_ASSERT_STRING_EQUAL(cfg.data_dir, "./zkv-data");
    CU_ASSERT_EQUAL(cfg.max_value, 1048576);
    CU_ASSERT_EQUAL(cfg.session_timeout_ms, 4000);
    CU_ASSERT_PTR_NULL(cfg.id);
    CU_ASSERT(cfg.cache_mb >= 64 && cfg.cache_mb <= 32768);
    /* the row cache's default: an eighth of memory, within 64 MiB and 32 GiB */
    CU_ASSERT_EQUAL(zkv_server_default_cache_mb(0), 64);
    CU_ASSERT_EQUAL(zkv_server_default_cache_mb(256ull << 20), 64);
    CU_ASSERT_EQUAL(zkv_server_default_cache_mb(24ull << 30), 3072);
    CU_ASSERT_EQUAL(zkv_server_default_cache_mb(1ull << 40), 32768);
    const char *a2[] = {"zkv-server", "--listen", "127.0.0.1:7501", "--advertise", "127.0.0.2:80",
                        "--id",       "n1",       "--max-value",    "10",          "--log-level",
                        "debug",      NULL};
    CU_ASSERT_EQUAL(parse(&cfg, 11, a2), ZKV_CONFIG_OK);
    CU_ASSERT_EQUAL(cfg.listen_port, 7501);
    CU_ASSERT_STRING_EQUAL(cfg.advertise, "127.0.0.2:80");
    CU_ASSERT_STRING_EQUAL(cfg.id, "n1");
    CU_ASSERT_EQUAL(cfg.max_value, 10);
    CU_ASSERT_EQUAL(cfg.log_level, ZKV_LOG_DEBUG);
    const char *bad[][3] = {
        {"zkv-server", "--listen", "nope"},    {"zkv-server", "--id", "a/b"},
        {"zkv-server", "--log-level", "loud"}, {"zkv-server", "--max-value", "0"},
        {"zkv-server", "--bogus", "1"},        {"zkv-server", "stray", "arg"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *argv[4] = {bad[i][0], bad[i][1], bad[i][2], NULL};
        CU_ASSERT_EQUAL(parse(&cfg, 3, argv), ZKV_CONFIG_ERROR);
    }
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("server_datadir", setup, teardown);
    CU_add_test(s, "parsers", test_parsers);
    CU_add_test(s, "first start and restart", test_first_start_and_restart);
    CU_add_test(s, "files", test_files);
    CU_add_test(s, "boot id", test_boot);
    CU_add_test(s, "flags", test_flags);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
