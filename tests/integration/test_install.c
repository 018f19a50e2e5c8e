/* test_install.c: `cmake --install` as a user runs it (issue 13, item 1; docs/install.md).
 * The build tree this test belongs to is installed into a temporary prefix, then:
 *  - every program, libzkv (shared with its soname, and static), the headers, zkv.pc, the
 *    CMake package, the four man pages, the settings files (every setting with its
 *    default) and the systemd units with their extra-flags files are where the GNU/Debian
 *    layout puts them, the units naming that prefix;
 *  - a small program (tests/install/app.c) is built against the installed libzkv with
 *    `pkg-config --cflags --libs zkv`, and with CMake's find_package(zkv) (linked to
 *    zkv::zkv and to zkv::zkv_static), and each copy puts and reads a key on a live
 *    cluster;
 *  - the installed units pass `systemd-analyze verify` when systemd-analyze is there. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "it_common.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#ifndef ZKV_TEST_BUILD_DIR
#error "the build tree to install (ZKV_TEST_BUILD_DIR)"
#endif

static zkt_cluster g_cl;
static zkv_client *g_client;
static char g_prefix[512];   /* the install's prefix */
static char g_san_flags[64]; /* a sanitizer build's flags, for what links its libzkv */

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "install") != 0)
        return -1;
    g_cl.replicas = 1;
    snprintf(g_prefix, sizeof g_prefix, "%s/prefix", zkt_tmpdir());
    snprintf(g_san_flags, sizeof g_san_flags, "%s",
             ZKV_TEST_SANITIZE ? "-fsanitize=address,undefined" : "");
    return it_cluster_up(&g_cl, 1, 10000, 1000, &g_client);
}

static int suite_cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

/* Runs the shell command cmd (bounded: 5 min); 0 when it exits 0, logging what it said. */
static int shell(const char *what, const char *cmd)
{
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    zkt_run_result r;
    if (zkt_run(argv, NULL, 0, 300000, &r) != 0)
        return -1;
    zkt_log("%s: exit %d in %d ms; stdout: %.300s; stderr: %.600s", what, r.code, r.elapsed_ms,
            r.out ? r.out : "", r.err ? r.err : "");
    int rc = r.code;
    zkt_run_result_free(&r);
    return rc;
}

static bool installed(const char *rel)
{
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", g_prefix, rel);
    bool ok = stat(path, &st) == 0;
    if (!ok)
        zkt_log("missing from the install: %s", rel);
    return ok;
}

/* Whether the file rel of the install contains needle. */
static bool contains(const char *rel, const char *needle)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_prefix, rel);
    return it_log_count(path, needle) > 0;
}

static void test_install_layout(void)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' --install '%s' --prefix '%s'", ZKV_TEST_CMAKE,
             ZKV_TEST_BUILD_DIR, g_prefix);
    CU_ASSERT_FATAL(shell("cmake --install", cmd) == 0);
    const char *files[] = {
        "bin/zkv-server",
        "bin/zkv-coordinator",
        "bin/zkv",
        "bin/zkv-bench",
        "lib/libzkv.so",
        "lib/libzkv.so.0",
        "lib/libzkv.a",
        "include/zkv/zkv.h",
        "include/zkv/zkv_async.h",
        "include/zkv/adapters/libuv.h",
        "lib/pkgconfig/zkv.pc",
        "lib/cmake/zkv/zkvConfig.cmake",
        "lib/cmake/zkv/zkvConfigVersion.cmake",
        "lib/cmake/zkv/zkvTargets.cmake",
        "share/man/man1/zkv.1",
        "share/man/man1/zkv-bench.1",
        "share/man/man8/zkv-server.8",
        "share/man/man8/zkv-coordinator.8",
        "lib/systemd/system/zkv-server.service",
        "lib/systemd/system/zkv-coordinator.service",
        "etc/default/zkv-server",
        "etc/default/zkv-coordinator",
        "etc/zkv/zkv-server.conf",
        "etc/zkv/zkv-coordinator.conf",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        CU_ASSERT(installed(files[i]));
    /* the man pages have their sections, the server's its signals */
    CU_ASSERT(contains("share/man/man8/zkv-server.8", ".SH SYNOPSIS"));
    CU_ASSERT(contains("share/man/man8/zkv-server.8", ".SH OPTIONS"));
    CU_ASSERT(contains("share/man/man8/zkv-server.8", "SIGTERM"));
    CU_ASSERT(contains("share/man/man1/zkv.1", "ZKV_ZK"));
    /* the units name this prefix; the server's stop is the controlled shutdown */
    char exec[1200];
    snprintf(exec, sizeof exec, "ExecStart=%s/bin/zkv-server --config %s/etc/zkv/zkv-server.conf",
             g_prefix, g_prefix);
    CU_ASSERT(contains("lib/systemd/system/zkv-server.service", exec));
    snprintf(exec, sizeof exec, "EnvironmentFile=-%s/etc/default/zkv-server", g_prefix);
    CU_ASSERT(contains("lib/systemd/system/zkv-server.service", exec));
    CU_ASSERT(contains("lib/systemd/system/zkv-server.service", "KillSignal=SIGTERM"));
    /* the settings files hold every setting with its default, commented out */
    CU_ASSERT(contains("etc/zkv/zkv-server.conf", "#listen = 127.0.0.1:7400"));
    CU_ASSERT(contains("etc/zkv/zkv-server.conf", "#zk = 127.0.0.1:2181"));
    CU_ASSERT(contains("etc/zkv/zkv-coordinator.conf", "#replicas = 3"));
    /* the soname */
    snprintf(cmd, sizeof cmd, "objdump -p '%s/lib/libzkv.so' | grep -q 'SONAME *libzkv.so.0'",
             g_prefix);
    CU_ASSERT(shell("soname", cmd) == 0);
    /* installing again keeps an operator's settings */
    snprintf(cmd, sizeof cmd,
             "echo '# mine' >> '%s/etc/default/zkv-server' && '%s' --install '%s' --prefix '%s' "
             "&& grep -q '# mine' '%s/etc/default/zkv-server'",
             g_prefix, ZKV_TEST_CMAKE, ZKV_TEST_BUILD_DIR, g_prefix, g_prefix);
    CU_ASSERT(shell("install again", cmd) == 0);
}

