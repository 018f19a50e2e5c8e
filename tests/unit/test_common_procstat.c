/* Unit tests of common/procstat.h: /proc/self/stat lines (a command name with spaces and
 * parentheses, short and malformed lines), /proc/stat's btime, and this process read for
 * real. */
#include <CUnit/Basic.h>
#include <string.h>
#include <unistd.h>

#include "common/procstat.h"

static void test_parse(void)
{
    /* fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt utime(14) stime(15) cutime cstime priority nice threads itreal
     * starttime(22) vsize(23) rss(24) ... */
    const char *line = "4242 (zkv (server) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 "
                       "250 150 0 0 20 0 7 0 360000 123456789 2048 18446744073709551615 1 1 0 "
                       "0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
    zkv_procstat s;
    memset(&s, 0, sizeof s);
    CU_ASSERT_EQUAL_FATAL(zkv_procstat_parse(line, 100, 4096, 1700000000, &s), 0);
    CU_ASSERT_EQUAL(s.cpu_us, 4000000);                 /* (250 + 150) / 100 Hz */
    CU_ASSERT_EQUAL(s.start_time_ms, 1700003600000ull); /* boot + 360000 / 100 s */
    CU_ASSERT_EQUAL(s.vsize_bytes, 123456789);
    CU_ASSERT_EQUAL(s.rss_bytes, 2048ull * 4096);
    CU_ASSERT_EQUAL(zkv_procstat_parse("4242 (x) S 1 2 3\n", 100, 4096, 0, &s), -1);
    CU_ASSERT_EQUAL(zkv_procstat_parse("no parenthesis", 100, 4096, 0, &s), -1);
    CU_ASSERT_EQUAL(zkv_procstat_parse(NULL, 100, 4096, 0, &s), -1);
    CU_ASSERT_EQUAL(zkv_procstat_boot_time("cpu 1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n"),
                    1700000000);
    CU_ASSERT_EQUAL(zkv_procstat_boot_time("cpu 1 2 3\n"), 0);
}

static void test_read_self(void)
{
    zkv_procstat s;
    CU_ASSERT_EQUAL_FATAL(zkv_procstat_read(&s), 0);
    CU_ASSERT(s.rss_bytes > 100000);
    CU_ASSERT(s.open_fds >= 3 && s.open_fds < s.max_fds);
    int fd = dup(0); /* one more descriptor shows */
    zkv_procstat t;
    CU_ASSERT_EQUAL(zkv_procstat_read(&t), 0);
    CU_ASSERT_EQUAL(t.open_fds, s.open_fds + 1);
    close(fd);
    CU_ASSERT(t.start_time_ms > 1600000000000ull);
    CU_ASSERT(t.cpu_us >= s.cpu_us);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("common_procstat", NULL, NULL);
    CU_add_test(s, "/proc/self/stat lines", test_parse);
    CU_add_test(s, "this process", test_read_self);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
