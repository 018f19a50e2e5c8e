/* test_harness.c: checks the integration test harness itself against real processes and
 * a real ZooKeeper server: free ports, spawning and signalling, the safety net that kills
 * children of a dying test, command runs with captured output, bounded waits, and a
 * ZooKeeper server stopped and restarted on the same port and dataDir. */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "zkt/zkt.h"

static const char *g_self;

/* --- child modes: the test runs itself to check the safety net -------------------------- */

static int child_mode(const char *mode, const char *pidfile)
{
    zkt_init();
    const char *argv[] = {"sleep", "60", NULL};
    pid_t p = zkt_spawn("sleeper", argv, NULL);
    if (p <= 0)
        return 3;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%d\n", (int)p);
    zkt_write_file(pidfile, buf, (size_t)n);
    if (strcmp(mode, "--child-abort") == 0)
        abort();
    if (strcmp(mode, "--child-segv") == 0)
        raise(SIGSEGV);
    if (strcmp(mode, "--child-exit") == 0)
        exit(0);
    for (;;) /* --child-wait: until the parent SIGKILLs us (PR_SET_PDEATHSIG path) */
        pause();
}

/* The state letter of pid in /proc/<pid>/stat ('R', 'S', 'T', 'Z'...), 0 when the line
 * has no state after the command, -1 when it cannot be read. */
