/* Unit tests of common/util.h: host:port parsing, random ids, ISO-8601 times, clocks and
 * the file helpers (atomic write, read back, mkdir -p) in a private temp directory. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

static void test_hostport(void)
{
    char host[64];
    int port = 0;
    CU_ASSERT_EQUAL(zkv_parse_hostport("127.0.0.1:7400", host, sizeof host, &port), 0);
    CU_ASSERT_STRING_EQUAL(host, "127.0.0.1");
    CU_ASSERT_EQUAL(port, 7400);
    CU_ASSERT_EQUAL(zkv_parse_hostport("[::1]:0", host, sizeof host, &port), 0);
    CU_ASSERT_STRING_EQUAL(host, "::1");
    CU_ASSERT_EQUAL(port, 0);
    CU_ASSERT_EQUAL(zkv_parse_hostport("localhost:65535", host, sizeof host, &port), 0);
    CU_ASSERT_STRING_EQUAL(host, "localhost");
    CU_ASSERT_EQUAL(port, 65535);
    const char *bad[] = {"",       "127.0.0.1", ":7400",   "h:",    "h:65536", "h:-1", "h:12x",
                         "::1:80", "[::1]",     "[::1]80", "[]:80", "h: 80",   "h:+80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_EQUAL(zkv_parse_hostport(bad[i], host, sizeof host, &port), -1);
    char tiny[4];
    CU_ASSERT_EQUAL(zkv_parse_hostport("abcd:1", tiny, sizeof tiny, &port), -1);
    CU_ASSERT_EQUAL(zkv_parse_hostport("abc:1", tiny, sizeof tiny, &port), 0);
}

static void test_random(void)
{
    char a[17], b[17];
    CU_ASSERT_EQUAL(zkv_random_hex(a, 8), 0);
    CU_ASSERT_EQUAL(zkv_random_hex(b, 8), 0);
    CU_ASSERT_EQUAL(strlen(a), 16);
    CU_ASSERT_EQUAL(strspn(a, "0123456789abcdef"), 16);
    CU_ASSERT_STRING_NOT_EQUAL(a, b); /* 2^-64 chance of a false failure */
    uint8_t buf[1000] = {0};
    CU_ASSERT_EQUAL(zkv_random_bytes(buf, sizeof buf), 0);
    int zeros = 0;
    for (size_t i = 0; i < sizeof buf; i++)
        zeros += buf[i] == 0;
    CU_ASSERT(zeros < 30); /* about 4 expected */
    char big[2 * 200 + 1];
    CU_ASSERT_EQUAL(zkv_random_hex(big, 200), 0);
    CU_ASSERT_EQUAL(strlen(big), 400);
}

static void test_time(void)
{
    char out[32];
    zkv_iso8601(0, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "1970-01-01T00:00:00.000Z");
    zkv_iso8601(1795348800123ull, out, sizeof out); /* 2026-11-22T12:00:00.123Z */
    CU_ASSERT_STRING_EQUAL(out, "2026-11-22T12:00:00.123Z");
    uint64_t t1 = zkv_now_ms(), u1 = zkv_now_us();
    usleep(2000);
    CU_ASSERT(zkv_now_ms() >= t1 + 1);
    CU_ASSERT(zkv_now_us() >= u1 + 1000);
    CU_ASSERT(zkv_wall_ms() > 1700000000000ull);
}

static void test_files(void)
{
    char dir[] = "/tmp/zkv-test-util-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char deep[256], file[300];
    snprintf(deep, sizeof deep, "%s/a/b/c", dir);
    CU_ASSERT_EQUAL(zkv_mkdirs(deep), 0);
    CU_ASSERT_EQUAL(zkv_mkdirs(deep), 0); /* exists is fine */
    struct stat st;
    CU_ASSERT_EQUAL(stat(deep, &st), 0);
    CU_ASSERT_TRUE(S_ISDIR(st.st_mode));

    snprintf(file, sizeof file, "%s/node_id", deep);
    CU_ASSERT_EQUAL(zkv_write_file_atomic(file, "node-1\n", 7), 0);
    size_t len = 0;
    char *got = zkv_read_file(file, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_EQUAL(len, 7);
    CU_ASSERT_STRING_EQUAL(got, "node-1\n");
    free(got);
    /* overwrite with binary data larger than one read */
    size_t n = 10000;
    uint8_t *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t)(i * 7);
    CU_ASSERT_EQUAL(zkv_write_file_atomic(file, data, n), 0);
    got = zkv_read_file(file, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_EQUAL(len, n);
    CU_ASSERT_EQUAL(memcmp(got, data, n), 0);
    CU_ASSERT_EQUAL(got[n], '\0');
    free(got);
    free(data);
    char tmp[320];
    snprintf(tmp, sizeof tmp, "%s.tmp", file);
    CU_ASSERT_EQUAL(access(tmp, F_OK), -1); /* no temp file left behind */

    /* a file in the way of mkdir -p */
    char blocked[320];
    snprintf(blocked, sizeof blocked, "%s/x", file);
    CU_ASSERT_EQUAL(zkv_mkdirs(blocked), -1);
    CU_ASSERT_EQUAL(zkv_mkdirs(file), -1);
    CU_ASSERT_EQUAL(errno, ENOTDIR);

    errno = 0;
    CU_ASSERT_PTR_NULL(zkv_read_file("/nonexistent/zkv/file", &len));
    CU_ASSERT_EQUAL(errno, ENOENT);

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("common_util", NULL, NULL);
    CU_add_test(s, "hostport", test_hostport);
    CU_add_test(s, "random", test_random);
    CU_add_test(s, "time", test_time);
    CU_add_test(s, "files", test_files);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