/* Runs an app built against the install: it must put and read back its key. */
static void run_app(const char *what, const char *path, const char *key)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' '%s' value-of-%s | grep -q '^ok value-of-%s '", path,
             g_cl.zk.connect, g_cl.name, key, key, key);
    CU_ASSERT(shell(what, cmd) == 0);
}

static void test_pkg_config(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "export PKG_CONFIG_PATH='%s/lib/pkgconfig'; test \"$(pkg-config --modversion zkv)\" "
             "= 0.1.0 && '%s' %s -o '%s/app-pc' '%s/tests/install/app.c' "
             "$(pkg-config --cflags --libs zkv)",
             g_prefix, ZKV_TEST_CC, g_san_flags, zkt_tmpdir(), ZKV_TEST_SOURCE_DIR);
    CU_ASSERT_FATAL(shell("cc app.c $(pkg-config --cflags --libs zkv)", cmd) == 0);
    char app[700];
    snprintf(app, sizeof app, "%s/app-pc", zkt_tmpdir());
    run_app("app built with pkg-config", app, "pkg-config");
}

static void test_cmake_package(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "'%s' -S '%s/tests/install/consumer' -B '%s/consumer' -DCMAKE_PREFIX_PATH='%s' "
             "-DCMAKE_C_COMPILER='%s' -DCMAKE_C_FLAGS='%s' -DCMAKE_EXE_LINKER_FLAGS='%s' && "
             "'%s' --build '%s/consumer'",
             ZKV_TEST_CMAKE, ZKV_TEST_SOURCE_DIR, zkt_tmpdir(), g_prefix, ZKV_TEST_CC, g_san_flags,
             g_san_flags, ZKV_TEST_CMAKE, zkt_tmpdir());
    CU_ASSERT_FATAL(shell("find_package(zkv) and build", cmd) == 0);
    char app[700];
    snprintf(app, sizeof app, "%s/consumer/app-shared", zkt_tmpdir());
    run_app("app linked to zkv::zkv", app, "cmake-shared");
    snprintf(app, sizeof app, "%s/consumer/app-static", zkt_tmpdir());
    run_app("app linked to zkv::zkv_static", app, "cmake-static");
    /* the shared one runs from the installed libzkv.so */
    snprintf(cmd, sizeof cmd, "ldd '%s/consumer/app-shared' | grep -q '%s/lib/libzkv.so.0'",
             zkt_tmpdir(), g_prefix);
    CU_ASSERT(shell("app-shared uses the installed libzkv", cmd) == 0);
}

static void test_systemd_units(void)
{
    if (access("/usr/bin/systemd-analyze", X_OK) != 0 &&
        access("/bin/systemd-analyze", X_OK) != 0) {
        zkt_log("SKIPPED: systemd-analyze is not installed: the units were not verified");
        return;
    }
    char cmd[2048];
    snprintf(
        cmd, sizeof cmd,
        "MANPATH='%s/share/man' systemd-analyze verify '%s/lib/systemd/system/zkv-server.service' "
        "'%s/lib/systemd/system/zkv-coordinator.service'",
        g_prefix, g_prefix, g_prefix);
    CU_ASSERT(shell("systemd-analyze verify", cmd) == 0);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("install", suite_init, suite_cleanup);
    CU_add_test(s, "cmake --install: the layout", test_install_layout);
    CU_add_test(s, "a program built with pkg-config", test_pkg_config);
    CU_add_test(s, "a program built with find_package(zkv)", test_cmake_package);
    CU_add_test(s, "the systemd units verify", test_systemd_units);
    return zkt_run_all();
}