static int proc_state(pid_t pid)
{
    char path[64], stat[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = 0;
    const char *close_paren = strrchr(stat, ')');
    return close_paren && close_paren[1] == ' ' ? close_paren[2] : 0;
}

static bool pid_gone(void *p)
{
    pid_t pid = *(pid_t *)p;
    if (kill(pid, 0) != 0)
        return errno == ESRCH;
    int state = proc_state(pid);
    return state < 0 || state == 'Z';
}

static bool file_has_pid(void *p)
{
    size_t len = 0;
    char *s = zkt_read_file((const char *)p, &len);
    bool ok = s && len > 1 && s[len - 1] == '\n';
    free(s);
    return ok;
}

static void check_safety_net(const char *mode, int sig_to_child)
{
    char pidfile[4096];
    CU_ASSERT_FATAL(zkt_path(pidfile, sizeof pidfile, "pid%s", mode) == 0);
    const char *argv[] = {g_self, mode, pidfile, NULL};
    pid_t child = zkt_spawn(mode + 2, argv, NULL);
    CU_ASSERT_FATAL(child > 0);
    CU_ASSERT_FATAL(zkt_wait_for(file_has_pid, pidfile, 10000));
    char *s = zkt_read_file(pidfile, NULL);
    CU_ASSERT_FATAL(s != NULL);
    pid_t grandchild = (pid_t)atoi(s);
    free(s);
    CU_ASSERT_FATAL(grandchild > 0);
    if (sig_to_child)
        zkt_proc_signal(child, sig_to_child);
    int st = 0;
    CU_ASSERT(zkt_proc_wait_exit(child, 10000, &st) == 0);
    CU_ASSERT(zkt_wait_for(pid_gone, &grandchild, 10000));
    if (!pid_gone(&grandchild))
        kill(grandchild, SIGKILL);
}

static void test_safety_net_abort(void)
{
    check_safety_net("--child-abort", 0);
}

static void test_safety_net_segv(void)
{
    check_safety_net("--child-segv", 0);
}

static void test_safety_net_exit(void)
{
    check_safety_net("--child-exit", 0);
}

static void test_safety_net_sigterm(void)
{
    check_safety_net("--child-wait", SIGTERM);
}

static void test_safety_net_sigkill(void)
{
    check_safety_net("--child-wait", SIGKILL);
}

/* --- ports, dirs, waits --------------------------------------------------------------------- */

static void test_free_port(void)
{
    int a = zkt_free_port(), b = zkt_free_port();
    CU_ASSERT(a > 0 && a < 65536);
    CU_ASSERT(b > 0 && b < 65536);
    CU_ASSERT(a != b);
}

static void test_tmpdir(void)
{
    const char *d = zkt_tmpdir();
    CU_ASSERT_FATAL(d != NULL);
    CU_ASSERT(access(d, W_OK) == 0);
    char p[4096];
    CU_ASSERT_FATAL(zkt_path(p, sizeof p, "a/b/c") == 0);
    CU_ASSERT(zkt_mkdirs(p) == 0);
    CU_ASSERT(access(p, W_OK) == 0);
    CU_ASSERT(strncmp(p, d, strlen(d)) == 0);
}

static bool after_three(void *p)
{
    return ++*(int *)p >= 3;
}

static bool never(void *p)
{
    (void)p;
    return false;
}

static void test_wait_for(void)
{
    int n = 0;
    CU_ASSERT(zkt_wait_for(after_three, &n, 1000));
    CU_ASSERT(n == 3);
    uint64_t t0 = zkt_now_ms();
    CU_ASSERT(!zkt_wait_for(never, NULL, 150));
    uint64_t el = zkt_now_ms() - t0;
    CU_ASSERT(el >= 150 && el < 2000);
}

/* --- processes ----------------------------------------------------------------------------- */

static bool is_stopped(void *p)
{
    return proc_state(*(pid_t *)p) == 'T';
}

static bool log_says_ready(void *p)
{
    char *log = zkt_read_file(zkt_proc_log(*(pid_t *)p), NULL);
    bool ok = log && strstr(log, "\nready\n") != NULL;
    free(log);
    return ok;
}

static void test_spawn_stop_kill(void)
{
    const char *sleep_argv[] = {"sleep", "30", NULL};
    pid_t p = zkt_spawn("sleep1", sleep_argv, NULL);
    CU_ASSERT_FATAL(p > 0);
    CU_ASSERT(zkt_proc_alive(p));
    CU_ASSERT(getpgid(p) == p); /* own process group */
    CU_ASSERT(zkt_proc_signal(p, SIGSTOP) == 0);
    CU_ASSERT(zkt_wait_for(is_stopped, &p, 5000));
    CU_ASSERT(zkt_proc_signal(p, SIGCONT) == 0);
    CU_ASSERT(zkt_proc_stop(p, 5000) == -SIGTERM);
    CU_ASSERT(!zkt_proc_alive(p));
    CU_ASSERT(zkt_proc_signal(p, SIGTERM) == -1); /* reaped: never signalled again */

    /* A process that ignores SIGTERM is SIGKILLed after the bounded wait. */
    const char *stubborn[] = {"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done",
                              NULL};
    pid_t q = zkt_spawn("stubborn", stubborn, NULL);
    CU_ASSERT_FATAL(q > 0);
    CU_ASSERT(zkt_wait_for(log_says_ready, &q, 5000)); /* the trap is set */
    uint64_t t0 = zkt_now_ms();
    CU_ASSERT(zkt_proc_stop(q, 300) == -SIGKILL);
    CU_ASSERT(zkt_now_ms() - t0 < 5000);

    /* Output reaches the log file. */
    const char *echo[] = {"sh", "-c", "echo to-stdout; echo to-stderr >&2", NULL};
    pid_t e = zkt_spawn("echo", echo, NULL);
    CU_ASSERT_FATAL(e > 0);
    int st;
    CU_ASSERT(zkt_proc_wait_exit(e, 5000, &st) == 0);
    CU_ASSERT(zkt_exit_code(st) == 0);
    char *log = zkt_read_file(zkt_proc_log(e), NULL);
    CU_ASSERT_FATAL(log != NULL);
    CU_ASSERT(strstr(log, "to-stdout") != NULL);
    CU_ASSERT(strstr(log, "to-stderr") != NULL);
    free(log);
}

static void test_run(void)
{
    zkt_run_result r;
    const char *a[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    CU_ASSERT_FATAL(zkt_run(a, NULL, 0, 5000, &r) == 0);
    CU_ASSERT_STRING_EQUAL(r.out, "out\n");
    CU_ASSERT_STRING_EQUAL(r.err, "err\n");
    CU_ASSERT(r.code == 3);
    zkt_run_result_free(&r);

    const char *cat[] = {"cat", NULL};
    CU_ASSERT_FATAL(zkt_run(cat, "hello\n", 6, 5000, &r) == 0);
    CU_ASSERT_STRING_EQUAL(r.out, "hello\n");
    CU_ASSERT(r.code == 0);
    zkt_run_result_free(&r);

    const char *slow[] = {"sleep", "20", NULL};
    CU_ASSERT_FATAL(zkt_run(slow, NULL, 0, 300, &r) == 0);
    CU_ASSERT(r.code == -1000);
    CU_ASSERT(r.elapsed_ms < 5000);
    zkt_run_result_free(&r);
}

/* --- ZooKeeper ------------------------------------------------------------------------------- */

static void test_zookeeper_restart(void)
{
    zkt_zkserver zk;
    CU_ASSERT_FATAL(zkt_zk_start(&zk, "zk") == 0);
    CU_ASSERT(zkt_zk_ruok(zk.port));
    char *srvr = zkt_zk_4lw(zk.port, "srvr", 2000);
    CU_ASSERT(srvr && strstr(srvr, "Zookeeper version") != NULL);
    free(srvr);

    zkt_zkc *c = zkt_zkc_connect(zk.connect, 10000);
    CU_ASSERT_FATAL(c != NULL);
    int rc = zoo_create(zkt_zkc_handle(c), "/zkt", "kept", 4, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    CU_ASSERT(rc == ZOK);
    zkt_zkc_close(c);

    int old_port = zk.port;
    CU_ASSERT(zkt_zk_stop(&zk) == 0);
    CU_ASSERT(!zkt_zk_ruok(old_port));
    CU_ASSERT_FATAL(zkt_zk_restart(&zk) == 0);
    CU_ASSERT(zk.port == old_port);
    CU_ASSERT(zkt_zk_ruok(zk.port));
    c = zkt_zkc_connect(zk.connect, 10000);
    CU_ASSERT_FATAL(c != NULL);
    char *data = zkt_zkc_get(c, "/zkt", NULL, NULL);
    CU_ASSERT(data && strcmp(data, "kept") == 0); /* same dataDir */
    free(data);
    zkt_zkc_close(c);

    CU_ASSERT(zkt_zk_kill(&zk) == 0);
    CU_ASSERT_FATAL(zkt_zk_restart(&zk) == 0);
    CU_ASSERT(zkt_zk_ruok(zk.port));
    CU_ASSERT(zkt_zk_stop(&zk) == 0);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strncmp(argv[1], "--child-", 8) == 0)
        return child_mode(argv[1], argv[2]);
    g_self = argv[0];
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("harness", NULL, NULL);
    CU_add_test(s, "free ports", test_free_port);
    CU_add_test(s, "temp dir", test_tmpdir);
    CU_add_test(s, "bounded wait", test_wait_for);
    CU_add_test(s, "spawn, signal, stop, kill", test_spawn_stop_kill);
    CU_add_test(s, "run with captured output", test_run);
    CU_add_test(s, "safety net: abort", test_safety_net_abort);
    CU_add_test(s, "safety net: SIGSEGV", test_safety_net_segv);
    CU_add_test(s, "safety net: exit", test_safety_net_exit);
    CU_add_test(s, "safety net: SIGTERM", test_safety_net_sigterm);
    CU_add_test(s, "safety net: SIGKILL (PR_SET_PDEATHSIG)", test_safety_net_sigkill);
    CU_add_test(s, "ZooKeeper start, stop, kill, restart", test_zookeeper_restart);
    return zkt_run_all();
}
